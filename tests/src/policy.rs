//! The IAM side of a deployment rehearsal: the roles a template creates, their ARNs, trusts and
//! policies with the deployment's values in place (`Fn::Sub`, `Fn::GetAtt` of a role), and
//! whether a role's policies let it do an action on a resource, as IAM decides it: an explicit
//! deny wins, then any allow; `*` and `?` match as IAM's wildcards. Conditions are not evaluated
//! (the tests read them as data).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::render::render;
use crate::template::yaml_to_json_document;

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
    /// `template` as [`render`] deploys it with `overrides` (parameters, or `AWS::AccountId`,
    /// `AWS::Region`, `AWS::Partition`; by default us-east-1 of 123456789012).
    pub fn of(template: &Path, overrides: &[(&str, &str)]) -> Result<Self, String> {
        let resources = render(template, overrides)?["Resources"].clone();
        let text = std::fs::read_to_string(template).map_err(|e| e.to_string())?;
        let written = yaml_to_json_document(&text)?;
        let mut values: BTreeMap<String, String> = written["Parameters"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(name, p)| Some((name.clone(), text_of(p.get("Default")?)?)))
            .collect();
        for (name, value) in [
            ("AWS::Region", "us-east-1"),
            ("AWS::AccountId", "123456789012"),
            ("AWS::Partition", "aws"),
            ("AWS::StackName", "reflex"),
            ("AWS::URLSuffix", "amazonaws.com"),
        ]
        .into_iter()
        .chain(overrides.iter().copied())
        {
            values.insert(name.to_string(), value.to_string());
        }
        Ok(Self { resources, values })
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

    /// A value as deployed: text, `Fn::Sub` (either form), `Fn::GetAtt` of a role's `Arn`, `Ref`
    /// to a parameter. `None` for anything else.
    pub fn text(&self, node: &Value) -> Option<String> {
        match node {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) if o.len() == 1 => {
                let (function, args) = o.iter().next()?;
                match function.as_str() {
                    "Fn::Sub" => match args {
                        Value::String(s) => self.substitute(s, &BTreeMap::new()),
                        Value::Array(a) => {
                            let local = a.get(1)?.as_object()?;
                            let local: BTreeMap<String, String> = local
                                .iter()
                                .map(|(k, v)| Some((k.clone(), self.text(v)?)))
                                .collect::<Option<_>>()?;
                            self.substitute(a.first()?.as_str()?, &local)
                        }
                        _ => None,
                    },
                    "Fn::GetAtt" => {
                        let (id, attribute) = match args {
                            Value::String(s) => s.split_once('.')?,
                            Value::Array(a) => (a.first()?.as_str()?, a.get(1)?.as_str()?),
                            _ => return None,
                        };
                        (attribute == "Arn").then(|| self.role_arn(id))?
                    }
                    "Ref" => self.value(args.as_str()?).map(String::from),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Every value of a node that is one value or a list of them.
    pub fn texts(&self, node: &Value) -> Vec<String> {
        match node {
            Value::Array(items) => items.iter().filter_map(|v| self.text(v)).collect(),
            Value::Null => Vec::new(),
            one => self.text(one).into_iter().collect(),
        }
    }

    fn substitute(&self, text: &str, local: &BTreeMap<String, String>) -> Option<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}')? + start;
            let name = &rest[start + 2..end];
            match name.strip_prefix('!') {
                Some(literal) => out.push_str(&format!("${{{literal}}}")),
                None => {
                    let value = match local.get(name) {
                        Some(v) => v.clone(),
                        None => match name.split_once('.') {
                            Some((id, "Arn")) => self.role_arn(id)?,
                            _ => self.value(name)?.to_string(),
                        },
                    };
                    out.push_str(&value);
                }
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Some(out)
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
            Some(path) => self.text(path)?,
            None => "/".to_string(),
        };
        let name = match p.get("RoleName") {
            Some(name) => self.text(name)?,
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

/// Whether `statements` allow `action` on `resource`: some allow matches and no deny does.
pub fn allows(statements: &[Statement], action: &str, resource: &str) -> bool {
    let matching = |effect: &str| {
        statements.iter().any(|s| {
            s.effect == effect
                && s.actions
                    .iter()
                    .any(|a| wildcard_match(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
                && s.resources.iter().any(|r| wildcard_match(r, resource))
        })
    };
    matching("Allow") && !matching("Deny")
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
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
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

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
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
