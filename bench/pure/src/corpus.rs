//! The sample events: every `*.json` under the events directory except `invalid/` (malformed
//! input, which never reaches a function's rules).

use std::fs;
use std::path::Path;

pub struct Sample {
    /// The path under the events directory, `/`-separated: `revoke/attach-admin-to-user.json`.
    pub name: String,
    /// The file's bytes: what the Lambda runtime receives, before any JSON parsing.
    pub raw: Vec<u8>,
}

/// The samples under `dir`, sorted by name.
pub fn load(dir: &Path) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    collect(dir, "", &mut samples)?;
    samples.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(samples)
}

fn collect(dir: &Path, prefix: &str, into: &mut Vec<Sample>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let name = format!("{prefix}{file_name}");
        if path.is_dir() {
            if name != "invalid" {
                collect(&path, &format!("{name}/"), into)?;
            }
        } else if file_name.ends_with(".json") {
            let raw =
                fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            into.push(Sample { name, raw });
        }
    }
    Ok(())
}
