//! The attacker's playbook against quarantine, end to end against the emulator: someone inside
//! the account, with a few EC2 and CloudWatch permissions, tries to make Reflex isolate an
//! instance of their choosing, or to open a sensitive port to the internet without Reflex
//! closing it, or to keep a connection open through an isolation. Each test is one move of the
//! playbook; each failed on the code before this change (issue #12) and must pass now.
//!
//! - `ec2:CreateTags` with the quarantine tag's key and any value isolated any instance.
//! - `cloudwatch:PutMetricAlarm` plus `SetAlarmState` on an alarm named like a listed one
//!   isolated any instance.
//! - `0.0.0.0/1` and `128.0.0.0/1` (or many smaller blocks, over several calls) opened SSH to the
//!   whole internet and passed: only `/0` counted as the world.
//! - Isolation switched the instance straight to a group without rules, which leaves the
//!   connections EC2 already tracks (an SSH session, a C2 channel) open.
//! - Then the all-traffic group isolation passes through stayed open between quarantines (anyone
//!   allowed to change an instance's groups could put theirs in it and have every port open),
//!   and a `reflex-untracked` someone else made, their instance in it, was tagged and opened.

use std::path::PathBuf;

use reflex_quarantine::Quarantine;
use reflex_quarantine::exposure::{self, Block, Family};
use reflex_quarantine::settings::{self, Settings};
use reflex_shared::config::from_pairs;
use reflex_shared::report::{Report, Status};
use reflex_tests::ec2::{self, Fleet};
use reflex_tests::pattern::Pattern;
use reflex_tests::policy::Deployment;
use reflex_tests::proxy::{Fault, FaultProxy};
use reflex_tests::render::render;
use reflex_tests::{Account, Emulator, outcome, sample};
use serde_json::Value;

/// Attempts the SDK makes per call: a fault this many times in a row outlasts its retries.
const ATTEMPTS: usize = reflex_testkit::MAX_ATTEMPTS as usize;

async fn world() -> (Emulator, Account, Fleet) {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    let fleet = ec2::seed_fleet(&acct).await;
    (emulator, acct, fleet)
}

async fn handle(acct: &Account, event: Value, extra: &[(&str, &str)]) -> Report {
    acct.handler::<Quarantine>("enforce", extra)
        .await
        .handle(event)
        .await
        .expect("handled")
}

/// The fleet's instance is as it was: in its own groups, no quarantine group anywhere.
async fn untouched(acct: &Account, fleet: &Fleet) {
    assert_eq!(
        ec2::instance_groups(acct, &fleet.instance_id).await,
        [fleet.web_group.clone(), fleet.ssh_group.clone()],
        "the instance keeps its groups"
    );
    assert!(ec2::quarantine_group(acct, &fleet.vpc_id).await.is_none());
    assert!(!ec2::termination_protection(acct, &fleet.instance_id).await);
}

fn template(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../infra")
        .join(name)
}

/// The quarantine function's environment as the central stack deploys it with `parameters`.
fn deployed_env(parameters: &[(&str, &str)]) -> serde_json::Map<String, Value> {
    let stack = render(&template("template.yaml"), parameters).expect("the template renders");
    stack["Resources"]["QuarantineFunction"]["Properties"]["Environment"]["Variables"]
        .as_object()
        .cloned()
        .expect("the function's variables")
}

// ---- the quarantine tag, with any value ----

