//! `reflex backtest`: the rules over CloudTrail logs, with no AWS call.
//!
//! - `files`: the paths walked, log files told from others by name, filters by S3 path
//! - `reading`: one file streamed record by record (gzip by its magic bytes, bounded memory)
//! - `conversion`: a CloudTrail record as the EventBridge event it would have been; filters
//! - `workers`: routing and judging each record, one worker per core
//! - `summary`: the counts, merged, as text or JSON
//! - `progress`: the progress line on a terminal

mod conversion;
mod files;
mod progress;
mod reading;
mod summary;
mod workers;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::config::Config;
use crate::exit::{Exit, Output};
use crate::judge;
use crate::routes::Routes;

/// What the rules would have done over CloudTrail logs as delivered to S3.
///
/// Reads `.json.gz` CloudTrail log files (in the `AWSLogs/<account>/CloudTrail/<region>/...`
/// layout or not), plain JSON and JSON-lines exports (`.jsonl`, `.ndjson`, also gzipped); turns
/// each record into the EventBridge event it would have been, routes it with the template's
/// rules and runs each function's interpretation, rules and guards (no AWS call, nothing known
/// beyond the event). Prints per rule the findings by mode, the steps that would run, the top
/// actors and resources; the reports that would have been sent by severity; and the files and
/// records skipped, by reason. With `--json`, every finding as a JSON line, then the summary.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  reflex backtest ./AWSLogs --since 2026-09-01 --region us-east-1"
)]
pub struct Args {
    /// Log files or directories (searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Only records at or after this time (`2026-09-01` is midnight UTC, or RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only records before this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only records of this account (repeat or separate by commas for several).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub account: Vec<String>,
    /// Only records of this region (repeat or separate by commas for several).
    #[arg(long, value_name = "REGION", value_delimiter = ',')]
    pub region: Vec<String>,
    /// Files read at once (default: every core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// A record (or JSON line) larger than this stops its file, which is counted as skipped.
    #[arg(long, value_name = "BYTES", default_value_t = reading::DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,
}

pub fn run(args: Args, config: &Config, output: &Output) -> Result<Exit, String> {
    let filters = conversion::Filters {
        since: args
            .since
            .as_deref()
            .map(conversion::parse_time)
            .transpose()
            .map_err(|e| format!("--since: {e}"))?,
        until: args
            .until
            .as_deref()
            .map(conversion::parse_time)
            .transpose()
            .map_err(|e| format!("--until: {e}"))?,
        accounts: args.account.clone(),
        regions: args.region.clone(),
    };
    files::check_arguments(&args.paths)?;
    let routes = Routes::load(None, &BTreeMap::new())?;
    let env = config.env();
    let judges = judge::all(&env)?;
    let jobs = args
        .jobs
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .max(1);

    let started = Instant::now();
    let counters = Arc::new(progress::Counters::default());
    let progress = progress::Progress::start(counters.clone());
    let shared = workers::Shared {
        routes: &routes,
        judges: &judges,
        filters: &filters,
        max_record: args.max_record_bytes,
        json: output.json,
        counters: &counters,
    };
    // A bounded queue: the walk keeps only a few thousand paths ahead of the workers.
    let (sender, receiver) = sync_channel(4096);
    let receiver = Mutex::new(receiver);
    let summary = std::thread::scope(|scope| {
        let walker = scope.spawn(|| files::walk(&args.paths, &filters, &counters, sender));
        let workers: Vec<_> = (0..jobs)
            .map(|_| scope.spawn(|| workers::work(&shared, &receiver)))
            .collect();
        let mut summary = summary::Summary::default();
        let mut lost = false;
        for handle in workers.into_iter().chain([walker]) {
            match handle.join() {
                Ok(part) => summary.merge(part),
                Err(_) => lost = true,
            }
        }
        (!lost)
            .then_some(summary)
            .ok_or("backtest: a worker stopped unexpectedly; the counts would be incomplete")
    });
    progress.finish();
    let summary = summary?;
    let seconds = started.elapsed().as_secs_f64();
    if output.json {
        println!("{}", summary.to_json(seconds));
    } else {
        print!("{}", summary.text(seconds));
    }
    Ok(Exit::from_found(summary.found()))
}
