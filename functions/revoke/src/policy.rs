//! Reading IAM policy documents: does this document grant a privilege escalation, and by which
//! of the known methods ([`crate::escalation::METHODS`])?

use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::escalation::{self, Category, METHODS, Method};

/// A policy document as CloudTrail or IAM hands it over: a JSON object, a JSON string, or a
/// URL-encoded JSON string (the IAM API encodes documents in responses).
pub fn parse_document(raw: &Value) -> Option<Value> {
    match raw {
        Value::Object(_) => Some(raw.clone()),
        Value::String(s) => parse_document_str(s),
        _ => None,
    }
}

pub fn parse_document_str(s: &str) -> Option<Value> {
    let trimmed = s.trim_start();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).ok();
    }
    let decoded = percent_decode_str(trimmed).decode_utf8().ok()?;
    // Read as the same text unencoded is: leading whitespace of any kind skipped.
    serde_json::from_str(decoded.trim_start()).ok()
}

/// Why the document escalates privileges, or `None` if it does not: the methods of
/// [`crate::escalation::METHODS`] it allows, named (see [`analyse`] for the reading).
pub fn escalation(doc: &Value) -> Option<String> {
    analyse(doc).reason()
}

/// Statements beyond this many characters of text: larger than IAM accepts in any policy
/// (10,240 for a role's inline policies), so never a document in force; not analysed.
const MAX_TEXT: usize = 128 * 1024;

/// Steps allowed for comparing `Deny` resources with `Allow` resources. Past it a `Deny` is taken
/// not to cancel (the reading errs towards escalation, never away from it).
const COVER_BUDGET: u64 = 2_000_000;

/// What an identity policy document allows of the escalation methods.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Every method the document allows, in table order.
    pub methods: Vec<Found>,
    /// The statement that allows them wholesale (`*`, `iam:*`, `NotAction`), when one does.
    pub sweeping: Option<Sweeping>,
    /// The document's size when it is too large to analyse (then it counts as escalating).
    pub too_large: Option<usize>,
}

/// A method a document allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub method: &'static Method,
    /// The resources its actions are allowed on: every one, or the first wildcard pattern.
    pub scope: Scope,
    /// Some action of it is allowed only under a `Condition` (it still counts: a condition
    /// narrows when, rarely whom, and an attacker may well meet it).
    pub conditional: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Everything,
    Pattern(String),
}

/// A statement allowing actions wholesale: the finding names it rather than each method.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweeping {
    pub kind: SweepingKind,
    /// The statement's action text, e.g. `*`, `IAM:*`, or its `NotAction` list joined.
    pub actions: String,
    pub sid: Option<String>,
    pub conditional: bool,
    /// Where it allows the methods: every resource, or a wildcard pattern.
    pub scope: Scope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepingKind {
    EveryAction,
    AllOfIam,
    EveryActionExcept,
}

/// How many methods a reason names before "and N more".
const NAMED: usize = 3;

impl Analysis {
    pub fn escalates(&self) -> bool {
        self.too_large.is_some() || !self.methods.is_empty()
    }

    /// The methods worth naming, unconditional ones first: `PassAnyRole` only when no named
    /// pass-role method is found (every one of them needs it too).
    pub fn named(&self) -> Vec<&Found> {
        let specific = self
            .methods
            .iter()
            .any(|f| f.method.category == Category::PassRole && f.method.name != "PassAnyRole");
        let mut named: Vec<&Found> = self
            .methods
            .iter()
            .filter(|f| !(specific && f.method.name == "PassAnyRole"))
            .collect();
        named.sort_by_key(|f| f.conditional);
        named
    }