#[tokio::test]
async fn tagging_an_instance_with_the_quarantine_key_and_a_guessed_value_isolates_nothing() {
    let (_emu, acct, fleet) = world().await;
    let id = &fleet.instance_id;
    // Mallory, allowed ec2:CreateTags, tags a production instance with the key everyone reads
    // in the README and the value anyone would guess.
    ec2::put_tag(&acct, id, "reflex:quarantine", "true").await;
    let guessed = ec2::for_instance(
        sample("quarantine/create-tags-quarantine-wrong-value.json"),
        id,
    );

    // As the stack deploys it by default: the manual trigger is off.
    let defaults = deployed_env(&[]);
    let tag = defaults["REFLEX_QUARANTINE_TAG"]
        .as_str()
        .expect("a string");
    let report = handle(&acct, guessed.clone(), &[("REFLEX_QUARANTINE_TAG", tag)]).await;
    assert_eq!(report.status, Status::NothingToDo, "{report:#?}");
    untouched(&acct, &fleet).await;

    // Turned on, with the operators' value: a guessed value, or the right one on a volume,
    // still does nothing.
    let on_a_volume = sample("quarantine/create-tags-quarantine-on-a-volume.json");
    for event in [guessed, on_a_volume] {
        let report = handle(
            &acct,
            event,
            &[("REFLEX_QUARANTINE_TAG", ec2::OPERATOR_TAG)],
        )
        .await;
        assert_eq!(report.status, Status::NothingToDo, "{report:#?}");
    }
    untouched(&acct, &fleet).await;
    assert!(acct.reports().await.is_empty(), "nobody is paged");

    // The operators' own tag, as a control: it isolates.
    let asked = ec2::for_instance(sample("quarantine/create-tags-quarantine.json"), id);
    let report = handle(
        &acct,
        asked,
        &[("REFLEX_QUARANTINE_TAG", ec2::OPERATOR_TAG)],
    )
    .await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    ec2::assert_quarantined(&acct, &fleet).await;
}

#[test]
fn the_operator_tag_rule_is_off_by_default_and_matches_its_key_and_value_on_instances_only() {
    let rule = |stack: &Value| -> (String, Pattern) {
        let rule = &stack["Resources"]["QuarantineFunctionOperatorTag"]["Properties"];
        let pattern = Pattern::parse(&rule["EventPattern"]).expect("a pattern");
        (
            rule["State"].as_str().unwrap_or_default().to_string(),
            pattern,
        )
    };
    let defaults = render(&template("template.yaml"), &[]).expect("renders");
    assert_eq!(rule(&defaults).0, "DISABLED");
    assert_eq!(deployed_env(&[])["REFLEX_QUARANTINE_TAG"], "");
    // A key alone is refused at cold start, should anyone set the variable so by hand.
    let err = Settings::from_env(&from_pairs(&[(settings::TRIGGER_TAG, "reflex:quarantine")]))
        .expect_err("a key alone");
    assert!(err.to_string().contains("has no value"), "{err}");

    let value = [("QuarantineTagValue", "approved-by-secops")];
    let on = render(&template("template.yaml"), &value).expect("renders");
    let (state, pattern) = rule(&on);
    assert_eq!(state, "ENABLED");
    // `key=value`, from the two parameters, as deployed: the samples' tag, which the function
    // takes at cold start.
    let deployed = Deployment::of(&template("template.yaml"), &value).expect("renders");
    let tag = deployed
        .text(&deployed_env(&value)["REFLEX_QUARANTINE_TAG"])
        .expect("a deployed value");
    assert_eq!(tag, ec2::OPERATOR_TAG);
    let settings = Settings::from_env(&from_pairs(&[(settings::TRIGGER_TAG, tag.as_str())]))
        .expect("the deployed tag is accepted at cold start");
    assert!(
        settings
            .trigger_tag
            .is_some_and(|t| t.matches("reflex:quarantine", "approved-by-secops"))
    );
    // The member accounts forward exactly what the central rule takes.
    let member = render(
        &template("member.yaml"),
        &[("CentralAccountId", "111111111111"), value[0]],
    )
    .expect("renders");
    let forward =
        Pattern::parse(&member["Resources"]["ForwardApiCalls"]["Properties"]["EventPattern"])
            .expect("a pattern");
    for (file, reaches) in [
        ("create-tags-quarantine.json", true),
        ("create-tags-quarantine-wrong-value.json", false),
        ("create-tags-quarantine-on-a-volume.json", false),
        ("create-tags-name-only.json", false),
    ] {
        let event = sample(&format!("quarantine/{file}"));
        assert_eq!(pattern.matches(&event), reaches, "{file}: the central rule");
        assert_eq!(
            forward.matches(&event),
            reaches,
            "{file}: the member's forwarding"
        );
    }
}

// ---- an alarm forged with PutMetricAlarm and SetAlarmState ----

