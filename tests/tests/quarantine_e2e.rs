//! End to end against the emulator (EC2, Auto Scaling, DynamoDB, SNS/SQS): seed a VPC with a web
//! fleet, point the sample event at what the emulator created, run the real quarantine handler,
//! then read the end state and the SNS report back.
//!
//! The emulator's instances have one network interface each; the several-interface path and a
//! step failing mid-quarantine are tested with the SDK's mocks in
//! `functions/quarantine/tests/faults.rs`.

use std::collections::BTreeSet;

use reflex_quarantine::Quarantine;
use reflex_shared::Outcome;
use reflex_shared::guard::EventSkip;
use reflex_shared::report::{ActionReport, Report, Status};
use reflex_tests::ec2::{self, FLEET, Fleet};
use reflex_tests::{Account, Emulator, outcome, sample};
use serde_json::Value;

/// A fresh emulator with the web fleet seeded.
async fn world() -> (Emulator, Account, Fleet) {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    let fleet = ec2::seed_fleet(&acct).await;
    (emulator, acct, fleet)
}

/// The sample alarm `exfil-network-out-web-1` is listed.
const ALARMS: (&str, &str) = ("REFLEX_QUARANTINE_ALARMS", ec2::LISTED_ALARM);
/// The operator's manual trigger, with the samples' key and value.
const TAG: (&str, &str) = ("REFLEX_QUARANTINE_TAG", ec2::OPERATOR_TAG);
/// No ledger: a repeated delivery reaches the executors, whose own reads make it idempotent.
const NO_LEDGER: (&str, &str) = ("REFLEX_LEDGER_TABLE", "");

/// A sample about the fleet's first instance, handled in `mode`.
async fn run(
    acct: &Account,
    fleet: &Fleet,
    file: &str,
    mode: &str,
    extra: &[(&str, &str)],
) -> Report {
    let event = ec2::for_instance(sample(&format!("quarantine/{file}")), &fleet.instance_id);
    handle(acct, event, mode, extra).await
}

async fn handle(acct: &Account, event: Value, mode: &str, extra: &[(&str, &str)]) -> Report {
    acct.handler::<Quarantine>(mode, extra)
        .await
        .handle(event)
        .await
        .expect("handled")
}

/// The actions of the report's first finding.
fn actions(report: &Report) -> &[ActionReport] {
    &report.findings[0].actions
}

fn statuses(report: &Report) -> Vec<&'static str> {
    actions(report).iter().map(|a| a.outcome.status()).collect()
}

#[tokio::test]
async fn a_guardduty_finding_quarantines_the_instance_and_the_report_says_how_to_undo_it() {
    let (_emu, acct, fleet) = world().await;
    let other = ec2::fleet_instances(&acct)
        .await
        .into_iter()
        .find(|i| *i != fleet.instance_id)
        .expect("a second instance");
    let report = run(
        &acct,
        &fleet,
        "guardduty-bitcoin-tool-high.json",
        "enforce",
        &[],
    )
    .await;

    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    ec2::assert_quarantined(&acct, &fleet).await;
    assert_eq!(
        ec2::instance_groups(&acct, &other).await,
        [fleet.web_group.clone(), fleet.ssh_group.clone()],
        "the rest of the fleet is untouched"
    );

    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1, "one report per event");
    let d = &delivered[0];
    // SNS subjects stop at 100 characters.
    assert!(
        d.subject
            .starts_with("[Reflex HIGH] Remediated: GuardDuty CryptoCurrency:EC2/BitcoinTool.B!DNS (severity 8) in 1234"),
        "{}",
        d.subject
    );
    assert_eq!(d.report.findings[0].rule_id, "quarantine.guardduty-finding");
    assert_eq!(
        statuses(&d.report),
        ["done"; 8],
        "record, isolate, detach, protection, shutdown, tag, two snapshots"
    );
    let id = &fleet.instance_id;
    let isolate = outcome(&d.report, "isolate instance");
    assert_eq!(
        isolate.undo(),
        Some(&*format!(
            "aws --region us-east-1 ec2 modify-instance-attribute --instance-id {id} --groups {} {}",
            fleet.web_group, fleet.ssh_group
        ))
    );
    assert_eq!(
        isolate.prior_state().unwrap()["created_quarantine_group"],
        true
    );
    assert_eq!(
        isolate.prior_state().unwrap()["interfaces"][0]["groups"],
        serde_json::json!([fleet.web_group, fleet.ssh_group])
    );
    assert_eq!(
        outcome(&d.report, "detach instance").undo(),
        Some(&*format!(
            "aws --region us-east-1 autoscaling attach-instances --auto-scaling-group-name {FLEET} --instance-ids {id}"
        ))
    );
    assert_eq!(
        outcome(&d.report, "turn on termination protection").undo(),
        Some(&*format!(
            "aws --region us-east-1 ec2 modify-instance-attribute --instance-id {id} --no-disable-api-termination"
        ))
    );
    assert_eq!(
        outcome(&d.report, "make a shutdown").undo(),
        Some(&*format!(
            "aws --region us-east-1 ec2 modify-instance-attribute --instance-id {id} --instance-initiated-shutdown-behavior terminate"
        ))
    );
    assert!(
        outcome(&d.report, "snapshot volume")
            .undo()
            .unwrap()
            .starts_with("aws --region us-east-1 ec2 delete-snapshot --snapshot-id snap-")
    );
}

