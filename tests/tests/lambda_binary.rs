//! The real `reflex-revoke` binary under real Lambda tooling. cargo-lambda's `watch` builds the
//! binary with cargo and runs it behind its emulation of the Lambda runtime API; its `invoke`
//! sends events the way Lambda would. The function talks to the moto emulator, so the effects
//! (policy detached, report published) are read back exactly as in `revoke_e2e.rs`.
//!
//! Needs cargo-lambda in the venv (`tests/requirements.txt`). Linux only (reads `/proc`).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reflex_revoke::actions::Identity;
use reflex_shared::report::{Report, Status};
use reflex_tests::account::{ADMIN, LEDGER_TABLE, REFLEX_SESSION};
use reflex_tests::emulator::{REGION, workspace_root};
use reflex_tests::{Account, Emulator, sample};
use serde_json::{Value, json};

/// The binary's name, which is also the function name `watch` serves it under.
const FUNCTION: &str = "reflex-revoke";
/// How long `watch` may take to listen.
const PORT_TIMEOUT: Duration = Duration::from_secs(180);
/// `watch` starts the function lazily, with `cargo run`, on the first invocation. Cargo resolves
/// features for the binary alone, not as `cargo test` did for this crate, so a fresh target dir
/// recompiles some dependencies then: a few minutes on a small machine.
const FIRST_INVOKE_TIMEOUT: Duration = Duration::from_secs(600);
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

fn venv() -> PathBuf {
    match std::env::var_os("REFLEX_VENV") {
        Some(venv) => PathBuf::from(venv),
        None => workspace_root().join(".venv"),
    }
}

/// A free loopback port: bind port 0, note what the OS picked, release it for `watch`.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a free port");
    listener.local_addr().expect("local address").port()
}