#[tokio::test]
async fn an_alarm_forged_with_put_metric_alarm_and_set_alarm_state_isolates_nothing() {
    let (_emu, acct, fleet) = world().await;
    let id = &fleet.instance_id;
    let listed = [("REFLEX_QUARANTINE_ALARMS", ec2::LISTED_ALARM)];
    // Mallory, allowed cloudwatch:PutMetricAlarm and SetAlarmState, makes (or redefines) the
    // listed alarm on the instance she wants isolated and sets it to ALARM by hand.
    ec2::put_network_out_alarm(&acct, ec2::LISTED_ALARM, id).await;
    let by_hand = ec2::set_alarm(&acct, ec2::LISTED_ALARM, id, "exfiltration!", None).await;
    let report = handle(&acct, by_hand, &listed).await;
    assert_eq!(report.status, Status::NeedsAttention, "{report:#?}");
    assert!(report.actions().next().is_none(), "{report:#?}");
    let reason = &report.findings[0].reason;
    assert!(
        reason.contains("not quarantined") && reason.contains("set with cloudwatch:SetAlarmState"),
        "{reason}"
    );
    untouched(&acct, &fleet).await;

    // Then with a record written like CloudWatch's (SetAlarmState's StateReasonData), claiming
    // a datapoint EC2's metric does not have.
    let mut forged = ec2::set_alarm(
        &acct,
        ec2::LISTED_ALARM,
        id,
        "Threshold Crossed: 1 out of the last 1 datapoints was greater than the threshold (5.0E9)",
        Some(ec2::evaluation_record(ec2::evaluated_period(), 9.12e9)),
    )
    .await;
    forged["id"] = "7b3e9c1a-4d6f-4a2b-9e8c-0f2a4c6e8b10".into();
    let report = handle(&acct, forged, &listed).await;
    assert_eq!(report.status, Status::NeedsAttention, "{report:#?}");
    assert!(
        report.findings[0].reason.contains("a made-up record"),
        "{}",
        report.findings[0].reason
    );
    untouched(&acct, &fleet).await;

    // A person hears of both, with what to look at.
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 2);
    assert!(
        delivered
            .iter()
            .all(|d| d.subject.contains("Needs attention")),
        "{:?}",
        delivered.iter().map(|d| &d.subject).collect::<Vec<_>>()
    );

    // And a prefix, which would let her name a new alarm to match, is refused at cold start.
    let err =
        Settings::from_env(&from_pairs(&[(settings::ALARMS, "exfil-*")])).expect_err("a prefix");
    assert!(err.to_string().contains("exact alarm names"), "{err}");
}

// ---- world-open is more than /0 ----

/// The sample `AuthorizeSecurityGroupIngress` of SSH from `cidr`, made on the fleet's web
/// group (as event `n`).
async fn open_ssh(fleet: &Fleet, cidr: &str, n: u32) -> Value {
    let mut event = sample("quarantine/authorize-ssh-to-upper-half-of-the-internet.json");
    event["id"] = format!("3f1e5c7a-9b2d-4e6f-8a0c-2e4f6a8c1{n:03}").into();
    event["detail"]["requestParameters"]["ipPermissions"]["items"][0]["ipRanges"]["items"][0]["cidrIp"] =
        cidr.into();
    event["detail"]["responseElements"]["securityGroupRuleSet"]["items"][0]["cidrIpv4"] =
        cidr.into();
    ec2::replay_authorize(fleet, event).await
}

/// The SSH rules of the web group: one line each, as `ec2::group_rules` writes them.
async fn ssh_rules(acct: &Account, fleet: &Fleet) -> Vec<String> {
    ec2::group_rules(acct, &fleet.web_group)
        .await
        .into_iter()
        .filter(|r| r.starts_with("in tcp 22 "))
        .collect()
}

#[tokio::test]
async fn ssh_opened_to_two_halves_of_the_internet_in_two_calls_is_revoked_whole() {
    let (_emu, acct, fleet) = world().await;
    // Two calls, before Reflex acts on the first: the second's event is the one delivered.
    let _first = ec2::replay_authorize(
        &fleet,
        sample("quarantine/authorize-ssh-to-lower-half-of-the-internet.json"),
    )
    .await;
    let second = ec2::replay_authorize(
        &fleet,
        sample("quarantine/authorize-ssh-to-upper-half-of-the-internet.json"),
    )
    .await;
    assert_eq!(
        ssh_rules(&acct, &fleet).await,
        ["in tcp 22 0.0.0.0/1", "in tcp 22 128.0.0.0/1"]
    );
    let report = handle(&acct, second, &[]).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert!(
        ssh_rules(&acct, &fleet).await.is_empty(),
        "both halves revoked"
    );
    assert_eq!(
        ec2::group_rules(&acct, &fleet.web_group).await,
        ["in tcp 80 0.0.0.0/0", "out -1 all 0.0.0.0/0"],
        "the group's other rules stay"
    );
    let reason = &report.findings[0].reason;
    assert!(
        reason.contains("0.0.0.0/1 (already there), 128.0.0.0/1: 100% of the public IPv4 space"),
        "{reason}"
    );
    // The report says what was revoked and how to put it back.
    let revoked = outcome(&report, "revoke");
    let undo = revoked.undo().expect("an undo command");
    assert!(
        undo.contains("0.0.0.0/1") && undo.contains("128.0.0.0/1"),
        "{undo}"
    );
}

