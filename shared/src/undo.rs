//! The command in a report that reverses a change: AWS CLI calls a person pastes into a POSIX
//! shell, with credentials that can change IAM. Every value in it may be chosen by an attacker
//! (IAM names and paths take `$()`, quotes and backticks; Auto Scaling group names take line
//! breaks), so an [`Undo`] can only be built from [`AwsCli`] calls, whose service, operation and
//! flags are Reflex's own constants and whose every value is written by [`AwsCli`] alone:
//!
//! - as one shell word: as it is when it holds only characters no shell treats specially,
//!   otherwise in single quotes (inside which a POSIX shell expands nothing);
//! - as the value of its flag: a value starting with `-` is written `--flag=value`, since the
//!   CLI's parser (Python's argparse) takes a word of its own starting with `-` for an option;
//! - lists as separate words, or, when an item could be misread, as one JSON list
//!   (`--groups='["-x"]'`), which the CLI decodes; structures as ASCII-only JSON.
//!
//! A value the shell or the CLI cannot be trusted to pass on as typed gives no command at all,
//! but a sentence saying why (the details are in the JSON report's prior state):
//!
//! - a control character (a line break, NUL, ESC), a Unicode line separator or a mark that
//!   reorders text: a report shows it escaped, so what a person copies is not the name, and a
//!   terminal may act on it;
//! - a value starting with `file://`, `fileb://`, `http://` or `https://`: the AWS CLI reads the
//!   value from that file (version 1 also fetched URLs) instead of taking it as typed.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a person reverses one change: one or more AWS CLI calls (joined with `&&`), or, when a
/// value cannot be printed safely, why there is no command. Built only from [`AwsCli`] calls;
/// in JSON, a string.
#[derive(Debug, Clone)]
pub struct Undo {
    text: String,
    /// The calls `text` joins, each `aws <service> ...`; empty for a refusal, and for an undo
    /// read back from the ledger (its region was set before it was recorded).
    calls: Vec<String>,
}

impl PartialEq for Undo {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Undo {}

impl Serialize for Undo {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Undo {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Undo {
            text,
            calls: Vec::new(),
        })
    }
}

impl Undo {
    /// One call.
    pub fn run(call: AwsCli) -> Self {
        Self::all([call])
    }

    /// Calls that run one after the other, each only if the one before succeeded.
    pub fn all(calls: impl IntoIterator<Item = AwsCli>) -> Self {
        let mut lines = Vec::new();
        for call in calls {
            match call.line() {
                Ok(line) => lines.push(line),
                Err(refusal) => return Self::refused(refusal),
            }
        }
        debug_assert!(!lines.is_empty(), "an undo of no call");
        Undo {
            text: lines.join(" && "),
            calls: lines,
        }
    }

    /// No command: a change that cannot be reversed by a command line, and why (a fixed
    /// sentence of Reflex's own, never outside text).
    pub fn none(why: &'static str) -> Self {
        Self::refused(format!("no command printed: {why}"))
    }

    fn refused(why: String) -> Self {
        Undo {
            text: why,
            calls: Vec::new(),
        }
    }

    /// The same calls, for the region the change was made in: `aws --region <region> ...`. A
    /// pasted undo otherwise runs in the responder's default region, where a group or log group
    /// of the same name may be someone else's. A region not shaped like one is left out
    /// (never printed).
    pub fn in_region(self, region: &str) -> Self {
        let shaped = !region.trim().is_empty() && crate::event::is_region_name(region);
        if !shaped || self.calls.is_empty() {
            return self;
        }
        let calls: Vec<String> = self
            .calls
            .iter()
            .map(|call| call.replacen("aws ", &format!("aws --region {region} "), 1))
            .collect();
        Undo {
            text: calls.join(" && "),
            calls,
        }
    }

