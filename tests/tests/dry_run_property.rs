//! Issue #12, item 7: a dry run never calls a mutating AWS API.
//!
//! Every function's real pipeline handler, in mode `dry-run`, its every AWS call going through
//! the recording [`FaultProxy`], is given every sample event it takes: its own folder's (and
//! `events/invalid/` for revoke, as `burst.rs` routes them), and the other folders' that
//! `events/routes.toml` sends it. The emulator is prepared as `burst.rs` prepares it (the calls
//! the samples record replayed, the samples pointed at what the emulator has), so that the
//! events would be acted on in enforce mode. Then every call the proxy saw must be a read, or
//! one of Reflex's own bookkeeping writes ([`LEDGER_CALLS`], [`REPORT_CALLS`]).
//!
//! So that the property cannot hold vacuously: for each acting function (revoke, scale,
//! harden, quarantine) some dry-run reports plan steps (status `dry-run`, outcomes `would-do`),
//! and the first such sample, delivered again in enforce mode through a fresh proxy, makes a
//! call the same checker flags.
//!
//! ```sh
//! cargo test -p reflex-tests --test dry_run_property -- --nocapture
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::Instant;

use globset::GlobBuilder;
use reflex_harden::Harden;
use reflex_notify::Notify;
use reflex_privatize::Privatize;
use reflex_quarantine::Quarantine;
use reflex_revoke::Revoke;
use reflex_scale::Scale;
use reflex_shared::Function;
use reflex_shared::outcome::Outcome;
use reflex_shared::pipeline::Handler;
use reflex_shared::report::{Report, Status};
use reflex_tests::account::LEDGER_TABLE;
use reflex_tests::emulator::ACCOUNT;
use reflex_tests::proxy::{FaultProxy, Seen};
use reflex_tests::{Account, Emulator, ec2, exposure, sample, sample_files, trail};
use serde::Deserialize;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The checker

/// Operations that only read, whatever the service: `Describe*`, `List*`, `Get*` (the STS
/// identity, CloudWatch's `monitoring:GetMetricStatistics` (calls are named by their signing
/// name, as the proxy names them), `cloudtrail:GetTrailStatus`, ...) and `Lookup*`
/// (`cloudtrail:LookupEvents`). DynamoDB's calls are the ledger's, checked by [`LEDGER_CALLS`]
/// first.
const READ_PREFIXES: &[&str] = &["Describe", "List", "Get", "Lookup"];

/// Calls that read or change nothing in the account although their names do not say so.
const READ_ONLY_CALLS: &[(&str, &str)] = &[(
    "sts:AssumeRole",
    "a session of Reflex's member role, to read (and in enforce mode act) in a member \
     account: it changes nothing there",
)];

/// The ledger's calls (`REFLEX_LEDGER_TABLE`): allowed on that table only, Reflex's own
/// record of what it handled. Every other DynamoDB call, or one on another table, is flagged:
/// `TransactWriteItems` too, the rate limit's count of enforced actions, which a dry run must
/// not spend.
const LEDGER_CALLS: &[(&str, &str)] = &[
    (
        "dynamodb:UpdateItem",
        "the claim of (event, rule) before acting (a dry run's claim is its own, `RULE#dry-run`, \
         so that a redelivery reports once), its lease, its outcomes, that its report went out",
    ),
    (
        "dynamodb:PutItem",
        "a state document (`state#KEY`): what a function remembers between events",
    ),
    (
        "dynamodb:DeleteItem",
        "an entry of Reflex's own ledger removed (no account resource is touched)",
    ),
    (
        "dynamodb:GetItem",
        "a claim or a state document read back (a read, of the ledger only)",
    ),
];

/// The report: what a dry run is for. Allowed to the configured report topic only.
const REPORT_CALLS: &[(&str, &str)] = &[(
    "sns:Publish",
    "the event's report to `REFLEX_TOPIC_ARN`: a dry run tells people what it would do",
)];

