//! `reflex plan`, the real binary: every sample event routed as `events/routes.toml` says, bad
//! input named by field, the exit codes, standard input and directories, template parameters,
//! and `--facts-from-aws` against the emulator (a fact read changes the plan; nothing changes).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use reflex_revoke::actions::Identity;
use reflex_tests::account::{ADMIN, LEDGER_TABLE, OPS_TOOLING, REFLEX_SESSION};
use reflex_tests::manifest::manifest;
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn events_dir() -> PathBuf {
    workspace().join("events")
}

/// `reflex ARGS` in the workspace, with no configuration from this process's environment
/// (`vars` only) and `stdin` as its standard input.
fn reflex(args: &[&str], vars: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reflex"));
    command
        .args(args)
        .current_dir(workspace())
        .env_clear()
        .envs(vars.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the reflex binary runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input)
            .expect("writing stdin");
    }
    child.wait_with_output().expect("reflex ends")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("an exit code")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The JSON lines `reflex --json plan` printed, one per event (the error line, if any, last).
fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// The functions the plan says the rules route an event to.
fn routed(plan: &Value) -> BTreeSet<String> {
    plan["routes"]
        .as_array()
        .unwrap_or_else(|| panic!("no routes: {plan}"))
        .iter()
        .map(|r| r["function"].as_str().expect("a function").to_string())
        .collect()
}