    /// A runnable command line (`aws ...`), not the sentence that says why there is none.
    pub fn is_command(&self) -> bool {
        self.text.starts_with("aws ")
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Deref for Undo {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Undo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One `aws <service> <operation>` call, its arguments added flag by flag.
#[derive(Debug, Clone)]
pub struct AwsCli {
    service: &'static str,
    operation: &'static str,
    /// The words after `aws <service> <operation>`.
    words: Vec<String>,
    /// Why this call cannot be printed: the first value that cannot.
    refused: Option<String>,
}

impl AwsCli {
    /// `aws iam attach-user-policy`.
    pub fn new(service: &'static str, operation: &'static str) -> Self {
        debug_assert!(
            is_name(service) && is_name(operation),
            "{service} {operation}"
        );
        Self {
            service,
            operation,
            words: Vec::new(),
            refused: None,
        }
    }

    /// `--flag value`: one value.
    pub fn arg(mut self, flag: &'static str, value: impl AsRef<str>) -> Self {
        debug_assert!(is_flag(flag), "{flag}");
        let value = value.as_ref();
        if let Some(why) = unprintable(value) {
            return self.refuse(flag, why);
        }
        if value.starts_with('-') {
            self.words.push(format!("{flag}={}", shell_word(value)));
        } else {
            self.words.push(flag.into());
            self.words.push(shell_word(value));
        }
        self
    }

    /// `--flag a b c`: a list, each item a word of its own; or, when an item could be misread
    /// (empty, starting with `-`, or a lone item the CLI would decode or read from a file), the
    /// whole list as one JSON list, which the CLI decodes item for item.
    pub fn list<S: AsRef<str>>(mut self, flag: &'static str, items: &[S]) -> Self {
        debug_assert!(is_flag(flag), "{flag}");
        let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
        let plain = |item: &&str| {
            !item.is_empty()
                && !item.starts_with(['-', '[', '{'])
                && unprintable(item).is_none()
                && !read_elsewhere(item)
        };
        if !items.is_empty() && items.iter().all(plain) {
            self.words.push(flag.into());
            self.words.extend(items.iter().map(|i| shell_word(i)));
        } else {
            let json = ascii_json(&Value::from(items));
            self.words.push(format!("{flag}={}", shell_word(&json)));
        }
        self
    }

    /// `--flag '<json>'`: a structure, a list of structures or a JSON document, as ASCII-only
    /// JSON (every other character `\u`-escaped), so that it prints on one line as it is.
    pub fn json(mut self, flag: &'static str, value: &Value) -> Self {
        debug_assert!(is_flag(flag), "{flag}");
        self.words.push(flag.into());
        self.words.push(shell_word(&ascii_json(value)));
        self
    }

    /// `--flag`: a switch without a value (`--no-disable-api-termination`).
    pub fn switch(mut self, flag: &'static str) -> Self {
        debug_assert!(is_flag(flag), "{flag}");
        self.words.push(flag.into());
        self
    }

    /// `--flag "$VARIABLE"`: a value the person supplies, such as a new password, that no
    /// report may hold.
    pub fn from_variable(mut self, flag: &'static str, variable: &'static str) -> Self {
        debug_assert!(is_flag(flag), "{flag}");
        debug_assert!(
            !variable.is_empty() && variable.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "{variable}"
        );
        // `--flag="$VAR"`: a value starting with `-` (a generated password may) would otherwise
        // be read by the CLI as an option.
        self.words.push(format!("{flag}=\"${variable}\""));
        self
    }

    fn refuse(mut self, flag: &'static str, why: &'static str) -> Self {
        let (service, operation) = (self.service, self.operation);
        self.refused.get_or_insert_with(|| {
            format!(
                "no command printed: the {flag} of aws {service} {operation} {why}; \
                 reverse the change by hand from the prior state in the JSON report"
            )
        });
        self
    }

    /// The command line, or why it cannot be printed.
    fn line(self) -> Result<String, String> {
        match self.refused {
            Some(why) => Err(why),
            None => Ok(["aws", self.service, self.operation]
                .into_iter()
                .map(String::from)
                .chain(self.words)
                .collect::<Vec<_>>()
                .join(" ")),
        }
    }
}

/// `text` as one POSIX shell word: as it is when it holds only characters no shell treats
/// specially, otherwise single-quoted (a `'` inside becomes `'\''`). A leading `=` is quoted
/// too: zsh, the macOS default, expands `=ls` to the path of `ls`.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.starts_with('=')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Why a value cannot be printed as a value the CLI takes as typed, if it cannot.
fn unprintable(value: &str) -> Option<&'static str> {
    if value.chars().any(hidden) {
        Some(
            "holds a line break, a control character or a mark that reorders text, which a report cannot show as typed",
        )
    } else if read_elsewhere(value) {
        Some("starts with a file or URL prefix, which the AWS CLI would read instead of the value")
    } else {
        None
    }
}

/// Characters a report cannot show as typed: control characters (line breaks among them),
/// Unicode's line and paragraph separators, the marks that reorder text on screen, and the
/// zero-width ones that make two different names look the same. The same set the report
/// renderer escapes (`report::one_line`).
pub(crate) fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{2028}' | '\u{2029}' | '\u{2060}' | '\u{feff}'
        )
        || matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// The AWS CLI reads a value starting with these from a file (`file://`, `fileb://`), and
/// version 1 from a URL, instead of taking it as typed.
fn read_elsewhere(value: &str) -> bool {
    let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
    ["file://", "fileb://", "http://", "https://"]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// JSON with every character outside printable ASCII escaped (`\u2028`, `\u007f`; beyond the
/// basic plane as a surrogate pair): the same value to any JSON reader, and one printable line.
fn ascii_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

fn is_name(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_flag(flag: &str) -> bool {
    flag.strip_prefix("--").is_some_and(is_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_call_of_an_undo_names_the_region_the_change_was_made_in() {
        let undo = Undo::all([
            AwsCli::new("ec2", "delete-tags").arg("--resources", "i-1"),
            AwsCli::new("autoscaling", "set-desired-capacity")
                .arg("--auto-scaling-group-name", "web && aws --region x"),
        ])
        .in_region("eu-west-1");
        assert_eq!(
            undo.as_str(),
            "aws --region eu-west-1 ec2 delete-tags --resources i-1 && aws --region eu-west-1 \
             autoscaling set-desired-capacity --auto-scaling-group-name 'web && aws --region x'"
        );
        // What is not a region is never printed; a refusal stays a refusal.
        let plain = Undo::run(AwsCli::new("ec2", "delete-tags").arg("--resources", "i-1"));
        assert_eq!(plain.clone().in_region("eu-west-1; rm -rf ~"), plain);
        assert_eq!(plain.clone().in_region(""), plain);
        let none = Undo::none("nothing to run");
        assert_eq!(none.clone().in_region("eu-west-1"), none);
        // Read back from the ledger, as recorded.
        let stored: Undo = serde_json::from_value(serde_json::to_value(&undo).unwrap()).unwrap();
        assert_eq!(stored, undo);
    }

    fn call() -> AwsCli {
        AwsCli::new("iam", "attach-user-policy")
    }

    #[test]
    fn plain_values_stay_readable_and_others_are_single_quoted() {
        let undo = Undo::run(call().arg("--user-name", "alice").arg(
            "--policy-arn",
            "arn:aws:iam::aws:policy/AdministratorAccess",
        ));
        assert_eq!(
            undo.as_str(),
            "aws iam attach-user-policy --user-name alice --policy-arn arn:aws:iam::aws:policy/AdministratorAccess"
        );
        assert!(undo.is_command());
        let quoted = |v: &str| Undo::run(call().arg("--user-name", v)).to_string();
        assert!(quoted("#app logs").ends_with(" '#app logs'"));
        assert!(quoted("it's").ends_with(r" 'it'\''s'"));
        assert!(quoted("$(id)`id`").ends_with(" '$(id)`id`'"));
        assert!(quoted("").ends_with(" ''"));
        assert!(quoted("~root").ends_with(" '~root'"));
        assert!(quoted("=ls").ends_with(" '=ls'"));
    }

    #[test]
    fn a_value_like_an_option_is_written_as_the_value_of_its_flag() {
        assert_eq!(
            Undo::run(call().arg("--user-name", "--profile=prod")).as_str(),
            "aws iam attach-user-policy --user-name=--profile=prod"
        );
        assert_eq!(
            Undo::run(call().arg("--user-name", "-a b")).as_str(),
            "aws iam attach-user-policy --user-name='-a b'"
        );
    }

    #[test]
    fn lists_are_words_unless_an_item_could_be_misread() {
        let groups = |items: &[&str]| {
            Undo::run(AwsCli::new("ec2", "modify-instance-attribute").list("--groups", items))
                .to_string()
        };
        assert!(groups(&["sg-1", "sg-2"]).ends_with(" --groups sg-1 sg-2"));
        assert!(groups(&["sg-1", "-x"]).ends_with(r#" --groups='["sg-1","-x"]'"#));
        assert!(groups(&["[a]"]).ends_with(r#" --groups='["[a]"]'"#));
        assert!(groups(&["file:///etc/passwd"]).ends_with(r#" --groups='["file:///etc/passwd"]'"#));
        assert!(groups(&["a\nb"]).ends_with(r#" --groups='["a\nb"]'"#));
        assert!(groups(&[]).ends_with(" --groups='[]'"));
    }

    #[test]
    fn json_is_one_printable_line_the_shell_passes_whole() {
        let undo = Undo::run(AwsCli::new("ec2", "authorize-security-group-ingress").json(
            "--ip-permissions",
            &json!([{"IpRanges": [{"Description": "it's\n\u{2028}é😀\u{7f}"}]}]),
        ));
        assert_eq!(
            undo.as_str(),
            r#"aws ec2 authorize-security-group-ingress --ip-permissions '[{"IpRanges":[{"Description":"it'\''s\n\u2028\u00e9\ud83d\ude00\u007f"}]}]'"#
        );
    }

    #[test]
    fn a_value_that_cannot_be_printed_as_typed_gives_no_command() {
        for value in [
            "web\nfleet",
            "nul\0",
            "esc\u{1b}[2J",
            "rtl\u{202e}",
            "line\u{2028}",
            "file:///etc/passwd",
            "FILEB://x",
            "https://evil.example/x",
        ] {
            let undo = Undo::all([
                AwsCli::new("ec2", "delete-snapshot").arg("--snapshot-id", "snap-1"),
                AwsCli::new("autoscaling", "attach-instances")
                    .arg("--auto-scaling-group-name", value)
                    .arg("--instance-ids", "i-1"),
            ]);
            assert!(!undo.is_command(), "{value:?}: {undo}");
            assert!(
                undo.starts_with(
                    "no command printed: the --auto-scaling-group-name of aws autoscaling attach-instances "
                ),
                "{undo}"
            );
            assert!(
                !undo.contains(value) && !undo.chars().any(hidden),
                "{undo:?}"
            );
        }
    }

    #[test]
    fn calls_are_joined_and_variables_left_for_the_person() {
        let undo = Undo::all([
            AwsCli::new("iam", "update-access-key").arg("--access-key-id", "AKIA1"),
            AwsCli::new("iam", "create-login-profile")
                .switch("--password-reset-required")
                .from_variable("--password", "NEW_PASSWORD"),
        ]);
        assert_eq!(
            undo.as_str(),
            r#"aws iam update-access-key --access-key-id AKIA1 && aws iam create-login-profile --password-reset-required --password="$NEW_PASSWORD""#
        );
    }

    #[test]
    fn an_undo_is_a_string_in_json() {
        let undo = Undo::run(call().arg("--user-name", "alice"));
        let text = serde_json::to_string(&undo).unwrap();
        assert_eq!(text, r#""aws iam attach-user-policy --user-name alice""#);
        assert_eq!(serde_json::from_str::<Undo>(&text).unwrap(), undo);
    }
}
