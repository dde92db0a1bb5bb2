//! The attacker's playbook against the exemption tag, end to end against the emulator. The
//! attacker is inside the account with `iam:TagUser`, `iam:TagRole` or `iam:CreateRole`: enough
//! to write `reflex:exempt=true` on themselves, on a role they use, or on a role they create.
//! Before, the write was not even routed to revoke, and every later escalation by (or on) the
//! tagged identity was skipped as exempt, with nobody told. Each test replays one step of that
//! playbook and checks that it is closed: the tag is removed, a HIGH report names who tried, and
//! the escalation that follows is revoked. Only a principal exempt by configuration
//! (`REFLEX_EXEMPT_PRINCIPALS`) may grant the exemption.

use reflex_revoke::Revoke;
use reflex_revoke::actions::Identity;
use reflex_shared::Severity;
use reflex_shared::guard::EventSkip;
use reflex_shared::pipeline::Handler;
use reflex_shared::report::{Report, Status};
use reflex_tests::account::ADMIN;
use reflex_tests::proxy::FaultProxy;
use reflex_tests::{Account, Emulator, sample};
use serde_json::{Value, json};

const EXEMPT_KEY: &str = "reflex:exempt";

async fn account() -> (Emulator, Account) {
    let emulator = Emulator::start();
    let account = Account::new(&emulator).await;
    account.seed().await;
    (emulator, account)
}

/// Replay the sample's call in the emulator, then hand the event to revoke, enforced.
async fn attack(account: &Account, file: &str) -> Report {
    let event = account.replay(sample(file)).await;
    let handler = account.handler::<Revoke>("enforce", &[]).await;
    handler.handle(event).await.expect("handled")
}

fn user(name: &str) -> Identity {
    Identity::User(name.into())
}

fn role(name: &str) -> Identity {
    Identity::Role(name.into())
}

/// The one finding of a report that refused an exemption tag, and its one step done.
fn refused_tag(report: &Report) -> &reflex_shared::report::FindingReport {
    refused_by(report, "revoke.exemption-tag")
}

/// The one finding of `rule` in a report that refused an exemption tag, its one step done.
fn refused_by<'a>(report: &'a Report, rule: &str) -> &'a reflex_shared::report::FindingReport {
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(report.findings.len(), 1, "{report:#?}");
    let finding = &report.findings[0];
    assert_eq!(finding.rule_id, rule);
    assert_eq!(finding.severity, Severity::High);
    assert_eq!(finding.actions.len(), 1);
    assert_eq!(
        finding.actions[0].outcome.status(),
        "done",
        "not held back by the tag it removes: {:?}",
        finding.actions[0].outcome
    );
    finding
}

#[tokio::test]
async fn a_user_who_tags_itself_exempt_loses_the_tag_and_its_next_escalation_is_revoked() {
    let (_emu, acct) = account().await;
    // Step 1: mallory, with iam:TagUser on itself, writes the exemption tag.
    let report = attack(&acct, "revoke/tag-user-exempt-self.json").await;
    assert_eq!(report.skipped, None, "judged, not skipped as exempt");
    let finding = refused_tag(&report);
    assert!(
        finding
            .reason
            .starts_with("arn:aws:iam::123456789012:user/mallory set the exemption tag reflex:exempt=true on user mallory"),
        "{}",
        finding.reason
    );
    assert!(
        !acct
            .tags_of(&user("mallory"))
            .await
            .contains_key(EXEMPT_KEY),
        "the tag is gone"
    );
    assert_eq!(
        finding.actions[0].outcome.undo(),
        Some(
            r#"aws --region us-east-1 iam tag-user --user-name mallory --tags '[{"Key":"reflex:exempt","Value":"true"}]'"#
        )
    );
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].subject,
        "[Reflex HIGH] Remediated: iam:TagUser by mallory in 123456789012"
    );
    assert_eq!(delivered[0].attributes["reflex_severity"]["Value"], "HIGH");

    // Step 2: mallory attaches AdministratorAccess: no longer exempt, so revoked.
    let report = attack(&acct, "revoke/attach-admin-to-user.json").await;
    assert_eq!(report.skipped, None, "{report:#?}");
    assert_eq!(report.status, Status::Remediated);
    assert!(
        !acct
            .attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
}

