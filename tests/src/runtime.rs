//! The Lambda runtime API, on loopback, for running a function's real binary as Lambda does:
//! the binary long-polls for the next event (with its request id and deadline) and posts back
//! the response or the error. Lambda's own retry is the test delivering the same event again,
//! to a new process when the first one was killed.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// How an invocation ended, as the runtime API was told.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    Response(Value),
    Error { error_type: String, message: String },
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String, u64)>,
    ended: HashMap<String, Ended>,
    next: u64,
    /// When each `GET /next` arrived, in order (the first one ends a cold start's init).
    polled_at: Vec<Instant>,
    /// When each invocation's response or error arrived.
    ended_at: HashMap<String, Instant>,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

pub struct RuntimeApi {
    /// `127.0.0.1:PORT`, what `AWS_LAMBDA_RUNTIME_API` holds.
    pub address: String,
    shared: Shared,
}

impl RuntimeApi {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the runtime API");
        let address = listener.local_addr().expect("local address").to_string();
        let shared: Shared = Arc::default();
        let state = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let state = state.clone();
                thread::spawn(move || serve(client, &state));
            }
        });
        Self { address, shared }
    }

    /// Hand `event` to the next `GET /next`, due `budget` from now; its request id.
    pub fn deliver(&self, event: &Value, budget: Duration) -> String {
        let (lock, cvar) = &*self.shared;
        let mut state = lock.lock().unwrap();
        state.next += 1;
        let id = format!("request-{}", state.next);
        let deadline = SystemTime::now() + budget;
        let millis = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        state
            .queue
            .push_back((id.clone(), event.to_string(), millis));
        cvar.notify_all();
        id
    }

    /// How invocation `id` ended; `None` if it did not within `wait`.
    pub fn ended(&self, id: &str, wait: Duration) -> Option<Ended> {
        let (lock, cvar) = &*self.shared;
        let state = lock.lock().unwrap();
        let (state, _) = cvar
            .wait_timeout_while(state, wait, |s| !s.ended.contains_key(id))
            .unwrap();
        state.ended.get(id).cloned()
    }

    /// When each `GET /next` arrived so far, in order: the first one is where a process's init
    /// ends (for the benchmark's cold starts).
    pub fn polled_at(&self) -> Vec<Instant> {
        self.shared.0.lock().unwrap().polled_at.clone()
    }

    /// When invocation `id` ended, if it has.
    pub fn ended_at(&self, id: &str) -> Option<Instant> {
        self.shared.0.lock().unwrap().ended_at.get(id).copied()
    }
}

fn serve(client: TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(match client.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut client = client;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        let answer = answer(path, &body, shared);
        if client.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn answer(path: &str, body: &[u8], shared: &Shared) -> String {
    let (lock, cvar) = &**shared;
    if path.ends_with("/runtime/invocation/next") {
        let mut state = lock.lock().unwrap();
        state.polled_at.push(Instant::now());
        state = cvar.wait_while(state, |s| s.queue.is_empty()).unwrap();
        let (id, event, deadline) = state.queue.pop_front().unwrap();
        return format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
             Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:reflex\r\n\
             Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n\r\n{event}",
            event.len()
        );
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let ["2018-06-01", "runtime", "invocation", id, kind] = parts.as_slice() {
        let text = String::from_utf8_lossy(body);
        let ended = match *kind {
            "response" => Ended::Response(serde_json::from_str(&text).unwrap_or(Value::Null)),
            _ => {
                let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                Ended::Error {
                    error_type: error["errorType"].as_str().unwrap_or("?").to_string(),
                    message: error["errorMessage"].as_str().unwrap_or("").to_string(),
                }
            }
        };
        let mut state = lock.lock().unwrap();
        state.ended_at.insert(id.to_string(), Instant::now());
        state.ended.insert(id.to_string(), ended);
        drop(state);
        cvar.notify_all();
    }
    "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        .to_string()
}

/// A function's binary, built once per test process (`cargo build`, in the target directory
/// the tests were built in).
pub fn binary(package: &str, name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap();
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let path = build("dev", package, name).unwrap_or_else(|e| panic!("{e}"));
    built.insert(name.to_string(), path.clone());
    path
}

/// `cargo build --profile PROFILE -p PACKAGE --bin NAME`, alone (with the package's own feature
/// set, as `sam build` builds a function), in the workspace's target directory; the binary.
pub fn build(profile: &str, package: &str, name: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--message-format=json", "--profile", profile])
        .args(["-p", package, "--bin", name])
        .current_dir(crate::emulator::workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo build of {name} failed"));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo built no executable for {name}"))
}

/// A function's binary running against a runtime API, killed (SIGKILL) when dropped.
pub struct Function {
    child: Child,
}

impl Function {
    /// Start `binary` with the runtime API and `env` (and nothing from the test's own
    /// environment that could aim it anywhere but loopback).
    pub fn start(binary: &Path, runtime: &RuntimeApi, env: &[(&str, &str)], log: &Path) -> Self {
        let log = std::fs::File::create(log).expect("creating the function's log");
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "reflex")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/reflex")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        for (k, v) in env {
            command.env(k, v);
        }
        Self {
            child: command.spawn().expect("starting the function's binary"),
        }
    }

    /// The process id, to read its memory from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as Lambda ends a run at its timeout or a crash ends it: no cleanup at all.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