    /// The finding's reason, a phrase to follow the policy's name ("… which {reason}").
    pub fn reason(&self) -> Option<String> {
        if let Some(n) = self.too_large {
            return Some(format!(
                "is too large to analyse ({n} characters of statements, more than IAM accepts)"
            ));
        }
        if self.methods.is_empty() {
            return None;
        }
        let named = self.named();
        let more = |n: usize| {
            if n > NAMED {
                format!(" and {} more", n - NAMED)
            } else {
                String::new()
            }
        };
        if let Some(s) = &self.sweeping {
            let sid = s
                .sid
                .as_ref()
                .map(|sid| format!(" (statement {sid})"))
                .unwrap_or_default();
            let on = match &s.scope {
                Scope::Everything => String::new(),
                Scope::Pattern(p) => format!(" on {p}"),
            };
            let cond = if s.conditional {
                " under a condition"
            } else {
                ""
            };
            return Some(match s.kind {
                SweepingKind::EveryAction => {
                    format!("allows every action (`{}`){on}{cond}{sid}", s.actions)
                }
                SweepingKind::AllOfIam => {
                    format!("allows all of IAM (`{}`){on}{cond}{sid}", s.actions)
                }
                SweepingKind::EveryActionExcept => {
                    let names: Vec<&str> =
                        named.iter().take(NAMED).map(|f| f.method.name).collect();
                    format!(
                        "allows every action except {}{on}{cond}{sid}, privilege escalation by {}{}",
                        s.actions,
                        names.join(", "),
                        more(named.len())
                    )
                }
            });
        }
        let described: Vec<String> = named.iter().take(NAMED).map(|f| f.describe()).collect();
        Some(format!(
            "grants privilege escalation by {}{}",
            described.join(", "),
            more(named.len())
        ))
    }
}

impl Found {
    /// `CreateNewPolicyVersion (iam:CreatePolicyVersion on every resource)`.
    pub fn describe(&self) -> String {
        let on = match &self.scope {
            Scope::Everything => "every resource".to_string(),
            Scope::Pattern(p) => p.clone(),
        };
        let cond = if self.conditional {
            ", under a condition"
        } else {
            ""
        };
        format!(
            "{} ({} on {on}{cond})",
            self.method.name,
            self.method.actions.join(", ")
        )
    }
}

/// The escalation methods an identity policy document allows, read as IAM reads it:
///
/// - actions case-insensitively, with `*` and `?` wildcards; `NotAction` as every action but
///   those listed;
/// - an action counts when allowed on a resource it can be used on by anyone: `*`, a
///   `NotResource` that does not exclude all of them, or a wildcard ARN of its service whose
///   name part is a wildcard (`arn:aws:iam::*:user/*` for `iam:AttachUserPolicy`; not
///   `…:role/app` nor `…:role/app-*` for `iam:PassRole`, nor `arn:aws:s3:::b/*` for anything of
///   IAM). `iam:AttachUserPolicy`/`iam:PutUserPolicy` on `user/${aws:username}` count too: the
///   holder grants itself anything;
/// - a `Deny` without a condition of the action on every resource the `Allow` names cancels
///   it (a narrower `Deny` does not; a `Deny` with `NotResource` is not relied on);
/// - an `Allow` under a `Condition` counts, and the reason says so;
/// - statements naming a `Principal` are resource or trust policy, not identity policy: left out.
pub fn analyse(doc: &Value) -> Analysis {
    let size = text_size(doc.get("Statement"), MAX_TEXT);
    if size > MAX_TEXT {
        return Analysis {
            methods: Vec::new(),
            sweeping: None,
            too_large: Some(size),
        };
    }
    let statements: Vec<Statement> = statements(doc)
        .into_iter()
        .filter_map(Statement::read)
        .collect();
    let mut budget = COVER_BUDGET;
    let grants: Vec<(&str, Option<Grant>)> = escalation::all_actions()
        .into_iter()
        .map(|a| (a, grant(&statements, a, &mut budget)))
        .collect();
    let grant_of = |action: &str| {
        grants
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(action))
            .and_then(|(_, g)| g.as_ref())
    };
    let mut methods = Vec::new();
    let mut granting: Vec<&Grant> = Vec::new();
    for method in METHODS {
        let Some(gs) = method
            .actions
            .iter()
            .map(|a| grant_of(a))
            .collect::<Option<Vec<&Grant>>>()
        else {
            continue;
        };
        granting.extend(gs.iter().copied());
        let scope = gs
            .iter()
            .find_map(|g| g.pattern.clone())
            .map_or(Scope::Everything, Scope::Pattern);
        methods.push(Found {
            method,
            scope,
            conditional: gs.iter().any(|g| g.conditional),
        });
    }
    granting.sort_by_key(|g| g.statement);
    let sweeping = [
        SweepingKind::EveryAction,
        SweepingKind::AllOfIam,
        SweepingKind::EveryActionExcept,
    ]
    .into_iter()
    .find_map(|kind| {
        granting.iter().find_map(|g| {
            let mut sw = statements[g.statement].sweeping()?;
            if sw.kind != kind {
                return None;
            }
            let mut mine = granting.iter().filter(|o| o.statement == g.statement);
            sw.scope = if mine.clone().any(|o| o.pattern.is_none()) {
                Scope::Everything
            } else {
                mine.find_map(|o| o.pattern.clone())
                    .map_or(Scope::Everything, Scope::Pattern)
            };
            Some(sw)
        })
    });
    Analysis {
        methods,
        sweeping,
        too_large: None,
    }
}

fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Characters of text in a value (keys and strings, one per other node), counted up to `limit`.
fn text_size(v: Option<&Value>, limit: usize) -> usize {
    let mut total = 0;
    let mut stack: Vec<&Value> = v.into_iter().collect();
    while let Some(v) = stack.pop() {
        total += match v {
            Value::String(s) => s.len(),
            Value::Array(list) => {
                stack.extend(list);
                1
            }
            Value::Object(map) => {
                stack.extend(map.values());
                map.keys().map(|k| k.len()).sum()
            }
            _ => 1,
        };
        if total > limit {
            break;
        }
    }
    total
}

/// One statement of an identity policy, as far as the analysis needs it.
struct Statement<'a> {
    sid: Option<&'a str>,
    allow: bool,
    /// `Action` patterns, or with `not_action` the `NotAction` ones.
    action_texts: Vec<&'a str>,
    actions: Vec<Glob>,
    not_action: bool,
    /// `Resource` patterns, or with `not_resource` the `NotResource` ones.
    resources: Vec<&'a str>,
    not_resource: bool,
    conditional: bool,
}

impl<'a> Statement<'a> {
    fn read(st: &'a Value) -> Option<Self> {
        let allow = match st.get("Effect")?.as_str()? {
            "Allow" => true,
            "Deny" => false,
            _ => return None,
        };
        // A principal makes it a resource or trust policy statement, which IAM refuses in an
        // identity policy.
        if st.get("Principal").is_some() || st.get("NotPrincipal").is_some() {
            return None;
        }
        let (action_texts, not_action) = match (st.get("Action"), st.get("NotAction")) {
            (Some(a), _) => (strings(Some(a)), false),
            (None, Some(n)) => (strings(Some(n)), true),
            (None, None) => (Vec::new(), false),
        };
        let (resources, not_resource) = match (st.get("Resource"), st.get("NotResource")) {
            (Some(r), _) => (strings(Some(r)), false),
            (None, Some(n)) => (strings(Some(n)), true),
            // IAM refuses a statement without either: an allow is read as on every resource,
            // a deny as on none (both err towards escalation).
            (None, None) if allow => (vec!["*"], false),
            (None, None) => (Vec::new(), false),
        };
        let conditional = match st.get("Condition") {
            None | Some(Value::Null) => false,
            Some(Value::Object(map)) => !map.is_empty(),
            Some(_) => true,
        };
        Some(Self {
            sid: st.get("Sid").and_then(Value::as_str),
            allow,
            actions: action_texts.iter().map(|a| Glob::new(a)).collect(),
            action_texts,
            not_action,
            resources,
            not_resource,
            conditional,
        })
    }

    /// Whether the statement names the action (lowercase).
    fn applies_to(&self, action: &[char]) -> bool {
        self.actions.iter().any(|g| g.matches(action)) != self.not_action
    }

    fn sweeping(&self) -> Option<Sweeping> {
        let kind = if self.not_action {
            SweepingKind::EveryActionExcept
        } else if self
            .action_texts
            .iter()
            .any(|a| matches!(a.trim(), "*" | "*:*"))
        {
            SweepingKind::EveryAction
        } else if self
            .action_texts
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case("iam:*"))
        {
            SweepingKind::AllOfIam
        } else {
            return None;
        };
        let actions = match kind {
            SweepingKind::EveryActionExcept => self.action_texts.join(", "),
            SweepingKind::EveryAction => self
                .action_texts
                .iter()
                .find(|a| matches!(a.trim(), "*" | "*:*"))
                .map(|a| a.to_string())
                .unwrap_or_default(),
            SweepingKind::AllOfIam => self
                .action_texts
                .iter()
                .find(|a| a.trim().eq_ignore_ascii_case("iam:*"))
                .map(|a| a.to_string())
                .unwrap_or_default(),
        };
        Some(Sweeping {
            kind,
            actions,
            sid: self.sid.map(str::to_string),
            conditional: self.conditional,
            scope: Scope::Everything,
        })
    }

    /// Whether this `Deny` covers every resource the allow pattern `resource` names.
    fn denies_all_of(&self, resource: &[char], budget: &mut u64) -> bool {
        !self.not_resource
            && self.resources.iter().any(|d| {
                // A deny of every resource covers anything, whatever the budget left.
                is_every(d) || covers(&d.trim().chars().collect::<Vec<_>>(), resource, budget)
            })
    }
}

