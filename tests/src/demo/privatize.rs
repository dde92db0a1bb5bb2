//! The privatize part of the demo: every privatize sample against a fresh account, the bucket,
//! snapshot or image read back after the caller's call and after Reflex; then dry-run.

use reflex_privatize::Privatize;
use serde_json::Value;

use super::print_report;
use crate::exposure::{self, BUCKET};
use crate::{Account, Emulator, sample};

pub async fn run(emulator: &Emulator) {
    println!(
        "== privatize: buckets, snapshots and images made public are private again, one sample event at a time ==\n"
    );
    let files = crate::sample_files("privatize");
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for file in &files {
        let status = scenario(emulator, file, "enforce").await;
        *tally.entry(status).or_default() += 1;
    }
    println!("== the same PutBucketPolicy with REFLEX_MODE=dry-run ==\n");
    scenario(emulator, "put-bucket-policy-public.json", "dry-run").await;

    println!(
        "== summary: {} privatize sample events in enforce mode ==",
        files.len()
    );
    for (status, n) in tally {
        println!("  {status:<16} {n}");
    }
    println!();
}

/// Fresh account, the caller's call replayed, the event handled; prints the story.
async fn scenario(emulator: &Emulator, file: &str, mode: &str) -> String {
    emulator.reset();
    let acct = Account::new(emulator).await;
    acct.seed().await;
    let raw = sample(&format!("privatize/{file}"));
    let event = match file.starts_with("invalid-") {
        true => raw,
        false => exposure::replay(&acct, raw).await,
    };
    let d = &event["detail"];
    println!("-- {file} ({mode})");
    println!(
        "   call      {} -> {}:{}",
        d["userIdentity"]["arn"].as_str().unwrap_or("?"),
        d["eventSource"]
            .as_str()
            .unwrap_or("?")
            .trim_end_matches(".amazonaws.com"),
        d["eventName"].as_str().unwrap_or("?"),
    );
    if let Some(code) = d["errorCode"].as_str() {
        println!("             (failed with {code}: nothing changed)");
    }
    println!("   after it  {}", read_back(&acct, d).await);
    let handler = acct.handler::<Privatize>(mode, &[]).await;
    let report = match handler.handle(event.clone()).await {
        Ok(r) => r,
        Err(e) => {
            println!("   error     {} ({})\n", e, e.error_type());
            return "error".into();
        }
    };
    let status = report.status.as_str().to_string();
    print_report(&report);
    println!("   emulator  {}", read_back(&acct, d).await);
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

/// The bucket, snapshot or image the event is about, as the emulator has it now.
async fn read_back(acct: &Account, d: &Value) -> String {
    let req = &d["requestParameters"];
    if let Some(id) = req["resourcesSet"]["items"][0]["resourceId"].as_str() {
        let ec2 = exposure::ec2(acct);
        let tags = match id.starts_with("ami-") {
            true => reflex_privatize::tags::image(&ec2, id).await,
            false => reflex_privatize::tags::snapshot(&ec2, id).await,
        };
        return format!("{id} tagged {:?}", tags.unwrap_or_default());
    }
    if d["eventName"] == "PutBucketTagging" {
        return format!(
            "bucket {BUCKET} tagged {:?}",
            exposure::bucket_tags(acct, BUCKET).await
        );
    }
    if let Some(id) = req["snapshotId"].as_str() {
        return format!(
            "snapshot {id} shared with {:?}",
            exposure::snapshot_sharing(acct, id).await
        );
    }
    if let Some(id) = req["imageId"].as_str() {
        return format!(
            "image {id} launchable by {:?}",
            exposure::image_sharing(acct, id).await
        );
    }
    if exposure::s3(acct)
        .head_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .is_err()
    {
        return format!("bucket {BUCKET}: does not exist");
    }
    let state = exposure::bucket_state(acct, BUCKET).await;
    let statements: Vec<String> = (state.policy.iter())
        .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
        .map(|s| s["Sid"].as_str().unwrap_or("(no Sid)").to_string())
        .collect();
    format!(
        "bucket {BUCKET}: policy statements {statements:?}, group grants {:?}, public access block {:?}",
        state.group_grants, state.block
    )
}