#[tokio::test]
async fn a_listed_alarm_confirmed_by_ec2s_metric_quarantines_its_instance_and_an_unlisted_one_does_nothing()
 {
    let (_emu, acct, fleet) = world().await;
    let unlisted = run(
        &acct,
        &fleet,
        "alarm-unlisted-cpu-high.json",
        "enforce",
        &[ALARMS],
    )
    .await;
    assert_eq!(unlisted.status, Status::NothingToDo);
    assert!(ec2::quarantine_group(&acct, &fleet.vpc_id).await.is_none());
    assert!(acct.reports().await.is_empty());

    // CloudWatch's own evaluation: EC2's datapoint above the threshold, the alarm's record of
    // it. (The emulator evaluates no alarm: the state is set as CloudWatch would set it.)
    let id = &fleet.instance_id;
    let at = ec2::evaluated_period();
    ec2::put_network_out(&acct, id, at, 9.12e9).await;
    ec2::put_network_out_alarm(&acct, ec2::LISTED_ALARM, id).await;
    let event = ec2::set_alarm(
        &acct,
        ec2::LISTED_ALARM,
        id,
        "Threshold Crossed: 1 out of the last 1 datapoints was greater than the threshold (5.0E9)",
        Some(ec2::evaluation_record(at, 9.12e9)),
    )
    .await;
    let report = handle(&acct, event, "enforce", &[ALARMS]).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(report.findings[0].rule_id, "quarantine.instance-alarm");
    assert!(
        report.findings[0]
            .reason
            .contains("EC2's own metric confirms it"),
        "{}",
        report.findings[0].reason
    );
    ec2::assert_quarantined(&acct, &fleet).await;
    assert_eq!(acct.reports().await.len(), 1);
}

#[tokio::test]
async fn the_operators_quarantine_tag_quarantines_the_instance() {
    let (_emu, acct, fleet) = world().await;
    // The operator's call, as the event records it.
    ec2::put_tag(
        &acct,
        &fleet.instance_id,
        "reflex:quarantine",
        "approved-by-secops",
    )
    .await;
    let report = run(
        &acct,
        &fleet,
        "create-tags-quarantine.json",
        "enforce",
        &[TAG],
    )
    .await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(report.findings[0].rule_id, "quarantine.operator-tag");
    ec2::assert_quarantined(&acct, &fleet).await;
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].subject,
        "[Reflex HIGH] Remediated: ec2:CreateTags by alice in 123456789012"
    );
}

