//! The local demo, one module per function: start the emulator once, then each function's
//! scenarios against a freshly seeded account, printing what happened and reading the result
//! back from the emulator.

pub mod harden;
pub mod notify;
pub mod privatize;
pub mod quarantine;
pub mod revoke;
pub mod scale;

use reflex_shared::Outcome;
use reflex_shared::report::Report;

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
    privatize::run(&emulator).await;
}

/// Verdict, guard, each finding with its actions and outcomes, and notes.
pub fn print_report(report: &Report) {
    println!("   verdict   {}", report.status.as_str());
    if let Some(skip) = &report.skipped {
        println!("   guard     {}", skip.name());
    }
    if let Some(update) = &report.update {
        println!("   update    {update}");
    }
    for f in &report.findings {
        println!("   rule      {} [{}]: {}", f.rule_id, f.severity, f.reason);
        for a in &f.actions {
            println!("   action    {} -> {}", a.description, a.outcome.status());
            if let Some(undo) = a.outcome.undo() {
                println!("   undo      {undo}");
            }
            if let Outcome::Skipped { why }
            | Outcome::Exempt { why }
            | Outcome::Failed { why, .. } = &a.outcome
            {
                println!("   why       {why}");
            }
        }
    }
    for n in &report.notes {
        println!("   note      {n}");
    }
}