/// Field `name` of a request body: a query-protocol form field, or a JSON member.
fn field(seen: &Seen, name: &str) -> Option<String> {
    seen.param(name).or_else(|| {
        let body: Value = serde_json::from_str(&seen.body).ok()?;
        body[name].as_str().map(String::from)
    })
}

/// Why a dry run may not make this call; `None` if it may.
fn offence(call: &str, seen: &Seen, topic_arn: &str) -> Option<String> {
    let Some((service, operation)) = call.split_once(':') else {
        return Some(format!("{call}: a request the proxy could not name"));
    };
    if service == "?" || operation == "?" || operation.is_empty() {
        return Some(format!("{call}: a request the proxy could not name"));
    }
    if service == "dynamodb" {
        if !LEDGER_CALLS.iter().any(|(c, _)| *c == call) {
            return Some(format!("{call}: not one of the ledger's calls"));
        }
        let table = field(seen, "TableName").unwrap_or_default();
        return (table != LEDGER_TABLE)
            .then(|| format!("{call} on table {table:?}, not the ledger {LEDGER_TABLE:?}"));
    }
    if REPORT_CALLS.iter().any(|(c, _)| *c == call) {
        let topic = field(seen, "TopicArn").unwrap_or_default();
        return (topic != topic_arn)
            .then(|| format!("{call} to {topic:?}, not the report topic {topic_arn:?}"));
    }
    if READ_PREFIXES.iter().any(|p| operation.starts_with(p))
        || READ_ONLY_CALLS.iter().any(|(c, _)| *c == call)
    {
        return None;
    }
    Some(format!("{call}: a write outside Reflex's bookkeeping"))
}

/// Every call in `requests` a dry run may not make, described.
fn mutating_calls(requests: &[(String, Seen)], topic_arn: &str) -> Vec<String> {
    requests
        .iter()
        .filter_map(|(call, seen)| offence(call, seen, topic_arn))
        .collect()
}

fn seen(body: &str) -> Seen {
    Seen {
        region: "us-east-1".into(),
        access_key: "testing".into(),
        body: body.into(),
    }
}

#[test]
fn the_checker_allows_reads_and_reflexs_bookkeeping_and_flags_every_other_call() {
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:reflex-reports";
    let ledger = json!({ "TableName": LEDGER_TABLE, "Key": {} }).to_string();
    let other_table = json!({ "TableName": "orders", "Key": {} }).to_string();
    let allowed = [
        (
            "iam:ListAttachedUserPolicies",
            "Action=ListAttachedUserPolicies",
        ),
        ("iam:GetPolicyVersion", "Action=GetPolicyVersion"),
        ("ec2:DescribeInstances", "Action=DescribeInstances"),
        ("monitoring:GetMetricStatistics", ""),
        ("monitoring:DescribeAlarms", ""),
        ("cloudtrail:GetTrailStatus", ""),
        ("cloudtrail:LookupEvents", ""),
        ("s3:GetBucketTagging", ""),
        ("s3:GetBucketPolicy", ""),
        ("sts:GetCallerIdentity", "Action=GetCallerIdentity"),
        ("sts:AssumeRole", "Action=AssumeRole"),
        ("dynamodb:UpdateItem", ledger.as_str()),
        ("dynamodb:PutItem", ledger.as_str()),
        ("dynamodb:GetItem", ledger.as_str()),
    ];
    for (call, body) in allowed {
        assert_eq!(offence(call, &seen(body), TOPIC), None, "{call}");
    }
    let publish = format!("Action=Publish&TopicArn={}", TOPIC.replace(':', "%3A"));
    assert_eq!(offence("sns:Publish", &seen(&publish), TOPIC), None);

    let flagged = [
        (
            "iam:DetachUserPolicy",
            "Action=DetachUserPolicy".to_string(),
        ),
        ("iam:UpdateAccessKey", "Action=UpdateAccessKey".to_string()),
        ("iam:PutRolePolicy", "Action=PutRolePolicy".to_string()),
        ("ec2:ModifyInstanceAttribute", String::new()),
        ("ec2:CreateSnapshot", String::new()),
        ("ec2:RevokeSecurityGroupIngress", String::new()),
        ("autoscaling:SetDesiredCapacity", String::new()),
        ("cloudtrail:StartLogging", String::new()),
        ("logs:PutRetentionPolicy", String::new()),
        ("logs:AssociateKmsKey", String::new()),
        ("monitoring:SetAlarmState", String::new()),
        ("s3:PutBucketPolicy", String::new()),
        ("s3:DeleteBucketPolicy", String::new()),
        ("s3:PutPublicAccessBlock", String::new()),
        ("ec2:ModifySnapshotAttribute", String::new()),
        // The ledger's table only, and the ledger's calls only.
        ("dynamodb:PutItem", other_table.clone()),
        ("dynamodb:DeleteTable", ledger.clone()),
        ("dynamodb:TransactWriteItems", ledger.clone()),
        // The report topic only.
        (
            "sns:Publish",
            "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3Aother".to_string(),
        ),
        ("?:?", String::new()),
    ];
    for (call, body) in &flagged {
        assert!(offence(call, &seen(body), TOPIC).is_some(), "{call}");
    }
    let requests: Vec<(String, Seen)> = flagged
        .iter()
        .map(|(call, body)| (call.to_string(), seen(body)))
        .collect();
    assert_eq!(mutating_calls(&requests, TOPIC).len(), flagged.len());
}

