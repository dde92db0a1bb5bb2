//! The notify part of the demo: events that need a person, one message each.

use reflex_notify::Notify;
use serde_json::Value;

use crate::{Account, Emulator, sample};

pub async fn run(emulator: &Emulator) {
    println!("== notify: events that need a person, one SNS message each ==\n");
    emulator.reset();
    let acct = Account::new(emulator).await;
    let handler = acct.handler::<Notify>("enforce", &[]).await;
    let files = crate::sample_files("notify");
    let mut example = None;
    for file in files {
        println!("-- {file}");
        let report = handler
            .handle(sample(&format!("notify/{file}")))
            .await
            .expect("a valid sample");
        if let Some(f) = report.findings.first() {
            println!("   rule      {} [{}]", f.rule_id, f.severity);
            for line in f.reason.lines() {
                println!("             {line}");
            }
        }
        match acct.reports().await.as_slice() {
            [] => println!("   SNS       no message (nothing a person needs to see)"),
            delivered => {
                for d in delivered {
                    println!("   SNS       \"{}\"", d.subject);
                }
            }
        }
        if file == "sign-in-root.json" {
            example = Some(report);
        }
        println!();
    }
    if let Some(report) = example {
        let forms: Value =
            serde_json::from_str(&reflex_shared::publish::message_structure(&report))
                .expect("JSON");
        println!("== what the root sign-in looks like in an email (the `email` form) ==\n");
        for line in forms["email"].as_str().unwrap_or_default().lines() {
            println!("   | {line}");
        }
        println!("\n== and in Slack or Teams through AWS Chatbot (the `https` form) ==\n");
        let chat: Value =
            serde_json::from_str(forms["https"].as_str().unwrap_or("{}")).expect("JSON");
        println!(
            "   title        {}",
            chat["content"]["title"].as_str().unwrap_or("?")
        );
        for line in chat["content"]["description"]
            .as_str()
            .unwrap_or_default()
            .lines()
        {
            println!("   description  {line}");
        }
        println!();
    }
}
