//! The scale part of the demo: one alarm's life, then the ledger.

use reflex_scale::Scale;

use super::print_report;
use crate::{Account, Emulator, sample};

/// The scale function on one alarm's life, duplicates and a late delivery included, then the ledger.
pub async fn run(emulator: &Emulator) {
    println!(
        "== scale: alarm state changes resize the Auto Scaling group `web` (min 1, max 4) ==\n"
    );
    emulator.reset();
    let acct = Account::new(emulator).await;
    acct.seed_group("web", 1, 4, 2).await;
    let config = [
        ("REFLEX_SCALE_IN_STEP", "1"),
        ("REFLEX_SCALE_COOLDOWN_SECONDS", "0"),
    ];
    println!(
        "   config    REFLEX_SCALE_TARGETS={}",
        crate::account::SCALE_TARGETS
    );
    println!(
        "             REFLEX_SCALE_OUT_STEP=1 REFLEX_SCALE_IN_STEP=1 REFLEX_SCALE_COOLDOWN_SECONDS=0"
    );
    println!(
        "   emulator  web desired capacity {}\n",
        acct.desired_capacity("web").await
    );
    let handler = acct.handler::<Scale>("enforce", &config).await;
    let story = [
        ("cpu-high-alarm.json", "CPU above 80%"),
        (
            "cpu-high-alarm.json",
            "EventBridge delivers the same event again",
        ),
        ("cpu-ok-delivered-late.json", "an older OK arrives late"),
        ("cpu-high-alarm-again.json", "CPU still climbing"),
        ("cpu-back-to-ok.json", "CPU back to normal"),
        (
            "composite-cpu-and-disk-alarm.json",
            "composite alarm: busy AND disk almost full",
        ),
        ("cpu-insufficient-data.json", "the metric stops reporting"),
        (
            "unmapped-billing-alarm.json",
            "an alarm that scales nothing",
        ),
        (
            "unlisted-alarm-naming-web.json",
            "someone's own alarm naming web in its dimension and tag: not configured, so nothing",
        ),
    ];
    for (file, why) in story {
        println!("-- {file} ({why})");
        let report = handler
            .handle(sample(&format!("scale/{file}")))
            .await
            .expect("a valid sample");
        print_report(&report);
        println!(
            "   emulator  web desired capacity {}",
            acct.desired_capacity("web").await
        );
        for r in acct.reports().await {
            println!("   SNS       \"{}\"", r.subject);
        }
        println!();
    }
    println!(
        "== the ledger (DynamoDB table {}) ==\n",
        crate::account::LEDGER_TABLE
    );
    for e in acct.ledger_entries().await {
        let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
        if s("kind") == "claim" {
            println!(
                "   claim  {:<11} {:<5} {} ({})",
                s("rule_id"),
                s("state"),
                s("summary"),
                s("claimed_at")
            );
        } else if s("kind") == "rate" {
            println!(
                "   rate   {}: {} enforced action(s) this hour (REFLEX_MAX_ACTIONS_PER_HOUR)",
                s("pk"),
                e["actions"]
            );
        } else {
            println!("   state  {} v{}: {}", s("pk"), e["version"], s("doc"));
        }
    }
}
