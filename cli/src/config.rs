//! The functions' configuration for the command line: the same `REFLEX_*` variables a
//! deployment sets, from a `--config` file of KEY=VALUE lines and the environment (which wins).
//! Unset variables take the functions' own defaults (dry-run, the default exemption tag, ...).

use std::collections::BTreeMap;
use std::path::Path;

/// Variables read from the `--config` file; the environment is read when asked.
#[derive(Debug, Clone, Default)]
pub struct Config {
    file: BTreeMap<String, String>,
}

impl Config {
    /// The file's variables, if one is given. A line that is not KEY=VALUE (nor blank, nor a
    /// `#` comment) is an error naming the line.
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--config {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("--config {}: {e}", path.display()))
    }

    fn parse(text: &str) -> Result<Self, String> {
        let mut file = BTreeMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("line {}: not KEY=VALUE", number + 1));
            };
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            file.insert(key.trim().to_string(), unquoted.to_string());
        }
        Ok(Self { file })
    }

    /// A variable's value: the environment's, else the file's.
    pub fn get(&self, key: &str) -> Option<String> {
        std::env::var(key)
            .ok()
            .or_else(|| self.file.get(key).cloned())
    }

    /// The lookup the functions' settings read (`reflex_shared::config::Env`).
    pub fn env(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |key: &str| self.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_reads_like_an_env_file() {
        let config = Config::parse(
            "# the deployment\nREFLEX_MODE=enforce\nexport REFLEX_EXEMPT_TAG=\"a=b\"\n\n",
        )
        .unwrap();
        assert_eq!(config.file["REFLEX_MODE"], "enforce");
        assert_eq!(config.file["REFLEX_EXEMPT_TAG"], "a=b");
        assert!(Config::parse("REFLEX_MODE").unwrap_err().contains("line 1"));
    }
}
