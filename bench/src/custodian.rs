//! Cloud Custodian, Reflex's peer: its Lambda handler (`c7n.handler.dispatch_event`) with the
//! policy of `bench/custodian/config/`, run by `bench/custodian/driver.py` in a fresh Python
//! process from its own venv (`make setup-custodian`), on the same event as Reflex's `revoke`,
//! against the same emulator, freshly seeded for each run.

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use reflex_shared::aws::error_text;
use reflex_tests::{Account, Emulator};
use serde_json::Value;

/// The sample event both Reflex and Custodian answer: AdministratorAccess attached to a user.
const SAMPLE: &str = "revoke/attach-admin-to-user.json";
/// Custodian's own venv in the workspace (`make setup-custodian`, `CUSTODIAN_VENV`).
const VENV: &str = ".venv-custodian";

/// Custodian's figures over the runs, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Custodian {
    /// c7n's version, as the driver imported it.
    pub version: String,
    /// Importing c7n's handler module (boto3, botocore, c7n's resource registry).
    pub import_ms: Vec<f64>,
    /// `dispatch_event` on the first event: config, STS, the policy's reads, the detach.
    pub first_event_ms: Vec<f64>,
    /// From spawning `python driver.py` to its exit, measured here.
    pub process_ms: Vec<f64>,
}

/// What the driver prints on its one line of stdout.
struct DriverTimings {
    import_ms: f64,
    first_event_ms: f64,
    version: String,
}

/// `runs` fresh Python processes, each on a freshly seeded account with the sample's
/// AdministratorAccess attached; each run must leave it detached.
pub async fn run(emulator: &Emulator, runs: usize) -> Result<Custodian, String> {
    let root = reflex_tests::emulator::workspace_root();
    let python = root.join(VENV).join("bin/python");
    if !python.exists() {
        return Err(format!(
            "{} not found: run `make setup-custodian` to install Cloud Custodian",
            python.display()
        ));
    }
    let driver = root.join("bench/custodian/driver.py");
    let config = root.join("bench/custodian/config");
    let event_file = std::env::temp_dir().join(format!(
        "reflex-bench-custodian-{}.json",
        std::process::id()
    ));
    let mut figures = Custodian::default();
    let mut failed = None;
    for run in 1..=runs {
        match one_run(emulator, &python, &driver, &config, &event_file).await {
            Ok((timings, process_ms)) => {
                figures.version = timings.version;
                figures.import_ms.push(timings.import_ms);
                figures.first_event_ms.push(timings.first_event_ms);
                figures.process_ms.push(process_ms);
            }
            Err(e) => {
                failed = Some(format!("Custodian run {run}/{runs}: {e}"));
                break;
            }
        }
    }
    let _ = std::fs::remove_file(&event_file);
    failed.map_or(Ok(figures), Err)
}

/// Reset and seed the emulator, replay the attach, run the driver once, check its work.
async fn one_run(
    emulator: &Emulator,
    python: &Path,
    driver: &Path,
    config: &Path,
    event_file: &Path,
) -> Result<(DriverTimings, f64), String> {
    emulator.reset();
    let account = Account::new(emulator).await;
    account.seed().await;
    let event = account.replay(reflex_tests::sample(SAMPLE)).await;
    let request = &event["detail"]["requestParameters"];
    let (Some(user), Some(policy)) = (request["userName"].as_str(), request["policyArn"].as_str())
    else {
        return Err(format!("{SAMPLE} names no userName and policyArn"));
    };
    // The premise, so that "detached afterwards" means Custodian detached it.
    if !attached(&account, user).await?.iter().any(|p| p == policy) {
        return Err(format!("the replay did not attach {policy} to {user}"));
    }
    std::fs::write(event_file, event.to_string())
        .map_err(|e| format!("writing {}: {e}", event_file.display()))?;

    let (stdout, process_ms) =
        run_driver(python, driver, event_file, config, &emulator.endpoint).await?;
    let timings = parse_driver_line(&stdout)?;

    let left = attached(&account, user).await?;
    if left.iter().any(|p| p == policy) {
        return Err(format!(
            "Custodian ran but {policy} is still attached to {user}: {left:?}"
        ));
    }
    Ok((timings, process_ms))
}

/// The ARNs of the managed policies attached to `user`, read from the emulator.
async fn attached(account: &Account, user: &str) -> Result<Vec<String>, String> {
    let out = account
        .iam
        .list_attached_user_policies()
        .user_name(user)
        .send()
        .await
        .map_err(|e| format!("listing {user}'s policies: {}", error_text(&e)))?;
    Ok(out
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect())
}

/// Spawn the driver with an environment that reaches only the emulator (nothing inherited: no
/// profile, no real credentials, no metadata service); its stdout, and its wall time from the
/// spawn to its exit in milliseconds.
async fn run_driver(
    python: &Path,
    driver: &Path,
    event_file: &Path,
    config: &Path,
    endpoint: &str,
) -> Result<(String, f64), String> {
    let mut command = tokio::process::Command::new(python);
    command
        .arg(driver)
        .arg(event_file)
        .arg(config)
        .env_clear()
        .envs([
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", reflex_tests::emulator::REGION),
            ("AWS_REGION", reflex_tests::emulator::REGION),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let spawned = Instant::now();
    let output = command
        .output()
        .await
        .map_err(|e| format!("could not run {}: {e}", python.display()))?;
    let process_ms = spawned.elapsed().as_secs_f64() * 1000.0;
    if !output.status.success() {
        return Err(format!(
            "the driver failed ({}); its stderr ends:\n{}",
            output.status,
            tail(&String::from_utf8_lossy(&output.stderr), 20)
        ));
    }
    Ok((
        String::from_utf8_lossy(&output.stdout).into_owned(),
        process_ms,
    ))
}

/// The driver's JSON line: `{"import_ms", "first_event_ms", "total_ms", "c7n_version"}`.
fn parse_driver_line(stdout: &str) -> Result<DriverTimings, String> {
    let line = stdout.lines().rev().find(|l| !l.trim().is_empty());
    let value: Value = line
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("the driver printed no JSON line: {stdout:?}"))?;
    let number = |key: &str| {
        value[key]
            .as_f64()
            .ok_or_else(|| format!("the driver's line has no {key}: {value}"))
    };
    Ok(DriverTimings {
        import_ms: number("import_ms")?,
        first_event_ms: number("first_event_ms")?,
        version: value["c7n_version"]
            .as_str()
            .ok_or_else(|| format!("the driver's line has no c7n_version: {value}"))?
            .to_string(),
    })
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_drivers_line() {
        let t = parse_driver_line(
            "{\"import_ms\": 97.2, \"first_event_ms\": 180.1, \"total_ms\": 278.0, \"c7n_version\": \"0.9.53\"}\n",
        )
        .unwrap();
        assert_eq!((t.import_ms, t.first_event_ms), (97.2, 180.1));
        assert_eq!(t.version, "0.9.53");
    }

    #[test]
    fn refuses_a_line_without_timings() {
        assert!(parse_driver_line("").is_err());
        assert!(parse_driver_line("{\"import_ms\": 1}").is_err());
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