#[tokio::test]
async fn a_world_open_ssh_rule_is_revoked_and_every_other_rule_kept() {
    let (_emu, acct, fleet) = world().await;
    let web = &fleet.web_group;
    let event =
        ec2::replay_authorize(&fleet, sample("quarantine/authorize-ssh-to-world.json")).await;
    assert_eq!(
        ec2::group_rules(&acct, web).await,
        [
            "in tcp 22 0.0.0.0/0",
            "in tcp 22 ::/0",
            "in tcp 443 0.0.0.0/0",
            "in tcp 80 0.0.0.0/0",
            "out -1 all 0.0.0.0/0"
        ]
    );
    let report = handle(&acct, event.clone(), "enforce", &[]).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(
        ec2::group_rules(&acct, web).await,
        [
            "in tcp 443 0.0.0.0/0",
            "in tcp 80 0.0.0.0/0",
            "out -1 all 0.0.0.0/0"
        ],
        "HTTPS opened in the same call, the older HTTP rule and the egress rule stay"
    );

    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    let d = &delivered[0];
    assert_eq!(
        d.subject,
        "[Reflex HIGH] Remediated: ec2:AuthorizeSecurityGroupIngress by mallory in 123456789012"
    );
    assert_eq!(
        d.report.findings[0].rule_id,
        "quarantine.world-open-ingress"
    );
    let done = &d.report.findings[0].actions[0].outcome;
    assert_eq!(done.status(), "done");
    // Exactly the rules the call created, by the ids CloudTrail recorded.
    let recorded: Vec<&Value> =
        event["detail"]["responseElements"]["securityGroupRuleSet"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["fromPort"] == 22)
            .map(|r| &r["securityGroupRuleId"])
            .collect();
    assert_eq!(
        done.prior_state().unwrap()["rule_ids"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        recorded
    );
    // Compare the permissions as JSON: key order depends on serde_json's features in the build.
    let undo = done.undo().unwrap();
    let prefix = format!(
        "aws --region us-east-1 ec2 authorize-security-group-ingress --group-id {web} --ip-permissions '"
    );
    let permissions = undo
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix('\''))
        .unwrap_or_else(|| panic!("unexpected undo command: {undo}"));
    assert_eq!(
        serde_json::from_str::<Value>(permissions).unwrap(),
        serde_json::json!([
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
        ])
    );

    // Delivered again (no ledger): nothing left to revoke.
    let again = handle(&acct, event, "enforce", &[NO_LEDGER]).await;
    assert_eq!(statuses(&again), ["already-done"]);
}

#[tokio::test]
async fn all_traffic_opened_to_the_world_is_revoked_from_an_older_record_without_rule_ids() {
    let (_emu, acct, fleet) = world().await;
    let event = ec2::replay_authorize(
        &fleet,
        sample("quarantine/authorize-all-traffic-to-world.json"),
    )
    .await;
    assert!(
        ec2::group_rules(&acct, &fleet.web_group)
            .await
            .contains(&"in -1 all 0.0.0.0/0".to_string())
    );
    let report = handle(&acct, event, "enforce", &[]).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(
        ec2::group_rules(&acct, &fleet.web_group).await,
        ["in tcp 80 0.0.0.0/0", "out -1 all 0.0.0.0/0"]
    );
}

#[tokio::test]
async fn harmless_rules_low_findings_refused_calls_and_reflexs_own_calls_change_nothing() {
    let (_emu, acct, fleet) = world().await;
    for (file, status, guard) in [
        (
            "authorize-ssh-to-private-cidr.json",
            Status::NothingToDo,
            None,
        ),
        ("authorize-https-to-world.json", Status::NothingToDo, None),
        (
            "authorize-ssh-to-world-by-reflex.json",
            Status::Skipped,
            Some("loop-guard"),
        ),
        (
            "authorize-ssh-to-world-access-denied.json",
            Status::Skipped,
            Some("failed-call"),
        ),
    ] {
        let event = ec2::replay_authorize(&fleet, sample(&format!("quarantine/{file}"))).await;
        let report = handle(&acct, event, "enforce", &[]).await;
        assert_eq!(report.status, status, "{file}: {report:#?}");
        assert_eq!(
            report.skipped.as_ref().map(EventSkip::name),
            guard,
            "{file}: {report:#?}"
        );
    }
    assert_eq!(
        ec2::group_rules(&acct, &fleet.web_group).await,
        [
            "in tcp 22 0.0.0.0/0",
            "in tcp 22 10.0.0.0/8",
            "in tcp 443 0.0.0.0/0",
            "in tcp 443 ::/0",
            "in tcp 80 0.0.0.0/0",
            "out -1 all 0.0.0.0/0",
        ],
        "the loop guard leaves Reflex's own rule; the refused call added none"
    );
    // Each negative for its own reason: below the severity, not about an instance, not the
    // quarantine tag, and Reflex's own call (the loop guard).
    for (file, status, guard) in [
        ("guardduty-port-probe-low.json", Status::NothingToDo, None),
        ("guardduty-access-key-high.json", Status::NothingToDo, None),
        ("create-tags-name-only.json", Status::NothingToDo, None),
        (
            "create-tags-quarantine-by-reflex.json",
            Status::Skipped,
            Some("loop-guard"),
        ),
    ] {
        let report = run(&acct, &fleet, file, "enforce", &[]).await;
        assert_eq!(report.status, status, "{file}: {report:#?}");
        assert_eq!(
            report.skipped.as_ref().map(EventSkip::name),
            guard,
            "{file}: {report:#?}"
        );
    }
    assert_eq!(
        ec2::instance_groups(&acct, &fleet.instance_id).await,
        [fleet.web_group.clone(), fleet.ssh_group.clone()]
    );
    assert!(ec2::quarantine_group(&acct, &fleet.vpc_id).await.is_none());
    assert!(acct.reports().await.is_empty(), "nobody is paged");
}