/// A cargo-lambda command that inherits nothing AWS- or Reflex-specific from the developer's
/// shell: an inherited `AWS_ENDPOINT_URL_IAM` or `AWS_PROFILE` must not aim the function at a
/// real account, nor a stray `REFLEX_*` change its configuration.
fn cargo_lambda(subcommand: &str) -> Command {
    let mut cmd = Command::new(venv().join("bin/cargo-lambda"));
    cmd.args(["lambda", subcommand])
        .current_dir(workspace_root());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("AWS_") || key.starts_with("REFLEX_") {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// A scratch directory for the event and env files and the `watch` log, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "reflex-lambda-binary-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("creating the scratch directory");
        Self(dir)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("writing a scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `cargo lambda watch`, running in its own process group; the whole tree is stopped on drop.
struct Watch {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Watch {
    /// Start serving the workspace's functions on a free loopback port, with `env` added to the
    /// function's environment.
    fn start(scratch: &Scratch, env: &[(&str, &str)]) -> Self {
        let env_lines: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        // A file rather than `--env-var`, which splits its value on commas.
        let env_file = scratch.write("function.env", &env_lines);
        let log = scratch.0.join("watch.log");
        let port = free_port();

        let mut cmd = cargo_lambda("watch");
        cmd.args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            // A test run must not rebuild and restart the function because a file changed.
            .arg("--ignore-changes")
            // Everything was fetched when `cargo test` built this crate (it depends on
            // reflex-revoke): the nested `cargo run` has no reason to reach the network.
            .arg("--offline")
            .arg("--env-file")
            .arg(&env_file);
        // Build where `cargo test` built, so only what differs is compiled: `CARGO_TARGET_DIR`,
        // if set, is inherited by the nested `cargo run`. (Not `--target-dir`: cargo-lambda also
        // hands that flag to `cargo metadata`, which refuses it.)
        let log_file = std::fs::File::create(&log).expect("creating the watch log");
        cmd.stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            // Its own group, so the whole tree can be signalled at once.
            .process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "could not start cargo-lambda from {}: {e}",
                venv().display()
            )
        });
        let mut watch = Self { child, port, log };
        watch.wait_until_listening();
        watch
    }

    fn wait_until_listening(&mut self) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + PORT_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("cargo lambda watch exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch is not listening on {addr} after {PORT_TIMEOUT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `cargo lambda invoke` with the payload in `data_file`, given at most `timeout`.
    fn invoke(&self, data_file: &Path, timeout: Duration) -> Output {
        let mut cmd = cargo_lambda("invoke");
        cmd.arg(FUNCTION)
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(data_file)
            .args(["--color", "never"]);
        // std has no timeout for a child process: wait for it on a thread. If the deadline
        // passes, dropping the `Watch` closes the server, which ends the stuck invoke too.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(cmd.output());
        });
        match rx.recv_timeout(timeout) {
            Ok(output) => output.expect("running cargo lambda invoke"),
            Err(_) => panic!(
                "cargo lambda invoke did not answer within {timeout:?}:\n{}",
                self.log()
            ),
        }
    }

    /// What cargo-lambda, cargo and the function printed so far.
    /// The first EMF document the function printed that `wanted` accepts, waiting for the log
    /// to catch up.
    fn emf_line(&self, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            let found = log
                .lines()
                // CloudWatch reads EMF only from a line that is the JSON document, whole.
                .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
                .filter(|doc| doc.get("_aws").is_some())
                .find(|doc| wanted(doc));
            if let Some(doc) = found {
                return doc;
            }
            assert!(
                Instant::now() < deadline,
                "no such EMF line in the function's output:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let pgid = self.child.id();
        // watchexec starts the function in a process group of its own, out of reach of a
        // signal to ours: note the whole tree now, while its parent links still show it.
        let tree = descendants(pgid);
        // TERM first: cargo-lambda then shuts down cleanly and stops the function itself.
        signal("TERM", &format!("-{pgid}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        // Then KILL whatever is left (nothing, normally).
        signal("KILL", &format!("-{pgid}"));
        for pid in tree {
            if Path::new(&format!("/proc/{pid}")).exists() {
                signal("KILL", &pid.to_string());
            }
        }
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- cargo lambda watch log ----\n{}", self.log());
        }
    }
}

/// `kill -s SIGNAL -- TARGET` (a negative target is a process group); errors ignored.
fn signal(name: &str, target: &str) {
    let _ = Command::new("kill")
        .args(["-s", name, "--", target])
        .stderr(Stdio::null())
        .status();
}

/// Every process below `root`, found through the parent ids in `/proc/<pid>/stat`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (command) state ppid ...": the command may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    tree.remove(0);
    tree
}

#[tokio::test]
async fn the_lambda_binary_detaches_admin_and_rejects_a_bad_event() {
    let emulator = Emulator::start();
    let account = Account::new(&emulator).await;
    account.seed().await;
    let alice = Identity::User("alice".into());
    let event = account
        .replay(sample("revoke/attach-admin-to-user.json"))
        .await;
    assert!(
        account
            .attached_policies(&alice)
            .await
            .contains(&ADMIN.to_string()),
        "the replay attached AdministratorAccess to alice"
    );

    let scratch = Scratch::new();
    let event_file = scratch.write("event.json", &event.to_string());
    // Declared after the emulator, so dropped before it: the function never outlives moto.
    let watch = Watch::start(
        &scratch,
        &[
            ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("REFLEX_MODE", "enforce"),
            ("REFLEX_TOPIC_ARN", account.topic_arn.as_str()),
            // Known up front, so the cold start does not ask STS who it is.
            ("REFLEX_SELF_ARN", REFLEX_SESSION),
            ("REFLEX_LEDGER_TABLE", LEDGER_TABLE),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ],
    );

    // The escalation: the function's response is its report.
    let out = watch.invoke(&event_file, FIRST_INVOKE_TIMEOUT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "invoke failed ({}):\n{stderr}",
        out.status
    );
    let response: Report = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the response is not a Reflex report ({e}): {stdout}"));
    assert_eq!(response.status, Status::Remediated, "{response:#?}");
    assert!(
        !account
            .attached_policies(&alice)
            .await
            .contains(&ADMIN.to_string()),
        "AdministratorAccess is still attached to alice"
    );
    let delivered = account.reports().await;
    assert_eq!(delivered.len(), 1, "one report per event: {delivered:#?}");
    assert_eq!(
        delivered[0].report, response,
        "the report sent is the response"
    );

    // The metrics, in CloudWatch's Embedded Metric Format: one line per action outcome.
    let emf = watch.emf_line(|doc| doc["Outcome"] == "done");
    assert_eq!(emf["Function"], "revoke", "{emf}");
    assert_eq!(emf["Rule"], "revoke.privileged-policy-attached", "{emf}");
    assert_eq!(emf["Actions"], 1, "{emf}");
    assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Reflex");
    let event = watch.emf_line(|doc| doc.get("Events").is_some());
    assert_eq!(
        (&event["Function"], &event["Status"], &event["Events"]),
        (&json!("revoke"), &json!("remediated"), &json!(1)),
        "{event}"
    );

    // EventBridge delivers at least once: the redelivery finds the ledger claim and does nothing.
    let out = watch.invoke(&event_file, INVOKE_TIMEOUT);
    let again: Report = serde_json::from_slice(&out.stdout).expect("a Reflex report");
    assert_eq!(again.status, Status::AlreadyHandled, "{again:#?}");
    assert_eq!(account.claims().await.len(), 1);
    assert!(account.reports().await.is_empty(), "no second report");

    // A malformed event: the runtime answers with the handler's error type, and invoke fails.
    let bad = workspace_root().join("events/invalid/missing-event-name.json");
    let out = watch.invoke(&bad, INVOKE_TIMEOUT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a malformed event was accepted: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // cargo-lambda prints the error as "Error: <errorType>" then "× <errorMessage>".
    assert!(stderr.contains("Permanent.BadEvent"), "{stderr}");
    assert!(stderr.contains("detail.eventName"), "{stderr}");
    assert!(
        account.reports().await.is_empty(),
        "a rejected event is not reported"
    );

    // AWS_LAMBDA_LOG_FORMAT reached the function: its log lines are JSON objects.
    assert!(
        watch.log().lines().any(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|v| v["level"] == "ERROR")
        }),
        "no JSON error log line from the function"
    );
}
