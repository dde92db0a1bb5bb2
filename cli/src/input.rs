//! Events given on the command line: files, directories of them (searched recursively for
//! `.json` files, in name order), or `-` for standard input (also when no path is given).
//! Each is read whole (an event is small) and parsed as JSON; a file that cannot be read or is
//! not JSON is an error that names it, and the others are still read.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Events larger than this are refused: EventBridge delivers at most 256 KB.
pub const MAX_EVENT_BYTES: u64 = 1024 * 1024;

/// One event as given: where it came from and its JSON, or why it could not be read.
pub struct Given {
    /// The file's path, or `-` for standard input.
    pub source: String,
    pub event: Result<Value, String>,
}

/// Every event `paths` name, in order (`-` or no path: standard input).
pub fn events(paths: &[PathBuf]) -> Result<Vec<Given>, String> {
    let mut given = Vec::new();
    if paths.is_empty() {
        given.push(from_stdin());
        return Ok(given);
    }
    for path in paths {
        if path.as_os_str() == "-" {
            given.push(from_stdin());
        } else if path.is_dir() {
            for file in json_files(path)? {
                given.push(from_file(&file));
            }
        } else {
            given.push(from_file(path));
        }
    }
    Ok(given)
}

fn from_stdin() -> Given {
    let mut text = Vec::new();
    let event = std::io::stdin()
        .take(MAX_EVENT_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read standard input: {e}"))
        .and_then(|_| parse(&text));
    Given {
        source: "-".into(),
        event,
    }
}

fn from_file(path: &Path) -> Given {
    let event = std::fs::File::open(path)
        .and_then(|file| {
            let mut text = Vec::new();
            file.take(MAX_EVENT_BYTES + 1).read_to_end(&mut text)?;
            Ok(text)
        })
        .map_err(|e| format!("cannot read it: {e}"))
        .and_then(|text| parse(&text));
    Given {
        source: path.display().to_string(),
        event,
    }
}

fn parse(text: &[u8]) -> Result<Value, String> {
    if text.len() as u64 > MAX_EVENT_BYTES {
        return Err(format!(
            "larger than {MAX_EVENT_BYTES} bytes: not an EventBridge event (at most 256 KB)"
        ));
    }
    serde_json::from_slice(text).map_err(|e| format!("not JSON: {e}"))
}

/// The `.json` files under `dir`, recursively, sorted by path.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}
