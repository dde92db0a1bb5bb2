//! A function's binary run as Lambda runs it: a fresh process under a Lambda runtime API on
//! loopback, its event already waiting (a cold start caused by the event), timed from the
//! spawn to its first `GET /next` (init) and to its answer (first response).

use std::path::Path;
use std::time::{Duration, Instant};

use reflex_tests::runtime::{Ended, Function, RuntimeApi};
use serde_json::Value;

/// What Lambda gives an invocation (the template's `Timeout`).
const BUDGET: Duration = Duration::from_secs(60);
/// How long the benchmark waits for an answer before calling the run failed.
const WAIT: Duration = Duration::from_secs(60);

/// One cold start, in milliseconds from the spawn.
#[derive(Debug, Clone)]
pub struct ColdStart {
    pub init_ms: f64,
    pub first_response_ms: f64,
    pub response: Ended,
}

/// Start `binary` with `env` and `event` waiting for it; time its init and its first answer.
pub fn cold_start(
    binary: &Path,
    env: &[(String, String)],
    event: &Value,
    log: &Path,
) -> Result<ColdStart, String> {
    let runtime = RuntimeApi::start();
    let id = runtime.deliver(event, BUDGET);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let spawned = Instant::now();
    let function = Function::start(binary, &runtime, &env, log);
    let response = runtime.ended(&id, WAIT);
    function.kill();
    let response = response.ok_or_else(|| {
        format!(
            "{} did not answer within {WAIT:?}; its log: {}",
            binary.display(),
            log.display()
        )
    })?;
    let polled = *runtime
        .polled_at()
        .first()
        .ok_or("the function answered without asking for an event")?;
    let answered = runtime.ended_at(&id).ok_or("no answer time")?;
    Ok(ColdStart {
        init_ms: millis(polled - spawned),
        first_response_ms: millis(answered - spawned),
        response,
    })
}

/// A cold start then `warm` more events, one at a time as Lambda sends them to one process.
#[derive(Debug, Clone)]
pub struct LongRun {
    /// The process's peak resident set (`VmHWM`), in MB, after the last event.
    pub peak_rss_mb: f64,
    /// Each warm event's time from delivery to answer, in milliseconds.
    pub warm_ms: Vec<f64>,
    /// How many of the answers were errors.
    pub errors: usize,
}

/// `event(i)` is the i-th event delivered (0: the cold one).
pub fn long_run(
    binary: &Path,
    env: &[(String, String)],
    event: impl Fn(usize) -> Value,
    warm: usize,
    log: &Path,
) -> Result<LongRun, String> {
    let runtime = RuntimeApi::start();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let function = Function::start(binary, &runtime, &env, log);
    let mut warm_ms = Vec::with_capacity(warm);
    let mut errors = 0;
    for i in 0..=warm {
        let sent = Instant::now();
        let id = runtime.deliver(&event(i), BUDGET);
        match runtime.ended(&id, WAIT) {
            Some(Ended::Response(_)) => {}
            Some(Ended::Error { .. }) => errors += 1,
            None => return Err(format!("event {i} got no answer within {WAIT:?}")),
        }
        if i > 0 {
            let answered = runtime.ended_at(&id).ok_or("no answer time")?;
            warm_ms.push(millis(answered - sent));
        }
    }
    let peak_rss_mb = peak_rss_kb(function.pid())? as f64 / 1024.0;
    function.kill();
    Ok(LongRun {
        peak_rss_mb,
        warm_ms,
        errors,
    })
}

/// The peak resident set of process `pid` so far (`VmHWM` in `/proc/PID/status`), in kB.
fn peak_rss_kb(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading the memory of process {pid}: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmHWM in /proc/{pid}/status"))
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
