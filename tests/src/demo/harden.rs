//! The harden part of the demo: every harden sample against a fresh account with its audit trail
//! and log groups, the state read back after the caller's call and after Reflex; then dry-run,
//! containment and a configured KMS key.

use reflex_harden::Harden;
use serde_json::Value;

use super::print_report;
use crate::trail::{self, KMS_KEY, TRAIL};
use crate::{Account, Emulator, sample};

pub async fn run(emulator: &Emulator) {
    println!(
        "== harden: the audit trail stays on, log groups keep a retention and a key, one sample event at a time ==\n"
    );
    println!(
        "   account   trail {TRAIL} (multi-region, log file validation, logging), log group {} ({} days)\n",
        trail::ORDERS,
        trail::ORDERS_RETENTION_DAYS
    );
    let files = crate::sample_files("harden");

    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for file in &files {
        let status = scenario(emulator, file, "enforce", &[]).await;
        *tally.entry(status).or_default() += 1;
    }

    println!("== the same StopLogging with REFLEX_MODE=dry-run ==\n");
    scenario(emulator, "stop-logging.json", "dry-run", &[]).await;

    println!("== DeleteTrail with REFLEX_CONTAIN_ACTOR=true: the caller is contained too ==\n");
    scenario(
        emulator,
        "delete-trail.json",
        "enforce",
        &[("REFLEX_CONTAIN_ACTOR", "true")],
    )
    .await;

    println!("== CreateLogGroup with REFLEX_LOG_KMS_KEY_ARN set ==");
    println!(
        "   note      moto server does not implement logs:AssociateKmsKey: it answers HTTP 500, a fault\n             that may pass, so the delivery records what it did and fails for Lambda's retry\n             (Transient.Interrupted); functions/harden/tests/faults.rs tests the key step\n             with the SDK's mocks\n"
    );
    scenario(
        emulator,
        "create-log-group-without-kms-key.json",
        "enforce",
        &[("REFLEX_LOG_KMS_KEY_ARN", KMS_KEY)],
    )
    .await;

    println!(
        "== summary: {} harden sample events in enforce mode ==",
        files.len()
    );
    for (status, n) in tally {
        println!("  {status:<16} {n}");
    }
    println!();
}

/// Fresh account, the caller's call replayed, the event handled; prints the story.
async fn scenario(emulator: &Emulator, file: &str, mode: &str, extra: &[(&str, &str)]) -> String {
    emulator.reset();
    let acct = Account::new(emulator).await;
    acct.seed().await;
    trail::seed(&acct).await;
    let event = trail::replay(&acct, sample(&format!("harden/{file}"))).await;
    let d = &event["detail"];
    let config: String = extra.iter().map(|(k, v)| format!(", {k}={v}")).collect();
    println!("-- {file} ({mode}{config})");
    let service = d["eventSource"]
        .as_str()
        .unwrap_or("?")
        .trim_end_matches(".amazonaws.com");
    println!(
        "   call      {} -> {service}:{} {}",
        d["userIdentity"]["arn"].as_str().unwrap_or("?"),
        d["eventName"].as_str().unwrap_or("?"),
        d["requestParameters"]
    );
    if let Some(code) = d["errorCode"].as_str() {
        println!("             (failed with {code}: nothing changed)");
    }
    println!("   after it  {}", read_back(&acct, d).await);
    let handler = acct.handler::<Harden>(mode, extra).await;
    let report = match handler.handle(event.clone()).await {
        Ok(r) => r,
        Err(e) => {
            println!("   error     {} ({})", e, e.error_type());
            println!("   emulator  {}", read_back(&acct, d).await);
            println!("   SNS       no report yet: it goes out when the retry has finished\n");
            return "error".into();
        }
    };
    let status = report.status.as_str().to_string();
    print_report(&report);
    println!("   emulator  {}", read_back(&acct, d).await);
    if extra.iter().any(|(k, _)| *k == "REFLEX_CONTAIN_ACTOR") {
        println!(
            "   emulator  mallory's active access keys: {}",
            acct.active_access_keys("mallory").await
        );
    }
    match acct.reports().await.as_slice() {
        [] => println!("   SNS       no report (nothing a person needs to see)"),
        reports => {
            for r in reports {
                println!("   SNS       \"{}\"", r.subject);
            }
        }
    }
    println!();
    status
}

/// The trail or log group the event is about, as the emulator has it now.
async fn read_back(acct: &Account, d: &Value) -> String {
    let req = &d["requestParameters"];
    if d["eventSource"] == "logs.amazonaws.com" {
        let group = req["logGroupName"].as_str().unwrap_or_default();
        return match trail::log_group_state(acct, group).await {
            Some(state) => format!("log group {group}: {state}"),
            None => format!("log group {group}: does not exist"),
        };
    }
    let name = trail::TRAIL;
    match trail::trail_state(acct, name).await {
        Some(state) => format!("trail {name}: {state}"),
        None => format!("trail {name}: deleted"),
    }
}
