//! The progress line on a terminal: bytes read of those found so far, records, and the rates,
//! about five times a second on standard error. Nothing when standard error is not a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Counters the workers add to as they go, read by the progress line.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes read from the files, as on disk (compressed).
    pub bytes: Arc<AtomicU64>,
    /// Bytes of the files found so far (the walk may still be going).
    pub found_bytes: AtomicU64,
    pub records: AtomicU64,
    pub files: AtomicU64,
    /// Whether the walk is over (the total is then known).
    pub walked: AtomicBool,
}

/// The progress line, drawn by its own thread until [`Progress::finish`].
pub struct Progress {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start drawing if standard error is a terminal.
    pub fn start(counters: Arc<Counters>) -> Self {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = std::io::stderr().is_terminal().then(|| {
            let stop = stop.clone();
            std::thread::spawn(move || draw_until_stopped(&counters, &stop))
        });
        Self { stop, thread }
    }

    /// Stop drawing and clear the line.
    pub fn finish(mut self) {
        if let Some(thread) = self.thread.take() {
            let (lock, wake) = &*self.stop;
            if let Ok(mut stopped) = lock.lock() {
                *stopped = true;
            }
            wake.notify_all();
            let _ = thread.join();
            eprint!("\r\x1b[2K");
        }
    }
}

fn draw_until_stopped(counters: &Counters, stop: &(Mutex<bool>, Condvar)) {
    let started = Instant::now();
    let (lock, wake) = stop;
    let Ok(mut stopped) = lock.lock() else {
        return;
    };
    while !*stopped {
        let line = line(counters, started.elapsed());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        drop(err);
        stopped = match wake.wait_timeout(stopped, Duration::from_millis(200)) {
            Ok((guard, _)) => guard,
            Err(_) => return,
        };
    }
}

/// `[#####-----]  412.3/1200.0 MB  34%  1234567 records  81234 records/s  27.1 MB/s`
fn line(counters: &Counters, elapsed: Duration) -> String {
    let bytes = counters.bytes.load(Ordering::Relaxed);
    let found = counters.found_bytes.load(Ordering::Relaxed).max(bytes);
    let records = counters.records.load(Ordering::Relaxed);
    let seconds = elapsed.as_secs_f64().max(0.001);
    let fraction = if found > 0 {
        bytes as f64 / found as f64
    } else {
        0.0
    };
    const WIDTH: usize = 24;
    let done = ((fraction * WIDTH as f64) as usize).min(WIDTH);
    let total = if counters.walked.load(Ordering::Relaxed) {
        format!("{:.1}", found as f64 / 1e6)
    } else {
        format!("{:.1}+", found as f64 / 1e6)
    };
    format!(
        "[{}{}] {:.1}/{total} MB {:>3.0}%  {records} records  {:.0} records/s  {:.1} MB/s",
        "#".repeat(done),
        "-".repeat(WIDTH - done),
        bytes as f64 / 1e6,
        fraction * 100.0,
        records as f64 / seconds,
        bytes as f64 / 1e6 / seconds,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_bytes_records_and_rates() {
        let counters = Counters::default();
        counters.bytes.store(50_000_000, Ordering::Relaxed);
        counters.found_bytes.store(100_000_000, Ordering::Relaxed);
        counters.records.store(1000, Ordering::Relaxed);
        let line = line(&counters, Duration::from_secs(2));
        assert!(line.contains("50.0/100.0+ MB"), "{line}");
        assert!(line.contains(" 50%"), "{line}");
        assert!(line.contains("500 records/s"), "{line}");
        assert!(line.contains("25.0 MB/s"), "{line}");
    }
}
