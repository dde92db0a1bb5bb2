//! Criterion, driven as a library: one benchmark per (event, function), its statistics read back
//! from the files criterion writes (`new/estimates.json`, `new/sample.json`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, SamplingMode};
use serde::Deserialize;

/// Criterion's figures for one benchmark, per iteration, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Criterion's estimate of the median.
    pub median_ns: f64,
    /// The fastest and slowest of criterion's samples (each sample's time over its iterations).
    pub min_ns: f64,
    pub max_ns: f64,
}

pub struct Bench {
    criterion: Option<Criterion>,
    /// A scratch directory for criterion's files, removed on drop.
    scratch: PathBuf,
    count: usize,
    /// Quick runs take the same few iterations per sample: with so short a measurement time,
    /// criterion's linear ramp of iterations could not complete its samples.
    sampling: SamplingMode,
}

impl Bench {
    /// `quick`: a few milliseconds per benchmark, for CI; otherwise about 0.8 s each (some 200
    /// pairs: under three minutes).
    pub fn new(quick: bool) -> Self {
        let criterion = Criterion::default().without_plots();
        let criterion = if quick {
            criterion
                .sample_size(10)
                .warm_up_time(Duration::from_millis(10))
                .measurement_time(Duration::from_millis(20))
                // The median's point estimate does not depend on the resamples (only its
                // confidence interval does, which is not reported): criterion's floor.
                .nresamples(1000)
        } else {
            criterion
                .sample_size(50)
                .warm_up_time(Duration::from_millis(300))
                .measurement_time(Duration::from_millis(500))
                .nresamples(10_000)
        };
        let scratch =
            std::env::temp_dir().join(format!("reflex-bench-pure-{}", std::process::id()));
        Self {
            criterion: Some(criterion),
            scratch,
            count: 0,
            sampling: if quick {
                SamplingMode::Flat
            } else {
                SamplingMode::Auto
            },
        }
    }

    /// Measure `routine` as benchmark `id` of `group`.
    pub fn measure(&mut self, group: &str, id: &str, mut routine: impl FnMut()) -> Timing {
        // A directory of its own per benchmark: its results are the only ones in there.
        self.count += 1;
        let dir = self.scratch.join(format!("{:04}", self.count));
        let mut criterion = self
            .criterion
            .take()
            .expect("criterion is put back after each benchmark")
            .output_directory(&dir);
        let mut benchmarks = criterion.benchmark_group(group);
        benchmarks
            .sampling_mode(self.sampling)
            .bench_function(id, |b| b.iter(&mut routine));
        benchmarks.finish();
        self.criterion = Some(criterion);
        read_timing(&dir).unwrap_or_else(|e| panic!("criterion's results for {group}/{id}: {e}"))
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.scratch);
    }
}

#[derive(Deserialize)]
struct Estimates {
    median: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct Samples {
    iters: Vec<f64>,
    times: Vec<f64>,
}

/// The one benchmark's results under `dir` (`dir/<group>/<benchmark>/new/`).
fn read_timing(dir: &Path) -> Result<Timing, String> {
    let new = results_of_only_benchmark(dir)
        .ok_or_else(|| format!("no new/estimates.json under {}", dir.display()))?;
    let estimates: Estimates = read_json(&new.join("estimates.json"))?;
    let samples: Samples = read_json(&new.join("sample.json"))?;
    let per_iteration = samples
        .times
        .iter()
        .zip(&samples.iters)
        .map(|(time, iters)| time / iters);
    let (min_ns, max_ns) = per_iteration.fold((f64::INFINITY, 0.0_f64), |(lo, hi), t| {
        (lo.min(t), hi.max(t))
    });
    Ok(Timing {
        median_ns: estimates.median.point_estimate,
        min_ns,
        max_ns,
    })
}

/// The `new/` directory criterion wrote its results to, somewhere under `dir`.
fn results_of_only_benchmark(dir: &Path) -> Option<PathBuf> {
    let new = dir.join("new");
    if new.join("estimates.json").is_file() {
        return Some(new);
    }
    fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .find_map(|entry| results_of_only_benchmark(&entry.path()))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("cannot parse {}: {e}", path.display()))
}
