//! An Amazon EventBridge event-pattern matcher: the tests prove with it, with no AWS account, that
//! the rules in `infra/template.yaml` route each sample event to the functions meant for it, and
//! the `reflex` command line routes events with it as the deployed rules would.
//!
//! [`Pattern::parse`] checks a pattern the way `PutRule` would and explains what is wrong with an
//! invalid one; [`Pattern::matches`] says whether an event matches it. The semantics are those of
//! the EventBridge user guide (event patterns, content filtering, null values and empty strings):
//!
//! - A pattern is a JSON object. Every field it names must match (AND); a leaf field is an array
//!   of alternatives, any of which may match (OR). Fields of the event that the pattern does not
//!   name are ignored.
//! - An alternative is a literal (string, number, `true`, `false`, `null`) or one operator object:
//!   `prefix`, `suffix` (both also as `{"equals-ignore-case": ...}`), `equals-ignore-case`,
//!   `wildcard`, `anything-but`, `numeric`, `cidr` or `exists`.
//! - `"$or": [{...}, {...}]` at any level: at least one of its (two or more) objects must match.
//! - Where the event holds an array, the pattern matches if any element matches; nested objects
//!   inside arrays are matched element by element (two fields of one pattern object never match
//!   in two different elements of the same array).
//! - A missing field matches only `{"exists": false}`. `null` is a value: it matches `[null]`,
//!   `{"exists": true}` and `anything-but`, never `[""]` or `{"exists": false}`.
//!
//! ```
//! use reflex_routing::pattern::Pattern;
//! use serde_json::json;
//!
//! let pattern = Pattern::parse(&json!({
//!     "source": ["aws.cloudwatch"],
//!     "detail": {"state": {"value": ["ALARM", "OK"]}}
//! }))
//! .unwrap();
//! assert!(pattern.matches(&json!({"source": "aws.cloudwatch", "detail": {"state": {"value": "OK"}}})));
//! assert!(!pattern.matches(&json!({"source": "aws.cloudwatch", "detail": {"state": {"value": "INSUFFICIENT_DATA"}}})));
//! ```

use std::fmt;
use std::net::IpAddr;

use serde_json::{Map, Value};

/// Whether `event` matches `pattern`; an error if the pattern is not a valid event pattern.
pub fn matches(pattern: &Value, event: &Value) -> Result<bool, PatternError> {
    Ok(Pattern::parse(pattern)?.matches(event))
}

/// A checked event pattern, ready to match events.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: ObjectPattern,
}

impl Pattern {
    /// Check `pattern` as EventBridge would when the rule is created.
    pub fn parse(pattern: &Value) -> Result<Self, PatternError> {
        let Value::Object(fields) = pattern else {
            return Err(PatternError::new(
                "",
                "an event pattern must be a JSON object",
            ));
        };
        Ok(Self {
            root: ObjectPattern::parse(fields, "", false)?,
        })
    }

    /// Whether `event` matches. An event that is not a JSON object has no fields.
    pub fn matches(&self, event: &Value) -> bool {
        self.root.matches(event.as_object())
    }
}

/// Why a pattern is invalid, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// The dotted path of the offending field (`detail.state.value`), empty for the whole pattern.
    pub path: String,
    pub reason: String,
}

impl PatternError {
    fn new(path: &str, reason: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "invalid event pattern: {}", self.reason)
        } else {
            write!(
                f,
                "invalid event pattern at `{}`: {}",
                self.path, self.reason
            )
        }
    }
}

impl std::error::Error for PatternError {}

/// Operator names: inside `$or`, EventBridge refuses them as field names.
const OPERATORS: &[&str] = &[
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "cidr",
    "exists",
];

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

// ---------------------------------------------------------------------------------------------
// Objects, fields and `$or`

/// The fields of one pattern object (all must match) and its `$or` groups (each needs one match).
#[derive(Debug, Clone, PartialEq)]
struct ObjectPattern {
    fields: Vec<(String, FieldPattern)>,
    any_of: Vec<Vec<ObjectPattern>>,
}

#[derive(Debug, Clone, PartialEq)]
enum FieldPattern {
    Nested(ObjectPattern),
    /// The alternatives for a leaf field: any one matching is enough.
    Leaf(Vec<Matcher>),
}

