//! End to end against the emulator: a security group opened through every API form, each call
//! really made in the emulator as the sample event records it (the older single-rule form sent
//! as such, a real prefix list, a rule really edited with `ModifySecurityGroupRules`), then the
//! real quarantine handler, then the group's rules read back.
//!
//! moto 5.2's `ModifySecurityGroupRules` changes an IPv4 CIDR rule only (not IPv6, prefix-list
//! or group sources): the edits here are of IPv4 rules.

use reflex_quarantine::Quarantine;
use reflex_shared::report::{Report, Status};
use reflex_tests::ec2::{self, Fleet};
use reflex_tests::{Account, Emulator, sample};
use serde_json::{Value, json};

/// No ledger: a repeated delivery reaches the executors, whose own reads make it idempotent.
const NO_LEDGER: (&str, &str) = ("REFLEX_LEDGER_TABLE", "");

/// The `web` group's rules as seeded: HTTP from anywhere, and the default egress rule.
const SEEDED: [&str; 2] = ["in tcp 80 0.0.0.0/0", "out -1 all 0.0.0.0/0"];

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

/// The sample's call made in the emulator on the fleet's `web` group; the event naming it.
async fn replayed(fleet: &Fleet, file: &str) -> Value {
    ec2::replay_authorize(fleet, sample(&format!("quarantine/{file}"))).await
}

fn statuses(report: &Report) -> Vec<&'static str> {
    report
        .findings
        .iter()
        .flat_map(|f| f.actions.iter().map(|a| a.outcome.status()))
        .collect()
}

/// The permissions of the undo command of the first action, as JSON.
fn undo_permissions(report: &Report, group: &str) -> Value {
    let undo = report.findings[0].actions[0].outcome.undo().expect("undo");
    let prefix = format!(
        "aws --region us-east-1 ec2 authorize-security-group-ingress --group-id {group} --ip-permissions '"
    );
    let permissions = undo
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix('\''))
        .unwrap_or_else(|| panic!("unexpected undo command: {undo}"));
    serde_json::from_str(permissions).expect("JSON permissions")
}

fn with_seeded(extra: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = SEEDED.iter().chain(extra).map(|s| s.to_string()).collect();
    all.sort();
    all
}