#[tokio::test]
async fn a_caller_already_carrying_the_tag_cannot_spread_it() {
    let (_emu, acct) = account().await;
    // ci-deployer got the tag somehow (an earlier write, before Reflex): its exemption covers its
    // other calls, not the writing of the exemption tag on another role.
    acct.iam
        .tag_role()
        .role_name("ci-deployer")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key(EXEMPT_KEY)
                .value("true")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("tag ci-deployer");
    let report = attack(&acct, "revoke/tag-role-exempt.json").await;
    let finding = refused_tag(&report);
    assert!(
        finding.reason.contains("on role app-role"),
        "{}",
        finding.reason
    );
    let tags = acct.tags_of(&role("app-role")).await;
    assert!(!tags.contains_key(EXEMPT_KEY), "{tags:?}");
    assert_eq!(
        tags.get("team").map(String::as_str),
        Some("payments"),
        "the other tags of the same call stay"
    );
}

#[tokio::test]
async fn a_role_or_user_created_with_the_exemption_tag_loses_it() {
    let (_emu, acct) = account().await;
    let report = attack(&acct, "revoke/create-role-with-exempt-tag.json").await;
    refused_tag(&report);
    assert!(
        !acct
            .tags_of(&role("shadow-admin"))
            .await
            .contains_key(EXEMPT_KEY)
    );
    let report = attack(&acct, "revoke/create-user-with-exempt-tag.json").await;
    refused_tag(&report);
    assert!(
        !acct
            .tags_of(&user("backdoor"))
            .await
            .contains_key(EXEMPT_KEY)
    );
    assert_eq!(acct.reports().await.len(), 2);
}

/// The tag and a trust open to everyone in one `CreateRole`: the tag was read before anything
/// ran, but a tag refused in the same event exempts nothing, so the trust is closed at once
/// rather than left open for a person.
#[tokio::test]
async fn a_role_created_with_the_exemption_tag_and_an_open_trust_loses_both() {
    let (_emu, acct) = account().await;
    let mut event = sample("revoke/create-role-with-exempt-tag.json");
    event["detail"]["requestParameters"]["assumeRolePolicyDocument"] = json!(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#
    );
    let event = acct.replay(event).await;
    let report = acct
        .handler::<Revoke>("enforce", &[])
        .await
        .handle(event)
        .await
        .expect("handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    let steps: Vec<(&str, &str)> = report
        .findings
        .iter()
        .flat_map(|f| {
            f.actions
                .iter()
                .map(move |a| (f.rule_id.as_str(), a.outcome.status()))
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("revoke.exemption-tag", "done"),
            ("revoke.role-trust-opened", "done")
        ]
    );
    assert!(
        !acct
            .tags_of(&role("shadow-admin"))
            .await
            .contains_key(EXEMPT_KEY)
    );
    assert_eq!(
        acct.trust_policy("shadow-admin").await["Statement"],
        json!([reflex_revoke::trust::deny_everyone()])
    );
}

#[tokio::test]
async fn an_exempt_principal_may_grant_the_exemption() {
    let (_emu, acct) = account().await;
    let report = attack(&acct, "revoke/tag-user-exempt-by-break-glass.json").await;
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("exempt-actor")
    );
    assert_eq!(
        acct.tags_of(&user("alice"))
            .await
            .get(EXEMPT_KEY)
            .map(String::as_str),
        Some("true")
    );
}