/// An action allowed, by the statement at `statement`.
struct Grant {
    statement: usize,
    /// The wildcard pattern it is allowed on, `None` for every resource.
    pattern: Option<String>,
    conditional: bool,
}

/// Where the document allows `action` on resources anyone can use it on, not cancelled by a
/// `Deny`; an unconditional allow preferred.
fn grant(statements: &[Statement], action: &str, budget: &mut u64) -> Option<Grant> {
    let lower: Vec<char> = action.to_ascii_lowercase().chars().collect();
    let target = Target::of(&action.to_ascii_lowercase());
    let denies: Vec<&Statement> = statements
        .iter()
        .filter(|s| !s.allow && !s.conditional && s.applies_to(&lower))
        .collect();
    let mut conditional = None;
    for (i, s) in statements.iter().enumerate() {
        if !s.allow || !s.applies_to(&lower) {
            continue;
        }
        let scopes: Vec<Option<&str>> = if s.not_resource {
            if s.resources.iter().any(|r| target.is_broad(r)) {
                Vec::new()
            } else {
                vec![None]
            }
        } else {
            s.resources
                .iter()
                .filter(|r| target.is_broad(r))
                .map(|r| (!is_every(r)).then_some(r.trim()))
                .collect()
        };
        for scope in scopes {
            let text: Vec<char> = scope.unwrap_or("*").chars().collect();
            if denies.iter().any(|d| d.denies_all_of(&text, budget)) {
                continue;
            }
            let g = Grant {
                statement: i,
                pattern: scope.map(str::to_string),
                conditional: s.conditional,
            };
            if !s.conditional {
                return Some(g);
            }
            conditional.get_or_insert(g);
        }
    }
    conditional
}

/// A resource pattern that is only wildcards: every resource.
fn is_every(pattern: &str) -> bool {
    let p = pattern.trim();
    p.contains('*') && p.chars().all(|c| c == '*' || c == '?')
}

/// The resources an action is used on: the ARN's service, and for IAM the resource type.
struct Target {
    services: Vec<String>,
    iam_type: Option<&'static str>,
    /// Using it on oneself (`${aws:username}`) escalates too.
    on_self: bool,
}

impl Target {
    /// For a lowercase action.
    fn of(action: &str) -> Self {
        let (service, _) = action.split_once(':').unwrap_or((action, ""));
        let iam = |ty, on_self| Target {
            services: vec!["iam".to_string()],
            iam_type: Some(ty),
            on_self,
        };
        match action {
            "iam:attachuserpolicy" | "iam:putuserpolicy" => iam("user", true),
            "iam:createaccesskey" | "iam:createloginprofile" | "iam:updateloginprofile" => {
                iam("user", false)
            }
            "iam:addusertogroup" | "iam:attachgrouppolicy" | "iam:putgrouppolicy" => {
                iam("group", false)
            }
            "iam:attachrolepolicy"
            | "iam:putrolepolicy"
            | "iam:updateassumerolepolicy"
            | "iam:passrole"
            | "sts:assumerole" => iam("role", false),
            "iam:createpolicyversion" | "iam:setdefaultpolicyversion" => iam("policy", false),
            _ => Target {
                // The service whose ARNs the action takes, where it is not its own.
                services: match service {
                    "sts" => vec!["iam".to_string()],
                    "ec2-instance-connect" => vec!["ec2".to_string()],
                    "ssm" => vec!["ssm".to_string(), "ec2".to_string()],
                    own => vec![own.to_string()],
                },
                iam_type: None,
                on_self: false,
            },
        }
    }
}

