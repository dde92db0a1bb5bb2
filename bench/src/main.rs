//! Reflex's benchmark suite, one command (`make bench`): every figure a median with its min and
//! max over repeated runs, beside its reference measured in the same run on the same machine.
//!
//! - cold start of each function's binary under a Lambda runtime API on loopback (init, and the
//!   first response to a sample event with AWS on loopback), beside a hello-world
//!   `lambda_runtime` binary built the same way (the floor);
//! - the first remediation end to end, as deployed (ledger and topic), beside Cloud Custodian's
//!   Lambda handler on the same event against the same emulator, and the emulator's own
//!   latency per call;
//! - the per-event cost of the pure path (criterion, `reflex-bench-pure`);
//! - peak memory over a cold start and many warm events;
//! - AWS calls per remediation, and how many round trips were waited for one after another;
//! - artifact size per function, and what the binary is made of.
//!
//! `--quick` runs everything on a tiny input (CI keeps the command working with it); the full
//! run is for the figures. See `--help`.

mod calls;
mod custodian;
mod lambda;
mod moto;
mod pure;
mod scenario;
mod size;
mod stats;
mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use reflex_tests::Emulator;
use reflex_tests::emulator::workspace_root;
use reflex_tests::proxy::FaultProxy;
use reflex_tests::runtime::Ended;
use serde_json::{Value, json};

use scenario::Scenario;
use table::Row;

const HELP: &str = "\
reflex-bench: Reflex's benchmark suite (cold starts, first remediation next to Cloud Custodian,
per-event cost, memory, AWS calls, artifact sizes), each figure beside its reference.

usage: make bench            (the full suite: release build, 11 cold starts, 1,000 warm events)
       make bench-quick      (a tiny input, as CI runs it: the dev build, 2 runs, 20 events)
       cargo run -p reflex-bench -- [options]

options:
  --quick             tiny input: 2 runs, 20 warm events, criterion's shortest measurement
  --profile NAME      the cargo profile the measured binaries are built with (release)
  --runs N            cold starts per binary (11; --quick: 2)
  --warm N            warm events after a cold start in the memory run (1000; --quick: 20)
  --arm64             also build every function for arm64 with cargo-lambda and size its zip
  --contributors      relink each function with its symbols and list its largest crates
  --skip PART,...     leave out parts: cold, custodian, calls, memory, pure, size
  --binaries DIR      measure the functions' binaries in DIR (reflex-revoke, ...) instead of
                      building them: an earlier version, for before/after figures
  --out DIR           where results.json and the table go (bench/out)
";

struct Options {
    quick: bool,
    profile: String,
    runs: usize,
    warm: usize,
    arm64: bool,
    contributors: bool,
    skip: Vec<String>,
    binaries: Option<PathBuf>,
    out: PathBuf,
}

impl Options {
    fn parse() -> Result<Self, String> {
        let mut args = std::env::args().skip(1);
        let mut o = Options {
            quick: false,
            profile: "release".into(),
            runs: 0,
            warm: 0,
            arm64: false,
            contributors: false,
            skip: Vec::new(),
            binaries: None,
            out: workspace_root().join("bench/out"),
        };
        let number = |v: Option<String>, name: &str| {
            v.and_then(|v| v.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name} takes a positive number"))
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => o.quick = true,
                "--profile" => o.profile = args.next().ok_or("--profile takes a name")?,
                "--runs" => o.runs = number(args.next(), "--runs")?,
                "--warm" => o.warm = number(args.next(), "--warm")?,
                "--arm64" => o.arm64 = true,
                "--contributors" => o.contributors = true,
                "--skip" => {
                    let parts = args.next().ok_or("--skip takes a list of parts")?;
                    o.skip = parts.split(',').map(str::to_string).collect();
                }
                "--binaries" => {
                    o.binaries = Some(PathBuf::from(
                        args.next().ok_or("--binaries takes a directory")?,
                    ))
                }
                "--out" => o.out = PathBuf::from(args.next().ok_or("--out takes a directory")?),
                "-h" | "--help" => {
                    print!("{HELP}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}\n\n{HELP}")),
            }
        }
        if o.runs == 0 {
            o.runs = if o.quick { 2 } else { 11 };
        }
        if o.warm == 0 {
            o.warm = if o.quick { 20 } else { 1000 };
        }
        Ok(o)
    }

    fn runs(&self, part: &str) -> bool {
        !self.skip.iter().any(|s| s == part)
    }
}

