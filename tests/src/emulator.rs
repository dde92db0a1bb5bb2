//! The local stand-in for AWS: a real moto server on a free loopback port, one per test or demo,
//! stopped when dropped (or when this process dies: it exits when its stdin closes).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::config::Credentials;

/// The sample events' account and region, the emulator's default ones.
pub use reflex_testkit::{ACCOUNT, REGION};

pub struct Emulator {
    child: Child,
    /// Held open: closing it tells the server to stop.
    _stdin: ChildStdin,
    pub endpoint: String,
}

/// The workspace root (this crate lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python of the tools venv (`make setup`), or of `$REFLEX_VENV`.
pub fn python() -> PathBuf {
    match std::env::var_os("REFLEX_VENV") {
        Some(venv) => PathBuf::from(venv).join("bin/python"),
        None => workspace_root().join(".venv/bin/python"),
    }
}

impl Emulator {
    /// Start moto server; panics with the set-up command to run if it is not installed.
    pub fn start() -> Self {
        let python = python();
        assert!(
            python.exists(),
            "{} not found: run `make setup` (or `make test`) to install the emulator",
            python.display()
        );
        let verbose = std::env::var_os("REFLEX_EMULATOR_VERBOSE").is_some();
        let mut child = Command::new(&python)
            .arg(workspace_root().join("tests/emulator.py"))
            // AWS managed policies (AdministratorAccess, ...) exist in moto only with this.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if verbose {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", python.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the emulator's READY line");
        let port: u16 = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the emulator did not start (said {line:?}); set REFLEX_EMULATOR_VERBOSE=1 to see why"));
        Self {
            child,
            _stdin: stdin,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// SDK configuration aimed at the emulator for the harness's own calls (seeding, reading
    /// back), with dummy credentials (never the real chain, never the instance metadata service).
    /// Patient: a loaded machine running many emulators at once may take longer than the
    /// functions' own timeouts for moto's first EC2 call, which loads its AMI catalogue.
    pub async fn sdk_config(&self) -> SdkConfig {
        let patient = aws_config::timeout::TimeoutConfig::builder()
            .operation_timeout(std::time::Duration::from_secs(120))
            .build();
        sdk_config_at(&self.endpoint)
            .await
            .to_builder()
            .timeout_config(patient)
            .build()
    }

    /// Empty every service in the emulator (`POST /moto-api/reset`).
    pub fn reset(&self) {
        let addr = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).expect("connecting to the emulator");
        write!(
            stream,
            "POST /moto-api/reset HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("asking the emulator to reset");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("reading the reset response");
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "reset failed: {response}"
        );
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The functions' SDK configuration aimed at `endpoint` (the emulator, or a fault proxy in front
/// of it), with dummy credentials, the functions' own call timeouts, and the SDK's standard retries
/// ([`reflex_testkit::MAX_ATTEMPTS`] attempts) with short backoffs, so retry tests take no time.
pub async fn sdk_config_at(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "reflex-emulator",
        ))
        .endpoint_url(endpoint)
        .timeout_config(reflex_shared::aws::timeouts())
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(reflex_testkit::MAX_ATTEMPTS)
                .with_initial_backoff(std::time::Duration::from_millis(20))
                .with_max_backoff(std::time::Duration::from_millis(100)),
        )
        .load()
        .await
}
