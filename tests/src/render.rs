//! A deployment rehearsal that needs no account: a template as CloudFormation would create it
//! with given parameter values. SAM's own translator (`tests/render_template.py`, offline) turns
//! the `AWS::Serverless` resources into the plain resources a deployment makes; then, as
//! CloudFormation does, the conditions are evaluated, resources whose condition is false dropped,
//! `Fn::If` and `Fn::FindInMap` resolved, `Ref`s to parameters and pseudo parameters replaced,
//! `Fn::Split` and `Fn::Select` of known values evaluated and `AWS::NoValue` removed. Other
//! intrinsics (`Fn::Sub`, `Fn::GetAtt`, `Ref` to a resource) stay as they are.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};

use crate::emulator::{python, workspace_root};

/// Pseudo parameters of the rehearsal's stack, account and region; `overrides` may change them
/// too. `AWS::StackId` is made from them unless it is given.
const PSEUDO: &[(&str, &str)] = &[
    ("AWS::Region", "us-east-1"),
    ("AWS::AccountId", "123456789012"),
    ("AWS::Partition", "aws"),
    ("AWS::StackName", "reflex"),
    ("AWS::URLSuffix", "amazonaws.com"),
];

/// The stack's uuid in the rehearsal's `AWS::StackId`.
const STACK_UUID: &str = "8d5f1a40-0c3e-11f0-9a3b-0e5a1b2c3d4e";

/// A template as deployed: its resources, and the value of every parameter (given or default)
/// and pseudo parameter, as text. A parameter with no default that was not given has none.
pub struct Rendered {
    /// The `Resources` object.
    pub resources: Value,
    pub parameters: BTreeMap<String, String>,
}

/// The resources `template` creates with its defaults, `overrides` replacing some parameters:
/// `{"Resources": {...}}`.
pub fn render(template: &Path, overrides: &[(&str, &str)]) -> Result<Value, String> {
    let rendered = rendered(template, overrides)?;
    Ok(serde_json::json!({ "Resources": rendered.resources }))
}

