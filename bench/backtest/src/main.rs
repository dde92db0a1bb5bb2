//! `reflex backtest` beside its floor, on the same machine in the same run.
//!
//! For each archive size: generate the archive with `scripts/cloudtrail-archive` (or reuse it),
//! read every file once so both measurements start from the page cache, then
//!
//! - the floor: every `.json.gz` file only decompressed and parsed to a `serde_json::Value`,
//!   whole (the fastest simple way: CloudTrail's files are small), one thread per core, in this
//!   process;
//! - the backtest: `reflex --json backtest ARCHIVE` on the same files, its peak resident memory
//!   polled from `/proc/<pid>/status` (`VmHWM`).
//!
//! Prints MB/s (compressed bytes on disk) and records/s side by side, the ratio, and peak memory.
//! Both must be built with the same profile (`make bench-backtest` builds both with `backtest`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use serde_json::Value;

const USAGE: &str = "\
usage: reflex-bench-backtest [--sizes 100MB,2GB] [--dir DIR] [--reflex PATH] [--jobs N]

  --sizes LIST   archive sizes (compressed), each generated once under DIR (default 100MB,2GB)
  --dir DIR      where the archives are kept (default: $TMPDIR/reflex-backtest-bench)
  --reflex PATH  the reflex binary to measure (default: next to this one)
  --jobs N       threads for the floor and the backtest (default: every core)";

struct Options {
    sizes: Vec<String>,
    dir: PathBuf,
    reflex: PathBuf,
    jobs: usize,
}

fn options() -> Result<Options, String> {
    let here = std::env::current_exe().map_err(|e| format!("where am I: {e}"))?;
    let mut o = Options {
        sizes: vec!["100MB".into(), "2GB".into()],
        dir: std::env::temp_dir().join("reflex-backtest-bench"),
        reflex: here.with_file_name("reflex"),
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} takes a value\n{USAGE}"));
        match arg.as_str() {
            "--sizes" => o.sizes = value()?.split(',').map(String::from).collect(),
            "--dir" => o.dir = value()?.into(),
            "--reflex" => o.reflex = value()?.into(),
            "--jobs" => {
                o.jobs = value()?
                    .parse()
                    .map_err(|e| format!("--jobs: {e}\n{USAGE}"))?
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(o)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("reflex-bench-backtest: {e}");
        std::process::exit(1);
    }
}

/// One measurement: seconds, compressed bytes and records.
struct Rate {
    seconds: f64,
    bytes: u64,
    records: u64,
}

impl Rate {
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds
    }
    fn records_per_s(&self) -> f64 {
        self.records as f64 / self.seconds
    }
}

fn run() -> Result<(), String> {
    let o = options()?;
    if !o.reflex.exists() {
        return Err(format!(
            "{}: no reflex binary there (--reflex)",
            o.reflex.display()
        ));
    }
    println!(
        "reflex backtest beside its floor (decompress + parse to JSON only), {} threads",
        o.jobs
    );
    println!(
        "{:>8}  {:>9}  {:>11}  {:>10}  {:>12}  {:>10}  {:>12}  {:>6}  {:>9}",
        "archive",
        "files",
        "records",
        "floor MB/s",
        "floor rec/s",
        "reflex MB/s",
        "reflex rec/s",
        "ratio",
        "peak RSS"
    );
    for size in &o.sizes {
        let archive = o.dir.join(size);
        generate(&archive, size)?;
        let files = log_files(&archive)?;
        warm(&files)?;
        let floor = floor(&files, o.jobs)?;
        let (backtest, peak) = backtest(&o.reflex, &archive, o.jobs)?;
        println!(
            "{:>8}  {:>9}  {:>11}  {:>10.1}  {:>12.0}  {:>10.1}  {:>12.0}  {:>5.0}%  {:>6.1} MB",
            size,
            files.len(),
            floor.records,
            floor.mb_per_s(),
            floor.records_per_s(),
            backtest.mb_per_s(),
            backtest.records_per_s(),
            100.0 * backtest.mb_per_s() / floor.mb_per_s(),
            peak as f64 / 1e6,
        );
        if backtest.records < floor.records {
            return Err(format!(
                "the backtest read {} records, the floor {}: not the same work",
                backtest.records, floor.records
            ));
        }
    }
    Ok(())
}

