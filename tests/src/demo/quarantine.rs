//! The quarantine part of the demo: a security group opened to the world (in one rule, and in two
//! halves over two calls), then an instance of a web fleet quarantined on a GuardDuty finding
//! (dry-run first), a redelivery, a finding about an instance that is gone; then the tricks of
//! someone inside the account (the quarantine tag with a guessed value, an alarm set by hand)
//! and a listed alarm CloudWatch really raised, for a second instance.

use reflex_quarantine::Quarantine;
use reflex_shared::report::Report;
use serde_json::Value;

use super::print_report;
use crate::ec2::{self, FLEET, Fleet};
use crate::{Account, Emulator, sample};

/// The quarantine function against a freshly seeded web fleet.
pub async fn run(emulator: &Emulator) {
    println!(
        "== quarantine: world-open security groups, and EC2 instances isolated for forensics ==\n"
    );
    emulator.reset();
    let acct = Account::new(emulator).await;
    let fleet = ec2::seed_fleet(&acct).await;
    let config = [
        ("REFLEX_QUARANTINE_ALARMS", ec2::LISTED_ALARM),
        ("REFLEX_QUARANTINE_TAG", ec2::OPERATOR_TAG),
    ];
    println!(
        "   config    REFLEX_QUARANTINE_ALARMS={} REFLEX_QUARANTINE_TAG={} (other settings: defaults)",
        ec2::LISTED_ALARM,
        ec2::OPERATOR_TAG
    );
    println!(
        "   emulator  {} in {} with groups web {} and ssh-from-office {}; Auto Scaling group {FLEET} desired {}\n",
        fleet.instance_id,
        fleet.vpc_id,
        fleet.web_group,
        fleet.ssh_group,
        acct.desired_capacity(FLEET).await
    );

    for (file, why) in [
        (
            "authorize-ssh-to-world.json",
            "mallory opens SSH to the world (and HTTPS in the same call)",
        ),
        (
            "authorize-ssh-to-private-cidr.json",
            "SSH from a private network only",
        ),
        (
            "authorize-ssh-to-upper-half-of-the-internet.json",
            "mallory opens SSH to 0.0.0.0/1, then in a second call to 128.0.0.0/1: the whole internet",
        ),
        (
            "authorize-old-form-ssh-to-world.json",
            "a script opens SSH to the world in the older single-rule form (ipPermissions empty)",
        ),
        (
            "modify-security-group-rule-ssh-to-world.json",
            "in the console, mallory edits an SSH rule from 192.0.2.0/24 to 0.0.0.0/0",
        ),
    ] {
        println!("-- {file} ({why})");
        if file.contains("upper-half") {
            // The first call; the second's event is the one delivered.
            ec2::replay_authorize(
                &fleet,
                sample("quarantine/authorize-ssh-to-lower-half-of-the-internet.json"),
            )
            .await;
        }
        let event = ec2::replay_authorize(&fleet, sample(&format!("quarantine/{file}"))).await;
        let report = handle(&acct, event, "enforce", &config).await;
        report.iter().for_each(print_report);
        println!(
            "   emulator  web group rules: {}",
            ec2::group_rules(&acct, &fleet.web_group).await.join(", ")
        );
        sns(&acct).await;
    }

    // The dry-run runs without the ledger: a dry-run claims its event too, and the enforce run
    // of the same event below would otherwise be reported as a redelivery.
    let no_ledger = [config[0], config[1], ("REFLEX_LEDGER_TABLE", "")];
    let story: [(&str, &str, &str, Twist); 6] = [
        (
            "guardduty-port-probe-low.json",
            "enforce",
            "a low-severity finding: below REFLEX_QUARANTINE_MIN_SEVERITY",
            Twist::None,
        ),
        (
            "guardduty-bitcoin-tool-high.json",
            "dry-run",
            "a high-severity finding, with REFLEX_MODE=dry-run: the full plan",
            Twist::None,
        ),
        (
            "guardduty-bitcoin-tool-high.json",
            "enforce",
            "the same finding in enforce mode",
            Twist::None,
        ),
        (
            "guardduty-bitcoin-tool-high.json",
            "enforce",
            "EventBridge delivers it again",
            Twist::None,
        ),
        (
            "guardduty-bitcoin-tool-high.json",
            "enforce",
            "GuardDuty publishes the finding again, seen 28 times now: an update, nothing redone",
            Twist::Republished(28),
        ),
        (
            "guardduty-bitcoin-tool-high.json",
            "enforce",
            "another finding, about an instance that no longer exists",
            Twist::OtherInstance("i-0123456789abcdef0"),
        ),
    ];
    for (n, (file, mode, why, twist)) in story.into_iter().enumerate() {
        println!("-- {file} ({why})");
        let target = match twist {
            Twist::OtherInstance(id) => id,
            _ => &fleet.instance_id,
        };
        let mut event = ec2::for_instance(sample(&format!("quarantine/{file}")), target);
        match twist {
            Twist::None => {}
            // A new event (EventBridge's id) about the same finding (GuardDuty's id).
            Twist::Republished(count) => {
                event["id"] = format!("0e5c8a2f-6b1d-4f3e-a7c9-2d4f6b8e0a{n:02}").into();
                event["detail"]["service"]["count"] = count.into();
            }
            // Another finding: both ids are new.
            Twist::OtherInstance(_) => {
                event["id"] = format!("0e5c8a2f-6b1d-4f3e-a7c9-2d4f6b8e0a{n:02}").into();
                event["detail"]["id"] = "7ac1f2e0c3b94d5e8f6a2b1c0d9e8f7a".into();
            }
        }
        let env: &[(&str, &str)] = if mode == "dry-run" {
            &no_ledger
        } else {
            &config
        };
        let report = handle(&acct, event, mode, env).await;
        report.iter().for_each(print_report);
        if !matches!(twist, Twist::OtherInstance(_)) {
            read_back(&acct, &fleet, &fleet.instance_id).await;
        }
        sns(&acct).await;
    }

    let second = ec2::fleet_instances(&acct)
        .await
        .into_iter()
        .find(|i| *i != fleet.instance_id);
    if let Some(second) = second {
        insiders(&acct, &fleet, &second, &config).await;
    }
}

