//! The local demo, one module per function: start the emulator once, then each function's
//! scenarios against a freshly seeded account, printing what happened and reading the result
//! back from the emulator.

pub mod harden;
pub mod notify;
pub mod quarantine;
pub mod revoke;
pub mod scale;

use serde_json::Value;

use crate::Emulator;

pub async fn run() {
    println!("Reflex demo: the functions against a local AWS emulator (moto server)\n");
    let emulator = Emulator::start();
    println!("emulator listening on {}\n", emulator.endpoint);
    revoke::run(&emulator).await;
    scale::run(&emulator).await;
    notify::run(&emulator).await;
    harden::run(&emulator).await;
    quarantine::run(&emulator).await;
}

/// Verdict, guard, each finding with its actions and outcomes, and notes.
pub fn print_report(report: &Value) {
    let text = |v: &Value| v.as_str().unwrap_or("?").to_string();
    println!("   verdict   {}", text(&report["status"]));
    if let Some(skip) = report.get("skipped") {
        println!("   guard     {}", text(&skip["guard"]));
    }
    for f in report["findings"].as_array().into_iter().flatten() {
        println!(
            "   rule      {} [{}]: {}",
            text(&f["rule_id"]),
            text(&f["severity"]),
            text(&f["reason"])
        );
        for a in f["actions"].as_array().into_iter().flatten() {
            let o = &a["outcome"];
            println!(
                "   action    {} -> {}",
                text(&a["description"]),
                text(&o["status"])
            );
            for (label, key) in [("undo", "undo"), ("why", "why")] {
                if let Some(v) = o[key].as_str() {
                    println!("   {label:<9} {v}");
                }
            }
        }
    }
    for n in report["notes"].as_array().into_iter().flatten() {
        println!("   note      {}", text(n));
    }
}
