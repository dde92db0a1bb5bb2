//! `reflex backtest` over an archive made by `scripts/cloudtrail-archive`: good CloudTrail log
//! files with planted escalations, and bad files and records of every kind the backtest must
//! count and name. The counts are those the generator's manifest states, exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One archive for every test (generated once): 2 accounts, 2 regions, about 1 MB of logs,
/// 6 escalations planted, bad files and records added.
fn archive() -> &'static (PathBuf, Value) {
    static ARCHIVE: OnceLock<(PathBuf, Value)> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("backtest-archive");
        let _ = std::fs::remove_dir_all(&dir);
        let status = Command::new("python3")
            .arg(repo().join("scripts/cloudtrail-archive"))
            .arg(&dir)
            .args([
                "--size",
                "1MB",
                "--accounts",
                "2",
                "--regions",
                "2",
                "--bad",
            ])
            .args(["--seed", "7"])
            .status()
            .expect("python3 runs the archive generator");
        assert!(status.success(), "the generator failed");
        let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
        (dir, serde_json::from_str(&manifest).unwrap())
    })
}

/// `reflex --json backtest ARGS`: the exit code, the finding lines and the summary line.
fn backtest(args: &[&str]) -> (i32, Vec<Value>, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_reflex"))
        .args(["--json", "backtest"])
        .args(args)
        .output()
        .expect("the reflex binary runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let summary = lines.pop().expect("a summary line");
    assert_eq!(summary["type"], "summary", "{summary}");
    assert!(lines.iter().all(|l| l["type"] == "finding"));
    (output.status.code().unwrap(), lines, summary)
}

fn counts(by_reason: &Value) -> BTreeMap<String, u64> {
    by_reason
        .as_object()
        .unwrap()
        .iter()
        .map(|(reason, v)| (reason.clone(), v["count"].as_u64().unwrap()))
        .collect()
}

fn manifest_counts(counts: &Value) -> BTreeMap<String, u64> {
    counts
        .as_object()
        .unwrap()
        .iter()
        .map(|(reason, n)| (reason.clone(), n.as_u64().unwrap()))
        .collect()
}

/// Findings per `function rule`, from the summary.
fn rules(summary: &Value) -> BTreeMap<String, u64> {
    summary["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{} {}",
                    r["function"].as_str().unwrap(),
                    r["rule"].as_str().unwrap()
                ),
                r["findings"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn escalations(manifest: &Value) -> impl Iterator<Item = &Value> {
    manifest["escalations"].as_array().unwrap().iter()
}

#[test]
fn every_file_record_and_reason_is_counted_exactly() {
    let (dir, manifest) = archive();
    let (code, findings, summary) = backtest(&[dir.to_str().unwrap()]);

    assert_eq!(
        summary["files"]["read"], manifest["files_read"],
        "{summary:#}"
    );
    assert_eq!(
        counts(&summary["files"]["skipped_by_reason"]),
        manifest_counts(&manifest["files_skipped"])
    );
    assert_eq!(summary["records"]["read"], manifest["records"]);
    assert_eq!(
        counts(&summary["records"]["skipped_by_reason"]),
        manifest_counts(&manifest["records_skipped"])
    );
    // Each bad file is named.
    let named = summary["files"]["skipped_by_reason"].to_string();
    for name in [
        "corrupt.json.gz",
        "truncated-early",
        "not-json.json",
        "bomb.json.gz",
        "README",
    ] {
        assert!(named.contains(name), "{name} is not named: {named}");
    }

    // The planted escalations are found, and nothing else is.
    let found: BTreeSet<&str> = findings
        .iter()
        .map(|f| f["event_id"].as_str().unwrap())
        .collect();
    let planted: BTreeSet<&str> = escalations(manifest)
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(found, planted);
    assert_eq!(code, 2, "a rule would have acted");

    // Per rule, the findings are those of the sample events planted, one per plant.
    let samples: Vec<String> = escalations(manifest)
        .map(|e| {
            let sample = repo().join("events").join(e["sample"].as_str().unwrap());
            sample.to_str().unwrap().to_string()
        })
        .collect();
    let sample_args: Vec<&str> = samples.iter().map(String::as_str).collect();
    let (_, _, of_samples) = backtest(&sample_args);
    assert_eq!(rules(&summary), rules(&of_samples));
    assert!(
        rules(&summary).contains_key("revoke revoke.privileged-policy-attached"),
        "{:?}",
        rules(&summary)
    );
}

#[test]
fn filters_leave_out_what_they_say() {
    let (dir, manifest) = archive();
    let dir = dir.to_str().unwrap();
    let planted = |keep: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
        escalations(manifest)
            .filter(|e| keep(e))
            .map(|e| e["event_id"].as_str().unwrap().to_string())
            .collect()
    };
    let ids = |findings: &[Value]| -> BTreeSet<String> {
        findings
            .iter()
            .map(|f| f["event_id"].as_str().unwrap().to_string())
            .collect()
    };

    let until = "2026-09-01T00:20:00Z";
    let (_, findings, summary) = backtest(&[dir, "--until", until]);
    assert_eq!(
        ids(&findings),
        planted(&|e| e["time"].as_str().unwrap() < until)
    );
    assert!(summary["records"]["filtered"]["time"].as_u64().unwrap() > 0);

    let (_, findings, _) = backtest(&[dir, "--since", "2026-09-01T00:20:00Z"]);
    assert_eq!(
        ids(&findings),
        planted(&|e| e["time"].as_str().unwrap() >= until)
    );

    // Every escalation is planted in 123456789012, us-east-1.
    let (_, findings, summary) = backtest(&[dir, "--region", "us-west-2"]);
    assert!(findings.is_empty());
    assert!(summary["records"]["filtered"]["region"].as_u64().unwrap() > 0);
    let (_, findings, summary) = backtest(&[dir, "--account", "123456789012"]);
    assert_eq!(ids(&findings), planted(&|_| true));
    assert!(
        summary["files"]["filtered"].as_u64().unwrap() > 0,
        "the other account's files"
    );

    // A day long before the archive: every file in the S3 layout is left out by its path.
    let (code, findings, summary) = backtest(&[dir, "--until", "2026-01-01"]);
    assert!(findings.is_empty());
    assert_eq!(summary["files"]["filtered"], manifest["files_in_layout"]);
    assert_eq!(code, 0);
}

#[test]
fn finding_lines_say_what_would_have_happened() {
    let (dir, _) = archive();
    let (_, findings, _) = backtest(&[dir.to_str().unwrap()]);
    let attach = findings
        .iter()
        .find(|f| f["rule"] == "revoke.privileged-policy-attached")
        .expect("the planted AttachUserPolicy");
    assert_eq!(attach["function"], "revoke");
    assert_eq!(attach["mode"], "dry-run");
    assert_eq!(attach["account"], "123456789012");
    assert_eq!(attach["region"], "us-east-1");
    assert!(
        attach["actor"].as_str().unwrap().contains("mallory"),
        "{attach}"
    );
    assert!(!attach["steps"].as_array().unwrap().is_empty(), "{attach}");
    assert_eq!(attach["report_sent"], true);
    for key in ["time", "severity", "resources", "file"] {
        assert!(!attach[key].is_null(), "{key}: {attach}");
    }
}

#[test]
fn a_record_over_the_cap_stops_its_file_without_being_loaded() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("backtest-cap");
    std::fs::create_dir_all(&dir).unwrap();
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("events/revoke/attach-admin-to-user.json")).unwrap(),
    )
    .unwrap();
    let line = record["detail"].to_string();
    let long = format!("\"{}\"", "x".repeat(100_000));
    std::fs::write(
        dir.join("export.jsonl"),
        format!("{line}\n{long}\n{line}\n"),
    )
    .unwrap();
    let (code, findings, summary) =
        backtest(&[dir.to_str().unwrap(), "--max-record-bytes", "16384"]);
    assert_eq!(findings.len(), 1, "the line before the long one is read");
    assert_eq!(summary["records"]["read"], 1);
    let skipped = &summary["files"]["skipped_by_reason"]["record or line over the size cap"];
    assert_eq!(skipped["count"], 1, "{summary:#}");
    assert!(
        skipped["examples"][0]
            .as_str()
            .unwrap()
            .contains("export.jsonl")
    );
    assert_eq!(code, 2);
}

#[test]
fn a_path_that_does_not_exist_is_an_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_reflex"))
        .args(["backtest", "/nonexistent/AWSLogs"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/AWSLogs"), "{stderr}");
}

#[test]
fn the_text_summary_names_rules_and_skips() {
    let (dir, _) = archive();
    let output = Command::new(env!("CARGO_BIN_EXE_reflex"))
        .args(["backtest", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "Findings per rule:",
        "revoke revoke.privileged-policy-attached",
        "top actors:",
        "Reports that would have been sent:",
        "corrupt gzip",
        "bomb.json.gz",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    // Not a terminal: no progress line.
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
