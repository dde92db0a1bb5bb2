//! The files a backtest reads: the paths given, directories walked as the workers go (the list
//! of an archive's files is never held whole), each file handed to the workers' queue or
//! counted as skipped (not a log file by its name) or filtered out by its path.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;

use super::conversion::Filters;
use super::progress::Counters;
use super::reading::{Layout, UNREADABLE};
use super::summary::Summary;

/// A file for a worker to read.
pub struct Job {
    pub path: PathBuf,
    pub layout: Layout,
    /// Its size on disk.
    pub size: u64,
}

/// Why a file is not read by its name.
pub const NOT_A_LOG: &str = "not a log file (by its name)";

/// How a file is read, from its name: `.json` (CloudTrail's documents or exports of records),
/// `.jsonl`/`.ndjson` (JSON lines), each also gzipped (`.gz`); `None` for any other file.
/// Whether it is gzipped is told by its content, not its name.
pub fn layout_of(path: &Path) -> Option<Layout> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".json") {
        Some(Layout::Values)
    } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
        Some(Layout::Lines)
    } else {
        None
    }
}

/// Every path given must exist: a wrong argument is an error, not a skipped file.
pub fn check_arguments(paths: &[PathBuf]) -> Result<(), String> {
    for path in paths {
        std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Walk `paths`, sending each log file to `queue`; what is not sent is counted in the returned
/// summary. Stops early when the workers are gone.
pub fn walk(
    paths: &[PathBuf],
    filters: &Filters,
    counters: &Counters,
    queue: SyncSender<Job>,
) -> Summary {
    let mut summary = Summary::default();
    let mut pending: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(path) = pending.pop() {
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            Err(e) => {
                summary
                    .files_skipped
                    .add(UNREADABLE, || format!("{}: {e}", path.display()));
                continue;
            }
        };
        if metadata.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(entries) => {
                    for entry in entries {
                        match entry {
                            // A directory reached through a symbolic link is not walked: it
                            // could lead back up the tree.
                            Ok(entry) => match entry.file_type() {
                                Ok(kind) if kind.is_symlink() && entry.path().is_dir() => {}
                                _ => pending.push(entry.path()),
                            },
                            Err(e) => summary
                                .files_skipped
                                .add(UNREADABLE, || format!("{}: {e}", path.display())),
                        }
                    }
                }
                Err(e) => summary
                    .files_skipped
                    .add(UNREADABLE, || format!("{}: {e}", path.display())),
            }
            continue;
        }
        let Some(layout) = layout_of(&path) else {
            summary
                .files_skipped
                .add(NOT_A_LOG, || path.display().to_string());
            continue;
        };
        if filters.excludes_path(&path).is_some() {
            summary.files_filtered += 1;
            continue;
        }
        counters
            .found_bytes
            .fetch_add(metadata.len(), Ordering::Relaxed);
        let job = Job {
            path,
            layout,
            size: metadata.len(),
        };
        if queue.send(job).is_err() {
            break;
        }
    }
    counters.walked.store(true, Ordering::Relaxed);
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_told_by_the_name() {
        let layout = |name: &str| layout_of(Path::new(name));
        assert_eq!(
            layout("a/1_CloudTrail_us-east-1_x.json.gz"),
            Some(Layout::Values)
        );
        assert_eq!(layout("export.JSON"), Some(Layout::Values));
        assert_eq!(layout("export.jsonl.gz"), Some(Layout::Lines));
        assert_eq!(layout("export.ndjson"), Some(Layout::Lines));
        assert_eq!(layout("README.txt"), None);
        assert_eq!(layout(".DS_Store"), None);
    }
}
