//! CloudFormation templates as JSON, for the tests that read `infra/`: the short-form tags
//! (`!Ref`, `!Sub`, ...) in their long form, as CloudFormation reads them.

use std::path::Path;

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Value, json};

/// A template as JSON, each `Ref` to a parameter with a default replaced by that default: the
/// rules as deployed with the default parameters.
pub fn load_template(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut document = yaml_to_json_document(&text)?;
    let defaults: Map<String, Value> = document
        .get("Parameters")
        .and_then(Value::as_object)
        .map(|parameters| {
            parameters
                .iter()
                .filter_map(|(name, p)| Some((name.clone(), p.get("Default")?.clone())))
                .collect()
        })
        .unwrap_or_default();
    if let Some(resources) = document.get_mut("Resources") {
        resolve_refs(resources, &defaults);
    }
    Ok(document)
}

/// Replaces `{"Ref": name}` by `defaults[name]` wherever `name` has one, then evaluates the
/// `Fn::Split` and `Fn::Select` whose arguments are known by then (`!Select [0, !Split ["=",
/// !Ref ExemptTag]]` is the key of the default exemption tag).
pub fn resolve_refs(node: &mut Value, defaults: &Map<String, Value>) {
    let default = node
        .as_object()
        .filter(|object| object.len() == 1)
        .and_then(|object| object.get("Ref"))
        .and_then(Value::as_str)
        .and_then(|name| defaults.get(name));
    if let Some(default) = default {
        *node = default.clone();
        return;
    }
    match node {
        Value::Object(object) => object
            .values_mut()
            .for_each(|value| resolve_refs(value, defaults)),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|value| resolve_refs(value, defaults)),
        _ => {}
    }
    if let Some(value) = split_or_select(node) {
        *node = value;
    }
}

/// `{"Fn::Split": [delimiter, text]}` and `{"Fn::Select": [index, list]}` on literal arguments.
fn split_or_select(node: &Value) -> Option<Value> {
    let object = node.as_object().filter(|o| o.len() == 1)?;
    let (function, arguments) = object.iter().next()?;
    match (function.as_str(), arguments.as_array()?.as_slice()) {
        ("Fn::Split", [Value::String(delimiter), Value::String(text)]) => Some(Value::Array(
            text.split(delimiter.as_str())
                .map(|part| Value::String(part.to_string()))
                .collect(),
        )),
        ("Fn::Select", [index, Value::Array(items)]) => {
            let index = match index {
                Value::String(s) => s.parse::<usize>().ok()?,
                other => usize::try_from(other.as_u64()?).ok()?,
            };
            items.get(index).cloned()
        }
        _ => None,
    }
}

/// A one-document YAML template as JSON, the way CloudFormation reads it: the short-form
/// intrinsics become their long form (`!Ref X` is `{"Ref": "X"}`, `!Sub s` is `{"Fn::Sub": "s"}`).
pub fn yaml_to_json_document(text: &str) -> Result<Value, String> {
    let documents = Yaml::load_from_str(text).map_err(|e| e.to_string())?;
    match documents.as_slice() {
        [document] => yaml_to_json(document),
        _ => Err(format!("{} YAML documents, expected one", documents.len())),
    }
}

fn yaml_to_json(node: &Yaml) -> Result<Value, String> {
    match node {
        Yaml::Value(scalar) => scalar_to_json(scalar),
        Yaml::Sequence(items) => items
            .iter()
            .map(yaml_to_json)
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Yaml::Mapping(entries) => entries
            .iter()
            .map(|(key, value)| {
                let key = key
                    .as_str()
                    .ok_or_else(|| format!("a mapping key that is not a string: {key:?}"))?;
                Ok((key.to_string(), yaml_to_json(value)?))
            })
            .collect::<Result<Map<_, _>, String>>()
            .map(Value::Object),
        Yaml::Tagged(tag, node) => {
            let function = match tag.suffix.as_str() {
                "Ref" => "Ref".to_string(),
                other => format!("Fn::{other}"),
            };
            Ok(json!({ function: yaml_to_json(node)? }))
        }
        other => Err(format!("unsupported YAML node {other:?}")),
    }
}

fn scalar_to_json(scalar: &Scalar) -> Result<Value, String> {
    Ok(match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => json!(i),
        Scalar::FloatingPoint(f) => serde_json::Number::from_f64(f.into_inner())
            .map(Value::Number)
            .ok_or_else(|| format!("{f} has no JSON form"))?,
        Scalar::String(s) => Value::String(s.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_select_are_evaluated_on_the_defaults() {
        let defaults = Map::from_iter([("Tag".to_string(), json!("reflex:exempt=true"))]);
        let mut node = json!({"key": [{"Fn::Select": [0, {"Fn::Split": ["=", {"Ref": "Tag"}]}]}]});
        resolve_refs(&mut node, &defaults);
        assert_eq!(node, json!({"key": ["reflex:exempt"]}));
        let mut unknown = json!({"Fn::Select": [0, {"Fn::Split": ["=", {"Ref": "Other"}]}]});
        let before = unknown.clone();
        resolve_refs(&mut unknown, &defaults);
        assert_eq!(
            unknown, before,
            "left as it is when an argument is not known"
        );
    }
}
