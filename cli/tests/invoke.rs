//! `reflex invoke`, the real binary, against the emulator: the real pipeline on a replayed
//! escalation, dry-run unless `--enforce` whatever the configuration says (the state read back),
//! the report on the topic's queue, `--json`, the exit codes; and `completions`, `--help`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use reflex_revoke::actions::Identity;
use reflex_shared::report::Status;
use reflex_tests::account::ADMIN;
use reflex_tests::emulator::REGION;
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

const ESCALATION: &str = "revoke/attach-admin-to-user.json";
const SUBJECT_REMEDIATED: &str =
    "[Reflex HIGH] Remediated: iam:AttachUserPolicy by mallory in 123456789012";
const SUBJECT_DRY_RUN: &str =
    "[Reflex HIGH] Dry-run (would remediate): iam:AttachUserPolicy by mallory in 123456789012";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `reflex ARGS` in the workspace with only `vars` in its environment (nothing of this
/// process's AWS or Reflex settings) and `stdin` as its standard input.
fn reflex(args: &[&str], vars: &[(String, String)], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reflex"))
        .args(args)
        .current_dir(workspace())
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the reflex binary runs");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin)
        .expect("writing stdin");
    child.wait_with_output().expect("reflex ends")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("an exit code")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A seeded account in a fresh emulator, and the environment a deployment aimed at it would
/// have, with `REFLEX_MODE=enforce`: the AWS settings of the usual chain (endpoint, region,
/// dummy credentials) and the functions' configuration (topic, ledger, Reflex's own ARN).
async fn enforcing_account() -> (Emulator, Account, Vec<(String, String)>) {
    let emulator = Emulator::start();
    let account = Account::new(&emulator).await;
    account.seed().await;
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
    (emulator, account, vars)
}

/// The escalation replayed in the emulator (AdministratorAccess attached to alice), as JSON.
async fn escalation(account: &Account) -> Vec<u8> {
    let event = account.replay(sample(ESCALATION)).await;
    assert!(is_admin_attached(account).await, "the replay attached it");
    event.to_string().into_bytes()
}

async fn is_admin_attached(account: &Account) -> bool {
    account
        .attached_policies(&Identity::User("alice".into()))
        .await
        .contains(&ADMIN.to_string())
}

#[tokio::test]
async fn without_enforce_nothing_changes_even_when_the_configuration_enforces() {
    let (_emulator, account, vars) = enforcing_account().await;
    let event = escalation(&account).await;

    let out = reflex(&["invoke", "-"], &vars, &event);

    assert_eq!(code(&out), 2, "would act: {}", stderr(&out));
    assert!(
        is_admin_attached(&account).await,
        "a dry-run detached the policy"
    );
    let text = stdout(&out);
    assert!(
        text.contains("dry-run (no --enforce): nothing is changed, although the configuration enforces every rule (REFLEX_MODE=enforce)"),
        "{text}"
    );
    assert!(text.contains("-> revoke (RevokeFunction.Events."), "{text}");
    assert!(
        text.contains(&format!("Subject: {SUBJECT_DRY_RUN}")),
        "{text}"
    );
    assert!(
        text.contains("(mode: dry-run)") && text.contains(": WOULD DO (dry-run)"),
        "{text}"
    );
    // The real pipeline publishes its report, a dry-run's too, as the deployed function would.
    let delivered = account.reports().await;
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    assert_eq!(delivered[0].subject, SUBJECT_DRY_RUN);
    assert_eq!(delivered[0].report.status, Status::DryRun);
}

#[tokio::test]
async fn with_enforce_the_policy_is_detached_and_the_report_is_on_the_topic() {
    let (_emulator, account, vars) = enforcing_account().await;
    let event = escalation(&account).await;

    let out = reflex(&["invoke", "--enforce", "-"], &vars, &event);

    assert_eq!(code(&out), 2, "acted: {}", stderr(&out));
    assert!(!is_admin_attached(&account).await, "still attached");
    let text = stdout(&out);
    assert!(
        text.contains("--enforce: the configured modes apply"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Subject: {SUBJECT_REMEDIATED}")),
        "{text}"
    );
    assert!(
        text.contains("to undo: aws --region us-east-1 iam attach-user-policy --user-name alice"),
        "{text}"
    );
    assert!(
        text.contains(&format!("published to {}", account.topic_arn)),
        "{text}"
    );
    let delivered = account.reports().await;
    assert_eq!(delivered.len(), 1, "one report: {delivered:#?}");
    assert_eq!(delivered[0].subject, SUBJECT_REMEDIATED);
    assert_eq!(delivered[0].report.status, Status::Remediated);
    // The text printed is the text body SNS's email subscribers get.
    assert!(text.contains(&delivered[0].report.text()), "{text}");
}

#[tokio::test]
async fn json_output_is_one_parsable_line_per_invocation_with_the_report() {
    let (_emulator, account, vars) = enforcing_account().await;
    let event = escalation(&account).await;

    let out = reflex(&["--json", "invoke", "--enforce", "-"], &vars, &event);

    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["source"], "-");
    assert_eq!(line["function"], "revoke");
    assert_eq!(line["dry_run_forced"], false);
    assert_eq!(line["published_to"], account.topic_arn.as_str());
    assert_eq!(line["report"]["status"], "remediated");
    assert_eq!(
        line["report"]["findings"][0]["rule_id"],
        "revoke.privileged-policy-attached"
    );
    assert!(!is_admin_attached(&account).await);
    // The report printed is the one the topic got.
    let delivered = account.reports().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(line["report"], delivered[0].report.to_json());
}

#[tokio::test]
async fn exit_codes_nothing_to_do_unrouted_bad_configuration_and_bad_input() {
    let (_emulator, account, vars) = enforcing_account().await;

    // A harmless policy: nothing to do, nothing sent, exit 0.
    let harmless = account
        .replay(sample("revoke/attach-readonly-to-user.json"))
        .await;
    let out = reflex(&["invoke", "-"], &vars, harmless.to_string().as_bytes());
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("status: nothing-to-do"),
        "{}",
        stdout(&out)
    );
    assert!(account.reports().await.is_empty(), "nothing to report");

    // An event no deployed rule routes: said so, nothing runs, exit 0.
    let unrouted = br#"{"version":"0","id":"1","source":"aws.example","detail-type":"Something","account":"123456789012","region":"us-east-1","time":"2026-01-01T00:00:00Z","resources":[],"detail":{}}"#;
    let out = reflex(&["invoke", "-"], &vars, unrouted);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("no enabled rule of the deployed template routes this event"),
        "{}",
        stdout(&out)
    );
    let out = reflex(&["--json", "invoke", "-"], &vars, unrouted);
    let line: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON line");
    assert_eq!(line["function"], Value::Null);

    // A configuration error: exit 1, naming the variable; the escalation is left alone.
    let event = escalation(&account).await;
    let mut bad = vars.clone();
    bad.push(("REFLEX_MODE".into(), "sometimes".into()));
    let out = reflex(&["invoke", "--enforce", "-"], &bad, &event);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("revoke: configuration:") && stderr(&out).contains("REFLEX_MODE"),
        "{}",
        stderr(&out)
    );
    assert!(is_admin_attached(&account).await);

    // Not JSON: exit 1, naming the input.
    let out = reflex(&["invoke", "-"], &vars, b"not json");
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("-: not JSON"), "{}", stderr(&out));

    // An event the forced function does not take: the pipeline's error, exit 1.
    let out = reflex(&["invoke", "--function", "scale", "-"], &vars, &event);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("-> scale:"), "{}", stderr(&out));
    assert!(is_admin_attached(&account).await);
    assert!(account.reports().await.is_empty());
}

#[test]
fn completions_for_bash_name_the_subcommands() {
    let out = reflex(&["completions", "bash"], &[], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let script = stdout(&out);
    assert!(script.contains("complete"), "{script}");
    for subcommand in ["plan", "invoke", "backtest", "undo", "completions"] {
        assert!(
            script.contains(subcommand),
            "{subcommand} missing: {script}"
        );
    }
    assert!(script.contains("--enforce"), "{script}");
}

#[test]
fn help_lists_the_exit_codes_and_invoke_help_an_example() {
    let out = reflex(&["--help"], &[], b"");
    assert_eq!(code(&out), 0);
    let help = stdout(&out);
    assert!(help.contains("Exit codes:"), "{help}");
    for code in ["0  nothing found", "1  error", "2  found"] {
        assert!(help.contains(code), "{code}: {help}");
    }
    let out = reflex(&["invoke", "--help"], &[], b"");
    let help = stdout(&out);
    assert!(
        help.contains("reflex invoke events/revoke/attach-admin-to-user.json"),
        "{help}"
    );
    assert!(help.contains("--enforce"), "{help}");
}