#[tokio::main]
async fn main() {
    let options = match Options::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = run(&options).await {
        eprintln!("reflex-bench: {e}");
        std::process::exit(1);
    }
}

async fn run(o: &Options) -> Result<(), String> {
    std::fs::create_dir_all(&o.out).map_err(|e| format!("{}: {e}", o.out.display()))?;
    let logs = o.out.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;

    eprintln!("building the measured binaries ({} profile)...", o.profile);
    let mut binaries = BTreeMap::new();
    for scenario in scenario::ALL {
        let package = scenario.binary();
        let binary = match &o.binaries {
            Some(dir) => dir.join(&package),
            None => build(&o.profile, &package)?,
        };
        if binary.exists() {
            binaries.insert(package, binary);
        } else if o.binaries.is_some() {
            eprintln!(
                "not measured: no {} in the given binaries",
                binary.display()
            );
        } else {
            return Err(format!("no binary {}", binary.display()));
        }
    }
    let hello = build(&o.profile, "reflex-hello")?;

    let emulator = Emulator::start();
    let mut rows = Vec::new();
    let mut details = serde_json::Map::new();

    if o.runs("cold") || o.runs("custodian") {
        eprintln!("cold starts: {} per binary...", o.runs);
        let cold = cold_starts(o, &emulator, &binaries, &hello, &logs).await?;
        let hello_init = &cold.hello_init;
        for s in present(&binaries) {
            let init = &cold.init[s.function];
            rows.push(
                Row::new("Cold start (spawn to first `next`)", s.function, "ms")
                    .reflex(init)
                    .against("hello-world", hello_init)
                    .target("≤ 2x the floor", table::at_most_times(2.0)),
            );
        }
        for s in present(&binaries) {
            rows.push(
                Row::new(
                    "First response, as deployed (spawn to answer, AWS on loopback)",
                    format!("{} on `{}`", s.function, s.event),
                    "ms",
                )
                .reflex(&cold.first_response[s.function]),
            );
        }
        rows.push(
            Row::new(
                "First response, as deployed (spawn to answer, AWS on loopback)",
                "hello-world (no AWS call)",
                "ms",
            )
            .reflex(&cold.hello_first_response),
        );

        let latency = moto::call_latency(
            &emulator.endpoint,
            "mallory",
            if o.quick { 20 } else { 200 },
        )?;
        let revoke_first = &cold.first_response["revoke"];
        if o.runs("custodian") {
            eprintln!("Cloud Custodian on the same event: {} runs...", o.runs);
            let peer = custodian::run(&emulator, o.runs).await?;
            let in_process: Vec<f64> = peer
                .import_ms
                .iter()
                .zip(&peer.first_event_ms)
                .map(|(a, b)| a + b)
                .collect();
            let section =
                "First remediation end to end: AttachUserPolicy of AdministratorAccess detached";
            rows.push(
                Row::new(
                    section,
                    "Reflex revoke, spawn to answer, vs Custodian import + first event",
                    "ms",
                )
                .reflex(revoke_first)
                .against(format!("Cloud Custodian {}", peer.version), &in_process)
                .target("≥ 30x faster", table::faster_by(30.0)),
            );
            rows.push(
                Row::new(
                    section,
                    "Reflex revoke vs Custodian's whole process (Python's start included)",
                    "ms",
                )
                .reflex(revoke_first)
                .against(
                    format!("Cloud Custodian {}", peer.version),
                    &peer.process_ms,
                )
                .target("≥ 30x faster", table::faster_by(30.0)),
            );
            rows.push(
                Row::new(section, "Custodian: import of its Lambda handler", "ms")
                    .against(format!("Cloud Custodian {}", peer.version), &peer.import_ms),
            );
            rows.push(
                Row::new(section, "Custodian: its first event", "ms").against(
                    format!("Cloud Custodian {}", peer.version),
                    &peer.first_event_ms,
                ),
            );
            details.insert("custodian_version".into(), json!(peer.version));
        }
        rows.push(
            Row::new(
                "First remediation end to end: AttachUserPolicy of AdministratorAccess detached",
                "the emulator's own latency per call (iam:ListUserTags, a new connection each)",
                "ms",
            )
            .reflex(&latency),
        );
    }

    if o.runs("calls") {
        eprintln!("AWS calls per remediation...");
        let mut calls = serde_json::Map::new();
        for s in present(&binaries) {
            let counted = count_calls(&emulator, s, &binaries[&s.binary()], &logs).await?;
            rows.push(
                Row::new(
                    "AWS calls per remediation (total, then rounds waited for in turn)",
                    format!("{}: calls", s.function),
                    "calls",
                )
                .reflex(&[counted.total as f64]),
            );
            rows.push(
                Row::new(
                    "AWS calls per remediation (total, then rounds waited for in turn)",
                    format!("{}: rounds", s.function),
                    "rounds",
                )
                .reflex(&[counted.rounds as f64]),
            );
            calls.insert(
                s.function.into(),
                serde_json::to_value(&counted).unwrap_or_default(),
            );
        }
        details.insert("calls".into(), Value::Object(calls));
    }

    if o.runs("memory") {
        eprintln!(
            "peak memory over a cold start and {} warm events...",
            o.warm
        );
        let floor = lambda::long_run(
            &hello,
            &[],
            |i| renamed(&json!({"hello": i}), i),
            o.warm,
            &logs.join("hello-memory.log"),
        )?;
        let mut warm_rows = Vec::new();
        for s in present(&binaries) {
            let (acct, event) = scenario::prepare(&emulator, s).await;
            let env = scenario::environment(&acct, &emulator.endpoint);
            let log = logs.join(format!("{}-memory.log", s.function));
            let run = lambda::long_run(
                &binaries[&s.binary()],
                &env,
                |i| renamed(&event, i),
                o.warm,
                &log,
            )?;
            // A delivery refused for now (a claim another delivery holds) is Lambda's to
            // retry: counted and shown, not a reason to drop the figures.
            let figure = match run.errors {
                0 => s.function.to_string(),
                n => format!(
                    "{} ({n} of {} deliveries answered with an error; see {})",
                    s.function,
                    o.warm + 1,
                    log.display()
                ),
            };
            rows.push(
                Row::new(
                    "Peak RSS over a cold start and the warm events",
                    figure,
                    "MB",
                )
                .reflex(&[run.peak_rss_mb])
                .against("hello-world", &[floor.peak_rss_mb])
                .target("≤ 32 MB", table::at_most(32.0)),
            );
            warm_rows.push(
                Row::new(
                    "Warm events, delivery to answer (AWS on loopback)",
                    s.function,
                    "ms",
                )
                .reflex(&run.warm_ms)
                .against("hello-world", &floor.warm_ms),
            );
        }
        rows.extend(warm_rows);
    }

    if o.runs("pure") {
        eprintln!("per-event cost of the pure path (criterion)...");
        let bench_pure = build(&o.profile, "reflex-bench-pure")?;
        let costs = pure::run(&bench_pure, o.quick, &o.out)?;
        let mut by_function: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for e in &costs.events {
            by_function
                .entry(&e.function)
                .or_default()
                .push(e.median_ns / 1000.0);
        }
        for (function, medians) in &by_function {
            rows.push(
                Row::new("Per event: parse + interpret + decide + guards, no I/O (medians over the samples)", format!("{function} ({} samples)", medians.len()), "µs")
                    .reflex(medians)
                    .target_worst("≤ 20 µs (the slowest sample)", 20.0),
            );
        }
        details.insert(
            "pure".into(),
            serde_json::to_value(&costs).unwrap_or_default(),
        );
    }

    if o.runs("size") {
        eprintln!("artifact sizes...");
        let zips = o.out.join("zips");
        let arm64 = if o.arm64 {
            eprintln!("  arm64 build with cargo-lambda (slow)...");
            let functions: Vec<&str> = scenario::ALL.iter().map(|s| s.function).collect();
            Some(size::arm64_zips(&functions, &o.out.join("arm64"))?)
        } else {
            None
        };
        let mut contributors = serde_json::Map::new();
        for s in present(&binaries) {
            let x86 = size::zip_size(&binaries[&s.binary()], &zips, s.function)? as f64 / 1e6;
            rows.push(
                Row::new(
                    "bootstrap.zip",
                    format!("{} (x86_64, {} build)", s.function, o.profile),
                    "MB",
                )
                .reflex(&[x86])
                .target("≤ 6 MB", table::at_most(6.0)),
            );
            if let Some(arm64) = &arm64 {
                rows.push(
                    Row::new(
                        "bootstrap.zip",
                        format!("{} (arm64, as deployed)", s.function),
                        "MB",
                    )
                    .reflex(&[arm64[s.function] as f64 / 1e6])
                    .target("≤ 6 MB", table::at_most(6.0)),
                );
            }
            if o.contributors {
                eprintln!("  {}: relinking with symbols...", s.function);
                let top = size::contributors(&s.binary(), &o.profile)?;
                let listed: Vec<String> = top
                    .iter()
                    .take(8)
                    .map(|(name, bytes)| format!("{name} {:.2} MB", *bytes as f64 / 1e6))
                    .collect();
                println!(
                    "largest contributors to {}: {}",
                    s.function,
                    listed.join(", ")
                );
                contributors.insert(
                    s.function.into(),
                    json!(top.iter().take(20).collect::<Vec<_>>()),
                );
            }
        }
        let floor = size::zip_size(&hello, &zips, "hello")? as f64 / 1e6;
        rows.push(
            Row::new(
                "bootstrap.zip",
                format!("hello-world (x86_64, {} build)", o.profile),
                "MB",
            )
            .reflex(&[floor]),
        );
        details.insert("contributors".into(), Value::Object(contributors));
    }

    let rendered = table::render(&rows);
    let header = format!(
        "Reflex benchmark, {} on {} ({}), {} profile, {} runs, {} warm events",
        chrono_date(),
        machine(),
        std::env::consts::ARCH,
        o.profile,
        o.runs,
        o.warm
    );
    println!("\n{header}\n\n{rendered}");
    let results = json!({
        "header": header,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "rows": rows,
        "details": details,
    });
    let json_path = o.out.join("results.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&results).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", json_path.display()))?;
    std::fs::write(o.out.join("table.md"), format!("{header}\n\n{rendered}"))
        .map_err(|e| format!("writing the table: {e}"))?;
    eprintln!("results: {}", json_path.display());
    Ok(())
}

