//! The EventBridge rules of a SAM template, as a deployment with given parameter values creates
//! them: every function's `EventBridgeRule` events and every plain `AWS::Events::Rule`, their
//! patterns with the intrinsic functions patterns use resolved (`Ref` to a parameter,
//! `Fn::Split`, `Fn::Select`, `Fn::If` on a condition) and their `State` evaluated.
//!
//! This reads the template as written, with no SAM translator: what the command line needs to
//! route an event as the deployed rules would. The wiring tests check the same routes through
//! SAM's own translator (`reflex_tests::render`), so the two readings cannot drift apart unseen.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::pattern::Pattern;
use crate::template::yaml_to_json_document;

/// The templates this build was made with, for a command line that runs without the sources.
pub const CENTRAL_TEMPLATE: &str = include_str!("../../infra/template.yaml");
pub const MEMBER_TEMPLATE: &str = include_str!("../../infra/member.yaml");

/// One EventBridge rule of a template.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Where it is in the template: `RevokeFunction.Events.IamEscalation`, or a rule's id.
    pub name: String,
    /// The function it invokes (its `BuildProperties.Binary` without `reflex-`: `revoke`);
    /// `None` for a rule that targets no function of the template (a member's forwarding rule).
    pub function: Option<String>,
    /// Whether the rule is enabled as deployed (`State`, evaluated; enabled when absent).
    pub enabled: bool,
    pub pattern: Pattern,
}

/// The rules of `text` (a template's YAML), deployed with its parameters' defaults replaced by
/// `overrides` (parameter name → value). An error names what cannot be read or resolved.
pub fn rules_of(text: &str, overrides: &BTreeMap<String, String>) -> Result<Vec<Rule>, String> {
    let template = yaml_to_json_document(text)?;
    let empty = Map::new();
    let declared = template["Parameters"].as_object().unwrap_or(&empty);
    let mut parameters = BTreeMap::new();
    for (name, declaration) in declared {
        if let Some(default) = declaration.get("Default").and_then(scalar_text) {
            parameters.insert(name.clone(), default);
        }
    }
    for (name, value) in overrides {
        if !declared.contains_key(name) {
            return Err(format!("the template has no parameter `{name}`"));
        }
        parameters.insert(name.clone(), value.clone());
    }
    let scope = Scope {
        parameters: &parameters,
        conditions: template["Conditions"].as_object().unwrap_or(&empty),
    };

    let mut rules = Vec::new();
    let resources = template["Resources"].as_object().unwrap_or(&empty);
    for (id, resource) in resources {
        match resource["Type"].as_str() {
            Some("AWS::Serverless::Function") => {
                let function = resource
                    .pointer("/Metadata/BuildProperties/Binary")
                    .and_then(Value::as_str)
                    .map(|b| b.strip_prefix("reflex-").unwrap_or(b).to_string());
                let events = resource["Properties"]["Events"]
                    .as_object()
                    .unwrap_or(&empty);
                for (event, source) in events {
                    if source["Type"] == "EventBridgeRule" {
                        let name = format!("{id}.Events.{event}");
                        let properties = &source["Properties"];
                        rules.push(scope.rule(name, function.clone(), properties, "Pattern")?);
                    }
                }
            }
            Some("AWS::Events::Rule") => {
                rules.push(scope.rule(id.clone(), None, &resource["Properties"], "EventPattern")?)
            }
            _ => {}
        }
    }
    Ok(rules)
}

/// What intrinsic functions resolve against: parameter values and the template's conditions.
struct Scope<'a> {
    parameters: &'a BTreeMap<String, String>,
    conditions: &'a Map<String, Value>,
}