// ---------------------------------------------------------------------------------------------
// The routes: which samples each function takes

#[derive(Deserialize)]
struct Manifest {
    routes: BTreeMap<String, Vec<String>>,
}

/// `events/routes.toml`'s routes (the near misses are `wiring.rs`'s business).
fn manifest() -> &'static Manifest {
    static MANIFEST: OnceLock<Manifest> = OnceLock::new();
    MANIFEST.get_or_init(|| {
        let path = reflex_testkit::events_dir().join("routes.toml");
        let text = std::fs::read_to_string(&path).expect("events/routes.toml");
        toml::from_str(&text).expect("events/routes.toml parses")
    })
}

/// The functions `file` (`dir/name.json`) reaches: its own entry, else the globs covering it.
fn routed_to(file: &str) -> BTreeSet<String> {
    let routes = &manifest().routes;
    if let Some(functions) = routes.get(file) {
        return functions.iter().cloned().collect();
    }
    routes
        .iter()
        .filter(|(key, _)| key.contains('*'))
        .filter(|(key, _)| {
            GlobBuilder::new(key)
                .literal_separator(true)
                .build()
                .expect("a glob")
                .compile_matcher()
                .is_match(file)
        })
        .flat_map(|(_, functions)| functions.iter().cloned())
        .collect()
}