#[tokio::test]
async fn ssh_opened_to_the_world_in_the_older_form_is_closed_and_a_redelivery_changes_nothing() {
    let (_emu, acct, fleet) = world().await;
    let web = &fleet.web_group;
    let event = replayed(&fleet, "authorize-old-form-ssh-to-world.json").await;
    assert_eq!(
        event["detail"]["requestParameters"]["ipPermissions"],
        json!({}),
        "the older form, as CloudTrail records it"
    );
    assert_eq!(
        ec2::group_rules(&acct, web).await,
        with_seeded(&["in tcp 22 0.0.0.0/0"]),
        "the call really opened SSH"
    );

    let report = handle(&acct, event.clone(), &[]).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(report.findings[0].rule_id, "quarantine.world-open-ingress");
    assert_eq!(ec2::group_rules(&acct, web).await, with_seeded(&[]));
    let done = &report.findings[0].actions[0].outcome;
    assert_eq!(
        done.prior_state().unwrap()["rule_ids"],
        json!([
            event["detail"]["responseElements"]["securityGroupRuleSet"]["items"][0]["securityGroupRuleId"]
        ])
    );
    assert_eq!(
        undo_permissions(&report, web),
        json!([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    );
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1, "a person is told");

    let again = handle(&acct, event, &[NO_LEDGER]).await;
    assert_eq!(statuses(&again), ["already-done"], "{again:#?}");
    assert_eq!(ec2::group_rules(&acct, web).await, with_seeded(&[]));
}

#[tokio::test]
async fn the_older_form_to_a_private_network_and_ssh_to_every_ipv6_address_are_told_apart() {
    let (_emu, acct, fleet) = world().await;
    let web = &fleet.web_group;
    let private = replayed(&fleet, "authorize-old-form-ssh-to-private-cidr.json").await;
    let report = handle(&acct, private, &[]).await;
    assert_eq!(report.status, Status::NothingToDo, "{report:#?}");
    assert!(acct.reports().await.is_empty(), "nobody is paged");

    let v6 = replayed(&fleet, "authorize-ssh-to-world-ipv6-only.json").await;
    assert!(
        ec2::group_rules(&acct, web)
            .await
            .contains(&"in tcp 22 ::/0".to_string())
    );
    let report = handle(&acct, v6, &[]).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(
        ec2::group_rules(&acct, web).await,
        with_seeded(&["in tcp 22 10.20.0.0/16"]),
        "the IPv6 rule is gone; the private one stays"
    );
}

#[tokio::test]
async fn a_rule_from_a_prefix_list_holding_the_world_is_revoked_and_one_from_an_office_list_is_not()
{
    let (_emu, acct, fleet) = world().await;
    let web = &fleet.web_group;
    // The replay makes the list the sample names, holding 198.51.100.0/24 and 0.0.0.0/0.
    let event = replayed(&fleet, "authorize-ssh-to-prefix-list.json").await;
    let list =
        event["detail"]["requestParameters"]["ipPermissions"]["items"][0]["prefixListIds"]["items"]
            [0]["prefixListId"]
            .as_str()
            .unwrap()
            .to_string();
    assert_ne!(list, ec2::SAMPLE_PREFIX_LIST);
    assert_eq!(
        ec2::group_rules(&acct, web).await,
        with_seeded(&[&format!("in tcp 22 {list}")])
    );
    let report = handle(&acct, event.clone(), &[]).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    let reason = &report.findings[0].reason;
    assert!(
        reason.contains(&format!("tcp 22 (SSH) from prefix list {list}")),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("{list} holds 198.51.100.0/24, 0.0.0.0/0")),
        "{reason}"
    );
    assert_eq!(ec2::group_rules(&acct, web).await, with_seeded(&[]));
    assert_eq!(
        undo_permissions(&report, web),
        json!([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                "PrefixListIds": [{"PrefixListId": list, "Description": "partners"}]}])
    );
    let again = handle(&acct, event, &[NO_LEDGER]).await;
    assert_eq!(statuses(&again), ["already-done"], "{again:#?}");

    // The same call naming a list of offices, or one AWS manages (a service's ranges): kept.
    let office = ec2::prefix_list(&fleet.ec2, "offices", &["198.51.100.0/24", "10.0.0.0/8"]).await;
    let aws = aws_managed_list(&fleet).await;
    for list in [&office, &aws] {
        let text = sample("quarantine/authorize-ssh-to-prefix-list.json")
            .to_string()
            .replace(ec2::SAMPLE_PREFIX_LIST, list);
        let event = ec2::replay_authorize(&fleet, serde_json::from_str(&text).unwrap()).await;
        let report = handle(&acct, event, &[]).await;
        assert_eq!(report.status, Status::NothingToDo, "{list}: {report:#?}");
    }
    assert_eq!(
        ec2::group_rules(&acct, web).await,
        with_seeded(&[&format!("in tcp 22 {aws}"), &format!("in tcp 22 {office}")])
    );
}

/// A prefix list AWS manages (owner `AWS`, `com.amazonaws.*`), as the emulator lists it.
async fn aws_managed_list(fleet: &Fleet) -> String {
    let lists = fleet
        .ec2
        .describe_managed_prefix_lists()
        .send()
        .await
        .expect("describe prefix lists");
    lists
        .prefix_lists()
        .iter()
        .find(|l| {
            l.owner_id() == Some("AWS")
                && l.prefix_list_name()
                    .is_some_and(|n| n.starts_with("com.amazonaws.") && n.ends_with(".s3"))
        })
        .and_then(|l| l.prefix_list_id())
        .expect("the emulator's S3 prefix list")
        .to_string()
}

