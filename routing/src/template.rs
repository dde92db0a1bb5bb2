//! CloudFormation templates as JSON, as written, for the tests and the command line that read
//! `infra/`: the short-form tags (`!Ref`, `!Sub`, ...) in their long form, as CloudFormation
//! reads them. A template as a deployment creates it, parameters and conditions applied, is
//! `reflex_tests::render`'s (SAM's own translator).

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Value, json};

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
