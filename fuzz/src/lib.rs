//! What Reflex's fuzz targets share: the code under test that lives outside a library crate
//! (the EventBridge pattern matcher and the template reader of `reflex-tests`, compiled in from
//! their sources so the fuzz build does not link the emulator harness), the rules of the SAM
//! templates, and the checks each function's interpretation must pass.

use std::fmt::Debug;
use std::sync::OnceLock;

use reflex_shared::event::Event;
use reflex_shared::{EventError, Function, Interpreted};
use serde_json::{Map, Value};

/// `tests/src/pattern.rs`, the matcher the wiring tests use: only `std` and `serde_json`.
#[path = "../../tests/src/pattern.rs"]
#[allow(dead_code)]
pub mod pattern;

/// `tests/src/template.rs`: the YAML templates as CloudFormation reads them.
#[path = "../../tests/src/template.rs"]
#[allow(dead_code)]
pub mod template;

use pattern::Pattern;

/// Whether function `name` takes `event` (`Function::ACCEPTS`, checked by the pipeline before
/// anything else); `None` for a name that is not a function's.
pub fn accepts(name: &str, event: &Event) -> Option<bool> {
    Some(match name {
        "revoke" => event.is_one_of(reflex_revoke::Revoke::ACCEPTS),
        "scale" => event.is_one_of(reflex_scale::Scale::ACCEPTS),
        "harden" => event.is_one_of(reflex_harden::Harden::ACCEPTS),
        "notify" => event.is_one_of(reflex_notify::Notify::ACCEPTS),
        "quarantine" => event.is_one_of(reflex_quarantine::Quarantine::ACCEPTS),
        _ => return None,
    })
}

/// Every function's interpretation of `event`, as the pipeline runs it (only for an event the
/// function accepts), with the function's default settings, and its rules over the trigger with
/// nothing known about the account. Checks: interpreting is deterministic; an error has a type
/// and a message; an ignored event has a reason; every finding names one of the function's rules
/// and gives a reason.
pub fn interpret_everywhere(event: &Event) {
    interpret_as::<reflex_revoke::Revoke>(event, &Default::default());
    interpret_as::<reflex_scale::Scale>(event, &Default::default());
    interpret_as::<reflex_harden::Harden>(event, &Default::default());
    interpret_as::<reflex_notify::Notify>(event, &Default::default());
    interpret_as::<reflex_quarantine::Quarantine>(event, &Default::default());
}

fn interpret_as<F>(event: &Event, settings: &F::Settings)
where
    F: Function,
    F::Trigger: PartialEq + Debug,
    F::Action: Debug,
{
    if !event.is_one_of(F::ACCEPTS) {
        return;
    }
    let first = F::interpret(event, settings);
    let again = F::interpret(event, settings);
    assert_eq!(
        first,
        again,
        "{}: interpreting the same event twice differs",
        F::NAME
    );
    match first {
        Ok(Interpreted::Trigger(trigger)) => {
            for finding in F::decide(&trigger, &F::Facts::default(), settings) {
                assert!(
                    F::RULE_IDS.contains(&finding.rule_id),
                    "{}: a finding of an unknown rule: {finding:?}",
                    F::NAME
                );
                assert!(
                    !finding.reason.trim().is_empty(),
                    "{}: a finding without a reason: {finding:?}",
                    F::NAME
                );
            }
        }
        Ok(Interpreted::Ignored(why)) => {
            assert!(
                !why.trim().is_empty(),
                "{}: an event ignored without a reason",
                F::NAME
            );
        }
        Err(error) => check_error(&error),
    }
}

/// An event error has a type and a message a person can act on.
pub fn check_error(error: &EventError) {
    assert!(!error.error_type().is_empty(), "{error:?}: no error type");
    assert!(
        !error.to_string().trim().is_empty(),
        "{error:?}: an empty message"
    );
}

// ---------------------------------------------------------------------------------------------
// The rules of the templates