#[tokio::test]
async fn the_same_event_twice_leaves_the_same_end_state_and_reports_already_done() {
    let (_emu, acct, fleet) = world().await;
    let first = run(
        &acct,
        &fleet,
        "guardduty-bitcoin-tool-high.json",
        "enforce",
        &[NO_LEDGER],
    )
    .await;
    assert_eq!(statuses(&first), ["done"; 8], "{first:#?}");
    let second = run(
        &acct,
        &fleet,
        "guardduty-bitcoin-tool-high.json",
        "enforce",
        &[NO_LEDGER],
    )
    .await;
    // Every step reads the state first. The instance is in no Auto Scaling group any more, so
    // the second plan has no detach step.
    assert_eq!(statuses(&second), ["already-done"; 7], "{second:#?}");
    assert!(
        second.findings[0]
            .reason
            .contains("was already quarantined by Reflex at")
    );
    ec2::assert_quarantined(&acct, &fleet).await;
    // Another trigger for the quarantined instance leaves it as it is, snapshots included.
    let another = run(
        &acct,
        &fleet,
        "create-tags-quarantine.json",
        "enforce",
        &[NO_LEDGER, TAG],
    )
    .await;
    assert_eq!(statuses(&another), ["already-done"; 7], "{another:#?}");
    ec2::assert_quarantined(&acct, &fleet).await;
    let groups = fleet
        .ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values("reflex-quarantine")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        groups.security_groups().len(),
        1,
        "one quarantine group per VPC"
    );

    // With the ledger, a redelivery is recognised before any step runs.
    let claimed = run(
        &acct,
        &fleet,
        "guardduty-bitcoin-tool-high.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(claimed.status, Status::Remediated);
    let redelivered = run(
        &acct,
        &fleet,
        "guardduty-bitcoin-tool-high.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(
        redelivered.status,
        Status::AlreadyHandled,
        "{redelivered:#?}"
    );
    ec2::assert_quarantined(&acct, &fleet).await;
    // One report per handled delivery: the quarantine, the two already-done runs without the
    // ledger and the first one with it; none for the redelivery the ledger recognised.
    assert_eq!(acct.reports().await.len(), 4);
}

#[tokio::test]
async fn dry_run_changes_nothing_and_reports_the_full_plan() {
    let (_emu, acct, fleet) = world().await;
    let report = run(
        &acct,
        &fleet,
        "guardduty-bitcoin-tool-high.json",
        "dry-run",
        &[],
    )
    .await;
    assert_eq!(report.status, Status::DryRun, "{report:#?}");
    assert_eq!(statuses(&report), ["would-do"; 8]);
    let id = &fleet.instance_id;
    let described: Vec<&str> = actions(&report)
        .iter()
        .map(|a| a.description.as_str())
        .collect();
    assert!(described[1].starts_with(&format!(
        "isolate instance {id}: a new quarantine group reflex-quarantine in {}",
        fleet.vpc_id
    )));
    assert!(described[2].starts_with(&format!(
        "detach instance {id} from Auto Scaling group {FLEET}"
    )));
    assert_eq!(
        described
            .iter()
            .filter(|d| d.starts_with("snapshot volume"))
            .count(),
        2
    );

    assert_eq!(
        ec2::instance_groups(&acct, id).await,
        [fleet.web_group.clone(), fleet.ssh_group.clone()]
    );
    assert!(ec2::quarantine_group(&acct, &fleet.vpc_id).await.is_none());
    assert!(!ec2::termination_protection(&acct, id).await);
    assert_eq!(ec2::shutdown_behaviour(&acct, id).await, "terminate");
    assert!(ec2::snapshots_of(&acct, id).await.is_empty());
    assert!(ec2::fleet_instances(&acct).await.contains(id));
    assert!(
        !ec2::instance_tags(&acct, id)
            .await
            .contains_key("reflex:quarantined-at")
    );

    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0].subject.contains("Dry-run (would remediate)"),
        "{}",
        delivered[0].subject
    );
}