impl ObjectPattern {
    fn parse(
        fields: &Map<String, Value>,
        path: &str,
        inside_or: bool,
    ) -> Result<Self, PatternError> {
        if fields.is_empty() {
            return Err(PatternError::new(path, "empty objects are not allowed"));
        }
        let mut object = Self {
            fields: Vec::new(),
            any_of: Vec::new(),
        };
        for (key, value) in fields {
            let here = child_path(path, key);
            if key == "$or" {
                object.any_of.push(parse_or(value, &here)?);
                continue;
            }
            if inside_or && OPERATORS.contains(&key.as_str()) {
                return Err(PatternError::new(
                    &here,
                    format!("`{key}` is an operator and cannot be a field name inside `$or`"),
                ));
            }
            let field = match value {
                Value::Object(nested) => {
                    FieldPattern::Nested(Self::parse(nested, &here, inside_or)?)
                }
                Value::Array(alternatives) => FieldPattern::Leaf(parse_leaf(alternatives, &here)?),
                _ => {
                    return Err(PatternError::new(
                        &here,
                        "a field must be an object or an array of values",
                    ));
                }
            };
            object.fields.push((key.clone(), field));
        }
        Ok(object)
    }

    /// `event` is the event object at this level, `None` where the event has none.
    fn matches(&self, event: Option<&Map<String, Value>>) -> bool {
        self.fields
            .iter()
            .all(|(key, field)| field.matches(event.and_then(|e| e.get(key))))
            && self
                .any_of
                .iter()
                .all(|alternatives| alternatives.iter().any(|a| a.matches(event)))
    }
}