/// The replayed event's modified rule id.
fn modified_rule(event: &Value) -> String {
    event["detail"]["requestParameters"]["ModifySecurityGroupRulesRequest"]["SecurityGroupRule"]
        ["SecurityGroupRuleId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_rule_widened_to_the_world_by_modify_security_group_rules_is_revoked_as_it_now_stands() {
    let (_emu, acct, fleet) = world().await;
    let web = &fleet.web_group;
    let event = replayed(&fleet, "modify-security-group-rule-ssh-to-world.json").await;
    let rule = modified_rule(&event);
    assert_eq!(
        ec2::group_rules(&acct, web).await,
        with_seeded(&["in tcp 22 0.0.0.0/0"]),
        "the office rule really edited to the world"
    );
    let report = handle(&acct, event.clone(), &[]).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    let f = &report.findings[0];
    assert_eq!(f.rule_id, "quarantine.world-open-ingress");
    assert!(
        f.reason.starts_with(&format!(
            "rule {rule} of security group {web} was changed to let the internet in: tcp 22 (SSH) from 0.0.0.0/0"
        )),
        "{}",
        f.reason
    );
    assert_eq!(ec2::group_rules(&acct, web).await, with_seeded(&[]));
    let done = &f.actions[0].outcome;
    assert_eq!(done.status(), "done");
    assert_eq!(done.prior_state().unwrap()["rule_ids"], json!([rule]));
    assert_eq!(
        undo_permissions(&report, web),
        json!([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    );

    // Delivered again: the rule is gone, nothing is judged or touched.
    let again = handle(&acct, event, &[NO_LEDGER]).await;
    assert_eq!(again.status, Status::NothingToDo, "{again:#?}");
    assert_eq!(ec2::group_rules(&acct, web).await, with_seeded(&[]));
}

#[tokio::test]
async fn a_stale_modify_event_a_private_one_and_an_egress_rules_change_leave_every_rule() {
    let (_emu, acct, fleet) = world().await;
    let web = &fleet.web_group;
    // Edited to a private network: nothing to do.
    let private = replayed(
        &fleet,
        "modify-security-group-rule-ssh-to-private-cidr.json",
    )
    .await;
    let report = handle(&acct, private, &[]).await;
    assert_eq!(report.status, Status::NothingToDo, "{report:#?}");

    // Widened to the world, then put back to the office before the event arrives: the event is
    // stale, and the rule as it now stands is not the world.
    let stale = replayed(&fleet, "modify-security-group-rule-ssh-to-world.json").await;
    let rule = modified_rule(&stale);
    ec2::modify_rule(&fleet.ec2, web, &rule, ec2::RULE_BEFORE_MODIFY).await;
    let report = handle(&acct, stale, &[]).await;
    assert_eq!(report.status, Status::NothingToDo, "{report:#?}");
    assert_eq!(
        ec2::group_rules(&acct, web).await,
        with_seeded(&["in tcp 22 10.20.0.0/16", "in tcp 22 192.0.2.0/24"])
    );

    // The event names the group's egress rule (to the world, as every default group has): an
    // outbound rule lets no one in.
    let egress = fleet
        .ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(web)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .iter()
        .find(|r| r.is_egress() == Some(true))
        .and_then(|r| r.security_group_rule_id())
        .expect("the egress rule")
        .to_string();
    let text = sample("quarantine/modify-security-group-rule-ssh-to-world.json")
        .to_string()
        .replace(ec2::SAMPLE_MODIFIED_RULE, &egress);
    let event = ec2::for_group(serde_json::from_str(&text).unwrap(), web);
    let report = handle(&acct, event, &[]).await;
    assert_eq!(report.status, Status::NothingToDo, "{report:#?}");
    assert_eq!(
        ec2::group_rules(&acct, web).await,
        with_seeded(&["in tcp 22 10.20.0.0/16", "in tcp 22 192.0.2.0/24"]),
        "every rule stays"
    );
    assert!(acct.reports().await.is_empty(), "nobody is paged");
}

#[tokio::test]
async fn a_rule_changed_between_the_plan_and_the_revocation_is_not_revoked() {
    use reflex_quarantine::QuarantineAction;
    use reflex_quarantine::executor;
    use reflex_quarantine::ingress::rule;

    let (_emu, acct, fleet) = world().await;
    let web = &fleet.web_group;
    let event = replayed(&fleet, "modify-security-group-rule-ssh-to-world.json").await;
    let id = modified_rule(&event);
    // Planned while the rule was open to the world; narrowed before the step runs.
    let mut planned = rule("tcp", Some(22), Some(22), "0.0.0.0/0", None);
    planned.rule_id = Some(id.clone());
    let revoke = QuarantineAction::RevokeIngress {
        group_id: web.clone(),
        rules: vec![planned],
    };
    ec2::modify_rule(&fleet.ec2, web, &id, "10.20.0.0/16").await;
    let autoscaling = &acct.autoscaling;
    let outcome = executor::execute(&fleet.ec2, autoscaling, &revoke).await;
    assert_eq!(outcome.status(), "already-done", "{outcome:?}");
    assert!(
        outcome
            .explanation()
            .is_some_and(|e| e.contains(&format!("{id} was changed since"))),
        "{outcome:?}"
    );
    assert_eq!(
        ec2::group_rules(&acct, web).await,
        with_seeded(&["in tcp 22 10.20.0.0/16"]),
        "the narrowed rule stays"
    );
    // Open to the world again: the same step revokes it, by its id.
    ec2::modify_rule(&fleet.ec2, web, &id, "0.0.0.0/0").await;
    let outcome = executor::execute(&fleet.ec2, autoscaling, &revoke).await;
    assert_eq!(outcome.status(), "done", "{outcome:?}");
    assert_eq!(ec2::group_rules(&acct, web).await, with_seeded(&[]));
}
