//! The quarantine part of the demo: a security group opened to the world, then an instance of a
//! web fleet quarantined on a GuardDuty finding (dry-run first), a redelivery, an alarm on a
//! second instance, and a finding about an instance that is gone.

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
    let config = [("REFLEX_QUARANTINE_ALARMS", "exfil-*")];
    println!("   config    REFLEX_QUARANTINE_ALARMS=exfil-* (other settings: defaults)");
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
    ] {
        println!("-- {file} ({why})");
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
    let no_ledger = [config[0], ("REFLEX_LEDGER_TABLE", "")];
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
        println!("-- alarm-instance-network-out-high.json (a listed alarm fires for {second})");
        let event = ec2::for_instance(
            sample("quarantine/alarm-instance-network-out-high.json"),
            &second,
        );
        let report = handle(&acct, event, "enforce", &config).await;
        report.iter().for_each(print_report);
        read_back(&acct, &fleet, &second).await;
        sns(&acct).await;
    }
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
