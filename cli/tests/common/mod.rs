//! What the `reflex undo` tests share: a remediation run by a function's real handler against
//! the emulator, then the real `reflex` binary aimed at the same emulator, its exit code and
//! its `--json` output parsed, and the ledger's entries read back.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reflex_shared::Function;
use reflex_shared::report::{ActionReport, Report};
use reflex_tests::emulator::REGION;
use reflex_tests::{Account, Emulator};
use serde_json::Value;

/// What one run of `reflex` ended with.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    /// Standard output, parsed as JSON when it is (`Value::Null` otherwise).
    pub json: Value,
    pub stdout: String,
    pub stderr: String,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The environment a person aiming `reflex` at this account would have: the emulator as the
/// AWS endpoint, dummy credentials, the region, and the deployment's `REFLEX_*` settings (the
/// ledger table among them). Nothing of this process's own AWS settings.
pub fn env(emulator: &Emulator, account: &Account) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = account.env_vars("enforce", &[]).into_iter().collect();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        vars.push((k.to_string(), v.to_string()));
    }
    vars
}

/// `reflex ARGS` as a person runs it against the emulator, standard input not a terminal.
pub fn reflex(emulator: &Emulator, account: &Account, args: &[&str]) -> Run {
    reflex_with(emulator, account, &[], args)
}

/// [`reflex`] with `extra` variables in its environment (`REFLEX_MEMBER_ROLE_ARN`, ...).
pub fn reflex_with(
    emulator: &Emulator,
    account: &Account,
    extra: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_reflex"))
        .args(args)
        .current_dir(workspace())
        .env_clear()
        .envs(env(emulator, account))
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("the reflex binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Run {
        code: out.status.code().expect("an exit code"),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `reflex --json undo --yes ID`.
pub fn undo(emulator: &Emulator, account: &Account, id: &str) -> Run {
    reflex(emulator, account, &["--json", "undo", "--yes", id])
}

/// Hand `event` (already replayed in the account where the sample needs it) to function `F`'s
/// real handler in enforce mode, with `extra` settings.
pub async fn remediate<F: Function>(
    account: &Account,
    event: Value,
    extra: &[(&str, &str)],
) -> Report {
    account
        .handler::<F>("enforce", extra)
        .await
        .handle(event)
        .await
        .expect("handled")
}

/// The ledger item with key `pk`.
pub async fn entry(account: &Account, pk: &str) -> Value {
    account
        .ledger_entries()
        .await
        .into_iter()
        .find(|e| e["pk"] == pk)
        .unwrap_or_else(|| panic!("no ledger entry {pk}"))
}

/// The ledger's undo and redo entries.
pub async fn undo_entries(account: &Account) -> Vec<Value> {
    let mut entries = account.ledger_entries().await;
    entries.retain(|e| e["kind"] == "undo" || e["kind"] == "redo");
    entries
}

/// The remediation's entry id (its claim's key) for the event's finding of `rule`.
pub fn claim_id(event_id: &str, rule: &str) -> String {
    format!("event#{event_id}#{rule}")
}

/// The statuses of the steps an undo or redo made, in order (`run.json["made"][n]`).
pub fn made_statuses(run: &Run, n: usize) -> Vec<String> {
    run.json["made"][n]["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| s["outcome"]["status"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Assert the remediation `claim` was undone by exactly one recorded undo, which names it, and
/// return that undo's id.
pub async fn assert_undone_once(account: &Account, claim: &str) -> String {
    let undone = entry(account, claim).await;
    let by = undone["undone_by"]
        .as_str()
        .unwrap_or_else(|| panic!("{claim} is marked undone: {undone:#}"))
        .to_string();
    let undos: Vec<Value> = undo_entries(account)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "undo" && e["undoes"] == claim)
        .collect();
    assert_eq!(undos.len(), 1, "{undos:#?}");
    assert_eq!(undos[0]["pk"], by.as_str());
    assert_eq!(undos[0]["original"], claim);
    assert_eq!(undos[0]["state"], "done");
    by
}

/// The event's key in the ledger: its id, or `guardduty:<finding id>` for a GuardDuty finding
/// (whose republished versions are one entry).
pub fn ledger_key(event: &Value) -> String {
    let parsed = reflex_shared::event::parse(event.clone()).expect("a valid event");
    parsed.key("").key
}

/// The keys of the event's remediations that changed something (its claims in the ledger).
pub async fn claims_of(acct: &Account, event: &Value) -> Vec<String> {
    let prefix = format!("event#{}#", ledger_key(event));
    acct.claims()
        .await
        .into_iter()
        .filter(|c| c["pk"].as_str().is_some_and(|pk| pk.starts_with(&prefix)))
        .filter(|c| c["steps"].as_str().is_some_and(|s| s.contains("\"done\"")))
        .map(|c| c["pk"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The one remediation of the event that changed something, and its recorded steps.
pub async fn the_remediation(acct: &Account, event: &Value) -> (String, Vec<ActionReport>) {
    let [claim] = claims_of(acct, event)
        .await
        .try_into()
        .expect("one remediation recorded");
    let steps = serde_json::from_str(entry(acct, &claim).await["steps"].as_str().unwrap_or("[]"))
        .expect("the recorded steps");
    (claim, steps)
}