/// One EventBridge rule of `infra/template.yaml` or `infra/member.yaml`.
pub struct TemplateRule {
    /// `template.yaml: RevokeFunction.Events.IamEscalation`.
    pub name: String,
    /// The function the rule invokes (`revoke`), `None` for a member account's forwarding rule.
    pub function: Option<String>,
    pub pattern: Pattern,
}

/// The rules of both templates, as deployed with the parameters' defaults (read when the target
/// was built); every rule, enabled by default or not.
pub fn template_rules() -> &'static [TemplateRule] {
    static RULES: OnceLock<Vec<TemplateRule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut rules = Vec::new();
        for (file, text) in [
            ("template.yaml", include_str!("../../infra/template.yaml")),
            ("member.yaml", include_str!("../../infra/member.yaml")),
        ] {
            let template = template::yaml_to_json_document(text)
                .unwrap_or_else(|e| panic!("infra/{file}: {e}"));
            rules_of(file, &template, &mut rules);
        }
        assert!(
            rules.iter().filter(|r| r.function.is_some()).count() >= 5
                && rules.iter().any(|r| r.function.is_none()),
            "the templates' rules were not found: fuzz/src/lib.rs reads them"
        );
        rules
    })
}

fn rules_of(file: &str, template: &Value, rules: &mut Vec<TemplateRule>) {
    let empty = Map::new();
    let parameters = template["Parameters"].as_object().unwrap_or(&empty);
    let resources = template["Resources"].as_object().unwrap_or(&empty);
    let mut add = |name: String, function: Option<String>, pattern: &Value| {
        let pattern = resolve(pattern, parameters).unwrap_or_else(|| {
            panic!("{name}: an intrinsic function fuzz/src/lib.rs cannot resolve")
        });
        let pattern = Pattern::parse(&pattern).unwrap_or_else(|e| panic!("{name}: {e}"));
        rules.push(TemplateRule {
            name,
            function,
            pattern,
        });
    };
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
                        add(
                            format!("{file}: {id}.Events.{event}"),
                            function.clone(),
                            &source["Properties"]["Pattern"],
                        );
                    }
                }
            }
            Some("AWS::Events::Rule") => add(
                format!("{file}: {id}"),
                None,
                &resource["Properties"]["EventPattern"],
            ),
            _ => {}
        }
    }
}

/// A pattern with the intrinsic functions patterns use replaced by their values: `Ref` to a
/// parameter (its default), `Fn::Split`, `Fn::Select`. `None` for any other.
fn resolve(value: &Value, parameters: &Map<String, Value>) -> Option<Value> {
    let Value::Object(map) = value else {
        return match value {
            Value::Array(items) => items
                .iter()
                .map(|item| resolve(item, parameters))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            other => Some(other.clone()),
        };
    };
    let intrinsic = map
        .keys()
        .next()
        .filter(|k| map.len() == 1 && (*k == "Ref" || k.starts_with("Fn::")));
    let Some(intrinsic) = intrinsic else {
        return map
            .iter()
            .map(|(k, v)| Some((k.clone(), resolve(v, parameters)?)))
            .collect::<Option<Map<_, _>>>()
            .map(Value::Object);
    };
    let argument = &map[intrinsic];
    match intrinsic.as_str() {
        "Ref" => {
            let default = &parameters.get(argument.as_str()?)?["Default"];
            Some(match default {
                Value::String(_) => default.clone(),
                Value::Null => return None,
                other => Value::String(other.to_string()),
            })
        }
        "Fn::Split" => {
            let [separator, text] = argument.as_array()?.as_slice() else {
                return None;
            };
            let text = resolve(text, parameters)?;
            Some(
                text.as_str()?
                    .split(separator.as_str()?)
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )
        }
        "Fn::Select" => {
            let [index, list] = argument.as_array()?.as_slice() else {
                return None;
            };
            let index = index.as_u64().or_else(|| index.as_str()?.parse().ok())?;
            resolve(list, parameters)?
                .as_array()?
                .get(usize::try_from(index).ok()?)
                .cloned()
        }
        _ => None,
    }
}