/// `$or`: an array of at least two pattern objects.
fn parse_or(value: &Value, path: &str) -> Result<Vec<ObjectPattern>, PatternError> {
    let Value::Array(items) = value else {
        return Err(PatternError::new(path, "`$or` must be an array of objects"));
    };
    if items.len() < 2 {
        return Err(PatternError::new(path, "`$or` needs at least two objects"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(fields) => ObjectPattern::parse(fields, &format!("{path}[{i}]"), true),
            _ => Err(PatternError::new(
                &format!("{path}[{i}]"),
                "`$or` may only hold objects",
            )),
        })
        .collect()
}

impl FieldPattern {
    /// `value` is the event's value for this field, `None` if the field is missing. Against an
    /// array of objects, each element is tried on its own, so `exists: false` below holds if some
    /// element lacks the field (the user guide describes no finer rule for that case).
    fn matches(&self, value: Option<&Value>) -> bool {
        match self {
            Self::Nested(pattern) => {
                let objects = objects_in(value);
                if objects.is_empty() {
                    // Nothing to descend into: only `exists: false` below can still match.
                    pattern.matches(None)
                } else {
                    objects
                        .into_iter()
                        .any(|object| pattern.matches(Some(object)))
                }
            }
            Self::Leaf(matchers) => {
                let leaves = leaves_in(value);
                matchers.iter().any(|m| m.matches(&leaves))
            }
        }
    }
}

/// The objects at a field: the object itself, or the objects of an array (nested arrays flattened).
fn objects_in(value: Option<&Value>) -> Vec<&Map<String, Value>> {
    fn collect<'a>(value: &'a Value, out: &mut Vec<&'a Map<String, Value>>) {
        match value {
            Value::Object(object) => out.push(object),
            Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(value) = value {
        collect(value, &mut out);
    }
    out
}

/// The leaf values at a field: a scalar (`null` included), or the scalars of an array (nested
/// arrays flattened). An object, an empty array or a missing field has none: EventBridge matches
/// leaves only, so such a field counts as absent.
fn leaves_in(value: Option<&Value>) -> Vec<&Value> {
    fn collect<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
        match value {
            Value::Object(_) => {}
            Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
            scalar => out.push(scalar),
        }
    }
    let mut out = Vec::new();
    if let Some(value) = value {
        collect(value, &mut out);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Leaf alternatives

/// One alternative of a leaf field.
#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    /// A literal string, number, boolean or `null`; the type must match too (`"5"` is not `5`).
    Exact(Value),
    EqualsIgnoreCase(String),
    Prefix(Affix),
    Suffix(Affix),
    Wildcard(Wildcard),
    AnythingBut(Exclusion),
    Numeric(Range),
    Cidr(Cidr),
    Exists(bool),
}

fn parse_leaf(alternatives: &[Value], path: &str) -> Result<Vec<Matcher>, PatternError> {
    if alternatives.is_empty() {
        return Err(PatternError::new(path, "empty arrays are not allowed"));
    }
    alternatives
        .iter()
        .map(|alternative| match alternative {
            Value::Object(operator) => parse_operator(operator, path),
            Value::Array(_) => Err(PatternError::new(
                path,
                "a value must be a string, number, true, false, null or an operator object, \
                 not an array",
            )),
            literal => Ok(Matcher::Exact(literal.clone())),
        })
        .collect()
}

/// An operator object: `{"prefix": "us-"}`, `{"numeric": [">", 0]}`, ...: exactly one key.
fn parse_operator(operator: &Map<String, Value>, path: &str) -> Result<Matcher, PatternError> {
    let mut entries = operator.iter();
    let (Some((name, value)), None) = (entries.next(), entries.next()) else {
        return Err(PatternError::new(
            path,
            format!(
                "an operator object needs exactly one key, found {}",
                operator.len()
            ),
        ));
    };
    let here = child_path(path, name);
    match name.as_str() {
        "prefix" => Ok(Matcher::Prefix(Affix::parse(value, &here)?)),
        "suffix" => Ok(Matcher::Suffix(Affix::parse(value, &here)?)),
        "equals-ignore-case" => Ok(Matcher::EqualsIgnoreCase(string(value, &here)?.to_string())),
        "wildcard" => Ok(Matcher::Wildcard(Wildcard::parse(
            string(value, &here)?,
            &here,
        )?)),
        "anything-but" => Ok(Matcher::AnythingBut(Exclusion::parse(value, &here)?)),
        "numeric" => Ok(Matcher::Numeric(Range::parse(value, &here)?)),
        "cidr" => Ok(Matcher::Cidr(Cidr::parse(string(value, &here)?, &here)?)),
        "exists" => match value {
            Value::Bool(exists) => Ok(Matcher::Exists(*exists)),
            _ => Err(PatternError::new(&here, "`exists` must be true or false")),
        },
        other => Err(PatternError::new(
            path,
            format!("unknown operator `{other}`"),
        )),
    }
}

fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str, PatternError> {
    value
        .as_str()
        .ok_or_else(|| PatternError::new(path, "must be a string"))
}

impl Matcher {
    /// Whether this alternative matches a field whose leaf values are `leaves` (none: absent).
    fn matches(&self, leaves: &[&Value]) -> bool {
        match self {
            Self::Exists(true) => !leaves.is_empty(),
            Self::Exists(false) => leaves.is_empty(),
            _ => leaves.iter().any(|value| self.matches_value(value)),
        }
    }

    fn matches_value(&self, value: &Value) -> bool {
        match self {
            Self::Exact(literal) => equals(literal, value),
            Self::EqualsIgnoreCase(text) => value.as_str().is_some_and(|v| eq_ignore_case(v, text)),
            Self::Prefix(prefix) => value.as_str().is_some_and(|v| prefix.starts(v)),
            Self::Suffix(suffix) => value.as_str().is_some_and(|v| suffix.ends(v)),
            Self::Wildcard(wildcard) => value.as_str().is_some_and(|v| wildcard.matches(v)),
            Self::AnythingBut(exclusion) => !exclusion.excludes(value),
            Self::Numeric(range) => number(value).is_some_and(|n| range.contains(n)),
            Self::Cidr(cidr) => value
                .as_str()
                .and_then(|v| v.parse::<IpAddr>().ok())
                .is_some_and(|ip| cidr.contains(ip)),
            Self::Exists(_) => unreachable!("exists is decided on the whole field"),
        }
    }
}

/// Literal equality as EventBridge does it: the same JSON type and value. Numbers compare by
/// value (`5` matches `5.0`); a string that is an IP address also matches the same address
/// written differently (`"2001:db8::1"` and `"2001:DB8:0::1"`).
fn equals(literal: &Value, value: &Value) -> bool {
    match (literal, value) {
        (Value::String(a), Value::String(b)) => a == b || same_ip(a, b),
        (Value::Number(a), Value::Number(b)) => same_number(a, b),
        _ => literal == value,
    }
}

fn same_ip(a: &str, b: &str) -> bool {
    // Most strings compared are names, never addresses: skip parsing those (a hot path of the
    // backtest, where every record meets every rule's literals).
    let may_be_ip = |s: &str| s.len() <= 45 && s.contains(['.', ':']);
    if !may_be_ip(a) || !may_be_ip(b) {
        return false;
    }
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    // Integers exactly (account ids do not fit an f64's precision), the rest as f64.
    match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
        (Some(a), Some(b), _, _) => a == b,
        (_, _, Some(a), Some(b)) => a == b,
        _ => a.as_f64() == b.as_f64(),
    }
}

/// The value of a JSON number; `None` for anything else (`"5"` is not a number).
fn number(value: &Value) -> Option<f64> {
    value.as_f64()
}

/// Case-insensitive equality by Unicode lower case.
fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// A `prefix` or `suffix`, given as a string or as `{"equals-ignore-case": "..."}`.
#[derive(Debug, Clone, PartialEq)]
struct Affix {
    text: String,
    ignore_case: bool,
}

impl Affix {
    fn parse(value: &Value, path: &str) -> Result<Self, PatternError> {
        match value {
            Value::String(text) => Ok(Self {
                text: text.clone(),
                ignore_case: false,
            }),
            Value::Object(inner) => match (inner.len(), inner.get("equals-ignore-case")) {
                (1, Some(Value::String(text))) => Ok(Self {
                    text: text.clone(),
                    ignore_case: true,
                }),
                _ => Err(PatternError::new(
                    path,
                    "must be a string or {\"equals-ignore-case\": \"...\"}",
                )),
            },
            _ => Err(PatternError::new(path, "must be a string")),
        }
    }

    fn starts(&self, value: &str) -> bool {
        if self.ignore_case {
            value.to_lowercase().starts_with(&self.text.to_lowercase())
        } else {
            value.starts_with(&self.text)
        }
    }

    fn ends(&self, value: &str) -> bool {
        if self.ignore_case {
            value.to_lowercase().ends_with(&self.text.to_lowercase())
        } else {
            value.ends_with(&self.text)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// anything-but

/// What an `anything-but` refuses. It matches any *present* value it does not refuse, whatever its
/// type: `{"anything-but": "a"}` matches `"b"`, `5` and `null`, but never a missing field.
/// Strings and numbers cannot be mixed in one list; `prefix`, `suffix`, `equals-ignore-case` and
/// `wildcard` take a string or a list of strings, and refuse only strings.
#[derive(Debug, Clone, PartialEq)]
enum Exclusion {
    Strings(Vec<String>),
    Numbers(Vec<serde_json::Number>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    IgnoringCase(Vec<String>),
    Wildcards(Vec<Wildcard>),
}

impl Exclusion {
    fn parse(value: &Value, path: &str) -> Result<Self, PatternError> {
        match value {
            Value::String(text) => Ok(Self::Strings(vec![text.clone()])),
            Value::Number(n) => Ok(Self::Numbers(vec![n.clone()])),
            Value::Array(items) => Self::parse_list(items, path),
            Value::Object(inner) => Self::parse_inner(inner, path),
            _ => Err(PatternError::new(
                path,
                "`anything-but` takes a string, a number, a list of either, or an object with \
                 `prefix`, `suffix`, `equals-ignore-case` or `wildcard`",
            )),
        }
    }

    fn parse_list(items: &[Value], path: &str) -> Result<Self, PatternError> {
        if let Some(strings) = items.iter().map(|i| i.as_str()).collect::<Option<Vec<_>>>()
            && !strings.is_empty()
        {
            return Ok(Self::Strings(
                strings.into_iter().map(String::from).collect(),
            ));
        }
        let numbers = items.iter().map(|i| match i {
            Value::Number(n) => Some(n.clone()),
            _ => None,
        });
        match numbers.collect::<Option<Vec<_>>>() {
            Some(numbers) if !numbers.is_empty() => Ok(Self::Numbers(numbers)),
            _ => Err(PatternError::new(
                path,
                "an `anything-but` list must hold only strings or only numbers, and at least one",
            )),
        }
    }

    fn parse_inner(inner: &Map<String, Value>, path: &str) -> Result<Self, PatternError> {
        let mut entries = inner.iter();
        let (Some((name, value)), None) = (entries.next(), entries.next()) else {
            return Err(PatternError::new(
                path,
                "an `anything-but` object needs exactly one key",
            ));
        };
        let here = child_path(path, name);
        match name.as_str() {
            "prefix" => Ok(Self::Prefixes(non_empty(
                strings_or_string(value, &here)?,
                &here,
            )?)),
            "suffix" => Ok(Self::Suffixes(non_empty(
                strings_or_string(value, &here)?,
                &here,
            )?)),
            "equals-ignore-case" => Ok(Self::IgnoringCase(strings_or_string(value, &here)?)),
            "wildcard" => strings_or_string(value, &here)?
                .iter()
                .map(|text| Wildcard::parse(text, &here))
                .collect::<Result<_, _>>()
                .map(Self::Wildcards),
            other => Err(PatternError::new(
                path,
                format!("`anything-but` does not support `{other}`"),
            )),
        }
    }

    /// Whether `value` is one of the values refused.
    fn excludes(&self, value: &Value) -> bool {
        let text = value.as_str();
        match self {
            Self::Strings(refused) => text.is_some_and(|v| refused.iter().any(|r| r == v)),
            Self::Numbers(refused) => match value {
                Value::Number(v) => refused.iter().any(|r| same_number(r, v)),
                _ => false,
            },
            Self::Prefixes(refused) => {
                text.is_some_and(|v| refused.iter().any(|r| v.starts_with(r.as_str())))
            }
            Self::Suffixes(refused) => {
                text.is_some_and(|v| refused.iter().any(|r| v.ends_with(r.as_str())))
            }
            Self::IgnoringCase(refused) => {
                text.is_some_and(|v| refused.iter().any(|r| eq_ignore_case(v, r)))
            }
            Self::Wildcards(refused) => text.is_some_and(|v| refused.iter().any(|r| r.matches(v))),
        }
    }
}

/// `anything-but` refuses an empty prefix or suffix (it would refuse every string).
fn non_empty(texts: Vec<String>, path: &str) -> Result<Vec<String>, PatternError> {
    if texts.iter().any(String::is_empty) {
        Err(PatternError::new(
            path,
            "an empty prefix or suffix is not allowed",
        ))
    } else {
        Ok(texts)
    }
}

/// A string, or a non-empty list of strings.
fn strings_or_string(value: &Value, path: &str) -> Result<Vec<String>, PatternError> {
    match value {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| string(item, path).map(String::from))
            .collect(),
        _ => Err(PatternError::new(
            path,
            "must be a string or a non-empty list of strings",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// numeric

/// A `numeric` range: `["=", x]`, one bound (`[">", 0]`, `["<=", 5]`), or a lower bound then an
/// upper one (`[">", 0, "<=", 5]`). It matches JSON numbers only, never a string like `"3"`.
#[derive(Debug, Clone, PartialEq)]
struct Range {
    lower: Option<Bound>,
    upper: Option<Bound>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    value: f64,
    inclusive: bool,
}

impl Range {
    fn parse(value: &Value, path: &str) -> Result<Self, PatternError> {
        let Value::Array(terms) = value else {
            return Err(PatternError::new(path, "`numeric` must be an array"));
        };
        let pairs = numeric_terms(terms, path)?;
        let range = match pairs.as_slice() {
            [("=", x)] => Self {
                lower: Some(Bound {
                    value: *x,
                    inclusive: true,
                }),
                upper: Some(Bound {
                    value: *x,
                    inclusive: true,
                }),
            },
            [(op, x)] if is_lower(op) => Self {
                lower: Some(Bound {
                    value: *x,
                    inclusive: *op == ">=",
                }),
                upper: None,
            },
            [(op, x)] if is_upper(op) => Self {
                lower: None,
                upper: Some(Bound {
                    value: *x,
                    inclusive: *op == "<=",
                }),
            },
            [(low, x), (high, y)] if is_lower(low) && is_upper(high) => Self {
                lower: Some(Bound {
                    value: *x,
                    inclusive: *low == ">=",
                }),
                upper: Some(Bound {
                    value: *y,
                    inclusive: *high == "<=",
                }),
            },
            _ => {
                return Err(PatternError::new(
                    path,
                    "`numeric` takes [\"=\", x], one of [\">\"|\">=\"|\"<\"|\"<=\", x], or a lower \
                     bound then an upper one: [\">\"|\">=\", x, \"<\"|\"<=\", y]",
                ));
            }
        };
        if let (Some(low), Some(high)) = (range.lower, range.upper)
            && low.value > high.value
        {
            return Err(PatternError::new(
                path,
                "the lower bound of a `numeric` range is above its upper bound",
            ));
        }
        Ok(range)
    }

    fn contains(&self, n: f64) -> bool {
        let above = self.lower.is_none_or(|b| {
            if b.inclusive {
                n >= b.value
            } else {
                n > b.value
            }
        });
        let below = self.upper.is_none_or(|b| {
            if b.inclusive {
                n <= b.value
            } else {
                n < b.value
            }
        });
        above && below
    }
}

fn is_lower(op: &str) -> bool {
    op == ">" || op == ">="
}

fn is_upper(op: &str) -> bool {
    op == "<" || op == "<="
}

/// `[op, number, op, number, ...]` as pairs; the operators are checked by the caller.
fn numeric_terms<'a>(terms: &'a [Value], path: &str) -> Result<Vec<(&'a str, f64)>, PatternError> {
    if terms.is_empty() || !terms.len().is_multiple_of(2) {
        return Err(PatternError::new(
            path,
            "`numeric` needs operator and number pairs",
        ));
    }
    terms
        .chunks(2)
        .map(|pair| match (&pair[0], &pair[1]) {
            (Value::String(op), Value::Number(n))
                if ["=", ">", ">=", "<", "<="].contains(&op.as_str()) =>
            {
                Ok((op.as_str(), n.as_f64().unwrap_or(f64::NAN)))
            }
            (Value::String(op), Value::Number(_)) => Err(PatternError::new(
                path,
                format!("unknown `numeric` operator `{op}`"),
            )),
            _ => Err(PatternError::new(
                path,
                "`numeric` needs an operator string followed by a number",
            )),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// cidr

/// An IPv4 or IPv6 block, `10.0.0.0/24` or `2001:db8::/32`. It matches string values that are
/// addresses of the same family inside the block.
#[derive(Debug, Clone, PartialEq)]
struct Cidr {
    network: IpAddr,
    prefix_len: u32,
}

impl Cidr {
    fn parse(text: &str, path: &str) -> Result<Self, PatternError> {
        let invalid = || PatternError::new(path, format!("`{text}` is not a CIDR block"));
        let (address, length) = text.split_once('/').ok_or_else(invalid)?;
        let network: IpAddr = address.parse().map_err(|_| invalid())?;
        let prefix_len: u32 = length.parse().map_err(|_| invalid())?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        if prefix_len > bits {
            return Err(invalid());
        }
        Ok(Self {
            network,
            prefix_len,
        })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => same_prefix(
                u32::from(net).into(),
                u32::from(ip).into(),
                self.prefix_len,
                32,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(u128::from(net), u128::from(ip), self.prefix_len, 128)
            }
            _ => false,
        }
    }
}

/// Whether the first `len` of `bits` bits of `a` and `b` agree.
fn same_prefix(a: u128, b: u128, len: u32, bits: u32) -> bool {
    let shift = bits - len;
    shift >= bits || (a >> shift) == (b >> shift)
}

// ---------------------------------------------------------------------------------------------
// wildcard

/// A `wildcard` value: `*` stands for any run of characters (none included). `\*` is a literal
/// star and `\\` a literal backslash; a backslash before anything else, and two stars in a row,
/// are invalid (EventBridge refuses them).
#[derive(Debug, Clone, PartialEq)]
struct Wildcard {
    /// The literal text between the stars: `a*b*` is `["a", "b", ""]`.
    pieces: Vec<String>,
}

impl Wildcard {
    fn parse(text: &str, path: &str) -> Result<Self, PatternError> {
        let mut pieces = vec![String::new()];
        let mut chars = text.chars();
        let mut after_star = false;
        while let Some(c) = chars.next() {
            match c {
                '*' if after_star => {
                    return Err(PatternError::new(
                        path,
                        format!("`{text}`: consecutive wildcard characters are not allowed"),
                    ));
                }
                '*' => pieces.push(String::new()),
                '\\' => match chars.next() {
                    Some(escaped @ ('*' | '\\')) => pieces.last_mut().unwrap().push(escaped),
                    _ => {
                        return Err(PatternError::new(
                            path,
                            format!("`{text}`: a backslash may only escape `*` or `\\`"),
                        ));
                    }
                },
                other => pieces.last_mut().unwrap().push(other),
            }
            after_star = c == '*';
        }
        Ok(Self { pieces })
    }

    fn matches(&self, text: &str) -> bool {
        let (first, rest) = self.pieces.split_first().expect("at least one piece");
        let Some((last, middle)) = rest.split_last() else {
            return text == first; // no star at all
        };
        let Some(mut remaining) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        // The leftmost place for each middle piece leaves the most room for the rest.
        for piece in middle {
            match remaining.find(piece.as_str()) {
                Some(at) => remaining = &remaining[at + piece.len()..],
                None => return false,
            }
        }
        remaining.ends_with(last.as_str())
    }
}