#[tokio::test]
async fn an_instance_that_no_longer_exists_is_reported_not_an_error() {
    let (_emu, acct, _fleet) = world().await;
    let event = ec2::for_instance(
        sample("quarantine/guardduty-bitcoin-tool-high.json"),
        "i-0123456789abcdef0",
    );
    let report = handle(&acct, event, "enforce", &[]).await;
    assert_eq!(report.status, Status::NeedsAttention, "{report:#?}");
    assert!(actions(&report).is_empty());
    assert!(
        report.findings[0]
            .reason
            .contains("instance i-0123456789abcdef0 does not exist"),
        "{report:#?}"
    );
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0].subject.contains("Needs attention"),
        "{}",
        delivered[0].subject
    );
}

#[tokio::test]
async fn an_instance_with_the_exemption_tag_is_left_alone_and_a_person_is_told() {
    let (_emu, acct, fleet) = world().await;
    fleet
        .ec2
        .create_tags()
        .resources(&fleet.instance_id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("reflex:exempt")
                .value("true")
                .build(),
        )
        .send()
        .await
        .expect("tag");
    let report = run(
        &acct,
        &fleet,
        "guardduty-bitcoin-tool-high.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(report.status, Status::Exempt, "{report:#?}");
    // Every step is held back, each saying which tag on which instance did it.
    let why = format!(
        "instance {} carries the exemption tag reflex:exempt=true",
        fleet.instance_id
    );
    assert!(!actions(&report).is_empty());
    for a in actions(&report) {
        assert_eq!(a.outcome, Outcome::Exempt { why: why.clone() }, "{a:#?}");
    }
    assert_eq!(
        ec2::instance_groups(&acct, &fleet.instance_id).await,
        [fleet.web_group.clone(), fleet.ssh_group.clone()]
    );
    assert_eq!(ec2::quarantine_group(&acct, &fleet.vpc_id).await, None);
    assert!(!ec2::termination_protection(&acct, &fleet.instance_id).await);
    assert!(
        ec2::snapshots_of(&acct, &fleet.instance_id)
            .await
            .is_empty()
    );
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1, "a person is told");
    assert!(
        delivered[0].subject.contains("Exempt, not acted on"),
        "{}",
        delivered[0].subject
    );
}

#[tokio::test]
async fn malformed_events_are_refused_before_any_change() {
    let (_emu, acct, fleet) = world().await;
    for file in [
        "invalid-authorize-without-ip-permissions.json",
        "invalid-create-tags-without-resources.json",
    ] {
        let event = ec2::for_instance(sample(&format!("quarantine/{file}")), &fleet.instance_id);
        let err = acct
            .handler::<Quarantine>("enforce", &[])
            .await
            .handle(event)
            .await
            .expect_err(file);
        assert_eq!(
            err.error_type(),
            "Permanent.BadEvent.MissingField",
            "{file}"
        );
    }
    let err = acct
        .handler::<Quarantine>("enforce", &[])
        .await
        .handle(sample("revoke/attach-admin-to-user.json"))
        .await
        .expect_err("an IAM event");
    assert_eq!(err.error_type(), "Permanent.BadEvent.UnsupportedEvent");
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn a_republished_finding_does_not_redo_the_quarantine() {
    let (_emu, acct, fleet) = world().await;
    let first = run(
        &acct,
        &fleet,
        "guardduty-bitcoin-tool-high.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(first.status, Status::Remediated);
    ec2::assert_quarantined(&acct, &fleet).await;
    acct.reports().await;
    // GuardDuty's update: a new event, the same finding, seen a few times more.
    let mut event = ec2::for_instance(
        sample("quarantine/guardduty-bitcoin-tool-high.json"),
        &fleet.instance_id,
    );
    event["id"] = "0e5c8a2f-6b1d-4f3e-a7c9-2d4f6b8e0bbb".into();
    event["detail"]["service"]["count"] = 15.into();
    let again = handle(&acct, event, "enforce", &[]).await;
    assert_eq!(again.status, Status::AlreadyHandled, "{again:#?}");
    assert!(again.actions().all(|a| a.outcome.status() == "skipped"));
    assert_eq!(
        ec2::snapshots_of(&acct, &fleet.instance_id).await.len(),
        2,
        "no second set of snapshots"
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn a_namesake_group_open_to_the_world_is_stripped_before_use_and_a_tag_alone_makes_no_quarantine_group()
 {
    let (_emu, acct, fleet) = world().await;
    // Someone else's `reflex-quarantine`, open to SSH from anywhere; and the fleet's web group
    // tagged as if it were Reflex's quarantine group.
    let namesake = ec2::create_group(
        &fleet.ec2,
        &fleet.vpc_id,
        "reflex-quarantine",
        "made by someone else",
    )
    .await;
    fleet
        .ec2
        .authorize_security_group_ingress()
        .group_id(&namesake)
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .expect("open the namesake");
    ec2::put_tag(&acct, &fleet.web_group, ec2::QUARANTINE_GROUP_TAG, "true").await;
    let web_rules = ec2::group_rules(&acct, &fleet.web_group).await;

    let report = run(
        &acct,
        &fleet,
        "guardduty-bitcoin-tool-high.json",
        "enforce",
        &[],
    )
    .await;

    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(
        ec2::instance_groups(&acct, &fleet.instance_id).await,
        std::slice::from_ref(&namesake),
        "the group named reflex-quarantine is the quarantine group"
    );
    assert!(
        ec2::group_rules(&acct, &namesake).await.is_empty(),
        "nothing in or out, whoever made it"
    );
    assert_eq!(
        ec2::group_rules(&acct, &fleet.web_group).await,
        web_rules,
        "the fleet's group, only tagged, keeps every rule"
    );
}

#[tokio::test]
async fn tags_and_snapshots_set_beforehand_are_not_taken_as_reflexs_record_or_evidence() {
    let (_emu, acct, fleet) = world().await;
    let id = &fleet.instance_id;
    let eni = fleet
        .ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .expect("describe instance")
        .reservations()[0]
        .instances()[0]
        .network_interfaces()[0]
        .network_interface_id()
        .expect("an interface")
        .to_string();
    // Whoever may tag the instance: an undo that would restore a group of their choice, a
    // quarantine time, and snapshots of their own tagged with it, taken before the finding.
    let theirs = ec2::create_group(
        &fleet.ec2,
        &fleet.vpc_id,
        "open-to-all",
        "made by someone else",
    )
    .await;
    let forged_at = "2020-01-01T00:00:00Z";
    ec2::put_tag(&acct, id, &format!("reflex:previous-groups:{eni}"), &theirs).await;
    ec2::put_tag(&acct, id, "reflex:quarantined-at", forged_at).await;
    for volume in ec2::volumes_of(&acct, id).await {
        let snapshot = fleet
            .ec2
            .create_snapshot()
            .volume_id(&volume)
            .send()
            .await
            .expect("snapshot")
            .snapshot_id()
            .expect("an id")
            .to_string();
        for (key, value) in [
            ("reflex:quarantined-instance", id.as_str()),
            ("reflex:quarantined-at", forged_at),
            ("reflex:event-id", "an-earlier-event"),
        ] {
            ec2::put_tag(&acct, &snapshot, key, value).await;
        }
    }

    let report = run(
        &acct,
        &fleet,
        "guardduty-bitcoin-tool-high.json",
        "enforce",
        &[],
    )
    .await;

    assert_eq!(statuses(&report), ["done"; 8], "{report:#?}");
    assert!(
        report.findings[0].reason.contains("is not isolated"),
        "{}",
        report.findings[0].reason
    );
    let tags = ec2::instance_tags(&acct, id).await;
    assert_eq!(
        tags[&format!("reflex:previous-groups:{eni}")],
        format!("{},{}", fleet.web_group, fleet.ssh_group),
        "the record is the instance's own groups"
    );
    let recorded = outcome(&report, "record the previous security groups");
    assert_eq!(
        recorded.prior_state().unwrap()["tags"][format!("reflex:previous-groups:{eni}")],
        *theirs,
        "the replaced value is kept in the report"
    );
    let at = &tags["reflex:quarantined-at"];
    assert_ne!(at, forged_at);
    // A snapshot of each volume, taken now and tied to this quarantine.
    let ours: BTreeSet<String> = ec2::snapshots_of(&acct, id)
        .await
        .into_iter()
        .filter(|(_, t)| t.get("reflex:quarantined-at") == Some(at))
        .map(|(volume, _)| volume)
        .collect();
    let volumes: BTreeSet<String> = ec2::volumes_of(&acct, id).await.into_iter().collect();
    assert_eq!(ours, volumes);
}
