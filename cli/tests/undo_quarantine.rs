//! `reflex undo` of quarantine's remediations, the real binary against the emulator: the real
//! quarantine handler remediates a seeded fleet, `reflex undo` on the event takes it back, the
//! instance or the security group is read back as it was before and the ledger records both;
//! the forensic snapshots are refused with the reason and kept; the undo of the undo
//! quarantines again; groups someone changed since are left alone.

use std::collections::BTreeMap;

mod common;

use reflex_quarantine::Quarantine;

use common::{Run, assert_undone_once, made_statuses, the_remediation, undo};
use reflex_shared::report::{Report, Status};
use reflex_tests::ec2::{self, FLEET, Fleet};
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

async fn world() -> (Emulator, Account, Fleet) {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    let fleet = ec2::seed_fleet(&acct).await;
    (emulator, acct, fleet)
}

async fn remediate(acct: &Account, event: Value) -> Report {
    acct.handler::<Quarantine>("enforce", &[])
        .await
        .handle(event)
        .await
        .expect("handled")
}

/// `reflex --json undo --yes <entry id>` on the event's remediation, the real binary against
/// the emulator. (By its ledger entry: a GuardDuty finding's entry is keyed by the finding.)
async fn undo_event(emu: &Emulator, acct: &Account, event: &Value) -> Run {
    let (claim, _) = the_remediation(acct, event).await;
    undo(emu, acct, &claim)
}