/// The samples of the other folders (not `function`'s own, nor `invalid/`) routed to
/// `function`, as `dir/name.json`.
fn routed_from_elsewhere(function: &str) -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(reflex_testkit::events_dir())
        .expect("events/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|d| d != function && d != "invalid")
        .collect();
    dirs.sort();
    dirs.iter()
        .flat_map(|dir| {
            sample_files(dir)
                .into_iter()
                .map(move |f| format!("{dir}/{f}"))
        })
        .filter(|file| routed_to(file).contains(function))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// One function's bench: its emulator, the proxy, the dry-run handler and what its deliveries gave

/// The fault proxy the handler's calls go through, and behind it (between the proxy and the
/// emulator) a recorder of the calls the proxy cannot name.
///
/// The proxy names a call by its `X-Amz-Target` header or its `Action` form field; CloudWatch
/// speaks Smithy RPC v2 CBOR (`POST /service/GraniteServiceVersion20100801/operation/<Op>`),
/// whose operation is only in the path the proxy does not keep: it names those `monitoring:?`.
/// The recorder reads the operation from the path, so every call is checked by its name.
struct Tap {
    proxy: FaultProxy,
    rpc: RpcRecorder,
}

/// How far the tap had seen: requests per call at the proxy, RPC v2 requests at the recorder.
type Mark = (BTreeMap<String, usize>, usize);

impl Tap {
    fn start(emulator: &Emulator) -> Self {
        let rpc = RpcRecorder::start(&emulator.endpoint);
        let proxy = FaultProxy::start(&rpc.endpoint);
        Self { proxy, rpc }
    }

    fn mark(&self) -> Mark {
        let counts = (self.proxy.calls().into_iter())
            .map(|call| {
                let n = self.proxy.requests(&call).len();
                (call, n)
            })
            .collect();
        (counts, self.rpc.seen.lock().unwrap().len())
    }

    /// Every request since `mark`, named: by the proxy, or (RPC v2) by the recorder. An unnamed
    /// request the recorder does not account for stays unnamed, and the checker flags it.
    fn since(&self, (counts, rpc_count): &Mark) -> Vec<(String, Seen)> {
        let mut named = Vec::new();
        let mut unnamed = 0;
        for call in self.proxy.calls() {
            let skip = counts.get(&call).copied().unwrap_or(0);
            for seen in self.proxy.requests(&call).into_iter().skip(skip) {
                match call.ends_with(":?") {
                    true => unnamed += 1,
                    false => named.push((call.clone(), seen)),
                }
            }
        }
        let rpc: Vec<(String, Seen)> = self.rpc.seen.lock().unwrap()[*rpc_count..].to_vec();
        let unaccounted = unnamed - unnamed.min(rpc.len());
        named.extend(rpc);
        named.extend((0..unaccounted).map(|_| ("?:?".to_string(), seen(""))));
        named
    }

    fn all(&self) -> Vec<(String, Seen)> {
        self.since(&(BTreeMap::new(), 0))
    }
}

/// A relay in front of the emulator that keeps the Smithy RPC v2 requests, named
/// `service:Operation` from the signature's scope and the path. The fault proxy sends it one
/// request per connection (`Connection: close`), and reads the answer to its end.
struct RpcRecorder {
    endpoint: String,
    seen: Arc<Mutex<Vec<(String, Seen)>>>,
}

impl RpcRecorder {
    fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the recorder");
        let endpoint = format!("http://{}", listener.local_addr().expect("local address"));
        let upstream = upstream.trim_start_matches("http://").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, kept) = (upstream.clone(), kept.clone());
                thread::spawn(move || relay_one(client, &upstream, &kept));
            }
        });
        Self { endpoint, seen }
    }
}