impl Target {
    /// Whether the pattern names resources the action can be used on, any of them: every
    /// resource, or an ARN of the action's service (any partition, region, account) whose
    /// resource name is a wildcard.
    fn is_broad(&self, pattern: &str) -> bool {
        if is_every(pattern) {
            return true;
        }
        let p = pattern.trim().to_ascii_lowercase();
        let Some(rest) = p.strip_prefix("arn:") else {
            // IAM refuses anything else; a leading star may still span an ARN.
            return p.starts_with('*');
        };
        // partition, service, region, account, resource
        let fields: Vec<&str> = rest.splitn(5, ':').collect();
        let service_ok = |field: &str| {
            let g = Glob::new(field);
            self.services
                .iter()
                .any(|s| g.matches(&s.chars().collect::<Vec<_>>()))
        };
        if fields.len() < 5 {
            // A star ending the last field present spans the fields after it.
            let last = fields.last().copied().unwrap_or("");
            return last.ends_with('*') && (fields.len() < 3 || service_ok(fields[1]));
        }
        service_ok(fields[1]) && self.name_is_broad(fields[4])
    }

    fn name_is_broad(&self, resource: &str) -> bool {
        let r: Vec<char> = resource.chars().collect();
        let mut budget = u64::MAX;
        if let Some(ty) = self.iam_type {
            let any: Vec<char> = format!("{ty}/*").chars().collect();
            let own: Vec<char> = format!("{ty}/${{aws:username}}").chars().collect();
            return covers(&r, &any, &mut budget)
                || (self.on_self && covers(&r, &own, &mut budget));
        }
        match resource.find(['/', ':']) {
            None => resource.contains('*'),
            Some(i) => {
                let name = &resource[i + 1..];
                name.contains('*') && name.chars().all(|c| matches!(c, '*' | '/' | ':'))
            }
        }
    }
}

/// An IAM wildcard pattern, lowercase, runs of `*` made one.
struct Glob {
    chars: Vec<char>,
    /// Characters other than `*`: a text shorter than this cannot match.
    fixed: usize,
}

impl Glob {
    fn new(pattern: &str) -> Self {
        let mut chars: Vec<char> = Vec::new();
        for c in pattern.trim().to_ascii_lowercase().chars() {
            if !(c == '*' && chars.last() == Some(&'*')) {
                chars.push(c);
            }
        }
        let fixed = chars.iter().filter(|&&c| c != '*').count();
        Self { chars, fixed }
    }

    /// Against lowercase text: `*` any run of characters (a `*` in the text too), `?` one.
    fn matches(&self, text: &[char]) -> bool {
        let mut unbounded = u64::MAX;
        self.fixed <= text.len()
            && greedy(&self.chars, text, |p, t| p == '?' || p == t, &mut unbounded)
    }
}

/// Whether the pattern `d` covers every string the pattern `r` matches (both IAM wildcard
/// patterns): `d`'s `*` spans any of `r`, its `?` one character of `r` other than a `*`, its
/// other characters only themselves. False when the budget runs out.
fn covers(d: &[char], r: &[char], budget: &mut u64) -> bool {
    greedy(
        d,
        r,
        |p, t| t != '*' && (p == '?' || (p == t && t != '?')),
        budget,
    )
}

