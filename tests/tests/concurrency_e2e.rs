//! Calls of one event that do not depend on each other run at once, through the fault proxy
//! (`reflex_tests::proxy`): one of them is held, and the other still reaches AWS meanwhile. What
//! the event ends with is what one call after another gave: the policy detached, one report,
//! the claim done and reported; a tag read that fails for now, whichever, still fails the event
//! before anything is done.

use std::time::{Duration, Instant};

use reflex_revoke::Revoke;
use reflex_revoke::actions::Identity;
use reflex_shared::report::Status;
use reflex_tests::proxy::{FaultProxy, Held};
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

/// Attempts the SDK makes per call: a fault this many times in a row outlasts its retries.
const ATTEMPTS: usize = reflex_testkit::MAX_ATTEMPTS as usize;
const WAIT: Duration = Duration::from_secs(30);
const TAGS: &str = "iam:ListUserTags";

struct World {
    _emulator: Emulator,
    acct: Account,
    proxy: FaultProxy,
}

async fn world() -> World {
    let (emulator, acct, proxy) = reflex_tests::seeded_behind_a_proxy().await;
    World {
        _emulator: emulator,
        acct,
        proxy,
    }
}

fn alice() -> Identity {
    Identity::User("alice".into())
}

/// Mallory attaches AdministratorAccess to alice: the caller's tags and the target's are read.
async fn attach_admin(w: &World) -> Value {
    w.acct
        .replay(sample("revoke/attach-admin-to-user.json"))
        .await
}

async fn arrived(held: &Held) -> bool {
    let held = held.clone();
    tokio::task::spawn_blocking(move || held.wait_arrived(WAIT))
        .await
        .unwrap()
}

