//! The IAM side of a deployment rehearsal: the roles a template creates, their ARNs, trusts and
//! policies with the deployment's values in place (`Fn::Sub`, `Fn::GetAtt` of a role), and
//! whether a role's policies let it do an action on a resource, as IAM decides it: an explicit
//! deny wins, then any allow; `*` and `?` match as IAM's wildcards.
//!
//! A value only a real deployment knows (another resource's ARN or id) reads as a placeholder
//! naming it, `${LedgerTable.Arn}` or `${ReportsTopic}`, which a test can ask about like an ARN;
//! an intrinsic this reader does not know panics, naming it, rather than read as nothing.
//!
//! Conditions are not evaluated (the tests read them as data). An allow with a condition counts
//! as an allow; a deny with a condition does not count, so that "may not" is never concluded
//! from a condition nobody evaluated.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::render::{Rendered, rendered};

/// A template as deployed with given parameters: its resources and the values of its parameters
/// and pseudo parameters.
pub struct Deployment {
    pub resources: Value,
    values: BTreeMap<String, String>,
}

/// One statement of a policy, its values resolved.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub principal: Value,
    pub condition: Value,
}

impl Deployment {
    /// `template` as [`rendered`] deploys it with `overrides` (parameters, or `AWS::AccountId`,
    /// `AWS::Region`, `AWS::Partition`, ...; by default us-east-1 of 123456789012).
    pub fn of(template: &Path, overrides: &[(&str, &str)]) -> Result<Self, String> {
        let Rendered {
            resources,
            parameters,
        } = rendered(template, overrides)?;
        Ok(Self {
            resources,
            values: parameters,
        })
    }