/// Make the archive unless a finished one (with its manifest) is there.
fn generate(archive: &Path, size: &str) -> Result<(), String> {
    if archive.join("manifest.json").exists() {
        return Ok(());
    }
    eprintln!("generating a {size} archive in {}...", archive.display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/cloudtrail-archive");
    let status = Command::new("python3")
        .arg(script)
        .arg(archive)
        .args(["--size", size, "--seed", "1"])
        .status()
        .map_err(|e| format!("python3 scripts/cloudtrail-archive: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or(format!("the generator failed for {size}"))
}

/// Every `.json.gz` file under `dir`.
fn log_files(dir: &Path) -> Result<Vec<(PathBuf, u64)>, String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = entry.path();
            let metadata = entry
                .metadata()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if metadata.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(".json.gz") {
                files.push((path, metadata.len()));
            }
        }
    }
    Ok(files)
}

/// Read every file once: both measurements then read from the page cache.
fn warm(files: &[(PathBuf, u64)]) -> Result<(), String> {
    for (path, _) in files {
        std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Decompress and parse every file, whole, on `jobs` threads.
fn floor(files: &[(PathBuf, u64)], jobs: usize) -> Result<Rate, String> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let results: Vec<Result<(u64, u64), String>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| {
                    let (mut bytes, mut records) = (0, 0);
                    let mut text = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((path, size)) = files.get(i) else {
                            return Ok((bytes, records));
                        };
                        let file = std::fs::File::open(path)
                            .map_err(|e| format!("{}: {e}", path.display()))?;
                        text.clear();
                        MultiGzDecoder::new(std::io::BufReader::new(file))
                            .read_to_end(&mut text)
                            .map_err(|e| format!("{}: {e}", path.display()))?;
                        let document: Value = serde_json::from_slice(&text)
                            .map_err(|e| format!("{}: {e}", path.display()))?;
                        bytes += size;
                        records += document["Records"].as_array().map_or(0, Vec::len) as u64;
                    }
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err("a floor thread panicked".into()))
            })
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let (mut bytes, mut records) = (0, 0);
    for result in results {
        let (b, r) = result?;
        bytes += b;
        records += r;
    }
    Ok(Rate {
        seconds,
        bytes,
        records,
    })
}

/// `reflex --json backtest ARCHIVE`, timed, with its peak resident memory.
fn backtest(reflex: &Path, archive: &Path, jobs: usize) -> Result<(Rate, u64), String> {
    let started = Instant::now();
    let mut child = Command::new(reflex)
        .args(["--json", "backtest", "--jobs", &jobs.to_string()])
        .arg(archive)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", reflex.display()))?;
    let pid = child.id();
    let mut stdout = child.stdout.take().ok_or("no standard output")?;
    // Findings go to the pipe as they come: read them on a thread while polling the memory.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let mut peak = 0u64;
    let status = loop {
        peak = peak.max(high_water_mark(pid).unwrap_or(0));
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let text = reader
        .join()
        .map_err(|_| "the reader thread panicked")?
        .map_err(|e| e.to_string())?;
    if !matches!(status.code(), Some(0 | 2)) {
        return Err(format!("reflex backtest failed ({status}): {text}"));
    }
    let summary: Value = text
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or("no summary line from reflex backtest")?;
    // The log files only, as the floor reads them (the manifest is not one).
    let records = summary["records"]["read"].as_u64().unwrap_or(0);
    let bytes = summary["bytes"].as_u64().unwrap_or(0);
    Ok((
        Rate {
            seconds,
            bytes,
            records,
        },
        peak,
    ))
}

/// `VmHWM` of a running process, in bytes.
fn high_water_mark(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