/// [`render`], with the parameter values it used.
pub fn rendered(template: &Path, overrides: &[(&str, &str)]) -> Result<Rendered, String> {
    let transformed = transform(template)?;
    let mut parameters: BTreeMap<String, String> = transformed["Parameters"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, p)| Some((name.clone(), scalar_text(p.get("Default")?)?)))
        .chain(PSEUDO.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    for (name, value) in overrides {
        let known = parameters.contains_key(*name)
            || *name == "AWS::StackId"
            || transformed
                .pointer(&format!("/Parameters/{name}"))
                .is_some();
        if !known {
            return Err(format!("{}: no parameter {name}", template.display()));
        }
        parameters.insert(name.to_string(), value.to_string());
    }
    if !parameters.contains_key("AWS::StackId") {
        let pseudo = |name: &str| parameters[name].clone();
        let stack_id = format!(
            "arn:{}:cloudformation:{}:{}:stack/{}/{STACK_UUID}",
            pseudo("AWS::Partition"),
            pseudo("AWS::Region"),
            pseudo("AWS::AccountId"),
            pseudo("AWS::StackName"),
        );
        parameters.insert("AWS::StackId".to_string(), stack_id);
    }
    let context = Context {
        parameters,
        conditions: transformed["Conditions"]
            .as_object()
            .cloned()
            .unwrap_or_default(),
        mappings: transformed["Mappings"]
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    let mut resources = Map::new();
    for (id, resource) in transformed["Resources"].as_object().into_iter().flatten() {
        let created = match resource.get("Condition").and_then(Value::as_str) {
            Some(condition) => context.condition(condition)?,
            None => true,
        };
        if created && let Some(resource) = context.resolve(resource)? {
            resources.insert(id.clone(), resource);
        }
    }
    Ok(Rendered {
        resources: Value::Object(resources),
        parameters: context.parameters,
    })
}

/// SAM's transform of `template`, as JSON.
fn transform(template: &Path) -> Result<Value, String> {
    let python = python();
    let script = workspace_root().join("tests/render_template.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(template)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .map_err(|e| format!("{}: {e} (run `make setup`)", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "SAM's translator refused {}: {}",
            template.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("translator output: {e}"))
}

struct Context {
    parameters: BTreeMap<String, String>,
    conditions: Map<String, Value>,
    mappings: Map<String, Value>,
}

impl Context {
    fn condition(&self, name: &str) -> Result<bool, String> {
        let expression = self
            .conditions
            .get(name)
            .ok_or_else(|| format!("no condition {name}"))?;
        self.truth(expression)
    }

    fn truth(&self, expression: &Value) -> Result<bool, String> {
        let (function, args) = single(expression).ok_or_else(|| format!("{expression}"))?;
        let all = |args: &Value| -> Result<Vec<bool>, String> {
            args.as_array()
                .into_iter()
                .flatten()
                .map(|a| self.truth(a))
                .collect()
        };
        match function {
            "Condition" => self.condition(args.as_str().unwrap_or_default()),
            "Fn::Not" => Ok(!all(args)?.first().copied().unwrap_or(false)),
            "Fn::And" => Ok(all(args)?.iter().all(|b| *b)),
            "Fn::Or" => Ok(all(args)?.iter().any(|b| *b)),
            "Fn::Equals" => {
                let sides: Vec<String> = args
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|side| {
                        let side = self.resolve(side)?.unwrap_or(Value::Null);
                        scalar_text(&side).ok_or_else(|| format!("Fn::Equals on {side}"))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(sides.len() == 2 && sides[0] == sides[1])
            }
            other => Err(format!("{other} in a condition")),
        }
    }

    /// `node` as deployed; `None` where it is `AWS::NoValue` (the property is left out).
    fn resolve(&self, node: &Value) -> Result<Option<Value>, String> {
        if let Some((function, args)) = single(node) {
            match function {
                "Ref" if args == "AWS::NoValue" => return Ok(None),
                "Ref" => {
                    if let Some(value) = args.as_str().and_then(|p| self.parameters.get(p)) {
                        return Ok(Some(Value::String(value.clone())));
                    }
                }
                "Fn::If" => {
                    let [condition, yes, no] = args.as_array().map(Vec::as_slice).unwrap_or(&[])
                    else {
                        return Err(format!("Fn::If {args}"));
                    };
                    let chosen = if self.condition(condition.as_str().unwrap_or_default())? {
                        yes
                    } else {
                        no
                    };
                    return self.resolve(chosen);
                }
                // `!Select [i, !Split [sep, text]]` on values known here (a parameter's).
                "Fn::Split" => {
                    let parts = args.as_array().map(Vec::as_slice).unwrap_or(&[]);
                    if let [separator, text] = parts
                        && let (Some(separator), Some(text)) =
                            (self.resolve(separator)?, self.resolve(text)?)
                        && let (Some(separator), Some(text)) = (separator.as_str(), text.as_str())
                    {
                        return Ok(Some(Value::Array(
                            text.split(separator)
                                .map(|p| Value::String(p.to_string()))
                                .collect(),
                        )));
                    }
                }
                "Fn::Select" => {
                    let parts = args.as_array().map(Vec::as_slice).unwrap_or(&[]);
                    if let [index, list] = parts
                        && let (Some(index), Some(list)) =
                            (self.resolve(index)?, self.resolve(list)?)
                        && let Some(index) =
                            scalar_text(&index).and_then(|i| i.parse::<usize>().ok())
                        && let Some(item) = list.as_array().and_then(|l| l.get(index))
                    {
                        return Ok(Some(item.clone()));
                    }
                }
                "Fn::FindInMap" => {
                    let keys: Vec<String> = args
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|k| {
                            let k = self.resolve(k)?.unwrap_or(Value::Null);
                            scalar_text(&k).ok_or_else(|| format!("Fn::FindInMap key {k}"))
                        })
                        .collect::<Result<_, _>>()?;
                    let found = self
                        .mappings
                        .get(keys.first().map(String::as_str).unwrap_or_default())
                        .and_then(|m| m.get(keys.get(1)?))
                        .and_then(|m| m.get(keys.get(2)?))
                        .ok_or_else(|| format!("Fn::FindInMap {keys:?}: no such entry"))?;
                    return self.resolve(found);
                }
                _ => {}
            }
        }
        Ok(Some(match node {
            Value::Object(object) => {
                let mut out = Map::new();
                for (key, value) in object {
                    if let Some(value) = self.resolve(value)? {
                        out.insert(key.clone(), value);
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.resolve(item))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            other => other.clone(),
        }))
    }
}

/// `{"Fn::X": args}`: an intrinsic function call.
fn single(node: &Value) -> Option<(&str, &Value)> {
    let object = node.as_object().filter(|o| o.len() == 1)?;
    let (key, value) = object.iter().next()?;
    (key == "Ref" || key == "Condition" || key.starts_with("Fn::")).then_some((key.as_str(), value))
}

/// A parameter value as CloudFormation passes it: text.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