struct ColdStarts {
    init: BTreeMap<&'static str, Vec<f64>>,
    first_response: BTreeMap<&'static str, Vec<f64>>,
    hello_init: Vec<f64>,
    hello_first_response: Vec<f64>,
}

/// `o.runs` cold starts of every function and of the floor, interleaved so that whatever else
/// the machine does weighs on both; one unmeasured start of each first (the binary read from
/// disk once, as it is cached on a Lambda host).
async fn cold_starts(
    o: &Options,
    emulator: &Emulator,
    binaries: &BTreeMap<String, PathBuf>,
    hello: &Path,
    logs: &Path,
) -> Result<ColdStarts, String> {
    let mut cold = ColdStarts {
        init: BTreeMap::new(),
        first_response: BTreeMap::new(),
        hello_init: Vec::new(),
        hello_first_response: Vec::new(),
    };
    let hello_event = json!({"hello": "world"});
    for run in 0..=o.runs {
        let measured = run > 0;
        let floor = lambda::cold_start(hello, &[], &hello_event, &logs.join("hello.log"))?;
        if measured {
            cold.hello_init.push(floor.init_ms);
            cold.hello_first_response.push(floor.first_response_ms);
        }
        for s in present(binaries) {
            let (acct, event) = scenario::prepare(emulator, s).await;
            let env = scenario::environment(&acct, &emulator.endpoint);
            let log = logs.join(format!("{}-cold.log", s.function));
            let started = lambda::cold_start(&binaries[&s.binary()], &env, &event, &log)?;
            did_its_job(s, &started.response, &log)?;
            if s.function == "revoke" {
                still_admin_is_an_error(&acct, &event).await?;
            }
            if measured {
                cold.init
                    .entry(s.function)
                    .or_default()
                    .push(started.init_ms);
                cold.first_response
                    .entry(s.function)
                    .or_default()
                    .push(started.first_response_ms);
            }
        }
    }
    Ok(cold)
}