    /// A parameter's or pseudo parameter's value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The ids of the resources of `type_`.
    pub fn of_type(&self, type_: &str) -> Vec<String> {
        self.resources
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, r)| r["Type"] == type_)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A value as deployed: text, `Fn::Sub` (either form), `Ref` to a parameter, `Fn::GetAtt` of
    /// a role's `Arn`; a `Ref` or `Fn::GetAtt` of another resource as its placeholder
    /// (`${ReportsTopic}`, `${LedgerTable.Arn}`). `None` for what is no value (a number, a list,
    /// an object that is no intrinsic). Panics on any other intrinsic and on a name that is
    /// neither a parameter nor a resource.
    pub fn text(&self, node: &Value) -> Option<String> {
        match node {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) if o.len() == 1 => {
                let (function, args) = o.iter().next()?;
                let text = match function.as_str() {
                    "Fn::Sub" => match args {
                        Value::String(s) => self.substitute(s, &BTreeMap::new()),
                        Value::Array(a) if a.len() == 2 && a[0].is_string() => {
                            let local = a[1]
                                .as_object()
                                .unwrap_or_else(|| panic!("Fn::Sub's variables: {node}"))
                                .iter()
                                .map(|(k, v)| (k.clone(), self.text_or_panic(v)))
                                .collect();
                            self.substitute(a[0].as_str().unwrap_or_default(), &local)
                        }
                        _ => panic!("Fn::Sub of neither text nor [text, variables]: {node}"),
                    },
                    "Fn::GetAtt" => {
                        let (id, attribute) = match args {
                            Value::String(s) => s.split_once('.'),
                            Value::Array(a) => match a.as_slice() {
                                [Value::String(id), Value::String(attribute)] => {
                                    Some((id.as_str(), attribute.as_str()))
                                }
                                _ => None,
                            },
                            _ => None,
                        }
                        .unwrap_or_else(|| panic!("Fn::GetAtt of no resource.attribute: {node}"));
                        self.attribute(id, attribute)
                    }
                    "Ref" => self.reference(
                        args.as_str()
                            .unwrap_or_else(|| panic!("Ref of no name: {node}")),
                    ),
                    other if other.starts_with("Fn::") => {
                        panic!("{other} is not read by the rehearsal: {node}")
                    }
                    _ => return None,
                };
                Some(text)
            }
            _ => None,
        }
    }

    /// [`Deployment::text`] of a node that must be a value.
    fn text_or_panic(&self, node: &Value) -> String {
        self.text(node)
            .unwrap_or_else(|| panic!("{node} is not a value the rehearsal can read"))
    }

    /// Every value of a node that is one value or a list of them; panics on one that is not.
    pub fn texts(&self, node: &Value) -> Vec<String> {
        match node {
            Value::Array(items) => items.iter().map(|v| self.text_or_panic(v)).collect(),
            Value::Null => Vec::new(),
            one => vec![self.text_or_panic(one)],
        }
    }

    /// `Ref name`: a parameter's value, or a resource's placeholder `${name}`.
    fn reference(&self, name: &str) -> String {
        if let Some(value) = self.value(name) {
            return value.to_string();
        }
        assert!(
            self.resources.get(name).is_some(),
            "Ref {name}: no parameter or resource of that name"
        );
        format!("${{{name}}}")
    }

    /// `Fn::GetAtt id.attribute`: a role's ARN, else the placeholder `${id.attribute}`.
    fn attribute(&self, id: &str, attribute: &str) -> String {
        if attribute == "Arn"
            && let Some(arn) = self.role_arn(id)
        {
            return arn;
        }
        assert!(
            self.resources.get(id).is_some(),
            "Fn::GetAtt {id}.{attribute}: no resource {id}"
        );
        format!("${{{id}.{attribute}}}")
    }

    fn substitute(&self, text: &str, local: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .unwrap_or_else(|| panic!("Fn::Sub {text:?}: a `${{` without its `}}`"))
                + start;
            let name = &rest[start + 2..end];
            match name.strip_prefix('!') {
                Some(literal) => out.push_str(&format!("${{{literal}}}")),
                None => out.push_str(&match local.get(name) {
                    Some(v) => v.clone(),
                    None => match name.split_once('.') {
                        Some((id, attribute)) => self.attribute(id, attribute),
                        None => self.reference(name),
                    },
                }),
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// A role's ARN: `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`; a role without a fixed name is
    /// named `<logical id>-GENERATED`, as CloudFormation would name it after the stack.
    pub fn role_arn(&self, id: &str) -> Option<String> {
        let role = self.resources.get(id)?;
        if role["Type"] != "AWS::IAM::Role" {
            return None;
        }
        let p = &role["Properties"];
        let path = match p.get("Path") {
            Some(path) => self.text_or_panic(path),
            None => "/".to_string(),
        };
        let name = match p.get("RoleName") {
            Some(name) => self.text_or_panic(name),
            None => format!("{id}-GENERATED"),
        };
        Some(format!(
            "arn:{}:iam::{}:role{path}{name}",
            self.value("AWS::Partition")?,
            self.value("AWS::AccountId")?
        ))
    }

    /// The statements of a role's trust policy.
    pub fn trust(&self, role: &str) -> Vec<Statement> {
        self.statements_of(&self.resources[role]["Properties"]["AssumeRolePolicyDocument"])
    }

    /// The statements of a role's inline policies and of the stack's managed policies it has.
    pub fn permissions(&self, role: &str) -> Vec<Statement> {
        let p = &self.resources[role]["Properties"];
        let mut out = Vec::new();
        for policy in p["Policies"].as_array().into_iter().flatten() {
            out.extend(self.statements_of(&policy["PolicyDocument"]));
        }
        for managed in p["ManagedPolicyArns"].as_array().into_iter().flatten() {
            let Some(id) = managed.get("Ref").and_then(Value::as_str) else {
                continue;
            };
            out.extend(self.statements_of(&self.resources[id]["Properties"]["PolicyDocument"]));
        }
        out
    }

    /// The statements of every managed policy of the stack.
    pub fn managed_policies(&self) -> Vec<(String, Vec<Statement>)> {
        self.of_type("AWS::IAM::ManagedPolicy")
            .into_iter()
            .map(|id| {
                let statements =
                    self.statements_of(&self.resources[&id]["Properties"]["PolicyDocument"]);
                (id, statements)
            })
            .collect()
    }

    fn statements_of(&self, document: &Value) -> Vec<Statement> {
        let statements = match &document["Statement"] {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            one => vec![one.clone()],
        };
        statements
            .iter()
            .inspect(|s| {
                // Read as absent, they would turn a statement into nothing.
                for negated in ["NotAction", "NotResource", "NotPrincipal"] {
                    assert!(s.get(negated).is_none(), "{negated} is not read: {s}");
                }
            })
            .map(|s| Statement {
                sid: s["Sid"].as_str().map(String::from),
                effect: s["Effect"].as_str().unwrap_or_default().to_string(),
                actions: self.texts(&s["Action"]),
                resources: self.texts(&s["Resource"]),
                principal: self.resolved(&s["Principal"]),
                condition: self.resolved(&s["Condition"]),
            })
            .collect()
    }

    /// `node` with every value that [`Deployment::text`] can read replaced by its text.
    pub fn resolved(&self, node: &Value) -> Value {
        if let Some(text) = self.text(node).filter(|_| !node.is_string()) {
            return Value::String(text);
        }
        match node {
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), self.resolved(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.resolved(v)).collect()),
            other => other.clone(),
        }
    }
}

