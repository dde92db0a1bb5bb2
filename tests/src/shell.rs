//! An undo command run the way a responder runs it: pasted into a POSIX shell. A stub `aws`,
//! first on `PATH`, records the arguments each call receives (NUL-separated, one file per call),
//! and [`CliCall::parse`] reads them back the way the AWS CLI does. Shell code hidden in a value
//! would run for real (the rest of `PATH` is the system's), so it would leave the marker file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const STUB: &str = r#"#!/bin/sh
# A stand-in for the AWS CLI: its arguments, NUL-separated, in the next free file of the calls
# directory. It calls nothing.
n=0
while [ -e "$REFLEX_STUB_CALLS/$n" ]; do n=$((n + 1)); done
: > "$REFLEX_STUB_CALLS/$n"
for a in "$@"; do printf '%s\0' "$a" >> "$REFLEX_STUB_CALLS/$n"; done
"#;

/// A scratch directory with the stub `aws` and a marker path no command may create.
pub struct StubShell {
    root: PathBuf,
}

impl Default for StubShell {
    fn default() -> Self {
        Self::new()
    }
}

impl StubShell {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "reflex-stub-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("bin")).expect("the stub's directory");
        let aws = root.join("bin/aws");
        std::fs::write(&aws, STUB).expect("the stub aws");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&aws, std::fs::Permissions::from_mode(0o755))
            .expect("the stub is executable");
        Self { root }
    }

    /// The file that shell code smuggled into a value would create (`touch` it).
    pub fn marker(&self) -> PathBuf {
        self.root.join("pwned")
    }

    /// Whether anything created the marker.
    pub fn pwned(&self) -> bool {
        self.marker().exists()
    }

    /// Run `line` with `shell -c` (`sh`, `bash`), the stub first on `PATH`; the arguments of
    /// each `aws` call it made, in order. Panics if the shell fails.
    pub fn run(&self, shell: &str, line: &str) -> Vec<Vec<String>> {
        self.try_run(shell, line).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The same, or what the shell said when it failed.
    pub fn try_run(&self, shell: &str, line: &str) -> Result<Vec<Vec<String>>, String> {
        let calls = self.root.join(format!(
            "calls-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&calls).expect("the calls directory");
        let path = format!(
            "{}:{}",
            self.root.join("bin").display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        let out = Command::new(shell)
            .arg("-c")
            .arg(line)
            // Whatever a broken command writes (`> file`) lands in the scratch directory.
            .current_dir(&self.root)
            .env("PATH", path)
            .env("REFLEX_STUB_CALLS", &calls)
            // A command that waits for input must not hang the test.
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {shell}: {e}"));
        let recorded = read_calls(&calls);
        let _ = std::fs::remove_dir_all(&calls);
        if !out.status.success() {
            return Err(format!(
                "{shell} -c {line:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(recorded)
    }
}

impl Drop for StubShell {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn read_calls(dir: &Path) -> Vec<Vec<String>> {
    (0..)
        .map(|n| dir.join(n.to_string()))
        .take_while(|f| f.exists())
        .map(|f| {
            let bytes = std::fs::read(&f).expect("a recorded call");
            let text = String::from_utf8(bytes).expect("arguments as UTF-8");
            text.split_terminator('\0').map(String::from).collect()
        })
        .collect()
}

/// Prefixes the AWS CLI follows instead of taking the value as typed (a local file; version 1
/// also fetched URLs).
pub const READ_ELSEWHERE: &[&str] = &["file://", "fileb://", "http://", "https://"];

/// One `aws` call as the AWS CLI reads its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct CliCall {
    /// The global `--region`, when given.
    pub region: Option<String>,
    pub service: String,
    pub operation: String,
    /// Each option in order, with the words that became its values.
    pub options: Vec<(String, Vec<String>)>,
}

impl CliCall {
    /// Read `argv` as the AWS CLI's argument parser (Python's argparse) does: `--name=value`
    /// gives the option that one value; `--name` takes the words after it up to the next word
    /// that starts with `-` (which argparse takes for an option, so a value such as `-x` or
    /// `--debug` written on its own is never a value: "expected one argument"). A value the CLI
    /// would read from a file or URL instead ([`READ_ELSEWHERE`]) is an error too.
    pub fn parse(argv: &[String]) -> Result<Self, String> {
        // The global `--region <name>` before the service, as Reflex's undo lines give it.
        let (region, argv) = match argv {
            [flag, region, rest @ ..] if flag == "--region" => (Some(region.clone()), rest),
            _ => (None, argv),
        };
        let [service, operation, rest @ ..] = argv else {
            return Err(format!("no service and operation in {argv:?}"));
        };
        if service.starts_with('-') || operation.starts_with('-') {
            return Err(format!("an option where the operation belongs: {argv:?}"));
        }
        let mut options: Vec<(String, Vec<String>)> = Vec::new();
        for word in rest {
            if let Some(option) = word.strip_prefix("--") {
                match option.split_once('=') {
                    Some((name, value)) => {
                        options.push((format!("--{name}"), vec![value.to_string()]))
                    }
                    None => options.push((word.clone(), Vec::new())),
                }
            } else if word.starts_with('-') && word.len() > 1 {
                return Err(format!(
                    "{word:?} is read as an option, not a value: {argv:?}"
                ));
            } else {
                match options.last_mut() {
                    Some((_, values)) => values.push(word.clone()),
                    None => return Err(format!("{word:?} belongs to no option: {argv:?}")),
                }
            }
        }
        for (name, values) in &options {
            if let [only] = values.as_slice()
                && READ_ELSEWHERE.iter().any(|p| only.starts_with(p))
            {
                return Err(format!(
                    "the CLI would read {name} from {only:?} instead of taking it as typed"
                ));
            }
        }
        Ok(Self {
            region,
            service: service.clone(),
            operation: operation.clone(),
            options,
        })
    }

    /// The values of option `name`, which must be there exactly once.
    pub fn values(&self, name: &str) -> Result<&[String], String> {
        let mut found = self.options.iter().filter(|(n, _)| n == name);
        match (found.next(), found.next()) {
            (Some((_, values)), None) => Ok(values),
            (None, _) => Err(format!("no {name} in {self:?}")),
            (Some(_), Some(_)) => Err(format!("{name} twice in {self:?}")),
        }
    }

    /// The one value of option `name`, as the CLI passes it on.
    pub fn value(&self, name: &str) -> Result<&str, String> {
        match self.values(name)? {
            [one] => Ok(one),
            other => Err(format!("{name} has {} values: {other:?}", other.len())),
        }
    }

    /// A list option's items as the CLI reads them: one word starting with `[` is a JSON list,
    /// otherwise each word is an item.
    pub fn list(&self, name: &str) -> Result<Vec<String>, String> {
        match self.values(name)? {
            [one] if one.trim_start().starts_with('[') => serde_json::from_str(one)
                .map_err(|e| format!("{name} is not a JSON list of strings: {e}: {one:?}")),
            items => Ok(items.to_vec()),
        }
    }

    /// A structure or list option given as JSON, parsed.
    pub fn json(&self, name: &str) -> Result<serde_json::Value, String> {
        let text = self.value(name)?;
        serde_json::from_str(text).map_err(|e| format!("{name} is not JSON: {e}: {text:?}"))
    }

    /// Whether switch `name` (no value) is there.
    pub fn switch(&self, name: &str) -> bool {
        self.options.iter().any(|(n, v)| n == name && v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn options_are_read_as_the_cli_reads_them() {
        let call = CliCall::parse(&argv(&[
            "ec2",
            "modify-instance-attribute",
            "--instance-id=-i",
            "--groups",
            "sg-1",
            "sg-2",
            "--no-disable-api-termination",
        ]))
        .unwrap();
        assert_eq!(call.value("--instance-id").unwrap(), "-i");
        assert_eq!(call.list("--groups").unwrap(), ["sg-1", "sg-2"]);
        assert!(call.switch("--no-disable-api-termination"));
        // A value written on its own that starts with `-` is an option to argparse.
        assert!(CliCall::parse(&argv(&["iam", "x", "--user-name", "--debug"])).is_ok());
        assert!(
            CliCall::parse(&argv(&["iam", "x", "--user-name", "--debug"]))
                .unwrap()
                .value("--user-name")
                .is_err()
        );
        assert!(CliCall::parse(&argv(&["iam", "x", "--user-name", "-b"])).is_err());
        assert!(
            CliCall::parse(&argv(&["iam", "x", "--policy-document", "file:///etc/x"])).is_err()
        );
    }

    #[test]
    fn the_stub_records_each_argument_whole() {
        let shell = StubShell::new();
        let calls = shell.run("sh", "aws iam x --a 'b c' '' && aws ec2 y --z=\"$HOME\"");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0], argv(&["iam", "x", "--a", "b c", ""]));
        assert_eq!(
            calls[1][2],
            format!("--z={}", std::env::var("HOME").unwrap())
        );
        assert!(!shell.pwned());
        shell.run("sh", &format!("touch {}", shell.marker().display()));
        assert!(shell.pwned(), "the marker is what shell code would leave");
    }
}
