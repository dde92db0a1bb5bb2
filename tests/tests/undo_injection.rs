//! Every undo command of every function, built by the functions' own undo builders from hostile
//! values (quotes, `$()`, backticks, `${IFS}`, `;|&<>`, line breaks, NUL, escapes, Unicode,
//! leading dashes, file prefixes, empty), then run the way a responder runs it: `sh -c` and
//! `bash -c`, a stub `aws` first on PATH recording its arguments (`tests/src/shell.rs`). Each
//! value must arrive as exactly the value of its flag, byte for byte, as the AWS CLI reads it,
//! and no shell code may run; a value that cannot be printed as typed must give no command at
//! all. Offline: no emulator. The values come from a fixed list and a seeded generator, so a
//! failure is reproducible (the seed is in the message).

use reflex_harden::undo as harden;
use reflex_quarantine::actions::Interface;
use reflex_quarantine::undo as quarantine;
use reflex_revoke::actions::{Identity, Principal};
use reflex_revoke::undo::{self as revoke, Document};
use reflex_scale::undo as scale;
use reflex_shared::Undo;
use reflex_shared::iam;
use reflex_shared::report::one_line;
use reflex_tests::shell::{CliCall, READ_ELSEWHERE, StubShell};
use serde_json::{Value, json};

/// What one flag of a call must receive.
#[derive(Debug, Clone)]
enum Want {
    /// Exactly this value.
    Arg(&'static str, String),
    /// Exactly these items, in order.
    List(&'static str, Vec<String>),
    /// JSON equal to this.
    Json(&'static str, Value),
    /// The switch, without a value.
    Switch(&'static str),
}

/// An undo built by a function's builder, and what running it must do.
struct Case {
    name: &'static str,
    undo: Undo,
    calls: Vec<(&'static str, &'static str, Vec<Want>)>,
    /// The values passed as single scalars: if any cannot be printed as typed, no command.
    scalars: Vec<String>,
}

fn s(v: &str) -> String {
    v.to_string()
}

/// Every builder of every function, fed `v` and `w` wherever a value from outside goes.
fn cases(v: &str, w: &str, n: i32) -> Vec<Case> {
    use Want::*;
    let mut all = Vec::new();
    let mut add = |name, undo, calls, scalars: &[&str]| {
        all.push(Case {
            name,
            undo,
            calls,
            scalars: scalars.iter().map(|x| s(x)).collect(),
        })
    };
    // The core: containment.
    add(
        "iam::reactivate_access_keys",
        iam::reactivate_access_keys(v, &[w, "AKIA2"]),
        vec![
            (
                "iam",
                "update-access-key",
                vec![
                    Arg("--user-name", s(v)),
                    Arg("--access-key-id", s(w)),
                    Arg("--status", s("Active")),
                ],
            ),
            (
                "iam",
                "update-access-key",
                vec![
                    Arg("--user-name", s(v)),
                    Arg("--access-key-id", s("AKIA2")),
                    Arg("--status", s("Active")),
                ],
            ),
        ],
        &[v, w],
    );
    add(
        "iam::lift_session_cutoff",
        iam::lift_session_cutoff(v),
        vec![(
            "iam",
            "delete-role-policy",
            vec![
                Arg("--role-name", s(v)),
                Arg("--policy-name", s(iam::REVOKE_SESSIONS_POLICY)),
            ],
        )],
        &[v],
    );
    let earlier = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:23:08Z")
        .unwrap()
        .to_utc();
    add(
        "iam::restore_session_cutoff",
        iam::restore_session_cutoff(v, earlier),
        vec![(
            "iam",
            "put-role-policy",
            vec![
                Arg("--role-name", s(v)),
                Arg("--policy-name", s(iam::REVOKE_SESSIONS_POLICY)),
                Json(
                    "--policy-document",
                    iam::revoke_sessions_document("2026-11-20T10:23:08Z"),
                ),
            ],
        )],
        &[v],
    );
    // revoke
    for (principal, operation, flag) in [
        (Principal::User(s(v)), "tag-user", "--user-name"),
        (Principal::Role(s(v)), "tag-role", "--role-name"),
    ] {
        let tags = json!([{ "Key": w, "Value": v }]);
        add(
            "revoke::tag_again",
            revoke::tag_again(&principal, w, v),
            vec![(
                "iam",
                operation,
                vec![Arg(flag, s(v)), Json("--tags", tags.clone())],
            )],
            &[v],
        );
    }
    // revoke
    for (identity, attach, put, flag) in [
        (
            Identity::User(s(v)),
            "attach-user-policy",
            "put-user-policy",
            "--user-name",
        ),
        (
            Identity::Group(s(v)),
            "attach-group-policy",
            "put-group-policy",
            "--group-name",
        ),
        (
            Identity::Role(s(v)),
            "attach-role-policy",
            "put-role-policy",
            "--role-name",
        ),
    ] {
        add(
            "revoke::attach_again",
            revoke::attach_again(&identity, w),
            vec![(
                "iam",
                attach,
                vec![Arg(flag, s(v)), Arg("--policy-arn", s(w))],
            )],
            &[v, w],
        );
        let document =
            json!({"Statement": [{"Sid": w, "Effect": "Allow", "Action": "*", "Resource": v}]});
        add(
            "revoke::put_back (parsed)",
            revoke::put_back(&identity, w, &Document::Parsed(document.clone())),
            vec![(
                "iam",
                put,
                vec![
                    Arg(flag, s(v)),
                    Arg("--policy-name", s(w)),
                    Json("--policy-document", document),
                ],
            )],
            &[v, w],
        );
        add(
            "revoke::put_back (text)",
            revoke::put_back(&identity, "debug", &Document::Text(s(w))),
            vec![(
                "iam",
                put,
                vec![
                    Arg(flag, s(v)),
                    Arg("--policy-name", s("debug")),
                    Arg("--policy-document", s(w)),
                ],
            )],
            &[v, w],
        );
    }
    add(
        "revoke::make_default_again",
        revoke::make_default_again(v, w),
        vec![(
            "iam",
            "set-default-policy-version",
            vec![Arg("--policy-arn", s(v)), Arg("--version-id", s(w))],
        )],
        &[v, w],
    );
    let trust = json!({"Statement": [{"Sid": w, "Effect": "Allow", "Principal": {"AWS": v}, "Action": "sts:AssumeRole"}]});
    add(
        "revoke::trust_again",
        revoke::trust_again(v, &trust),
        vec![(
            "iam",
            "update-assume-role-policy",
            vec![Arg("--role-name", s(v)), Json("--policy-document", trust)],
        )],
        &[v],
    );
    add(
        "revoke::new_login_profile",
        revoke::new_login_profile(v),
        vec![(
            "iam",
            "create-login-profile",
            vec![
                Arg("--user-name", s(v)),
                Switch("--password-reset-required"),
                Arg("--password", s("")),
            ],
        )],
        &[v],
    );
    add(
        "revoke::add_to_group_again",
        revoke::add_to_group_again(v, w),
        vec![(
            "iam",
            "add-user-to-group",
            vec![Arg("--group-name", s(w)), Arg("--user-name", s(v))],
        )],
        &[v, w],
    );
    // harden
    add(
        "harden::stop_logging",
        harden::stop_logging(v),
        vec![("cloudtrail", "stop-logging", vec![Arg("--name", s(v))])],
        &[v],
    );
    for global_off in [false, true] {
        let mut want = vec![Arg("--name", s(v)), Switch("--no-is-multi-region-trail")];
        if global_off {
            want.push(Switch("--no-include-global-service-events"));
        }
        add(
            "harden::single_region",
            harden::single_region(v, global_off),
            vec![("cloudtrail", "update-trail", want)],
            &[v],
        );
    }
    add(
        "harden::no_log_file_validation",
        harden::no_log_file_validation(v),
        vec![(
            "cloudtrail",
            "update-trail",
            vec![
                Arg("--name", s(v)),
                Switch("--no-enable-log-file-validation"),
            ],
        )],
        &[v],
    );
    add(
        "harden::keep_forever",
        harden::keep_forever(v),
        vec![(
            "logs",
            "delete-retention-policy",
            vec![Arg("--log-group-name", s(v))],
        )],
        &[v],
    );
    add(
        "harden::disassociate_key",
        harden::disassociate_key(v),
        vec![(
            "logs",
            "disassociate-kms-key",
            vec![Arg("--log-group-name", s(v))],
        )],
        &[v],
    );
    // scale
    add(
        "scale::set_back",
        scale::set_back(v, n),
        vec![(
            "autoscaling",
            "set-desired-capacity",
            vec![
                Arg("--auto-scaling-group-name", s(v)),
                Arg("--desired-capacity", n.to_string()),
            ],
        )],
        &[v],
    );
    // quarantine
    let permissions = vec![
        json!({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": v}]}),
    ];
    add(
        "quarantine::authorize_again",
        quarantine::authorize_again(w, &permissions),
        vec![(
            "ec2",
            "authorize-security-group-ingress",
            vec![
                Arg("--group-id", s(w)),
                Json("--ip-permissions", Value::Array(permissions.clone())),
            ],
        )],
        &[w],
    );
    add(
        "quarantine::instance_groups_back",
        quarantine::instance_groups_back(w, &[s(v), s("sg-2")]),
        vec![(
            "ec2",
            "modify-instance-attribute",
            vec![
                Arg("--instance-id", s(w)),
                List("--groups", vec![s(v), s("sg-2")]),
            ],
        )],
        &[w],
    );
    let one = Interface {
        id: s(v),
        device_index: 0,
        groups: vec![s(w)],
    };
    let two = Interface {
        id: s("eni-2"),
        device_index: 1,
        groups: vec![s("sg-3"), s(v)],
    };
    add(
        "quarantine::interface_groups_back",
        quarantine::interface_groups_back(&[&one, &two]),
        vec![
            (
                "ec2",
                "modify-network-interface-attribute",
                vec![
                    Arg("--network-interface-id", s(v)),
                    List("--groups", vec![s(w)]),
                ],
            ),
            (
                "ec2",
                "modify-network-interface-attribute",
                vec![
                    Arg("--network-interface-id", s("eni-2")),
                    List("--groups", vec![s("sg-3"), s(v)]),
                ],
            ),
        ],
        &[v],
    );
    add(
        "quarantine::delete_tags",
        quarantine::delete_tags(v, &[s(w), s("reflex:quarantined-at")]),
        vec![(
            "ec2",
            "delete-tags",
            vec![
                List("--resources", vec![s(v)]),
                Json(
                    "--tags",
                    json!([{"Key": w}, {"Key": "reflex:quarantined-at"}]),
                ),
            ],
        )],
        &[],
    );
    add(
        "quarantine::attach_again",
        quarantine::attach_again(v, w),
        vec![(
            "autoscaling",
            "attach-instances",
            vec![
                Arg("--auto-scaling-group-name", s(v)),
                List("--instance-ids", vec![s(w)]),
            ],
        )],
        &[v],
    );
    add(
        "quarantine::termination_protection_off",
        quarantine::termination_protection_off(v),
        vec![(
            "ec2",
            "modify-instance-attribute",
            vec![
                Arg("--instance-id", s(v)),
                Switch("--no-disable-api-termination"),
            ],
        )],
        &[v],
    );
    add(
        "quarantine::shutdown_behavior_back",
        quarantine::shutdown_behavior_back(v, w),
        vec![(
            "ec2",
            "modify-instance-attribute",
            vec![
                Arg("--instance-id", s(v)),
                Arg("--instance-initiated-shutdown-behavior", s(w)),
            ],
        )],
        &[v, w],
    );
    add(
        "quarantine::delete_snapshot",
        quarantine::delete_snapshot(v),
        vec![("ec2", "delete-snapshot", vec![Arg("--snapshot-id", s(v))])],
        &[v],
    );
    all
}

/// Characters that break a report line or hide what it says, written out here rather than taken
/// from the code under test (`report::one_line`): control characters, the Unicode line and
/// paragraph separators, zero-width characters and bidirectional controls.
fn breaks_a_line(value: &str) -> bool {
    value.chars().any(|c| {
        c.is_control()
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{2060}' | '\u{feff}' | '\u{200b}'..='\u{200f}'
                    | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            )
    })
}

/// What a report cannot show as typed, or the CLI would not take as typed: the builder must
/// refuse to print a command with it.
fn unprintable(value: &str) -> bool {
    breaks_a_line(value)
        || one_line(value) != value
        || READ_ELSEWHERE
            .iter()
            .any(|p| value.to_ascii_lowercase().starts_with(p))
}

/// Check one case; `Err` says what went wrong.
fn check(shell: &StubShell, case: &Case, sh: &str) -> Result<(), String> {
    let undo = case.undo.as_str();
    if breaks_a_line(undo) || one_line(undo) != undo {
        return Err(format!("the undo does not print on one line: {undo:?}"));
    }
    if case.scalars.iter().any(|v| unprintable(v)) {
        return match undo.starts_with("no command printed: ") && !case.undo.is_command() {
            true => Ok(()),
            false => Err(format!(
                "a command printed for a value it cannot hold: {undo:?}"
            )),
        };
    }
    if !case.undo.is_command() {
        return Err(format!("no command for printable values: {undo:?}"));
    }
    let calls = shell.try_run(sh, undo);
    if shell.pwned() {
        std::fs::remove_file(shell.marker()).ok();
        return Err(format!("shell code ran from {undo:?}"));
    }
    let calls = calls?;
    if calls.len() != case.calls.len() {
        return Err(format!(
            "{} calls, not {}: {calls:?} from {undo:?}",
            calls.len(),
            case.calls.len()
        ));
    }
    for (argv, (service, operation, wants)) in calls.iter().zip(&case.calls) {
        let call = CliCall::parse(argv)?;
        if (call.service.as_str(), call.operation.as_str()) != (*service, *operation) {
            return Err(format!(
                "called {} {}, not {service} {operation}",
                call.service, call.operation
            ));
        }
        if call.options.len() != wants.len() {
            return Err(format!("options {:?}, wanted {wants:?}", call.options));
        }
        for want in wants {
            match want {
                Want::Arg(flag, value) => {
                    let got = call.value(flag)?;
                    if got != value {
                        return Err(format!("{flag} got {got:?}, not {value:?}"));
                    }
                }
                Want::List(flag, items) => {
                    let got = call.list(flag)?;
                    if &got != items {
                        return Err(format!("{flag} got {got:?}, not {items:?}"));
                    }
                }
                Want::Json(flag, value) => {
                    let got = call.json(flag)?;
                    if &got != value {
                        return Err(format!("{flag} got {got}, not {value}"));
                    }
                }
                Want::Switch(flag) => {
                    if !call.switch(flag) {
                        return Err(format!("no switch {flag} in {call:?}"));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Pieces an attacker puts in a name or a path.
fn pieces(marker: &str) -> Vec<String> {
    [
        "'",
        "\"",
        "`",
        "\\",
        "$",
        "$(touch${IFS}M)",
        "`touch M`",
        "${IFS}",
        "$(touch M)",
        "'$(touch M)'",
        "\"$(touch M)\"",
        "';touch M;'",
        "\";touch M;\"",
        ";",
        "|",
        "&",
        "&&",
        "<",
        ">",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        "*",
        "?",
        "~",
        "#",
        "!",
        "=",
        ",",
        "%",
        "^",
        " ",
        "\t",
        "\n",
        "\r",
        "\0",
        "\u{1b}[2J",
        "\u{7f}",
        "\u{85}",
        "\u{2028}",
        "\u{202e}",
        "é",
        "日本",
        "😀",
        "\u{200b}",
        "--",
        "-",
        "--debug",
        "--profile=prod",
        "-x",
        "file://",
        "fileb://",
        "https://",
        "arn:aws:iam::123456789012:policy/",
        "/",
        ":",
        "@here",
        "a",
        "sg-0a1b",
        "i-0c7e",
        "",
    ]
    .iter()
    .map(|p| p.replace('M', marker))
    .collect()
}

/// A small, seeded generator (xorshift64*): no dependency, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn value(&mut self, pieces: &[String]) -> String {
        (0..self.below(6))
            .map(|_| pieces[self.below(pieces.len())].clone())
            .collect()
    }
}

fn run_all(values: &[(String, String, i32)], shell: &StubShell, label: &str) {
    let mut failures = Vec::new();
    let mut commands = 0;
    for (i, (v, w, n)) in values.iter().enumerate() {
        for case in cases(v, w, *n) {
            // Every case in sh; bash too for every fourth value (the shells people paste into).
            let shells: &[&str] = if i % 4 == 0 { &["sh", "bash"] } else { &["sh"] };
            for sh in shells {
                commands += 1;
                if let Err(e) = check(shell, &case, sh) {
                    failures.push(format!(
                        "{label} #{i} {} in {sh} with {v:?} / {w:?}: {e}",
                        case.name
                    ));
                }
            }
        }
    }
    assert!(commands > 100, "{commands} commands checked");
    assert!(
        failures.is_empty(),
        "{} of {commands} failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_piece_alone_reaches_its_flag_as_typed_or_gives_no_command() {
    let shell = StubShell::new();
    let marker = shell.marker().display().to_string();
    let pieces = pieces(&marker);
    let values: Vec<(String, String, i32)> = pieces
        .iter()
        .zip(pieces.iter().rev())
        .map(|(v, w)| (v.clone(), w.clone(), -1))
        .collect();
    run_all(&values, &shell, "piece");
}

#[test]
fn generated_hostile_values_reach_their_flags_as_typed_or_give_no_command() {
    let seed = std::env::var("REFLEX_UNDO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f0e5_1e55_c0de_u64);
    let shell = StubShell::new();
    let marker = shell.marker().display().to_string();
    let pieces = pieces(&marker);
    let mut rng = Rng(seed);
    let values: Vec<(String, String, i32)> = (0..60)
        .map(|_| {
            let n = rng.below(2001) as i32 - 1000;
            (rng.value(&pieces), rng.value(&pieces), n)
        })
        .collect();
    run_all(&values, &shell, &format!("seed {seed:#x}"));
}