/// Wildcard matching with `*` in `p` spanning any run of `t`, other positions compared by
/// `one`: greedy, backtracking to the last star only, so at most `|p| * |t|` steps.
fn greedy(p: &[char], t: &[char], one: impl Fn(char, char) -> bool, budget: &mut u64) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && one(p[pi], t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// IAM action matching: case-insensitive, `*` any run of characters, `?` one character.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    Glob::new(pattern).matches(&t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn allow(action: Value, resource: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})
    }

    #[test]
    fn escalating_documents_are_recognised() {
        assert!(
            escalation(&allow(json!("*"), json!("*")))
                .unwrap()
                .contains("every action")
        );
        assert!(
            escalation(&allow(json!(["s3:GetObject", "IAM:*"]), json!("*")))
                .unwrap()
                .contains("all of IAM (`IAM:*`)")
        );
        assert!(
            escalation(&allow(json!("iam:PassRole"), json!("*")))
                .unwrap()
                .contains("iam:PassRole")
        );
        assert!(escalation(&allow(json!("iam:Pass*"), json!(["*"]))).is_some());
        assert!(
            escalation(&allow(json!("sts:AssumeRole"), json!("*")))
                .unwrap()
                .contains("sts:AssumeRole")
        );
        let not_action =
            json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}});
        assert!(
            escalation(&not_action)
                .unwrap()
                .contains("every action except iam:*")
        );
    }

    #[test]
    fn harmless_documents_are_not() {
        assert_eq!(
            escalation(&allow(json!(["s3:GetObject", "s3:ListBucket"]), json!("*"))),
            None
        );
        assert_eq!(
            escalation(&allow(
                json!("iam:PassRole"),
                json!("arn:aws:iam::123456789012:role/app")
            )),
            None
        );
        assert_eq!(escalation(&allow(json!("iam:GetUser"), json!("*"))), None);
        // A bucket is no IAM resource: all of IAM on it grants nothing.
        assert_eq!(
            escalation(&allow(json!("iam:*"), json!("arn:aws:s3:::b/*"))),
            None
        );
        let deny = json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]});
        assert_eq!(escalation(&deny), None);
        assert_eq!(escalation(&json!({})), None);
    }

    fn methods(doc: &Value) -> Vec<&'static str> {
        analyse(doc).methods.iter().map(|f| f.method.name).collect()
    }

    fn doc(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    #[test]
    fn actions_match_case_insensitively_with_wildcards() {
        let found = methods(&allow(json!("IAM:createPolicyVersio?"), json!("*")));
        assert_eq!(found, ["CreateNewPolicyVersion"]);
        assert_eq!(
            escalation(&allow(json!("iam:CreatePolicyVersion"), json!("*"))).unwrap(),
            "grants privilege escalation by CreateNewPolicyVersion \
             (iam:CreatePolicyVersion on every resource)"
        );
        // `iam:Put*Policy` is three methods; the reason names them all.
        let why = escalation(&allow(json!("iam:Put*Policy"), json!("*"))).unwrap();
        for name in ["PutUserPolicy", "PutGroupPolicy", "PutRolePolicy"] {
            assert!(why.contains(name), "{why}");
        }
        // A method's actions may come from different statements.
        let spread = doc(json!([
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
            {"Effect": "Allow", "Action": ["lambda:CreateFunction"], "Resource": "*"},
            {"Effect": "Allow", "Action": "lambda:Invoke*", "Resource": "*"}
        ]));
        assert!(methods(&spread).contains(&"PassExistingRoleToNewLambdaThenInvoke"));
        let why = escalation(&spread).unwrap();
        assert!(
            why.contains("PassExistingRoleToNewLambdaThenInvoke"),
            "{why}"
        );
        assert!(
            !why.contains("PassAnyRole"),
            "the combination is named, not its part: {why}"
        );
    }

    #[test]
    fn not_action_is_everything_except() {
        let not_iam =
            json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}});
        let found = methods(&not_iam);
        assert!(found.contains(&"EditExistingLambdaFunctionWithRole"));
        assert!(found.contains(&"AssumeRole"));
        assert!(!found.contains(&"AttachUserPolicy"));
        assert!(
            !found.contains(&"CreateEC2WithExistingIP"),
            "iam:PassRole is excluded"
        );
        let why = escalation(&not_iam).unwrap();
        assert!(why.starts_with("allows every action except iam:*, privilege escalation by "));
        // Everything a method needs excluded: nothing left to escalate with.
        let excluded = json!([
            "iam:*",
            "sts:*",
            "lambda:*",
            "glue:*",
            "ec2-instance-connect:*",
            "ssm:*",
            "sagemaker:*",
            "cloudformation:*"
        ]);
        let narrow =
            json!({"Statement": {"Effect": "Allow", "NotAction": excluded, "Resource": "*"}});
        assert_eq!(escalation(&narrow), None);
    }

    #[test]
    fn resources_scope_what_is_allowed() {
        let on = |action: &str, resource: Value| methods(&allow(json!(action), resource));
        // Any user, in any account: flagged, and the reason says where.
        let users = json!("arn:aws:iam::*:user/*");
        assert_eq!(
            on("iam:AttachUserPolicy", users.clone()),
            ["AttachUserPolicy"]
        );
        let why = escalation(&allow(json!("iam:AttachUserPolicy"), users.clone())).unwrap();
        assert!(why.contains("on arn:aws:iam::*:user/*"), "{why}");
        assert_eq!(
            escalation(&allow(json!("iam:*"), users.clone())).unwrap(),
            "allows all of IAM (`iam:*`) on arn:aws:iam::*:user/*"
        );
        // ...but users are no roles.
        assert!(on("iam:AttachRolePolicy", users).is_empty());
        assert!(on("iam:PassRole", json!("arn:aws:iam::123456789012:role/app")).is_empty());
        assert!(
            on(
                "iam:PassRole",
                json!("arn:aws:iam::123456789012:role/app-*")
            )
            .is_empty()
        );
        assert_eq!(
            on("iam:PassRole", json!("arn:aws:iam::123456789012:role/*")),
            ["PassAnyRole"]
        );
        assert_eq!(on("iam:PassRole", json!("arn:aws:iam::*")), ["PassAnyRole"]);
        assert_eq!(
            on("iam:PassRole", json!("arn:aws:iam::*:*")),
            ["PassAnyRole"]
        );
        assert_eq!(
            on("iam:PassRole", json!(["arn:aws:s3:::b", "*"])),
            ["PassAnyRole"]
        );
        assert!(on("iam:PassRole", json!("arn:aws:s3:::*")).is_empty());
        assert!(on("iam:PassRole", json!([])).is_empty());
        assert!(
            on(
                "lambda:UpdateFunctionCode",
                json!("arn:aws:lambda:*:*:function:team-*")
            )
            .is_empty()
        );
        assert_eq!(
            on(
                "lambda:UpdateFunctionCode",
                json!("arn:aws:lambda:*:*:function:*")
            ),
            ["EditExistingLambdaFunctionWithRole"]
        );
        // Oneself: attaching a policy to oneself escalates, a key for oneself does not.
        let me = json!("arn:aws:iam::*:user/${aws:username}");
        assert_eq!(on("iam:AttachUserPolicy", me.clone()), ["AttachUserPolicy"]);
        assert!(on("iam:CreateAccessKey", me).is_empty());
        // NotResource: everything but what it lists.
        let not = |action: &str, except: Value| {
            methods(&doc(
                json!([{"Effect": "Allow", "Action": action, "NotResource": except}]),
            ))
        };
        assert_eq!(
            not("iam:PassRole", json!("arn:aws:s3:::b/*")),
            ["PassAnyRole"]
        );
        assert_eq!(
            not("iam:PassRole", json!("arn:aws:iam::*:role/admin")),
            ["PassAnyRole"]
        );
        assert!(not("iam:PassRole", json!("arn:aws:iam::*:role/*")).is_empty());
        assert!(not("iam:PassRole", json!("*")).is_empty());
    }

    #[test]
    fn a_deny_cancels_an_allow_only_where_it_covers_it() {
        let with_deny = |deny: Value| {
            let mut statements =
                vec![json!({"Effect": "Allow", "Action": "iam:AttachUserPolicy", "Resource": "*"})];
            statements.push(deny);
            escalation(&doc(Value::Array(statements)))
        };
        let deny = |action: &str, resource: &str| json!({"Effect": "Deny", "Action": action, "Resource": resource});
        assert_eq!(with_deny(deny("iam:Attach*", "*")), None);
        assert_eq!(with_deny(deny("*", "*")), None);
        assert_eq!(
            with_deny(json!({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})),
            None
        );
        // Narrower, other actions, conditional, NotResource or with a principal: no cancel.
        assert!(with_deny(deny("iam:AttachUserPolicy", "arn:aws:iam::*:user/admin")).is_some());
        assert!(with_deny(deny("iam:AttachRolePolicy", "*")).is_some());
        let mut conditional = deny("*", "*");
        conditional["Condition"] = json!({"Bool": {"aws:MultiFactorAuthPresent": "false"}});
        assert!(with_deny(conditional).is_some());
        assert!(
            with_deny(json!({"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::b"}))
                .is_some()
        );
        let mut principal = deny("*", "*");
        principal["Principal"] = json!("*");
        assert!(with_deny(principal).is_some());

        // An allow on a pattern is cancelled by a deny covering the pattern, not by one that
        // only looks alike.
        let on_users = |deny_resource: &str| {
            escalation(&doc(json!([
                {"Effect": "Allow", "Action": "iam:AttachUserPolicy", "Resource": "arn:aws:iam::*:user/*"},
                {"Effect": "Deny", "Action": "iam:AttachUserPolicy", "Resource": deny_resource}
            ])))
        };
        assert_eq!(on_users("arn:aws:iam::*:user/*"), None);
        assert_eq!(on_users("arn:aws:iam::*"), None);
        assert!(on_users("arn:aws:iam::*:user/?").is_some());
        assert!(on_users("arn:aws:iam::123456789012:user/*").is_some());
        // A deny of one action leaves the rest of a method-rich allow.
        let iam_star = doc(json!([
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:Attach*", "Resource": "*"}
        ]));
        let found = methods(&iam_star);
        assert!(!found.contains(&"AttachUserPolicy"));
        assert!(found.contains(&"PutUserPolicy"));
    }

    #[test]
    fn a_conditional_allow_counts_and_says_so() {
        let mut st = json!({"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction",
            "lambda:InvokeFunction"], "Resource": "*"});
        st["Condition"] = json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}});
        let why = escalation(&doc(json!([st]))).unwrap();
        assert!(
            why.contains("PassExistingRoleToNewLambdaThenInvoke"),
            "{why}"
        );
        assert!(why.contains("under a condition"), "{why}");
        // An unconditional grant of the same action is preferred.
        let both = doc(json!([st, {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]));
        assert!(
            analyse(&both)
                .methods
                .iter()
                .any(|f| f.method.name == "PassAnyRole" && !f.conditional)
        );
    }

    #[test]
    fn statements_with_a_principal_are_not_identity_policy() {
        let trust = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": "*", "Resource": "*"}]});
        assert_eq!(escalation(&trust), None);
        let bucket = json!({"Statement": [{"Effect": "Allow", "Principal": "*",
            "Action": "iam:PassRole", "Resource": "*"}]});
        assert_eq!(escalation(&bucket), None);
    }

    #[test]
    fn hostile_documents_are_read_in_bounded_time() {
        // Many allow patterns, each covered only by the last of many deny patterns.
        let stars = "*a".repeat(100);
        let allows: Vec<String> = (0..150)
            .map(|i| format!("arn:aws:iam::{stars}{i}:user/*"))
            .collect();
        let denies: Vec<String> = (0..150)
            .map(|i| format!("arn:aws:iam::{stars}b{i}:user/*"))
            .collect();
        let hostile = doc(json!([
            {"Effect": "Allow", "Action": "*", "Resource": allows},
            {"Effect": "Deny", "Action": "*", "Resource": denies}
        ]));
        let started = std::time::Instant::now();
        let verdict = escalation(&hostile);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(
            verdict.is_some(),
            "what the denies do not surely cover stays allowed"
        );
        assert!(
            methods(&hostile).contains(&"AttachUserPolicy"),
            "{verdict:?}"
        );
        // Many action patterns each worth a backtracking search against every method action.
        let actions: Vec<String> = (0..3000)
            .map(|i| format!("{}*q{i}", "*a".repeat(15)))
            .collect();
        let started = std::time::Instant::now();
        assert_eq!(escalation(&allow(json!(actions), json!("*"))), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Past any size IAM accepts: not analysed, and not let through.
        let huge = allow(json!(vec!["s3:GetObject"; 20_000]), json!("*"));
        assert!(escalation(&huge).unwrap().contains("too large to analyse"));
    }

    #[test]
    fn documents_parse_from_every_encoding() {
        let doc = json!({"Statement": []});
        assert_eq!(parse_document(&doc), Some(doc.clone()));
        assert_eq!(
            parse_document(&json!("{\"Statement\": []}")),
            Some(doc.clone())
        );
        assert_eq!(
            parse_document_str("%7B%22Statement%22%3A%20%5B%5D%7D"),
            Some(doc)
        );
        assert_eq!(parse_document(&json!("not a policy")), None);
    }

    #[test]
    fn wildcards_match_like_iam() {
        assert!(wildcard_match("iam:*", "iam:PassRole"));
        assert!(wildcard_match("*", "sts:AssumeRole"));
        assert!(wildcard_match("iam:?assRole", "IAM:PASSROLE"));
        assert!(wildcard_match("*Role", "iam:PassRole"));
        assert!(!wildcard_match("iam:Get*", "iam:PassRole"));
        assert!(!wildcard_match("sts:AssumeRoleWith*", "sts:AssumeRole"));
    }
}