/// The revoke run is timed only if it really detached the policy from the event's user.
async fn still_admin_is_an_error(
    acct: &reflex_tests::Account,
    event: &Value,
) -> Result<(), String> {
    let user = event["detail"]["requestParameters"]["userName"]
        .as_str()
        .ok_or("the revoke sample names no userName")?;
    let attached = acct
        .iam
        .list_attached_user_policies()
        .user_name(user)
        .send()
        .await
        .map_err(|e| format!("reading {user}'s policies back: {e}"))?;
    let admin = attached
        .attached_policies()
        .iter()
        .any(|p| p.policy_name() == Some("AdministratorAccess"));
    if admin {
        return Err(format!(
            "revoke answered but AdministratorAccess is still attached to {user}"
        ));
    }
    Ok(())
}

/// One cold run of `s` with every AWS call through a recording proxy.
async fn count_calls(
    emulator: &Emulator,
    s: &Scenario,
    binary: &Path,
    logs: &Path,
) -> Result<calls::Calls, String> {
    let (acct, event) = scenario::prepare(emulator, s).await;
    let proxy = FaultProxy::start(&emulator.endpoint);
    let env = scenario::environment(&acct, &proxy.endpoint);
    let log = logs.join(format!("{}-calls.log", s.function));
    let started = lambda::cold_start(binary, &env, &event, &log)?;
    did_its_job(s, &started.response, &log)?;
    Ok(calls::analyse(&proxy.timeline()))
}