impl Scope<'_> {
    fn rule(
        &self,
        name: String,
        function: Option<String>,
        properties: &Value,
        pattern_field: &str,
    ) -> Result<Rule, String> {
        let pattern = match &properties[pattern_field] {
            // CloudFormation also takes a pattern as a JSON string.
            Value::String(text) => {
                serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?
            }
            Value::Null => return Err(format!("{name}: no {pattern_field}")),
            pattern => self
                .resolve(pattern)
                .map_err(|e| format!("{name}: {pattern_field}: {e}"))?,
        };
        let pattern = Pattern::parse(&pattern).map_err(|e| format!("{name}: {e}"))?;
        let enabled = match properties.get("State") {
            None => true,
            Some(state) => {
                let state = self
                    .resolve(state)
                    .map_err(|e| format!("{name}: State: {e}"))?;
                state != "DISABLED"
            }
        };
        Ok(Rule {
            name,
            function,
            enabled,
            pattern,
        })
    }

    /// `value` with its intrinsic functions replaced by their values.
    fn resolve(&self, value: &Value) -> Result<Value, String> {
        let map = match value {
            Value::Array(items) => return items.iter().map(|i| self.resolve(i)).collect(),
            Value::Object(map) => map,
            other => return Ok(other.clone()),
        };
        let intrinsic = map
            .keys()
            .next()
            .filter(|k| map.len() == 1 && (*k == "Ref" || k.starts_with("Fn::")));
        let Some(intrinsic) = intrinsic else {
            return map
                .iter()
                .map(|(k, v)| Ok((k.clone(), self.resolve(v)?)))
                .collect::<Result<Map<_, _>, String>>()
                .map(Value::Object);
        };
        let argument = &map[intrinsic];
        let args = || argument.as_array().map(Vec::as_slice).unwrap_or_default();
        match (intrinsic.as_str(), args()) {
            ("Ref", _) => {
                let name = argument.as_str().unwrap_or_default();
                self.parameters
                    .get(name)
                    .map(|v| Value::String(v.clone()))
                    .ok_or_else(|| format!("`Ref {name}`: no such parameter with a value"))
            }
            ("Fn::Split", [separator, text]) => {
                let text = self.resolve(text)?;
                let (Some(separator), Some(text)) = (separator.as_str(), text.as_str()) else {
                    return Err("Fn::Split of something that is not text".into());
                };
                Ok(text
                    .split(separator)
                    .map(|s| Value::String(s.into()))
                    .collect())
            }
            ("Fn::Select", [index, list]) => {
                let index = index
                    .as_u64()
                    .or_else(|| index.as_str()?.parse().ok())
                    .ok_or("Fn::Select with an index that is not a number")?;
                let list = self.resolve(list)?;
                list.as_array()
                    .and_then(|items| items.get(usize::try_from(index).ok()?))
                    .cloned()
                    .ok_or_else(|| format!("Fn::Select {index} out of range"))
            }
            ("Fn::If", [condition, then, otherwise]) => {
                let condition = condition
                    .as_str()
                    .ok_or("Fn::If without a condition name")?;
                if self.condition(condition, 0)? {
                    self.resolve(then)
                } else {
                    self.resolve(otherwise)
                }
            }
            (other, _) => Err(format!("{other} cannot be resolved here")),
        }
    }

    /// The value of the template's condition `name`.
    fn condition(&self, name: &str, depth: usize) -> Result<bool, String> {
        let definition = self
            .conditions
            .get(name)
            .ok_or_else(|| format!("no condition `{name}`"))?;
        self.truth(definition, depth + 1)
    }

    fn truth(&self, value: &Value, depth: usize) -> Result<bool, String> {
        // Conditions refer to each other; a cycle is a broken template, not a stack overflow.
        if depth > 32 {
            return Err("conditions nested too deep (a cycle?)".into());
        }
        let Some((function, argument)) = value.as_object().and_then(|m| m.iter().next()) else {
            return Err(format!("`{value}` is not a condition function"));
        };
        let items = argument.as_array().map(Vec::as_slice).unwrap_or_default();
        match function.as_str() {
            "Condition" => self.condition(argument.as_str().unwrap_or_default(), depth),
            "Fn::Equals" => match items {
                [a, b] => Ok(self.resolve(a)? == self.resolve(b)?),
                _ => Err("Fn::Equals takes two values".into()),
            },
            "Fn::Not" => match items {
                [inner] => Ok(!self.truth(inner, depth + 1)?),
                _ => Err("Fn::Not takes one condition".into()),
            },
            "Fn::And" => items
                .iter()
                .try_fold(true, |all, c| Ok(all & self.truth(c, depth + 1)?)),
            "Fn::Or" => items
                .iter()
                .try_fold(false, |any, c| Ok(any | self.truth(c, depth + 1)?)),
            other => Err(format!("{other} is not a condition function")),
        }
    }
}

/// A parameter's default as CloudFormation passes it: text (numbers and booleans as written).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn central(overrides: &[(&str, &str)]) -> Vec<Rule> {
        let overrides = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        rules_of(CENTRAL_TEMPLATE, &overrides).unwrap()
    }

    fn escalation() -> Value {
        json!({
            "source": "aws.iam",
            "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy"}
        })
    }

    #[test]
    fn every_function_of_the_central_template_has_an_enabled_rule() {
        let rules = central(&[]);
        for function in [
            "revoke",
            "scale",
            "harden",
            "notify",
            "quarantine",
            "privatize",
        ] {
            assert!(
                rules
                    .iter()
                    .any(|r| r.enabled && r.function.as_deref() == Some(function)),
                "{function}"
            );
        }
        let fired: Vec<_> = rules
            .iter()
            .filter(|r| r.enabled && r.pattern.matches(&escalation()))
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(fired, ["RevokeFunction.Events.IamEscalation"]);
    }

    #[test]
    fn a_rule_whose_state_is_a_condition_follows_the_parameters() {
        let tag_rule = |rules: &[Rule]| {
            rules
                .iter()
                .find(|r| r.name == "QuarantineFunction.Events.OperatorTag")
                .map(|r| r.enabled)
        };
        assert_eq!(tag_rule(&central(&[])), Some(false));
        let on = central(&[
            ("QuarantineTagKey", "reflex:quarantine"),
            ("QuarantineTagValue", "now"),
        ]);
        assert_eq!(tag_rule(&on), Some(true));
    }

    #[test]
    fn an_override_of_an_unknown_parameter_is_refused() {
        let overrides = [("NoSuchParameter".to_string(), "x".to_string())].into();
        let error = rules_of(CENTRAL_TEMPLATE, &overrides).unwrap_err();
        assert!(error.contains("NoSuchParameter"), "{error}");
    }

    #[test]
    fn the_member_template_forwards_without_a_function() {
        let rules = rules_of(MEMBER_TEMPLATE, &BTreeMap::new()).unwrap();
        assert!(!rules.is_empty());
        assert!(rules.iter().all(|r| r.function.is_none()));
        assert!(rules.iter().any(|r| r.pattern.matches(&escalation())));
    }
}
