//! The command line: `--quick`, `--events-dir PATH`, `--json PATH`, `--filter TEXT`.

use std::path::PathBuf;

/// The workspace's `events/`, as found when this crate was compiled.
const DEFAULT_EVENTS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");

pub const USAGE: &str = "\
usage: reflex-bench-pure [--quick] [--events-dir PATH] [--json PATH] [--filter TEXT] [--phases]

Measures, with criterion, the per-event cost of Reflex's pure path (JSON text to value, content
digest, event parse, accept check, guards.screen, interpret, decide with no facts, guards.apply)
for every sample event under events/ (except events/invalid/) and every function that accepts it.

  --quick            very short warm-up and measurement (CI: seconds, even in a debug build)
  --events-dir PATH  the sample events [default: the workspace's events/]
  --json PATH        also write the results as JSON
  --filter TEXT      only the pairs whose `function event` contains TEXT (profiling one event)
  --phases           also measure each pair up to each stage, to see which stage costs what";

#[derive(Debug, Clone)]
pub struct Args {
    pub quick: bool,
    pub events_dir: PathBuf,
    pub json: Option<PathBuf>,
    pub filter: Option<String>,
    pub phases: bool,
}

impl Args {
    /// `Ok(None)`: help was asked for.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Self>, String> {
        let mut parsed = Args {
            quick: false,
            events_dir: PathBuf::from(DEFAULT_EVENTS_DIR),
            json: None,
            filter: None,
            phases: false,
        };
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--quick" => parsed.quick = true,
                "--phases" => parsed.phases = true,
                "--events-dir" => parsed.events_dir = PathBuf::from(value("--events-dir")?),
                "--json" => parsed.json = Some(PathBuf::from(value("--json")?)),
                "--filter" => parsed.filter = Some(value("--filter")?),
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(Some(parsed))
    }
}
