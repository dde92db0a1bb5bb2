//! The per-event cost of the pure path (parse, interpret, decide, guards) with no I/O, for
//! every sample event: measured by criterion in the `reflex-bench-pure` binary, read back here.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventCost {
    pub event: String,
    pub function: String,
    pub median_ns: f64,
    pub min_ns: f64,
    pub max_ns: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PureCosts {
    pub events: Vec<EventCost>,
}

/// Run `binary` (criterion, `--quick` for a short run) and read its results.
pub fn run(binary: &Path, quick: bool, out_dir: &Path) -> Result<PureCosts, String> {
    let json = out_dir.join("pure.json");
    let mut command = Command::new(binary);
    command.arg("--json").arg(&json);
    if quick {
        command.arg("--quick");
    }
    let out = command
        .output()
        .map_err(|e| format!("running {}: {e}", binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = std::fs::read_to_string(&json).map_err(|e| format!("{}: {e}", json.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))
}