#[tokio::test]
async fn ssh_opened_to_many_small_blocks_across_calls_is_cut_back_below_the_share() {
    let (_emu, acct, fleet) = world().await;
    // Four /10s, one per call, each below the share (1/256 of the public space): together a
    // whole public /8.
    let blocks = [
        "20.0.0.0/10",
        "20.64.0.0/10",
        "20.128.0.0/10",
        "20.192.0.0/10",
    ];
    let mut last = None;
    for (n, cidr) in blocks.iter().enumerate() {
        let event = open_ssh(&fleet, cidr, n as u32).await;
        let report = handle(&acct, event, &[]).await;
        last = Some(report);
        if n < blocks.len() - 1 {
            let report = last.as_ref().unwrap();
            assert_eq!(report.status, Status::NothingToDo, "{cidr}: {report:#?}");
        }
    }
    let report = last.unwrap();
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    // Equal blocks: the call's own goes first, and one is enough.
    let left = ssh_rules(&acct, &fleet).await;
    assert_eq!(
        left,
        [
            "in tcp 22 20.0.0.0/10",
            "in tcp 22 20.128.0.0/10",
            "in tcp 22 20.64.0.0/10"
        ],
        "only the call that reached the share is revoked"
    );
    assert_eq!(
        ec2::group_rules(&acct, &fleet.web_group)
            .await
            .into_iter()
            .filter(|r| !r.starts_with("in tcp 22 "))
            .collect::<Vec<_>>(),
        ["in tcp 80 0.0.0.0/0", "out -1 all 0.0.0.0/0"],
        "the group's other rules stay"
    );
    let share = exposure::public_share(
        Family::V4,
        left.iter()
            .filter_map(|r| Block::parse(r.rsplit(' ').next().unwrap_or_default())),
    );
    assert!(
        share < 1.0 / 256.0,
        "what is left lets in less than the default share, 1/256: {share} ({left:?})"
    );
}

// ---- isolation cuts the connections EC2 already tracks ----

/// The groups each `ModifyInstanceAttribute` call that set groups asked for, in order.
fn group_moves(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .requests("ec2:ModifyInstanceAttribute")
        .iter()
        .filter_map(|r| {
            r.body
                .split('&')
                .find_map(|p| p.strip_prefix("GroupId.1="))
                .map(String::from)
        })
        .collect()
}