/// Wait until `call` reached the proxy `n` times.
async fn seen(proxy: &FaultProxy, call: &str, n: usize) -> bool {
    let until = Instant::now() + WAIT;
    while proxy.seen(call) < n {
        if Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// The users whose tags were asked for, in the order the requests arrived.
fn tag_reads(proxy: &FaultProxy) -> Vec<String> {
    (proxy.requests(TAGS).iter())
        .filter_map(|r| r.param("UserName"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_tags_and_the_targets_are_read_at_once_and_the_end_is_unchanged() {
    let w = world().await;
    let event = attach_admin(&w).await;
    // The first tag read to arrive (the caller's is asked first) waits.
    let held = w.proxy.hold(TAGS, 1);
    let handler = w.acct.handler_via::<Revoke>(&w.proxy, "enforce", &[]).await;
    let run = tokio::spawn(async move { handler.handle(event).await });
    assert!(arrived(&held).await, "no tag read came");
    assert!(
        seen(&w.proxy, TAGS, 2).await,
        "the other user's tags are read while the first read is held"
    );
    let mut users = tag_reads(&w.proxy);
    users.sort();
    assert_eq!(users, ["alice", "mallory"], "the target's and the caller's");
    let calls = w.proxy.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("dynamodb:") || c == "iam:DetachUserPolicy"),
        "nothing claimed or done before every exemption is known: {calls:?}"
    );

    held.release();
    let report = run.await.unwrap().expect("the event is handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert!(!w.acct.is_admin(&alice()).await, "detached");
    assert_eq!(w.proxy.seen(TAGS), 2, "each user's tags read once");
    assert_eq!(w.acct.reports().await.len(), 1, "one report");
    let claims = w.acct.ledger_entries().await;
    let claim = claims
        .iter()
        .find(|e| e["kind"] == "claim")
        .expect("the claim");
    assert_eq!(
        (&claim["state"], &claim["reported"]),
        (&Value::from("done"), &Value::from(true)),
        "{claim}"
    );
    // The calls as they went, for a look with --nocapture.
    let start = w.proxy.timeline().first().map(|t| t.arrived);
    for t in w.proxy.timeline() {
        let at = |i: Instant| start.map_or(0, |s| i.duration_since(s).as_millis());
        println!(
            "{:>5} ms {:>5} ms  {}",
            at(t.arrived),
            at(t.answered),
            t.call
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outcome_is_recorded_while_the_report_is_published_and_marked_sent_after_both() {
    let w = world().await;
    let event = attach_admin(&w).await;
    let publish = w.proxy.hold("sns:Publish", 1);
    let handler = w.acct.handler_via::<Revoke>(&w.proxy, "enforce", &[]).await;
    let run = tokio::spawn(async move { handler.handle(event).await });
    assert!(arrived(&publish).await, "no report published");
    // The claim, the detach's progress (started, then done), and the finding's end.
    assert!(
        seen(&w.proxy, "dynamodb:UpdateItem", 4).await,
        "the end is written while the report is held"
    );
    let claim = claim_when(&w.acct, |c| c["state"] == "done").await;
    assert_eq!(
        claim["reported"], false,
        "not marked sent before the report is out: {claim}"
    );

    publish.release();
    let report = run.await.unwrap().expect("the event is handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(w.proxy.seen("dynamodb:UpdateItem"), 5, "then marked sent");
    assert_eq!(w.acct.reports().await.len(), 1, "one report");
    let claim = w.acct.ledger_entries().await;
    let claim = claim.iter().find(|e| e["kind"] == "claim").unwrap();
    assert_eq!(claim["reported"], true, "{claim}");
}

/// The claim in the ledger once `ready` holds for it (the proxy sees a write before the
/// emulator has applied it).
async fn claim_when(acct: &Account, ready: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + WAIT;
    loop {
        let entries = acct.ledger_entries().await;
        let claim = entries.into_iter().find(|e| e["kind"] == "claim");
        match claim {
            Some(claim) if ready(&claim) => return claim,
            _ if Instant::now() > until => panic!("the claim never got there"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Hold the first tag read; throttle every later one from the `skip`th on, past the SDK's
/// retries; then `release` the held read or drop it (its retries are throttled too). The event
/// fails for now naming the read that failed, with nothing done; its retry completes it.
async fn a_tag_read_fails_for_now(release: bool) {
    let w = world().await;
    let event = attach_admin(&w).await;
    let held = w.proxy.hold(TAGS, 1);
    // Released: the other read fails (every try of it throttled). Dropped: the other read
    // passes, and the held one's retries are throttled.
    let skip = if release { 0 } else { 1 };
    w.proxy.fail_after(
        TAGS,
        skip,
        reflex_tests::proxy::Fault::Throttle,
        2 * ATTEMPTS,
    );
    let handler = w.acct.handler_via::<Revoke>(&w.proxy, "enforce", &[]).await;
    let run = {
        let event = event.clone();
        tokio::spawn(async move {
            let result = handler.handle(event).await;
            (handler, result)
        })
    };
    assert!(arrived(&held).await, "no tag read came");
    assert!(seen(&w.proxy, TAGS, 2).await, "the other read came");
    let first = tag_reads(&w.proxy)[0].clone();
    if release {
        held.release();
    } else {
        held.drop_it();
    }
    let (handler, result) = run.await.unwrap();
    let err = result.expect_err("a tag read failed for now");
    assert_eq!(err.error_type(), "Transient.Lookup", "{err}");
    let failed = ["alice", "mallory"]
        .into_iter()
        .find(|user| err.to_string().contains(&format!("tags of user {user}:")))
        .unwrap_or_else(|| panic!("names whose tags: {err}"));
    assert_eq!(failed == first, !release, "{err}");

    // Nothing done: no claim, no change, no report.
    assert!(w.acct.is_admin(&alice()).await);
    assert!(w.acct.ledger_entries().await.is_empty());
    assert!(w.acct.reports().await.is_empty());
    assert_eq!(w.proxy.seen("iam:DetachUserPolicy"), 0);

    // Lambda's retry, the fault passed, completes it.
    w.proxy.clear();
    let report = handler.handle(event).await.expect("the retry is handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert!(!w.acct.is_admin(&alice()).await);
    assert_eq!(w.acct.reports().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_held_first_failing_for_now_fails_the_event_before_anything_is_done() {
    a_tag_read_fails_for_now(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_running_alongside_failing_for_now_fails_the_event_before_anything_is_done() {
    a_tag_read_fails_for_now(true).await;
}