/// A run that did not do its job is an error, not a figure.
fn did_its_job(s: &Scenario, response: &Ended, log: &Path) -> Result<(), String> {
    match response {
        Ended::Error {
            error_type,
            message,
        } => Err(format!(
            "{} answered {error_type}: {message}; see {}",
            s.function,
            log.display()
        )),
        Ended::Response(report) if report["status"] != s.done => Err(format!(
            "{} did not do its job (status {}, not {}): {report}",
            s.function, report["status"], s.done
        )),
        Ended::Response(_) => Ok(()),
    }
}

/// The scenarios whose binary is there to measure.
fn present(binaries: &BTreeMap<String, PathBuf>) -> impl Iterator<Item = &'static Scenario> + '_ {
    scenario::ALL
        .iter()
        .filter(|s| binaries.contains_key(&s.binary()))
}

/// The event as the `i`-th new one (a new id): a warm run handles new events, not redeliveries.
fn renamed(event: &Value, i: usize) -> Value {
    let mut event = event.clone();
    if i == 0 {
        return event;
    }
    let id = format!("00000000-0000-4000-8000-{i:012}");
    if event.get("id").is_some() {
        event["id"] = json!(id);
    }
    if event.pointer("/detail/eventID").is_some() {
        event["detail"]["eventID"] = json!(id);
    }
    event
}

/// A package's binary of the same name, built alone as `sam build` builds a function.
fn build(profile: &str, package: &str) -> Result<PathBuf, String> {
    reflex_tests::runtime::build(profile, package, package)
}

fn chrono_date() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The CPU model and the number of cores.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "an unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model}, {cores} cores")
}
