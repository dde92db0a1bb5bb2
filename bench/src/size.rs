//! What each function ships: its `bootstrap.zip` as Lambda takes it, and which crates its
//! binary is made of.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use reflex_tests::emulator::{python, workspace_root};

/// Zip `binary` as Lambda's `bootstrap` (deflate, as cargo-lambda and `sam build` zip it) into
/// `dir`; the zip's size in bytes.
pub fn zip_size(binary: &Path, dir: &Path, name: &str) -> Result<u64, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let zip = dir.join(format!("{name}.zip"));
    let script = "import sys, zipfile\n\
                  with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    \
                  z.write(sys.argv[2], 'bootstrap')\n";
    run(Command::new(python())
        .args(["-c", script])
        .arg(&zip)
        .arg(binary))?;
    file_size(&zip)
}

/// Build every function for Lambda's arm64 (Graviton) with cargo-lambda, zipped as `sam build`
/// ships it; each function's `bootstrap.zip` size in bytes. Slow: a release build of every
/// dependency for another architecture.
pub fn arm64_zips(functions: &[&str], dir: &Path) -> Result<BTreeMap<String, u64>, String> {
    let venv_bin = workspace_root().join(".venv/bin");
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cargo_lambda = Command::new(venv_bin.join("cargo-lambda"));
    cargo_lambda
        .args([
            "lambda",
            "build",
            "--release",
            "--arm64",
            "--output-format",
            "zip",
        ])
        .arg("--lambda-dir")
        .arg(dir)
        .env("PATH", path)
        .current_dir(workspace_root());
    for function in functions {
        cargo_lambda.args(["--bin", &format!("reflex-{function}")]);
    }
    run(&mut cargo_lambda)?;
    functions
        .iter()
        .map(|f| {
            let zip = dir.join(format!("reflex-{f}")).join("bootstrap.zip");
            Ok((f.to_string(), file_size(&zip)?))
        })
        .collect()
}

/// The largest contributors to `package`'s binary, by crate, in bytes of symbols: the binary is
/// linked once more with its symbols kept (only the final link: every dependency is reused),
/// read with `nm`, and then linked again as shipped.
pub fn contributors(package: &str, profile: &str) -> Result<Vec<(String, u64)>, String> {
    let relink = |extra: &[&str]| {
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cargo
            .args(["rustc", "--quiet", "--profile", profile, "-p", package])
            .args(["--bin", package, "--"])
            .args(extra)
            .current_dir(workspace_root());
        run(&mut cargo)
    };
    // A flag for the final link only: the dependencies are reused as they are.
    relink(&["-C", "strip=none"])?;
    let binary = target_dir().join(profile_dir(profile)).join(package);
    let nm = Command::new("nm")
        .args(["--print-size", "--size-sort", "--demangle"])
        .arg(&binary)
        .output()
        .map_err(|e| format!("running nm: {e}"))?;
    relink(&[])?;
    if !nm.status.success() {
        return Err(format!(
            "nm {}: {}",
            binary.display(),
            String::from_utf8_lossy(&nm.stderr)
        ));
    }
    let mut by_crate: BTreeMap<String, u64> = BTreeMap::new();
    for line in String::from_utf8_lossy(&nm.stdout).lines() {
        let mut fields = line.splitn(4, ' ');
        let (_, size, _, name) = (fields.next(), fields.next(), fields.next(), fields.next());
        let (Some(size), Some(name)) = (size, name) else {
            continue;
        };
        let Ok(size) = u64::from_str_radix(size, 16) else {
            continue;
        };
        *by_crate.entry(crate_of(name)).or_default() += size;
    }
    let mut sorted: Vec<(String, u64)> = by_crate.into_iter().collect();
    sorted.sort_by_key(|(_, bytes)| std::cmp::Reverse(*bytes));
    Ok(sorted)
}

/// The crate a demangled symbol belongs to: the first path's crate that is not the standard
/// library's generic glue (`core::ptr::drop_in_place<aws_sdk_iam::...>` is aws_sdk_iam's);
/// symbols without a Rust path are C code (aws-lc, the C library).
fn crate_of(symbol: &str) -> String {
    let mut std_seen = false;
    for (i, _) in symbol.match_indices("::") {
        let start = symbol[..i]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |p| p + 1);
        let name = &symbol[start..i];
        if name.is_empty() || name.chars().next().is_some_and(|c| c.is_uppercase()) {
            continue;
        }
        if ["core", "alloc", "std"].contains(&name) {
            std_seen = true;
            continue;
        }
        // Only the first segment of a path names a crate.
        let preceded_by_path = symbol[..start].ends_with("::");
        if !preceded_by_path {
            return name.to_string();
        }
    }
    if std_seen {
        "std".to_string()
    } else {
        "(C code: aws-lc, libc)".to_string()
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

pub fn profile_dir(profile: &str) -> &str {
    if profile == "dev" { "debug" } else { profile }
}

fn file_size(path: &Path) -> Result<u64, String> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("running {command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::crate_of;

    #[test]
    fn a_symbol_is_its_first_crate_past_the_standard_library_glue() {
        assert_eq!(crate_of("aws_sdk_iam::operation::send"), "aws_sdk_iam");
        assert_eq!(
            crate_of("core::ptr::drop_in_place<aws_sdk_iam::types::User>"),
            "aws_sdk_iam"
        );
        assert_eq!(
            crate_of("<serde_json::value::Value as core::fmt::Debug>::fmt"),
            "serde_json"
        );
        assert_eq!(crate_of("alloc::raw_vec::finish_grow"), "std");
        assert_eq!(
            crate_of("aws_lc_0_32_sha256_block_data_order"),
            "(C code: aws-lc, libc)"
        );
    }
}
