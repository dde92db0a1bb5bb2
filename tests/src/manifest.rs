//! `events/routes.toml`, the manifest of which functions each sample event must reach through
//! the template's EventBridge rules: read by the wiring tests and by `reflex plan`'s tests.
//!
//! `[routes]` maps a path under `events/`, or a glob (`*` does not cross `/`), to the functions
//! the event must reach; a file's own entry wins over the globs, and a file without one must be
//! covered by exactly one glob. `[[variant]]`s are near misses: a sample with fields changed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use globset::GlobBuilder;
use serde::Deserialize;
use serde_json::Value;

/// The manifest's path, relative to the workspace.
pub const MANIFEST: &str = "events/routes.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// A path under `events/`, or a glob, and the functions its events must reach.
    pub routes: BTreeMap<String, Vec<String>>,
    #[serde(default, rename = "variant")]
    pub variants: Vec<Variant>,
}

/// A near miss: a sample with fields changed, and the functions it must reach (often none).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub from: String,
    /// JSON pointer into the event = the value to put there.
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    /// JSON pointers of fields to remove.
    #[serde(default)]
    pub remove: Vec<String>,
    pub to: Vec<String>,
    pub why: String,
}

/// The workspace's manifest, read once; panics naming the file if it cannot be read.
pub fn manifest() -> &'static Manifest {
    static MANIFEST_: OnceLock<Manifest> = OnceLock::new();
    MANIFEST_.get_or_init(|| {
        let path = crate::emulator::workspace_root().join(MANIFEST);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{MANIFEST}: {e}"));
        toml::from_str(&text).unwrap_or_else(|e| panic!("{MANIFEST}: {e}"))
    })
}

pub fn is_glob(key: &str) -> bool {
    key.contains(['*', '?', '[', '{'])
}

/// Whether the glob `key` covers `file` (both relative to `events/`; `*` does not cross `/`).
pub fn covers(key: &str, file: &str) -> bool {
    GlobBuilder::new(key)
        .literal_separator(true)
        .build()
        .unwrap_or_else(|e| panic!("{MANIFEST}: `{key}` is not a valid glob: {e}"))
        .compile_matcher()
        .is_match(file)
}

impl Manifest {
    /// The functions `file` (relative to `events/`) must reach: its own entry, else the one glob
    /// that covers it.
    pub fn expected(&self, file: &str) -> Result<BTreeSet<String>, String> {
        if let Some(functions) = self.routes.get(file) {
            return Ok(functions.iter().cloned().collect());
        }
        let globs: Vec<_> = self
            .routes
            .iter()
            .filter(|(key, _)| is_glob(key) && covers(key, file))
            .collect();
        match globs.as_slice() {
            [(_, functions)] => Ok(functions.iter().cloned().collect()),
            [] => Err(format!(
                "events/{file}: not in {MANIFEST}; add it (or a glob covering it) with the \
                 functions it must reach, [] for none"
            )),
            several => Err(format!(
                "events/{file}: covered by several globs in {MANIFEST} ({}); give the file its \
                 own entry",
                several
                    .iter()
                    .map(|(key, _)| format!("\"{key}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}