/// Read one request, keep it if it is an RPC v2 call, relay it and its whole answer.
fn relay_one(client: TcpStream, upstream: &str, kept: &Mutex<Vec<(String, Seen)>>) -> Option<()> {
    let mut reader = BufReader::new(client.try_clone().ok()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    let length: usize = header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let path = head.split_whitespace().nth(1).unwrap_or_default();
    if let Some((_, operation)) = path.split_once("/operation/") {
        // `Credential=KEY/DATE/REGION/SERVICE/aws4_request`.
        let credential: Vec<String> = header("authorization")
            .and_then(|a| a.split("Credential=").nth(1).map(String::from))
            .map(|c| c.split(['/', ',']).map(String::from).collect())
            .unwrap_or_default();
        let part = |n: usize| credential.get(n).cloned().unwrap_or_else(|| "?".into());
        let operation = operation.split('?').next().unwrap_or_default();
        let request = Seen {
            region: part(2),
            access_key: part(0),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        (kept.lock().unwrap()).push((format!("{}:{operation}", part(3)), request));
    }
    let mut to = TcpStream::connect(upstream).ok()?;
    to.write_all(head.as_bytes()).ok()?;
    to.write_all(&body).ok()?;
    let mut client = client;
    std::io::copy(&mut to, &mut client).ok()?;
    client.shutdown(Shutdown::Both).ok()
}

/// A handler through `tap`'s proxy, as `burst.rs` builds them (the rate limit out of the way).
async fn handler<F: Function>(
    acct: &Account,
    tap: &Tap,
    mode: &str,
    extra: &[(&'static str, &'static str)],
) -> Handler<F> {
    let unlimited = [extra, &[("REFLEX_MAX_ACTIONS_PER_HOUR", "100000")]].concat();
    acct.handler_via::<F>(&tap.proxy, mode, &unlimited).await
}

/// What one function's run gave.
#[derive(Debug, Default)]
struct Tally {
    function: &'static str,
    delivered: usize,
    /// The requests the dry-run proxy saw, and how many distinct calls.
    requests: usize,
    calls: BTreeSet<String>,
    /// How the deliveries ended: a report's status, or a refusal's error type.
    endings: BTreeMap<String, usize>,
    /// Samples whose dry-run report plans steps (status `dry-run`).
    would_act: Vec<String>,
    /// `sample: call (why)`, for every call a dry run may not make.
    mutating: Vec<String>,
    /// `sample: action`, for every dry-run report that says it changed something.
    done_in_dry_run: Vec<String>,
    /// The enforce control: the sample, its report's status, the calls the checker flagged.
    control: Option<(String, String, Vec<String>)>,
    seconds: f64,
}

struct Bench<F: Function> {
    emulator: Emulator,
    acct: Account,
    tap: Tap,
    handler: Handler<F>,
    extra: Vec<(&'static str, &'static str)>,
    /// The samples whose dry-run planned steps, as delivered (for the control).
    planned: Vec<(String, Value)>,
    tally: Tally,
    started: Instant,
}

impl<F: Function> Bench<F> {
    /// An emulator with the report topic, the ledger and the IAM seed (burst's `acct.seed()`),
    /// and the dry-run handler through a fresh proxy.
    async fn new(emulator: Emulator, extra: &[(&'static str, &'static str)]) -> Self {
        let started = Instant::now();
        let acct = Account::new(&emulator).await;
        acct.seed().await;
        let tap = Tap::start(&emulator);
        let handler = handler::<F>(&acct, &tap, "dry-run", extra).await;
        let mut bench = Self {
            emulator,
            acct,
            tap,
            handler,
            extra: extra.to_vec(),
            planned: Vec::new(),
            tally: Tally {
                function: F::NAME,
                ..Tally::default()
            },
            started,
        };
        // Whatever building the handler called is checked too.
        let built = bench.tap.all();
        bench.check("(building the handler)", &built);
        bench
    }

    fn check(&mut self, label: &str, requests: &[(String, Seen)]) {
        for offence in mutating_calls(requests, &self.acct.topic_arn) {
            self.tally.mutating.push(format!("{label}: {offence}"));
        }
    }

    /// Deliver one sample in dry-run mode, with an id of its own (as `burst.rs` gives them), and
    /// check every call it made.
    async fn deliver(&mut self, label: &str, mut event: Value) {
        let n = self.tally.delivered;
        self.tally.delivered += 1;
        if event.get("id").is_some() {
            event["id"] = format!("dry-run-{}-{n:03}", F::NAME).into();
        }
        let before = self.tap.mark();
        let result = self.handler.handle(event.clone()).await;
        let made = self.tap.since(&before);
        self.check(label, &made);
        let ending = match &result {
            Ok(report) => report.status.as_str().to_string(),
            Err(e) => format!("refused: {}", e.error_type()),
        };
        *self.tally.endings.entry(ending).or_default() += 1;
        let Ok(report) = result else { return };
        for action in report.actions().filter(|a| a.outcome.is_done()) {
            self.tally
                .done_in_dry_run
                .push(format!("{label}: {}", action.description));
        }
        if plans_steps(&report) {
            self.tally.would_act.push(label.to_string());
            self.planned.push((label.to_string(), event));
        }
    }

    async fn deliver_all(&mut self, samples: Vec<(String, Value)>) {
        for (label, event) in samples {
            self.deliver(&label, event).await;
        }
    }

    /// The control: the first sample whose dry run planned steps, delivered again in enforce
    /// mode through a proxy of its own, must make a call the checker flags.
    async fn control(&mut self) {
        let Some((label, event)) = self.planned.first().cloned() else {
            return;
        };
        let tap = Tap::start(&self.emulator);
        let enforcing = handler::<F>(&self.acct, &tap, "enforce", &self.extra).await;
        let status = match enforcing.handle(event).await {
            Ok(report) => report.status.as_str().to_string(),
            Err(e) => format!("refused: {}", e.error_type()),
        };
        let flagged = mutating_calls(&tap.all(), &self.acct.topic_arn);
        self.tally.control = Some((label, status, flagged));
    }

    /// The tally, with every request the dry-run proxy saw checked once more as a whole.
    fn finish(mut self) -> Tally {
        let all = self.tap.all();
        self.tally.requests = all.len();
        self.tally.calls = all.iter().map(|(call, _)| call.clone()).collect();
        let unattributed = mutating_calls(&all, &self.acct.topic_arn).len();
        assert_eq!(
            unattributed,
            self.tally.mutating.len(),
            "{}: every flagged call is attributed to a delivery",
            F::NAME
        );
        self.tally.seconds = self.started.elapsed().as_secs_f64();
        self.tally
    }
}

/// The report plans steps: status `dry-run`, with actions that would be done.
fn plans_steps(report: &Report) -> bool {
    report.status == Status::DryRun && report.actions().any(|a| a.outcome == Outcome::WouldDo)
}

fn samples(dir: &str) -> Vec<(String, Value)> {
    sample_files(dir)
        .into_iter()
        .map(|file| {
            let path = format!("{dir}/{file}");
            let event = sample(&path);
            (path, event)
        })
        .collect()
}

/// The samples of the other folders routed to `function`, as they are.
fn from_elsewhere(function: &str) -> Vec<(String, Value)> {
    routed_from_elsewhere(function)
        .into_iter()
        .map(|path| {
            let event = sample(&path);
            (path, event)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Each function

async fn revoke(emulator: Emulator) -> Tally {
    let mut bench = Bench::<Revoke>::new(emulator, &[("REFLEX_CONTAIN_ACTOR", "true")]).await;
    // burst.rs's pool: every call the samples record replayed first.
    let mut pool = Vec::new();
    let mut later = Vec::new();
    for (path, event) in samples("revoke") {
        // Member-account samples need a member account (cross_account_e2e): delivered last, as
        // they are. Exempting tag writes would exempt the identities the others act on: replayed
        // and delivered last.
        if event["account"] != ACCOUNT || reflex_tests::exempts_an_existing_identity(&event) {
            later.push((path, event));
            continue;
        }
        let event = bench.acct.replay(event).await;
        pool.push((path, event));
    }
    pool.extend(samples("invalid"));
    pool.extend(from_elsewhere("revoke"));
    bench.deliver_all(pool).await;
    bench.control().await;
    for (path, event) in later {
        let event = match event["account"] == ACCOUNT {
            true => bench.acct.replay(event).await,
            false => event,
        };
        bench.deliver(&path, event).await;
    }
    bench.finish()
}

async fn scale(emulator: Emulator) -> Tally {
    let extra = [
        ("REFLEX_SCALE_IN_STEP", "1"),
        ("REFLEX_SCALE_COOLDOWN_SECONDS", "0"),
    ];
    let mut bench = Bench::<Scale>::new(emulator, &extra).await;
    bench.acct.seed_group("web", 1, 4, 2).await;
    let mut pool = samples("scale");
    pool.extend(from_elsewhere("scale"));
    bench.deliver_all(pool).await;
    bench.control().await;
    bench.finish()
}

async fn harden(emulator: Emulator) -> Tally {
    // A key for log groups created without one, so that the encryption step is planned too.
    let extra = [
        ("REFLEX_CONTAIN_ACTOR", "true"),
        ("REFLEX_LOG_KMS_KEY_ARN", trail::KMS_KEY),
    ];
    let mut bench = Bench::<Harden>::new(emulator, &extra).await;
    trail::seed(&bench.acct).await;
    let mut pool = Vec::new();
    let mut later = Vec::new();
    for (path, event) in samples("harden") {
        // Deleting the trail would leave the other samples nothing to act on: last.
        if path == "harden/delete-trail.json" {
            later.push((path, event));
            continue;
        }
        pool.push((path, trail::replay(&bench.acct, event).await));
    }
    pool.extend(from_elsewhere("harden"));
    bench.deliver_all(pool).await;
    bench.control().await;
    for (path, event) in later {
        let event = trail::replay(&bench.acct, event).await;
        bench.deliver(&path, event).await;
    }
    bench.finish()
}

async fn quarantine(emulator: Emulator) -> Tally {
    let extra = [
        ("REFLEX_QUARANTINE_ALARMS", ec2::LISTED_ALARM),
        ("REFLEX_QUARANTINE_TAG", ec2::OPERATOR_TAG),
    ];
    let mut bench = Bench::<Quarantine>::new(emulator, &extra).await;
    let fleet = ec2::seed_fleet(&bench.acct).await;
    let mut pool = Vec::new();
    for (path, event) in samples("quarantine") {
        let event = if path.starts_with("quarantine/authorize-")
            || path.starts_with("quarantine/modify-security-group-rule")
        {
            // Each opened on a group of its own, as burst.rs does.
            let group = ec2::seed_web_group(&bench.acct).await;
            ec2::replay_authorize_on(&fleet.ec2, &group, event).await
        } else {
            ec2::for_instance(event, &fleet.instance_id)
        };
        pool.push((path, event));
    }
    pool.extend(from_elsewhere("quarantine"));
    bench.deliver_all(pool).await;
    bench.control().await;
    // The listed alarm as CloudWatch itself would have set it (EC2's datapoint, the alarm's
    // record of it), so that the alarm's path plans a quarantine too (after the control, whose
    // enforce run may have quarantined the instance: this one's plan may then be "already done").
    let id = &fleet.instance_id;
    let at = ec2::evaluated_period();
    ec2::put_network_out(&bench.acct, id, at, 9.12e9).await;
    ec2::put_network_out_alarm(&bench.acct, ec2::LISTED_ALARM, id).await;
    let event = ec2::set_alarm(
        &bench.acct,
        ec2::LISTED_ALARM,
        id,
        "Threshold Crossed: 1 out of the last 1 datapoints was greater than the threshold (5.0E9)",
        Some(ec2::evaluation_record(at, 9.12e9)),
    )
    .await;
    bench
        .deliver(
            "quarantine/alarm-instance-network-out-high.json (alarm made real)",
            event,
        )
        .await;
    bench.finish()
}

async fn privatize(emulator: Emulator) -> Tally {
    let mut bench = Bench::<Privatize>::new(emulator, &[]).await;
    // Each exposing call replayed (a snapshot and an image of their own each), in order: the
    // bucket ends as the last of the calls on it left it, and each sample is delivered as it
    // would be right after its call.
    let mut pool = Vec::new();
    for (path, event) in samples("privatize") {
        let event = match path.starts_with("privatize/invalid-") {
            true => event,
            false => exposure::replay(&bench.acct, event).await,
        };
        pool.push((path, event));
    }
    pool.extend(from_elsewhere("privatize"));
    bench.deliver_all(pool).await;
    bench.control().await;
    bench.finish()
}

async fn notify(emulator: Emulator) -> Tally {
    let mut bench = Bench::<Notify>::new(emulator, &[]).await;
    let mut pool = samples("notify");
    pool.extend(from_elsewhere("notify"));
    bench.deliver_all(pool).await;
    bench.finish()
}

// ---------------------------------------------------------------------------------------------
// The property

/// The functions that act, and must show a dry run that plans steps and an enforce control.
const ACTING: &[&str] = &["revoke", "scale", "harden", "quarantine", "privatize"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dry_run_of_every_sample_calls_no_mutating_api() {
    let started = Instant::now();
    // Six emulators, started side by side (each start blocks until moto is ready).
    let mut emulators: Vec<Emulator> = std::thread::scope(|s| {
        let starting: Vec<_> = (0..6).map(|_| s.spawn(Emulator::start)).collect();
        starting
            .into_iter()
            .map(|t| t.join().expect("an emulator"))
            .collect()
    });
    let mut next = || emulators.pop().expect("six emulators");
    let (revoke, scale, harden, quarantine, privatize, notify) = tokio::join!(
        revoke(next()),
        scale(next()),
        harden(next()),
        quarantine(next()),
        privatize(next()),
        notify(next()),
    );
    let tallies = [revoke, scale, harden, quarantine, privatize, notify];

    println!();
    println!(
        "dry-run property: {:<11} {:>9} {:>10} {:>6} {:>9} {:>9} {:>6}",
        "function", "delivered", "would-act", "calls", "requests", "mutating", "secs"
    );
    for t in &tallies {
        println!(
            "dry-run property: {:<11} {:>9} {:>10} {:>6} {:>9} {:>9} {:>6.1}",
            t.function,
            t.delivered,
            t.would_act.len(),
            t.calls.len(),
            t.requests,
            t.mutating.len(),
            t.seconds
        );
    }
    for t in &tallies {
        let endings: Vec<String> = t.endings.iter().map(|(e, n)| format!("{e} {n}")).collect();
        println!(
            "dry-run property:   {} endings: {}",
            t.function,
            endings.join(", ")
        );
        println!(
            "dry-run property:   {} would act on: {}",
            t.function,
            t.would_act.join(" ")
        );
        let calls: Vec<&str> = t.calls.iter().map(String::as_str).collect();
        println!(
            "dry-run property:   {} calls seen: {}",
            t.function,
            calls.join(" ")
        );
        if let Some((sample, status, flagged)) = &t.control {
            // By call: `iam:DetachGroupPolicy x1`.
            let mut by_call: BTreeMap<&str, usize> = BTreeMap::new();
            for f in flagged {
                let call = f.split([' ']).next().unwrap_or(f).trim_end_matches(':');
                *by_call.entry(call).or_default() += 1;
            }
            let by_call: Vec<String> = by_call.iter().map(|(c, n)| format!("{c} x{n}")).collect();
            println!(
                "dry-run property:   {} enforce control {sample} ({status}): {} flagged: {}",
                t.function,
                flagged.len(),
                by_call.join(", ")
            );
        }
    }
    println!(
        "dry-run property: {} samples delivered, {} requests checked, {} mutating; {:.1} s",
        tallies.iter().map(|t| t.delivered).sum::<usize>(),
        tallies.iter().map(|t| t.requests).sum::<usize>(),
        tallies.iter().map(|t| t.mutating.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );

    // The property: no dry run called a mutating API, nor says it changed anything.
    let mutating: Vec<String> = tallies
        .iter()
        .flat_map(|t| {
            t.mutating
                .iter()
                .map(move |m| format!("{}: {m}", t.function))
        })
        .collect();
    assert!(
        mutating.is_empty(),
        "dry runs called mutating APIs:\n{}",
        mutating.join("\n")
    );
    let done: Vec<String> = tallies
        .iter()
        .flat_map(|t| {
            t.done_in_dry_run
                .iter()
                .map(move |d| format!("{}: {d}", t.function))
        })
        .collect();
    assert!(
        done.is_empty(),
        "dry runs report changes done:\n{}",
        done.join("\n")
    );

    // Not vacuous: each acting function planned steps for some sample, and the first of them,
    // enforced, makes calls the checker flags.
    for t in tallies.iter().filter(|t| ACTING.contains(&t.function)) {
        assert!(
            !t.would_act.is_empty(),
            "{}: no sample's dry run planned a step ({:?})",
            t.function,
            t.endings
        );
        let (sample, status, flagged) = t.control.as_ref().expect("a control");
        // A change to the account itself, not only the ledger's rate-limit count.
        assert!(
            flagged.iter().any(|f| !f.starts_with("dynamodb:")),
            "{}: {sample} enforced ({status}) made no call the checker flags as a change to \
             the account: {flagged:?}",
            t.function
        );
    }
}