/// Whether `statements` allow `action` on `resource`: some allow matches (with its condition,
/// if any, taken as met) and no deny without a condition does.
pub fn allows(statements: &[Statement], action: &str, resource: &str) -> bool {
    statements
        .iter()
        .any(|s| s.effect == "Allow" && matches(s, action, resource))
        && !denies(statements, action, resource)
}

/// Whether a deny in `statements` that holds whatever the request (it has no condition) matches
/// `action` on `resource`.
pub fn denies(statements: &[Statement], action: &str, resource: &str) -> bool {
    statements
        .iter()
        .any(|s| s.effect == "Deny" && unconditional(s) && matches(s, action, resource))
}

fn unconditional(statement: &Statement) -> bool {
    match &statement.condition {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn matches(statement: &Statement, action: &str, resource: &str) -> bool {
    statement
        .actions
        .iter()
        .any(|a| wildcard_match(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
        && statement
            .resources
            .iter()
            .any(|r| wildcard_match(r, resource))
}

/// The actions `statements` allow (as written, wildcards included).
pub fn allowed_actions(statements: &[Statement]) -> Vec<String> {
    let mut out: Vec<String> = statements
        .iter()
        .filter(|s| s.effect == "Allow")
        .flat_map(|s| s.actions.iter().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// IAM's wildcards: `*` any run of characters, `?` any one character.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        // A `*` of the pattern is a wildcard even where the text holds a `*` (the bug the
        // policy fuzz target found in revoke's copy of this matcher).
        if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// Whether a role ARN (or role ARN pattern) has a wildcard in its path or name: it then stands
/// for roles anyone allowed to create them can add.
pub fn has_path_wildcard(arn: &str) -> bool {
    arn.split_once(":role/")
        .is_some_and(|(_, rest)| rest.contains(['*', '?']))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(wildcard_match(
            "arn:aws:iam::1:role/*",
            "arn:aws:iam::1:role/reflex/x"
        ));
        assert!(wildcard_match("iam:*", "iam:putrolepolicy"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(!wildcard_match(
            "arn:aws:iam::1:role/reflex/x",
            "arn:aws:iam::1:role/reflex/y"
        ));
        assert!(wildcard_match("*-revoke", "reflex-remediation-revoke"));
        assert!(!wildcard_match("*-revoke", "reflex-remediation-scale"));
        // A resource holding a `*` is still matched by the pattern's `*`.
        assert!(wildcard_match("*", "arn:aws:iam::*:role/x"));
        assert!(wildcard_match("arn:aws:iam::*", "arn:aws:iam::*:role/x"));
    }

    fn statement(effect: &str, condition: Value) -> Statement {
        Statement {
            sid: None,
            effect: effect.to_string(),
            actions: vec!["iam:PutRolePolicy".to_string()],
            resources: vec!["arn:aws:iam::1:role/*".to_string()],
            principal: Value::Null,
            condition,
        }
    }

    #[test]
    fn a_deny_counts_only_without_a_condition_and_an_allow_with_one() {
        let role = "arn:aws:iam::1:role/ops";
        let mfa = json!({ "Bool": { "aws:MultiFactorAuthPresent": "false" } });
        let allow = statement("Allow", Value::Null);
        assert!(allows(
            std::slice::from_ref(&allow),
            "iam:PutRolePolicy",
            role
        ));
        assert!(allows(
            &[statement("Allow", mfa.clone())],
            "iam:PutRolePolicy",
            role
        ));
        let unconditional = [allow.clone(), statement("Deny", Value::Null)];
        assert!(!allows(&unconditional, "iam:PutRolePolicy", role));
        assert!(denies(&unconditional, "iam:PutRolePolicy", role));
        // A deny that holds only sometimes is no proof that the action is never allowed.
        let conditional = [allow, statement("Deny", mfa)];
        assert!(allows(&conditional, "iam:PutRolePolicy", role));
        assert!(!denies(&conditional, "iam:PutRolePolicy", role));
    }

    fn deployment() -> Deployment {
        Deployment {
            resources: json!({
                "Ledger": { "Type": "AWS::DynamoDB::Table" },
                "Topic": { "Type": "AWS::SNS::Topic" },
                "Role": {
                    "Type": "AWS::IAM::Role",
                    "Properties": { "Path": "/reflex/", "RoleName": { "Fn::Sub": "r-${AWS::Region}" } }
                }
            }),
            values: BTreeMap::from_iter(
                [
                    ("AWS::Partition", "aws"),
                    ("AWS::AccountId", "1"),
                    ("AWS::Region", "us-east-1"),
                    ("Prefix", "reflex"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string())),
            ),
        }
    }

    #[test]
    fn another_resources_value_reads_as_a_placeholder_naming_it() {
        let d = deployment();
        let text = |node: Value| d.text(&node);
        assert_eq!(text(json!({ "Ref": "Topic" })).as_deref(), Some("${Topic}"));
        assert_eq!(
            text(json!({ "Fn::GetAtt": ["Ledger", "Arn"] })).as_deref(),
            Some("${Ledger.Arn}")
        );
        assert_eq!(
            text(json!({ "Fn::GetAtt": "Ledger.StreamArn" })).as_deref(),
            Some("${Ledger.StreamArn}")
        );
        assert_eq!(
            text(json!({ "Fn::Sub": "${Ledger.Arn}/index/*" })).as_deref(),
            Some("${Ledger.Arn}/index/*")
        );
        assert_eq!(
            text(json!({ "Fn::Sub": ["${P}-${Topic}", { "P": { "Ref": "Prefix" } }] })).as_deref(),
            Some("reflex-${Topic}")
        );
        // A role's ARN is known: its name and path are.
        assert_eq!(
            text(json!({ "Fn::GetAtt": ["Role", "Arn"] })).as_deref(),
            Some("arn:aws:iam::1:role/reflex/r-us-east-1")
        );
        assert_eq!(
            d.texts(&json!(["a", { "Ref": "Topic" }])),
            ["a", "${Topic}"],
            "nothing in a list is left out"
        );
        // A statement on a placeholder answers for that resource.
        let deny = Statement {
            resources: d.texts(&json!({ "Fn::GetAtt": ["Ledger", "Arn"] })),
            actions: vec!["dynamodb:DeleteTable".to_string()],
            ..statement("Deny", Value::Null)
        };
        assert!(denies(&[deny], "dynamodb:DeleteTable", "${Ledger.Arn}"));
        // No intrinsic, no value: a condition block is walked into, not read as text.
        assert_eq!(text(json!({ "StringEquals": { "a": "b" } })), None);
    }

    #[test]
    #[should_panic(expected = "Fn::Join is not read")]
    fn an_intrinsic_the_rehearsal_does_not_read_is_an_error() {
        deployment().text(&json!({ "Fn::Join": ["", ["a", "b"]] }));
    }

    #[test]
    #[should_panic(expected = "no parameter or resource")]
    fn a_reference_to_nothing_is_an_error() {
        deployment().text(&json!({ "Fn::Sub": "arn:${Nothing}" }));
    }

    #[test]
    #[should_panic(expected = "NotResource is not read")]
    fn a_negated_element_is_an_error() {
        deployment().statements_of(&json!({
            "Statement": { "Effect": "Deny", "Action": "iam:*", "NotResource": "*" }
        }));
    }

    #[test]
    fn a_path_wildcard_is_one_after_role() {
        assert!(has_path_wildcard("arn:aws:iam::1:role/reflex/*"));
        assert!(has_path_wildcard("arn:aws:iam::1:role/reflex-?"));
        assert!(!has_path_wildcard(
            "arn:aws:iam::*:role/reflex/reflex-remediation-revoke"
        ));
        assert!(!has_path_wildcard(
            "arn:aws:iam::1:role/reflex/reflex-revoke-us-east-1"
        ));
    }
}