#[tokio::test]
async fn the_exemption_key_with_a_value_that_does_not_exempt_is_no_finding() {
    let (_emu, acct) = account().await;
    let report = attack(&acct, "revoke/tag-user-exempt-false.json").await;
    assert_eq!(report.status, Status::NothingToDo, "{report:#?}");
    assert_eq!(
        acct.tags_of(&user("alice"))
            .await
            .get(EXEMPT_KEY)
            .map(String::as_str),
        Some("false")
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn a_tag_already_removed_or_changed_is_already_done_and_a_redelivery_does_nothing_again() {
    let (_emu, acct) = account().await;
    let event = acct
        .replay(sample("revoke/tag-user-exempt-self.json"))
        .await;
    // Someone fixed it before Reflex ran: the tag now says `false`, which exempts nothing.
    acct.tag_user("mallory", EXEMPT_KEY, "false").await;
    let handler = acct.handler::<Revoke>("enforce", &[]).await;
    let report = handler.handle(event.clone()).await.expect("handled");
    let outcome = &report.findings[0].actions[0].outcome;
    assert_eq!(outcome.status(), "already-done", "{outcome:?}");
    assert_eq!(
        acct.tags_of(&user("mallory"))
            .await
            .get(EXEMPT_KEY)
            .map(String::as_str),
        Some("false"),
        "a value that does not exempt is left as it is"
    );
    let again = handler.handle(event).await.expect("handled");
    assert_eq!(again.status, Status::AlreadyHandled);
}

/// `event` is refused for good as a bad event of `error_type`, the message naming `field`.
async fn bad_event(handler: &Handler<Revoke>, event: Value, error_type: &str, field: &str) {
    let err = handler.handle(event).await.expect_err("a bad event");
    assert_eq!(err.error_type(), error_type, "{err}");
    assert!(err.to_string().contains(field), "{err}");
}

#[tokio::test]
async fn a_tag_write_without_its_tags_is_refused_as_a_bad_event_with_nothing_changed() {
    let (emu, acct) = account().await;
    // Every call the handler makes goes through the proxy, which counts them.
    let proxy = FaultProxy::start(&emu.endpoint);
    let handler = acct.handler_via::<Revoke>(&proxy, "enforce", &[]).await;
    let mut untagged = sample("revoke/tag-user-exempt-self.json");
    untagged["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("tags");
    bad_event(
        &handler,
        untagged,
        "Permanent.BadEvent.MissingField",
        "requestParameters.tags",
    )
    .await;
    let mut flat = sample("revoke/tag-user-exempt-self.json");
    flat["detail"]["requestParameters"]["tags"] = json!("reflex:exempt=true");
    bad_event(
        &handler,
        flat,
        "Permanent.BadEvent.InvalidField",
        "requestParameters.tags",
    )
    .await;
    let mut nameless = sample("revoke/create-role-with-exempt-tag.json");
    nameless["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("roleName");
    bad_event(
        &handler,
        nameless,
        "Permanent.BadEvent.MissingField",
        "roleName",
    )
    .await;

    // A bad event makes no AWS call: no tag read, no tag removed, no ledger, no report.
    assert_eq!(proxy.seen("iam:ListUserTags"), 0);
    assert_eq!(proxy.seen("iam:UntagUser"), 0);
    assert_eq!(proxy.calls(), Vec::<String>::new());
    assert!(acct.reports().await.is_empty());
}

/// The SCP the README gives for defence in depth is valid JSON, denies only, and names the
/// default exemption key in each statement about the tag.
#[test]
fn the_readme_scp_is_valid_json_that_denies_writes_of_the_exemption_key() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let section = readme
        .split("### Defence in depth: an SCP that guards the exemption tag")
        .nth(1)
        .expect("the SCP section");
    let json = section
        .split("```json")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a json block");
    let scp: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    let statements = scp["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 3);
    for statement in statements {
        assert_eq!(statement["Effect"], "Deny", "{statement}");
        let exceptions = &statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"];
        assert!(
            exceptions
                .as_array()
                .is_some_and(|a| a.contains(&"arn:aws:iam::*:role/reflex-admin".into())),
            "{statement}"
        );
    }
    // The roles that remove a tag nobody exempt set are named as the templates name them (a
    // name that no role has would leave Reflex unable to remove the tag).
    let removers = statements[1]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
        .as_array()
        .unwrap();
    let member =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/member.yaml"))
            .expect("member.yaml");
    let central = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("template.yaml");
    assert!(
        member.contains("Default: reflex-remediation\n"),
        "the member roles' default prefix"
    );
    for function in ["revoke", "quarantine", "privatize"] {
        assert!(member.contains(&format!(
            "RoleName: !Sub \"${{RemediationRoleName}}-{function}\""
        )));
        assert!(central.contains(&format!(
            "RoleName: !Sub reflex-{function}-${{AWS::Region}}"
        )));
        for arn in [
            format!("arn:aws:iam::*:role/reflex/reflex-remediation-{function}"),
            format!("arn:aws:iam::111111111111:role/reflex/reflex-{function}-us-east-1"),
        ] {
            assert!(removers.contains(&arn.clone().into()), "{arn} missing");
        }
    }
    for tag_statement in &statements[..2] {
        assert_eq!(
            tag_statement["Condition"]["ForAnyValue:StringEquals"]["aws:TagKeys"],
            serde_json::json!([EXEMPT_KEY])
        );
    }
    let first: Vec<&str> = statements[0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    for write in [
        "iam:TagUser",
        "iam:TagRole",
        "iam:CreateUser",
        "iam:CreateRole",
        "ec2:CreateTags",
    ] {
        assert!(first.contains(&write), "{write}");
    }
}

// ---- the same on EC2: an instance or a security group tagged exempt ----

async fn fleet() -> (Emulator, Account, reflex_tests::ec2::Fleet) {
    let emulator = Emulator::start();
    let account = Account::new(&emulator).await;
    let fleet = reflex_tests::ec2::seed_fleet(&account).await;
    (emulator, account, fleet)
}

async fn quarantine(account: &Account, event: Value, extra: &[(&str, &str)]) -> Report {
    account
        .handler::<reflex_quarantine::Quarantine>("enforce", extra)
        .await
        .handle(event)
        .await
        .expect("handled")
}

/// mallory, with `ec2:CreateTags` on the web group, tags it exempt and then opens SSH to the
/// world. Before, the tag write reached no function and the opening was skipped as exempt.
#[tokio::test]
async fn a_security_group_tagged_exempt_loses_the_tag_and_ssh_opened_to_the_world_is_revoked() {
    use reflex_tests::ec2;
    let (_emu, acct, fleet) = fleet().await;
    let group = &fleet.web_group;
    ec2::put_tag(&acct, group, EXEMPT_KEY, "true").await;
    let event = ec2::for_group(
        sample("quarantine/exemption-tag-on-security-group.json"),
        group,
    );
    let report = quarantine(&acct, event, &[]).await;
    assert_eq!(report.skipped, None, "judged, not skipped as exempt");
    let finding = refused_by(&report, "quarantine.exemption-tag");
    assert!(
        finding.reason.starts_with(&format!(
            "arn:aws:iam::123456789012:user/mallory set the exemption tag reflex:exempt=true on {group}"
        )),
        "{}",
        finding.reason
    );
    assert!(
        !ec2::tags_of(&acct, group).await.contains_key(EXEMPT_KEY),
        "the tag is gone"
    );
    assert_eq!(
        finding.actions[0].outcome.undo(),
        Some(
            format!(
                r#"aws --region us-east-1 ec2 create-tags --resources {group} --tags '[{{"Key":"reflex:exempt","Value":"true"}}]'"#
            )
            .as_str()
        )
    );
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].attributes["reflex_severity"]["Value"], "HIGH");

    // Then SSH to the world on the same group: no longer exempt, so revoked.
    let opened =
        ec2::replay_authorize(&fleet, sample("quarantine/authorize-ssh-to-world.json")).await;
    let report = quarantine(&acct, opened, &[]).await;
    assert_eq!(report.skipped, None, "{report:#?}");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    let rules = ec2::group_rules(&acct, group).await;
    assert!(
        !rules.iter().any(|r| r.starts_with("in tcp 22 ")),
        "{rules:?}"
    );
}

/// The instance tagged exempt by someone not exempt: the tag is removed, so a GuardDuty finding
/// about it quarantines it.
#[tokio::test]
async fn an_instance_tagged_exempt_loses_the_tag_and_is_quarantined_on_the_next_finding() {
    use reflex_tests::ec2;
    let (_emu, acct, fleet) = fleet().await;
    let id = &fleet.instance_id;
    ec2::put_tag(&acct, id, EXEMPT_KEY, "TRUE").await;
    let event = ec2::for_instance(sample("quarantine/exemption-tag-on-instance.json"), id);
    let report = quarantine(&acct, event.clone(), &[]).await;
    let finding = refused_by(&report, "quarantine.exemption-tag");
    assert!(
        finding.reason.contains(&format!("on {id}")),
        "{}",
        finding.reason
    );
    assert!(!ec2::instance_tags(&acct, id).await.contains_key(EXEMPT_KEY));
    // The same event again (Lambda delivers at least once): handled once.
    let again = quarantine(&acct, event, &[]).await;
    assert_eq!(again.status, Status::AlreadyHandled, "{again:#?}");

    let finding = ec2::for_instance(sample("quarantine/guardduty-bitcoin-tool-high.json"), id);
    let report = quarantine(&acct, finding, &[]).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    ec2::assert_quarantined(&acct, &fleet).await;
}

/// A principal exempt by configuration may exempt a security group: the tag stays.
#[tokio::test]
async fn an_exempt_principal_may_exempt_a_security_group() {
    use reflex_tests::ec2;
    let (_emu, acct, fleet) = fleet().await;
    let group = &fleet.web_group;
    ec2::put_tag(&acct, group, EXEMPT_KEY, "true").await;
    let event = ec2::for_group(
        sample("quarantine/exemption-tag-on-security-group.json"),
        group,
    );
    let report = quarantine(
        &acct,
        event,
        &[(
            "REFLEX_EXEMPT_PRINCIPALS",
            "arn:aws:iam::123456789012:user/mallory",
        )],
    )
    .await;
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("exempt-actor"),
        "{report:#?}"
    );
    assert_eq!(
        ec2::tags_of(&acct, group)
            .await
            .get(EXEMPT_KEY)
            .map(String::as_str),
        Some("true")
    );
}