#[tokio::test]
async fn isolation_goes_through_the_untracked_connections_group_first() {
    let (emulator, acct, fleet) = world().await;
    let proxy = FaultProxy::start(&emulator.endpoint);
    let event = ec2::for_instance(
        sample("quarantine/guardduty-bitcoin-tool-high.json"),
        &fleet.instance_id,
    );
    let report = acct
        .handler_via::<Quarantine>(&proxy, "enforce", &[])
        .await
        .handle(event)
        .await
        .expect("handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    let untracked = ec2::untracked_group(&acct, &fleet.vpc_id)
        .await
        .expect("the untracked-connections group");
    let quarantine = ec2::quarantine_group(&acct, &fleet.vpc_id)
        .await
        .expect("the quarantine group");
    assert_eq!(
        group_moves(&proxy),
        [untracked.clone(), quarantine],
        "first all traffic (connections untracked), then none (cut)"
    );
    // In the end, isolation only: the instance is in the quarantine group alone, and the
    // all-traffic group is closed again (`assert_quarantined` reads its rules back).
    ec2::assert_quarantined(&acct, &fleet).await;
    let isolated = outcome(&report, "isolate instance");
    let detail = isolated.explanation().unwrap_or_default();
    assert!(
        detail.contains(&format!(
            "connections made untracked (untracked-connections group {untracked}"
        )) && detail.contains("then isolated")
            && detail.contains(&format!(
                "untracked-connections group {untracked} closed again (no rules)"
            )),
        "{detail}"
    );
    // Closed after the moves, not only at some later point.
    let revoked: Vec<Option<String>> = proxy
        .requests("ec2:RevokeSecurityGroupIngress")
        .iter()
        .map(|r| r.param("GroupId"))
        .collect();
    assert_eq!(
        revoked,
        [Some(untracked)],
        "its rules revoked once, after the moves"
    );
}

#[tokio::test]
async fn a_reflex_untracked_group_made_by_someone_else_with_their_instance_in_it_is_never_opened() {
    let (_emu, acct, fleet) = world().await;
    // Mallory makes the group Reflex would use and puts her own instance in it.
    let theirs = ec2::create_group(
        &fleet.ec2,
        &fleet.vpc_id,
        ec2::UNTRACKED_GROUP_NAME,
        "looks like Reflex's",
    )
    .await;
    let mallorys = ec2::launch_in(&acct, &fleet, &theirs).await;
    let rules = ec2::group_rules(&acct, &theirs).await;
    let quarantine = |instance: String, n: u32| {
        let mut event = ec2::for_instance(
            sample("quarantine/guardduty-bitcoin-tool-high.json"),
            &instance,
        );
        // Another finding, not GuardDuty's update of the first.
        event["id"] = format!("0e5c8a2f-6b1d-4f3e-a7c9-2d4f6b8e0{n:03}").into();
        event["detail"]["id"] = format!("6ac6a1d1e5f34b8a9c0d2e4f6a8b0{n:03}").into();
        event
    };

    // Without Reflex's tag: someone else's group, neither tagged nor opened.
    let report = handle(&acct, quarantine(fleet.instance_id.clone(), 1), &[]).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    let detail = outcome(&report, "isolate instance")
        .explanation()
        .unwrap_or_default()
        .to_string();
    assert!(
        detail.contains("but does not carry Reflex's tag")
            && detail.contains("isolated without making connections untracked first"),
        "{detail}"
    );
    assert_eq!(
        ec2::group_rules(&acct, &theirs).await,
        rules,
        "never opened"
    );
    assert!(
        !ec2::tags_of(&acct, &theirs)
            .await
            .contains_key(ec2::UNTRACKED_GROUP_TAG),
        "never tagged by Reflex"
    );
    let q = ec2::quarantine_group(&acct, &fleet.vpc_id)
        .await
        .expect("the quarantine group");
    assert_eq!(
        ec2::instance_groups(&acct, &fleet.instance_id).await,
        std::slice::from_ref(&q),
        "isolated all the same"
    );

    // With the tag, which anyone may put: her instance's interface in it still keeps it shut.
    ec2::put_tag(&acct, &theirs, ec2::UNTRACKED_GROUP_TAG, "true").await;
    let other = ec2::fleet_instances(&acct)
        .await
        .into_iter()
        .find(|i| *i != fleet.instance_id)
        .expect("a second instance");
    let report = handle(&acct, quarantine(other.clone(), 2), &[]).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    let detail = outcome(&report, "isolate instance")
        .explanation()
        .unwrap_or_default()
        .to_string();
    assert!(
        detail.contains("holds network interfaces of others")
            && detail.contains(&format!("(instance {mallorys})")),
        "{detail}"
    );
    assert_eq!(
        ec2::group_rules(&acct, &theirs).await,
        rules,
        "never opened"
    );
    assert_eq!(ec2::instance_groups(&acct, &other).await, [q]);
}

#[tokio::test]
async fn a_second_move_that_fails_for_now_puts_the_instance_back_until_the_retry_isolates_it() {
    let (emulator, acct, fleet) = world().await;
    let proxy = FaultProxy::start(&emulator.endpoint);
    let event = ec2::for_instance(
        sample("quarantine/guardduty-bitcoin-tool-high.json"),
        &fleet.instance_id,
    );
    // The move into the untracked group passes; the move out of it fails for now, past the
    // SDK's retries: the delivery fails and Lambda will retry it.
    proxy.fail_after("ec2:ModifyInstanceAttribute", 1, Fault::Throttle, ATTEMPTS);
    let handler = acct.handler_via::<Quarantine>(&proxy, "enforce", &[]).await;
    let err = handler
        .handle(event.clone())
        .await
        .expect_err("interrupted");
    assert_eq!(err.error_type(), "Transient.Interrupted", "{err}");
    // Meanwhile (a minute or more, and the retry may find a guard in its way) the instance does
    // not wait in a group that lets all traffic in: it is back in its own groups, and that group
    // is closed again.
    assert_eq!(
        ec2::instance_groups(&acct, &fleet.instance_id).await,
        [fleet.web_group.clone(), fleet.ssh_group.clone()],
        "put back"
    );
    let untracked = ec2::untracked_group(&acct, &fleet.vpc_id)
        .await
        .expect("the untracked-connections group");
    assert!(ec2::group_rules(&acct, &untracked).await.is_empty());

    // Lambda's retry makes both moves again.
    let report = handler.handle(event).await.expect("handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    ec2::assert_quarantined(&acct, &fleet).await;
    let isolated = outcome(&report, "isolate instance");
    assert_eq!(
        isolated.undo(),
        Some(&*format!(
            "aws --region us-east-1 ec2 modify-instance-attribute --instance-id {} --groups {} {}",
            fleet.instance_id, fleet.web_group, fleet.ssh_group
        ))
    );
    assert_eq!(
        group_moves(&proxy)[5..],
        [
            untracked,
            ec2::quarantine_group(&acct, &fleet.vpc_id).await.unwrap()
        ],
        "the retry's two moves"
    );
    assert_eq!(acct.reports().await.len(), 1, "one report");
}

/// While an isolation holds the untracked group open, mallory puts her own instance in it, to
/// keep every port of hers open once Reflex is done. The group cannot be closed with her
/// interface in it: the isolation is not reported done, the delivery fails for now, and Lambda's
/// retry closes the group once she is out (a person is paged if she never leaves).
#[tokio::test]
async fn an_instance_slipped_into_the_open_untracked_group_keeps_the_isolation_unfinished() {
    let (emulator, acct, fleet) = world().await;
    let proxy = FaultProxy::start(&emulator.endpoint);
    let event = ec2::for_instance(
        sample("quarantine/guardduty-bitcoin-tool-high.json"),
        &fleet.instance_id,
    );
    // The second move (out of the untracked group, into quarantine) waits.
    let held = proxy.hold("ec2:ModifyInstanceAttribute", 2);
    let handler = acct.handler_via::<Quarantine>(&proxy, "enforce", &[]).await;
    let run = {
        let event = event.clone();
        tokio::spawn(async move {
            let result = handler.handle(event).await;
            (handler, result)
        })
    };
    let waiting = held.clone();
    let wait = std::time::Duration::from_secs(30);
    assert!(
        tokio::task::spawn_blocking(move || waiting.wait_arrived(wait))
            .await
            .unwrap()
    );
    let untracked = ec2::untracked_group(&acct, &fleet.vpc_id)
        .await
        .expect("the untracked-connections group");
    assert!(
        !ec2::group_rules(&acct, &untracked).await.is_empty(),
        "open now"
    );
    let mallorys = ec2::launch_in(&acct, &fleet, &untracked).await;
    held.release();
    let (handler, result) = run.await.unwrap();
    let err = result.expect_err("not done while the group lets everything in");
    assert!(err.is_transient(), "Lambda retries it: {err}");
    assert!(
        err.to_string().contains(&format!(
            "untracked-connections group {untracked} could not be closed again"
        )),
        "{err}"
    );
    assert!(
        !ec2::group_rules(&acct, &untracked).await.is_empty(),
        "not stripped with her interface in it (that would only hide the problem)"
    );

    // She is taken out; Lambda's retry closes the group.
    let hers = fleet
        .ec2
        .describe_instances()
        .instance_ids(&mallorys)
        .send()
        .await
        .expect("her instance")
        .reservations()[0]
        .instances()[0]
        .network_interfaces()[0]
        .network_interface_id()
        .expect("her interface")
        .to_string();
    fleet
        .ec2
        .modify_network_interface_attribute()
        .network_interface_id(&hers)
        .groups(&fleet.web_group)
        .send()
        .await
        .expect("move her interface out");
    proxy.clear();
    let report = handler.handle(event).await.expect("the retry is handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    ec2::assert_quarantined(&acct, &fleet).await;
}
