//! Killing the real binary mid-run. A function's release-shaped binary (`cargo build`) runs under
//! the Lambda runtime API (`reflex_tests::runtime`), its calls through the fault proxy. The proxy
//! holds one of its calls; the test kills the process with SIGKILL (as a crash, or Lambda at the
//! timeout, would); the held call then either reaches AWS after all (the change is made, the run
//! never learnt it) or never does. Then Lambda's retry: a new process, the same event, after the
//! killed run's lease has run out. The end state must be complete, the ledger must show each
//! step once, and exactly one report must go out.

use std::path::PathBuf;
use std::time::Duration;

use reflex_revoke::actions::Identity;
use reflex_tests::account::ADMIN;
use reflex_tests::ec2::{self, Fleet};
use reflex_tests::proxy::FaultProxy;
use reflex_tests::runtime::{Ended, Function, RuntimeApi, binary};
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

/// What Lambda gives an invocation in the template (`Timeout`), give or take.
const BUDGET: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(90);

/// A log file per process (`run`: the killed one or the retry), kept in the temporary
/// directory for a look after a failure.
fn log(name: &str, run: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("reflex-crash-tests");
    std::fs::create_dir_all(&dir).expect("log directory");
    dir.join(format!("{name}-{}-{run}.log", std::process::id()))
}

/// The function's environment as the template sets it, aimed at the proxy.
fn env(acct: &Account, proxy: &FaultProxy) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = acct.env_vars("enforce", &[]).into_iter().collect();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", proxy.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        vars.push((k.into(), v.into()));
    }
    vars
}

fn start(
    (bin, package): (&str, &str),
    run: &str,
    runtime: &RuntimeApi,
    vars: &[(String, String)],
) -> Function {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Function::start(&binary(package, bin), runtime, &vars, &log(bin, run))
}

/// Deliver `event`, let it reach the held call, kill the process, then let the call reach AWS
/// (`applied`) or not; then deliver it again to a new process, as Lambda's retry. The retry's
/// response.
async fn crash_then_retry(
    acct: &Account,
    proxy: &FaultProxy,
    function: (&str, &str),
    event: &Value,
    (call, nth): (&str, usize),
    applied: bool,
) -> Ended {
    let runtime = RuntimeApi::start();
    let vars = env(acct, proxy);
    let held = proxy.hold(call, nth);
    let first = start(function, "killed", &runtime, &vars);
    let id = runtime.deliver(event, BUDGET);
    assert!(
        held.wait_arrived(WAIT),
        "{call} #{nth} never came: {:?}",
        runtime.ended(&id, Duration::ZERO)
    );
    first.kill();
    if applied {
        held.release();
    } else {
        held.drop_it();
    }
    assert_eq!(
        held.wait_finished(WAIT),
        Some(applied),
        "{call} #{nth}: whether the held call reached AWS"
    );
    assert_eq!(
        runtime.ended(&id, Duration::ZERO),
        None,
        "the killed run answered nothing"
    );
    proxy.clear();
    // Lambda's retry comes a minute or more later: the killed run's lease has run out by then.
    acct.let_leases_run_out().await;
    let _retry = start(function, "retry", &runtime, &vars);
    let id = runtime.deliver(event, BUDGET);
    runtime.ended(&id, WAIT).expect("the retry answers")
}

fn status(ended: &Ended) -> &str {
    match ended {
        Ended::Response(report) => report["status"].as_str().unwrap_or("?"),
        Ended::Error { error_type, .. } => error_type,
    }
}

#[tokio::test]
async fn revoke_killed_during_the_detach_finishes_on_the_retry_with_one_report() {
    let emulator = Emulator::start();
    for applied in [false, true] {
        emulator.reset();
        let acct = Account::new(&emulator).await;
        acct.seed().await;
        let proxy = FaultProxy::start(&emulator.endpoint);
        let event = acct
            .replay(sample("revoke/attach-admin-to-user.json"))
            .await;
        let ended = crash_then_retry(
            &acct,
            &proxy,
            ("reflex-revoke", "reflex-revoke"),
            &event,
            ("iam:DetachUserPolicy", 1),
            applied,
        )
        .await;
        assert_eq!(status(&ended), "remediated", "applied {applied}: {ended:?}");
        assert!(
            !acct
                .attached_policies(&Identity::User("alice".into()))
                .await
                .contains(&ADMIN.to_string()),
            "applied {applied}: AdministratorAccess is detached after the retry"
        );
        assert_eq!(
            acct.reports().await.len(),
            1,
            "applied {applied}: one report"
        );
        assert_eq!(acct.finished_steps_once().await, 1);
    }
}