/// The plan of `function` in an event's plan.
fn function(plan: &Value, function: &str) -> Value {
    plan["functions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["function"] == function)
        .unwrap_or_else(|| panic!("no plan for {function}: {plan:#}"))
        .clone()
}

/// The guards' verdict on each step of each finding: `run`, `dry-run`, `skip`, `exempt`.
fn dispositions(plan: &Value) -> Vec<String> {
    plan["dispositions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|finding| finding.as_array().into_iter().flatten())
        .map(|d| {
            d["disposition"]
                .as_str()
                .expect("a disposition")
                .to_string()
        })
        .collect()
}

/// A temporary file with these lines (a `--config` file, an event), removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, lines: &[&str]) -> Self {
        let path = std::env::temp_dir().join(format!("reflex-plan-{}-{name}", std::process::id()));
        std::fs::write(&path, lines.join("\n")).expect("writing a temporary file");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Routes: every sample event, as events/routes.toml says

/// The directories of routed sample events (all but `invalid/`), sorted.
fn sample_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(events_dir())
        .expect("events/")
        .map(|entry| entry.expect("an events/ entry"))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|dir| dir != "invalid")
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_sample_event_routes_as_the_manifest_says() {
    let dirs: Vec<String> = sample_dirs()
        .iter()
        .map(|dir| format!("events/{dir}"))
        .collect();
    let args: Vec<&str> = ["--json", "plan"]
        .into_iter()
        .chain(dirs.iter().map(String::as_str))
        .collect();
    let output = reflex(&args, &[], None);
    let mut planned: BTreeMap<String, Value> = BTreeMap::new();
    for plan in json_lines(&output) {
        if let Some(source) = plan["source"].as_str() {
            let file = source.strip_prefix("events/").expect("under events/");
            planned.insert(file.to_string(), plan.clone());
        }
    }
    let samples: Vec<String> = sample_dirs()
        .iter()
        .flat_map(|dir| {
            reflex_tests::sample_files(dir)
                .into_iter()
                .map(move |file| format!("{dir}/{file}"))
        })
        .collect();
    assert_eq!(
        planned.keys().cloned().collect::<Vec<_>>(),
        samples,
        "one plan per sample event"
    );
    let mut wrong = Vec::new();
    for (file, plan) in &planned {
        assert!(
            plan.get("problem").is_none(),
            "events/{file} is a sample event, yet: {plan}"
        );
        let expected = manifest().expected(file).expect("in the manifest");
        let reached = routed(plan);
        if reached != expected {
            wrong.push(format!(
                "events/{file}: the manifest says {expected:?}, plan says {reached:?}"
            ));
        }
        // Every routed function is planned, and only those.
        let planned_functions: BTreeSet<String> = plan["functions"]
            .as_array()
            .expect("functions")
            .iter()
            .map(|f| f["function"].as_str().expect("a name").to_string())
            .collect();
        assert_eq!(planned_functions, reached, "events/{file}: {plan:#}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Some samples are refused by the function they reach on purpose (`invalid-*`): exit 1.
    assert!(
        [1, 2].contains(&code(&output)),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input: what is wrong, by field

#[test]
fn an_event_without_an_event_name_is_named_by_field() {
    let output = reflex(
        &["plan", "events/invalid/missing-event-name.json"],
        &[],
        None,
    );
    assert_eq!(code(&output), 1);
    let text = stdout(&output);
    assert!(text.contains("detail.eventName"), "{text}");
    assert!(text.contains("MissingField"), "{text}");
}

#[test]
fn an_escalation_without_its_policy_is_refused_naming_the_field() {
    let output = reflex(
        &[
            "--json",
            "plan",
            "events/invalid/attach-policy-without-policy-arn.json",
        ],
        &[],
        None,
    );
    assert_eq!(code(&output), 1);
    let lines = json_lines(&output);
    let revoke = function(&lines[0], "revoke");
    let refused = &revoke["stopped"]["refused"];
    assert_eq!(refused["type"], "MissingField", "{revoke:#}");
    assert!(
        refused["message"].as_str().unwrap().contains("policyArn"),
        "{refused}"
    );
    assert!(
        lines.last().unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("1 of 1")
    );
}

#[test]
fn a_file_that_is_not_json_is_named() {
    let output = reflex(
        &["--json", "plan", "events/invalid/not-json.txt"],
        &[],
        None,
    );
    assert_eq!(code(&output), 1);
    let plan = &json_lines(&output)[0];
    assert_eq!(plan["source"], "events/invalid/not-json.txt");
    assert_eq!(plan["problem"]["type"], "MalformedJson", "{plan}");
}

#[test]
fn an_alarm_planned_for_revoke_is_refused_as_unsupported() {
    let path = "events/invalid/alarm-state-change-for-revoke.json";
    let output = reflex(&["--json", "plan", "--function", "revoke", path], &[], None);
    assert_eq!(code(&output), 1);
    let plan = &json_lines(&output)[0];
    let revoke = function(plan, "revoke");
    assert_eq!(revoke["stopped"]["refused"]["type"], "UnsupportedEvent");
    assert_eq!(
        revoke["routed_by"],
        serde_json::json!([]),
        "no rule routes it"
    );
}

#[test]
fn something_that_is_not_an_event_is_named_by_field() {
    let cases: [(&str, &str, &str); 3] = [
        (r#"{"hello": "world"}"#, "MissingField", "detail-type"),
        (
            r#"{"detail-type": "AWS API Call via CloudTrail", "source": "aws.iam", "region": 7, "detail": {}}"#,
            "InvalidField",
            "region",
        ),
        ("[1, 2]", "MalformedJson", ""),
    ];
    for (input, error_type, field) in cases {
        let output = reflex(&["--json", "plan"], &[], Some(input.as_bytes()));
        assert_eq!(code(&output), 1, "{input}");
        let plan = &json_lines(&output)[0];
        assert_eq!(plan["source"], "-");
        assert_eq!(plan["problem"]["type"], error_type, "{input}: {plan}");
        if !field.is_empty() {
            assert_eq!(plan["problem"]["field"], field, "{input}: {plan}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Exit codes, inputs, options

#[test]
fn an_escalation_in_enforce_mode_would_act_and_exits_2() {
    let config = TempFile::new("enforce.env", &["REFLEX_MODE=enforce"]);
    let output = reflex(
        &[
            "--config",
            config.path(),
            "--json",
            "plan",
            "events/revoke/attach-admin-to-user.json",
        ],
        &[],
        None,
    );
    assert_eq!(code(&output), 2);
    let plan = &json_lines(&output)[0];
    assert_eq!(routed(plan), BTreeSet::from(["revoke".to_string()]));
    let revoke = function(plan, "revoke");
    assert_eq!(dispositions(&revoke), ["run"], "{revoke:#}");
    assert_eq!(revoke["would_act"], true);
    assert_eq!(revoke["report"]["findings"][0]["mode"], "enforce");
    // Offline, what was not read is said.
    let assumptions = revoke["assumptions"].to_string();
    for said in [
        "no facts read",
        "exemption tags not read",
        "REFLEX_SELF_ARN is unset",
        "rate limit",
    ] {
        assert!(assumptions.contains(said), "{said}: {assumptions}");
    }

    let text = stdout(&reflex(
        &[
            "--config",
            config.path(),
            "plan",
            "events/revoke/attach-admin-to-user.json",
        ],
        &[],
        None,
    ));
    assert!(
        text.contains("RevokeFunction.Events.IamEscalation -> revoke"),
        "{text}"
    );
    assert!(text.contains("-> run"), "{text}");
    assert!(text.contains("=> a rule would act"), "{text}");
}

#[test]
fn the_same_escalation_in_dry_run_would_send_a_report_and_exits_2() {
    let output = reflex(
        &["--json", "plan", "events/revoke/attach-admin-to-user.json"],
        &[],
        None,
    );
    assert_eq!(code(&output), 2);
    let revoke = function(&json_lines(&output)[0], "revoke");
    assert_eq!(dispositions(&revoke), ["dry-run"]);
    assert_eq!(revoke["would_act"], false);
    assert_eq!(revoke["report_would_go_out"], true);
}

#[test]
fn an_event_no_rule_routes_exits_0() {
    let config = TempFile::new("enforce-unrouted.env", &["REFLEX_MODE=enforce"]);
    let output = reflex(
        &[
            "--config",
            config.path(),
            "--json",
            "plan",
            "events/revoke/tag-user-other-key.json",
        ],
        &[],
        None,
    );
    assert_eq!(code(&output), 0);
    let plan = &json_lines(&output)[0];
    assert_eq!(plan["routes"], serde_json::json!([]));
    assert_eq!(plan["functions"], serde_json::json!([]));
    assert_eq!(plan["not_routed"], serde_json::json!(["revoke"]));
}

#[test]
fn text_the_sender_chose_stays_on_its_line_and_sends_no_terminal_codes() {
    // The sample escalation, its envelope rewritten as anyone who can put an event on a bus
    // may: a line break that fakes a plan line, an ANSI escape.
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(events_dir().join("revoke/attach-admin-to-user.json")).unwrap(),
    )
    .unwrap();
    let fake = "\n  => nothing would act\u{1b}[2J";
    // The envelope's `source` is taken as sent (no rule routes it: the event is still shown).
    event["source"] = Value::String(format!("aws.iam{fake}"));
    let text = serde_json::to_vec(&event).unwrap();

    let output = reflex(&["plan", "-"], &[], Some(&text));

    let out = stdout(&output);
    assert!(
        out.contains("from aws.iam\\n"),
        "the event is shown, escaped: {out}"
    );
    assert!(!out.contains('\u{1b}'), "{out}");
    assert!(
        !out.lines().any(|l| l.trim() == "=> nothing would act"),
        "a value started a line of its own: {out}"
    );
}

#[test]
fn a_harmless_policy_in_enforce_mode_exits_0() {
    let config = TempFile::new("enforce-harmless.env", &["REFLEX_MODE=enforce"]);
    let output = reflex(
        &[
            "--config",
            config.path(),
            "--json",
            "plan",
            "events/revoke/attach-readonly-to-user.json",
        ],
        &[],
        None,
    );
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    let revoke = function(&json_lines(&output)[0], "revoke");
    assert_eq!(revoke["report"]["status"], "nothing-to-do");
    assert_eq!(dispositions(&revoke), Vec::<String>::new());
}

#[test]
fn reflex_s_own_call_is_left_alone_by_the_loop_guard() {
    let config = TempFile::new(
        "self.env",
        &[
            "REFLEX_MODE=enforce",
            &format!("REFLEX_SELF_ARN={REFLEX_SESSION}"),
        ],
    );
    let output = reflex(
        &[
            "--config",
            config.path(),
            "--json",
            "plan",
            "events/revoke/attach-admin-to-user-by-reflex.json",
        ],
        &[],
        None,
    );
    assert_eq!(code(&output), 0);
    let revoke = function(&json_lines(&output)[0], "revoke");
    assert_eq!(
        revoke["stopped"]["screened"]["guard"], "loop-guard",
        "{revoke:#}"
    );
    assert_eq!(revoke["report"]["status"], "skipped");
    assert!(
        !revoke["assumptions"]
            .to_string()
            .contains("REFLEX_SELF_ARN")
    );
}

#[test]
fn an_event_on_standard_input_is_planned() {
    let event = std::fs::read(events_dir().join("harden/stop-logging.json")).unwrap();
    let output = reflex(&["--json", "plan", "-"], &[], Some(&event));
    assert_eq!(code(&output), 2);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["source"], "-");
    assert_eq!(routed(&lines[0]), BTreeSet::from(["harden".to_string()]));
    // No path at all reads standard input too.
    let output = reflex(&["--json", "plan"], &[], Some(&event));
    assert_eq!(json_lines(&output)[0]["source"], "-");
}

#[test]
fn a_directory_is_planned_file_by_file_in_name_order() {
    let output = reflex(&["--json", "plan", "events/scale"], &[], None);
    let sources: Vec<String> = json_lines(&output)
        .iter()
        .map(|plan| plan["source"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = reflex_tests::sample_files("scale")
        .into_iter()
        .map(|file| format!("events/scale/{file}"))
        .collect();
    assert_eq!(sources, expected);
    assert_eq!(
        code(&output),
        2,
        "a high CPU alarm would scale (dry-run) and notify"
    );
}

#[test]
fn a_template_parameter_turns_the_quarantine_tag_rule_on() {
    let path = "events/quarantine/create-tags-quarantine.json";
    let off = reflex(&["--json", "plan", path], &[], None);
    assert_eq!(routed(&json_lines(&off)[0]), BTreeSet::new());
    let on = reflex(
        &[
            "--json",
            "plan",
            "--parameter",
            "QuarantineTagValue=approved-by-secops",
            path,
        ],
        &[],
        None,
    );
    let plan = &json_lines(&on)[0];
    assert_eq!(routed(plan), BTreeSet::from(["quarantine".to_string()]));
    assert_eq!(
        plan["routes"][0]["rule"], "QuarantineFunction.Events.OperatorTag",
        "{plan:#}"
    );
    let unknown = reflex(
        &["plan", "--parameter", "NoSuchParameter=x", path],
        &[],
        None,
    );
    assert_eq!(code(&unknown), 1);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("NoSuchParameter"));
}

#[test]
fn a_function_no_rule_routes_to_is_planned_when_asked_and_says_so() {
    let output = reflex(
        &[
            "plan",
            "--function",
            "revoke",
            "events/revoke/tag-user-other-key.json",
        ],
        &[],
        None,
    );
    let text = stdout(&output);
    assert!(
        text.contains("no enabled rule routes this event to revoke"),
        "{text}"
    );
    assert_eq!(code(&output), 0, "{text}");
}

#[test]
fn a_bad_setting_fails_naming_its_variable() {
    let config = TempFile::new("bad-mode.env", &["REFLEX_MODE=sometimes"]);
    let output = reflex(
        &[
            "--config",
            config.path(),
            "plan",
            "events/revoke/attach-admin-to-user.json",
        ],
        &[],
        None,
    );
    assert_eq!(code(&output), 1);
    assert!(String::from_utf8_lossy(&output.stderr).contains("REFLEX_MODE"));
}

#[test]
fn help_shows_an_example_and_the_exit_codes() {
    let text = stdout(&reflex(&["plan", "--help"], &[], None));
    assert!(
        text.contains("reflex plan events/revoke/attach-admin-to-user.json"),
        "{text}"
    );
    assert!(text.contains("Exit codes"), "{text}");
    assert!(text.contains("--facts-from-aws"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// --facts-from-aws, against the emulator

#[tokio::test(flavor = "multi_thread")]
async fn facts_from_aws_read_an_exemption_tag_and_change_nothing() {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    acct.seed().await;
    let event = acct
        .replay(sample("revoke/attach-admin-to-user.json"))
        .await;
    let event_file = TempFile::new("event.json", &[&event.to_string()]);
    let config = TempFile::new(
        "aws.env",
        &[
            "REFLEX_MODE=enforce",
            &format!("REFLEX_SELF_ARN={REFLEX_SESSION}"),
            &format!("REFLEX_LEDGER_TABLE={LEDGER_TABLE}"),
        ],
    );
    let aws = [
        ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    let plan = |facts: bool| {
        let mut args = vec![
            "--config",
            config.path(),
            "--json",
            "plan",
            event_file.path(),
        ];
        if facts {
            args.push("--facts-from-aws");
        }
        let output = reflex(&args, &aws, None);
        assert_eq!(
            code(&output),
            2,
            "{}{}",
            stdout(&output),
            String::from_utf8_lossy(&output.stderr)
        );
        function(&json_lines(&output)[0], "revoke")
    };

    // Read from AWS with no exemption tag: the step runs, as offline.
    let read = plan(true);
    assert_eq!(read["facts"], "read-from-aws");
    assert_eq!(dispositions(&read), ["run"], "{read:#}");
    assert!(!read["assumptions"].to_string().contains("no facts read"));

    // The user carries the exemption tag: offline cannot know it, the read sees it.
    acct.tag_user("alice", "reflex:exempt", "true").await;
    let offline = plan(false);
    assert_eq!(dispositions(&offline), ["run"]);
    let read = plan(true);
    assert_eq!(dispositions(&read), ["exempt"], "{read:#}");
    let why = read["dispositions"][0][0]["why"].as_str().unwrap();
    assert!(
        why.contains("user alice carries the exemption tag reflex:exempt=true"),
        "{why}"
    );
    assert_eq!(read["report"]["status"], "exempt");

    // Nothing changed in the emulator: the policy is still attached, the tags as set, the
    // ledger empty, no report published.
    let alice = Identity::User("alice".into());
    assert!(
        acct.attached_policies(&alice)
            .await
            .contains(&ADMIN.to_string())
    );
    assert_eq!(
        acct.tags_of(&alice).await,
        BTreeMap::from([("reflex:exempt".to_string(), "true".to_string())])
    );
    assert_eq!(acct.ledger_entries().await.len(), 0);
    assert_eq!(acct.reports().await.len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn facts_from_aws_read_a_customer_policy_that_escalates_and_change_nothing() {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    acct.seed().await;
    let event = acct
        .replay(sample(
            "revoke/attach-escalating-customer-policy-to-user.json",
        ))
        .await;
    let event_file = TempFile::new("escalating.json", &[&event.to_string()]);
    let config = TempFile::new(
        "escalating.env",
        &[
            "REFLEX_MODE=enforce",
            &format!("REFLEX_SELF_ARN={REFLEX_SESSION}"),
        ],
    );
    let aws = [
        ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    let args = [
        "--config",
        config.path(),
        "--json",
        "plan",
        event_file.path(),
    ];

    // Offline the policy's document is unknown: no finding, and the plan says what it assumed.
    let offline = reflex(&args, &aws, None);
    assert_eq!(code(&offline), 0, "{}", stdout(&offline));
    let revoke = function(&json_lines(&offline)[0], "revoke");
    assert_eq!(revoke["report"]["status"], "nothing-to-do");
    assert!(
        revoke["assumptions"].to_string().contains("no facts read"),
        "{revoke:#}"
    );

    // Read, the document grants all of IAM: the policy would be detached.
    let read = reflex(&[&args[..], &["--facts-from-aws"]].concat(), &aws, None);
    assert_eq!(code(&read), 2, "{}", stdout(&read));
    let revoke = function(&json_lines(&read)[0], "revoke");
    assert_eq!(dispositions(&revoke), ["run"], "{revoke:#}");
    let step = &revoke["report"]["findings"][0]["actions"][0]["action"];
    assert_eq!(step["policy_arn"], OPS_TOOLING, "{revoke:#}");

    // Nothing changed: the policy is still attached, its versions as they were, the ledger
    // empty, no report published.
    let alice = Identity::User("alice".into());
    assert!(
        acct.attached_policies(&alice)
            .await
            .contains(&OPS_TOOLING.to_string())
    );
    assert_eq!(acct.policy_versions(OPS_TOOLING).await.len(), 1);
    assert_eq!(acct.ledger_entries().await.len(), 0);
    assert_eq!(acct.reports().await.len(), 0);
}