/// The reasons the undo's plan gives for the steps it refuses.
fn refusals(run: &Run) -> Vec<String> {
    run.json["planned"][0]["plan"]
        .as_array()
        .map(|plan| {
            plan.iter()
                .filter(|p| p["plan"] == "refused")
                .map(|p| p["why"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// What a quarantine changes about an instance, read back from the emulator.
#[derive(Debug, PartialEq)]
struct InstanceState {
    groups: Vec<String>,
    tags: BTreeMap<String, String>,
    termination_protection: bool,
    shutdown_behaviour: String,
    in_fleet: bool,
}

async fn instance_state(acct: &Account, id: &str) -> InstanceState {
    let mut groups = ec2::instance_groups(acct, id).await;
    groups.sort();
    InstanceState {
        groups,
        tags: ec2::instance_tags(acct, id).await,
        termination_protection: ec2::termination_protection(acct, id).await,
        shutdown_behaviour: ec2::shutdown_behaviour(acct, id).await,
        in_fleet: ec2::fleet_instances(acct).await.contains(&id.to_string()),
    }
}

#[tokio::test]
async fn undo_takes_a_quarantine_back_keeps_the_evidence_and_its_undo_quarantines_again() {
    let (emu, acct, fleet) = world().await;
    let id = &fleet.instance_id;
    let before = instance_state(&acct, id).await;
    assert_eq!(before.shutdown_behaviour, "terminate");
    assert!(before.in_fleet);

    let event = ec2::for_instance(sample("quarantine/guardduty-bitcoin-tool-high.json"), id);
    let report = remediate(&acct, event.clone()).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    ec2::assert_quarantined(&acct, &fleet).await;
    let quarantined = instance_state(&acct, id).await;
    assert_ne!(quarantined, before);
    let (claim, steps) = the_remediation(&acct, &event).await;
    assert_eq!(steps.len(), 8);

    let run = undo_event(&emu, &acct, &event).await;

    assert_eq!(run.code, 2, "{run:#?}");
    // Last step first: the two snapshots (refused), then tags, shutdown behaviour, protection,
    // Auto Scaling, groups, and the record of the previous groups.
    assert_eq!(
        made_statuses(&run, 0),
        [
            "skipped", "skipped", "done", "done", "done", "done", "done", "done"
        ],
        "{run:#?}"
    );
    let why = refusals(&run);
    assert_eq!(why.len(), 2, "{run:#?}");
    assert!(
        why.iter()
            .all(|w| w.starts_with("a forensic snapshot is evidence")),
        "{why:?}"
    );
    assert_eq!(
        instance_state(&acct, id).await,
        before,
        "groups, tags, protection, shutdown behaviour and fleet membership are as they were"
    );
    assert_eq!(
        ec2::snapshots_of(&acct, id).await.len(),
        2,
        "the evidence is kept"
    );
    assert_eq!(
        acct.desired_capacity(FLEET).await,
        3,
        "attached again, the instance raised the fleet's capacity by one: the replacement stays"
    );
    let undo_id = assert_undone_once(&acct, &claim).await;
    assert_eq!(
        the_remediation(&acct, &event).await.1,
        steps,
        "the remediation stays recorded"
    );

    // Again: already undone, nothing changes.
    let again = undo_event(&emu, &acct, &event).await;
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(instance_state(&acct, id).await, before);

    // The undo of the undo is the original remediation: quarantined again (the snapshots of
    // this event are found and kept, not taken twice).
    let redo = undo(&emu, &acct, &undo_id);
    assert_eq!(redo.code, 2, "{redo:#?}");
    let after = instance_state(&acct, id).await;
    let q = ec2::quarantine_group(&acct, &fleet.vpc_id)
        .await
        .expect("the quarantine group");
    assert_eq!(after.groups, [q], "{redo:#?}");
    assert!(after.termination_protection);
    assert_eq!(after.shutdown_behaviour, "stop");
    assert!(!after.in_fleet);
    assert!(
        after.tags.contains_key("reflex:quarantined-at"),
        "{after:?}"
    );
    assert_eq!(ec2::snapshots_of(&acct, id).await.len(), 2);
}

#[tokio::test]
async fn undo_authorizes_revoked_world_open_rules_again_exactly_as_they_were() {
    let (emu, acct, fleet) = world().await;
    let event =
        ec2::replay_authorize(&fleet, sample("quarantine/authorize-ssh-to-world.json")).await;
    let opened = ec2::group_rules(&acct, &fleet.web_group).await;
    assert!(
        opened.iter().any(|r| r == "in tcp 22 0.0.0.0/0"),
        "{opened:?}"
    );

    let report = remediate(&acct, event.clone()).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    let closed = ec2::group_rules(&acct, &fleet.web_group).await;
    assert!(!closed.iter().any(|r| r.contains(" 22 ")), "{closed:?}");
    let (claim, _) = the_remediation(&acct, &event).await;

    let run = undo_event(&emu, &acct, &event).await;

    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(made_statuses(&run, 0), ["done"], "{run:#?}");
    assert_eq!(
        ec2::group_rules(&acct, &fleet.web_group).await,
        opened,
        "the group's rules are exactly as before the remediation"
    );
    let undo_id = assert_undone_once(&acct, &claim).await;

    let redo = undo(&emu, &acct, &undo_id);
    assert_eq!(redo.code, 2, "{redo:#?}");
    assert_eq!(
        ec2::group_rules(&acct, &fleet.web_group).await,
        closed,
        "the undo of the undo revokes them again"
    );
}

#[tokio::test]
async fn undo_leaves_groups_someone_changed_since_alone() {
    let (emu, acct, fleet) = world().await;
    let id = &fleet.instance_id;
    let event = ec2::for_instance(sample("quarantine/guardduty-bitcoin-tool-high.json"), id);
    let report = remediate(&acct, event.clone()).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    // A responder moves the instance to the ssh group alone after the quarantine.
    fleet
        .ec2
        .modify_instance_attribute()
        .instance_id(id)
        .groups(&fleet.ssh_group)
        .send()
        .await
        .expect("move the instance");

    let run = undo_event(&emu, &acct, &event).await;

    let steps = run.json["made"][0]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let isolation = steps
        .iter()
        .find(|s| {
            s["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("put instance"))
        })
        .unwrap_or_else(|| panic!("{run:#?}"));
    assert_eq!(isolation["outcome"]["status"], "failed", "{run:#?}");
    assert_eq!(run.code, 1, "a step that failed is an error: {run:#?}");
    assert!(
        isolation["outcome"]["why"]
            .as_str()
            .is_some_and(|w| w.contains("changed since")),
        "{isolation:#}"
    );
    assert_eq!(
        ec2::instance_groups(&acct, id).await,
        std::slice::from_ref(&fleet.ssh_group),
        "the responder's change stands"
    );
}