/// Every step boundary of a quarantine, the longest remediation: the first call that changes
/// something in each step, killed before it reaches EC2 and after; and inside the isolation,
/// each group made ready, each of its two moves (between them, the instance allows all
/// traffic: the retry must finish the move) and the untracked group closed again after them
/// (the retry must close it).
const QUARANTINE_CRASH_POINTS: [(&str, usize); 13] = [
    ("ec2:CreateTags", 1),                    // record the previous groups
    ("ec2:CreateSecurityGroup", 1),           // isolate: the quarantine group
    ("ec2:CreateSecurityGroup", 2),           // isolate: the untracked-connections group
    ("ec2:AuthorizeSecurityGroupIngress", 1), // isolate: that group opened
    ("ec2:ModifyInstanceAttribute", 1),       // isolate: into the untracked group
    ("ec2:ModifyInstanceAttribute", 2),       // isolate: into the quarantine group
    ("ec2:RevokeSecurityGroupIngress", 1),    // isolate: the untracked group closed again
    ("autoscaling:DetachInstances", 1),       // detach from the fleet
    ("ec2:ModifyInstanceAttribute", 3),       // termination protection
    ("ec2:ModifyInstanceAttribute", 4),       // shutdown stops
    ("ec2:CreateTags", 2),                    // tag the quarantine
    ("ec2:CreateSnapshot", 1),                // the first volume
    ("ec2:CreateSnapshot", 2),                // the second volume
];

async fn quarantine_crashes(applied: bool) {
    let emulator = Emulator::start();
    for point in QUARANTINE_CRASH_POINTS {
        emulator.reset();
        let acct = Account::new(&emulator).await;
        let fleet: Fleet = ec2::seed_fleet(&acct).await;
        let proxy = FaultProxy::start(&emulator.endpoint);
        let event = ec2::for_instance(
            sample("quarantine/guardduty-bitcoin-tool-high.json"),
            &fleet.instance_id,
        );
        let ended = crash_then_retry(
            &acct,
            &proxy,
            ("reflex-quarantine", "reflex-quarantine"),
            &event,
            point,
            applied,
        )
        .await;
        assert_eq!(
            status(&ended),
            "remediated",
            "{point:?}, applied {applied}: {ended:?}"
        );
        ec2::assert_quarantined(&acct, &fleet).await;
        assert_eq!(
            acct.finished_steps_once().await,
            8,
            "{point:?}, applied {applied}"
        );
        assert_eq!(
            acct.reports().await.len(),
            1,
            "{point:?}, applied {applied}: exactly one report"
        );
    }
}

#[tokio::test]
async fn quarantine_killed_before_each_step_reaches_ec2_finishes_on_the_retry() {
    quarantine_crashes(false).await;
}

#[tokio::test]
async fn quarantine_killed_after_each_step_reached_ec2_finishes_on_the_retry() {
    quarantine_crashes(true).await;
}

/// The real privatize binary (its S3 client path-style, as with any endpoint set), killed while
/// its bucket policy rewrite is on the way to S3: the retry finds the bucket private (the write
/// arrived) or makes it so (it did not), with one report.
#[tokio::test]
async fn privatize_killed_during_the_policy_rewrite_finishes_on_the_retry_with_one_report() {
    use reflex_tests::exposure;
    let emulator = Emulator::start();
    for applied in [false, true] {
        emulator.reset();
        let acct = Account::new(&emulator).await;
        acct.seed().await;
        let proxy = FaultProxy::start(&emulator.endpoint);
        let event =
            exposure::replay(&acct, sample("privatize/put-bucket-policy-public.json")).await;
        let ended = crash_then_retry(
            &acct,
            &proxy,
            ("reflex-privatize", "reflex-privatize"),
            &event,
            ("s3:PutBucketPolicy", 1),
            applied,
        )
        .await;
        assert_eq!(status(&ended), "remediated", "applied {applied}: {ended:?}");
        let policy = exposure::bucket_state(&acct, exposure::BUCKET)
            .await
            .policy
            .expect("the partner's statement is kept");
        assert_eq!(
            policy["Statement"].as_array().map(Vec::len),
            Some(1),
            "applied {applied}: {policy}"
        );
        assert_eq!(policy["Statement"][0]["Sid"], "PartnerList");
        assert_eq!(
            acct.reports().await.len(),
            1,
            "applied {applied}: one report"
        );
        assert_eq!(acct.finished_steps_once().await, 1);
    }
}