/// Someone inside the account tries to have the second instance isolated; then CloudWatch
/// raises the listed alarm for it for real.
async fn insiders(acct: &Account, fleet: &Fleet, second: &str, config: &[(&str, &str)]) {
    println!(
        "-- create-tags-quarantine-wrong-value.json (mallory tags {second} reflex:quarantine=true, a guessed value)"
    );
    ec2::put_tag(acct, second, "reflex:quarantine", "true").await;
    let event = ec2::for_instance(
        sample("quarantine/create-tags-quarantine-wrong-value.json"),
        second,
    );
    let report = handle(acct, event, "enforce", config).await;
    report.iter().for_each(print_report);
    read_back(acct, fleet, second).await;
    sns(acct).await;

    println!(
        "-- alarm-set-by-set-alarm-state.json (mallory makes {} on {second} and sets it to ALARM by hand)",
        ec2::LISTED_ALARM
    );
    ec2::put_network_out_alarm(acct, ec2::LISTED_ALARM, second).await;
    let mut event = ec2::set_alarm(acct, ec2::LISTED_ALARM, second, "exfiltration!", None).await;
    event["id"] = "7b3e9c1a-4d6f-4a2b-9e8c-0f2a4c6e8b21".into();
    let report = handle(acct, event, "enforce", config).await;
    report.iter().for_each(print_report);
    read_back(acct, fleet, second).await;
    sns(acct).await;

    println!(
        "-- alarm-instance-network-out-high.json (EC2 reports 9.12 GB out of {second} in five minutes: CloudWatch raises {})",
        ec2::LISTED_ALARM
    );
    let at = ec2::evaluated_period();
    ec2::put_network_out(acct, second, at, 9.12e9).await;
    let mut event = ec2::set_alarm(
        acct,
        ec2::LISTED_ALARM,
        second,
        "Threshold Crossed: 1 out of the last 1 datapoints was greater than the threshold (5.0E9)",
        Some(ec2::evaluation_record(at, 9.12e9)),
    )
    .await;
    event["id"] = "7b3e9c1a-4d6f-4a2b-9e8c-0f2a4c6e8b22".into();
    let report = handle(acct, event, "enforce", config).await;
    report.iter().for_each(print_report);
    read_back(acct, fleet, second).await;
    sns(acct).await;
}

async fn handle(
    acct: &Account,
    event: Value,
    mode: &str,
    config: &[(&str, &str)],
) -> Option<Report> {
    match acct
        .handler::<Quarantine>(mode, config)
        .await
        .handle(event)
        .await
    {
        Ok(r) => Some(r),
        Err(e) => {
            println!("   error     {e} ({})", e.error_type());
            None
        }
    }
}

/// The instance as the emulator now has it.
async fn read_back(acct: &Account, fleet: &Fleet, id: &str) {
    let tags = ec2::instance_tags(acct, id).await;
    println!(
        "   emulator  {id}: groups {}, termination protection {}, shutdown {}, snapshots {}, in {FLEET}: {}, quarantined at {}",
        ec2::instance_groups(acct, id).await.join(" "),
        if ec2::termination_protection(acct, id).await {
            "on"
        } else {
            "off"
        },
        ec2::shutdown_behaviour(acct, id).await,
        ec2::snapshots_of(acct, id).await.len(),
        if ec2::fleet_instances(acct).await.contains(&id.to_string()) {
            "yes"
        } else {
            "no"
        },
        tags.get("reflex:quarantined-at")
            .map(String::as_str)
            .unwrap_or("-"),
    );
    println!(
        "   emulator  {FLEET} desired capacity {}, instances {}; quarantine group {}",
        acct.desired_capacity(FLEET).await,
        ec2::fleet_instances(acct).await.join(" "),
        ec2::quarantine_group(acct, &fleet.vpc_id)
            .await
            .unwrap_or_else(|| "none".into())
    );
}

async fn sns(acct: &Account) {
    match acct.reports().await.as_slice() {
        [] => println!("   SNS       no report (nothing a person needs to see)"),
        reports => {
            for r in reports {
                println!("   SNS       \"{}\"", r.subject);
            }
        }
    }
    println!();
}

/// How a story's event differs from its sample.
#[derive(Clone, Copy)]
enum Twist<'a> {
    None,
    /// GuardDuty publishes the same finding again, seen this many times.
    Republished(u64),
    /// Another finding, about this instance.
    OtherInstance(&'a str),
}
