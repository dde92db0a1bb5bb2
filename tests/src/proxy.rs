//! A fault-injecting proxy between the AWS SDK and the emulator, on loopback: every request is
//! relayed to moto unless a rule says otherwise for that call, which then gets throttled, a 5xx,
//! an answer slower than the SDK's timeouts, a reset connection, or is held until the test lets
//! it go (to kill the process that made it meanwhile).
//!
//! Calls are named `service:Operation` (`iam:DetachUserPolicy`, `ec2:ModifyInstanceAttribute`,
//! `dynamodb:UpdateItem`): the service from the request's signature, the operation from its
//! `X-Amz-Target` header (JSON protocols) or its `Action` form field (query protocols). Each
//! request is also kept ([`FaultProxy::requests`]): the region it was signed for, the access key
//! that signed it and its body ([`Seen::param`] reads a query-protocol field).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What happens to a call a rule catches.
#[derive(Debug, Clone)]
pub enum Fault {
    /// AWS's "slow down": `Throttling` (query protocols), `RequestLimitExceeded` (EC2),
    /// `ThrottlingException` (JSON protocols).
    Throttle,
    /// An HTTP status with no AWS error in the body (a 500 or 503 from a load balancer).
    Status(u16),
    /// An access error AWS answers for good: `AccessDenied` (IAM, Auto Scaling),
    /// `UnauthorizedOperation` (EC2), `AuthorizationError` (SNS), `AccessDeniedException` (JSON
    /// protocols).
    AccessDenied,
    /// Relayed, but answered only after this long (beyond the SDK's attempt timeout).
    Slow(Duration),
    /// The connection is closed without an answer.
    Reset,
    /// Held until `Held::release` (then relayed) or `Held::drop_it` (then reset).
    Hold(Held),
}

/// A call held by the proxy: the test waits for it to arrive, then lets it go or drops it.
#[derive(Debug, Clone, Default)]
pub struct Held(Arc<(Mutex<HoldState>, Condvar)>);

#[derive(Debug, Default)]
struct HoldState {
    arrived: bool,
    verdict: Option<bool>,
    /// The verdict is carried out: `Some(true)` once a released call was answered by the
    /// emulator, `Some(false)` once the call was dropped (or its relay failed).
    reached_aws: Option<bool>,
}

impl Held {
    /// Wait until the call arrives at the proxy; `false` if it did not within `timeout`.
    pub fn wait_arrived(&self, timeout: Duration) -> bool {
        let (lock, cvar) = &*self.0;
        let state = lock.lock().unwrap();
        let (state, _) = cvar
            .wait_timeout_while(state, timeout, |s| !s.arrived)
            .unwrap();
        state.arrived
    }

    /// Relay the held call to the emulator after all.
    pub fn release(&self) {
        self.decide(true);
    }

    /// The held call never reaches the emulator: its connection is closed.
    pub fn drop_it(&self) {
        self.decide(false);
    }

    /// Wait until the verdict is carried out: whether the call reached the emulator and was
    /// answered (a released call whose relay failed did not); `None` if not within `timeout`.
    pub fn wait_finished(&self, timeout: Duration) -> Option<bool> {
        let (lock, cvar) = &*self.0;
        let state = lock.lock().unwrap();
        let (state, _) = cvar
            .wait_timeout_while(state, timeout, |s| s.reached_aws.is_none())
            .unwrap();
        state.reached_aws
    }

    fn finish(&self, reached_aws: bool) {
        let (lock, cvar) = &*self.0;
        lock.lock().unwrap().reached_aws = Some(reached_aws);
        cvar.notify_all();
    }

    fn decide(&self, relay: bool) {
        let (lock, cvar) = &*self.0;
        lock.lock().unwrap().verdict = Some(relay);
        cvar.notify_all();
    }

    /// Block the connection's thread until the test decides: `true` to relay.
    fn arrive_and_wait(&self) -> bool {
        let (lock, cvar) = &*self.0;
        let mut state = lock.lock().unwrap();
        state.arrived = true;
        cvar.notify_all();
        let state = cvar.wait_while(state, |s| s.verdict.is_none()).unwrap();
        state.verdict.unwrap_or(false)
    }
}

#[derive(Debug)]
struct Rule {
    call: String,
    /// Let this many matching calls through before the rule applies.
    skip: usize,
    /// Apply to this many matching calls.
    times: usize,
    fault: Fault,
}

/// A request that reached the proxy (faulted or not).
#[derive(Debug, Clone)]
pub struct Seen {
    /// The region its signature is scoped to (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`).
    pub region: String,
    /// The access key id it was signed with (`KEY` there): whose credentials made the call.
    pub access_key: String,
    pub body: String,
}

impl Seen {
    /// Form field `name` of a query-protocol request (IAM, STS, SNS, EC2, Auto Scaling),
    /// decoded; `None` if the body has no such field.
    pub fn param(&self, name: &str) -> Option<String> {
        form_param(&self.body, name)
    }
}

/// Field `name` of an `application/x-www-form-urlencoded` body, decoded (`+` is a space, then
/// percent escapes).
/// The operation of an S3 bucket request (REST: its method and subresource, path-style), from
/// its request line: `PUT /bucket?policy HTTP/1.1` is `PutBucketPolicy`. Only the bucket
/// operations Reflex and its tests make; any other is unnamed.
fn s3_operation(request_line: &str) -> Option<&'static str> {
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next()?, words.next()?);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let bucket_only = path.trim_matches('/').split('/').count() == 1;
    let sub = query
        .split('&')
        .map(|kv| kv.split_once('=').map_or(kv, |(k, _)| k))
        .find(|k| ["policy", "acl", "publicAccessBlock", "tagging"].contains(k));
    Some(match (method, sub) {
        (_, _) if !bucket_only => return None,
        ("GET", Some("policy")) => "GetBucketPolicy",
        ("PUT", Some("policy")) => "PutBucketPolicy",
        ("DELETE", Some("policy")) => "DeleteBucketPolicy",
        ("GET", Some("acl")) => "GetBucketAcl",
        ("PUT", Some("acl")) => "PutBucketAcl",
        ("GET", Some("publicAccessBlock")) => "GetPublicAccessBlock",
        ("PUT", Some("publicAccessBlock")) => "PutPublicAccessBlock",
        ("DELETE", Some("publicAccessBlock")) => "DeletePublicAccessBlock",
        ("GET", Some("tagging")) => "GetBucketTagging",
        ("PUT", Some("tagging")) => "PutBucketTagging",
        ("HEAD", None) => "HeadBucket",
        ("PUT", None) => "CreateBucket",
        ("DELETE", None) => "DeleteBucket",
        _ => return None,
    })
}

fn form_param(body: &str, name: &str) -> Option<String> {
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    body.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key) == name).then(|| decode(value))
    })
}

#[derive(Default)]
struct Shared {
    rules: Vec<Rule>,
    /// Every request, by call, in the order they arrived.
    requests: BTreeMap<String, Vec<Seen>>,
    /// How many times each call reached the proxy.
    seen: BTreeMap<String, usize>,
    /// How many times each call was faulted.
    faulted: BTreeMap<String, usize>,
    /// Every call answered, with when it arrived and when its answer went back, in the order
    /// the answers went back.
    timeline: Vec<Timed>,
}

/// One call through the proxy, timed: what the benchmark counts to tell how many of a
/// remediation's calls ran one after another.
#[derive(Debug, Clone)]
pub struct Timed {
    pub call: String,
    pub arrived: Instant,
    pub answered: Instant,
}

pub struct FaultProxy {
    pub endpoint: String,
    shared: Arc<Mutex<Shared>>,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("local address"));
        let upstream = upstream.trim_start_matches("http://").to_string();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (to, state) = (upstream.clone(), state.clone());
                thread::spawn(move || serve(client, &to, &state));
            }
        });
        Self { endpoint, shared }
    }

    /// Fault the next `times` calls named `call` (`iam:DetachUserPolicy`).
    pub fn fail(&self, call: &str, fault: Fault, times: usize) {
        self.fail_after(call, 0, fault, times);
    }

    /// Let `skip` calls named `call` through, then fault the next `times`.
    pub fn fail_after(&self, call: &str, skip: usize, fault: Fault, times: usize) {
        self.shared.lock().unwrap().rules.push(Rule {
            call: call.to_string(),
            skip,
            times,
            fault,
        });
    }

    /// Hold the `nth` call (from 1) named `call` until the test decides what becomes of it.
    pub fn hold(&self, call: &str, nth: usize) -> Held {
        let held = Held::default();
        self.fail_after(call, nth.saturating_sub(1), Fault::Hold(held.clone()), 1);
        held
    }

    /// Relay every call again.
    pub fn clear(&self) {
        self.shared.lock().unwrap().rules.clear();
    }

    /// How many times `call` reached the proxy (faulted or not).
    pub fn seen(&self, call: &str) -> usize {
        self.shared
            .lock()
            .unwrap()
            .seen
            .get(call)
            .copied()
            .unwrap_or(0)
    }

    /// Every request named `call` that reached the proxy, in order.
    pub fn requests(&self, call: &str) -> Vec<Seen> {
        self.shared
            .lock()
            .unwrap()
            .requests
            .get(call)
            .cloned()
            .unwrap_or_default()
    }

    /// The name of every call that reached the proxy (faulted or not), each once, sorted.
    pub fn calls(&self) -> Vec<String> {
        self.shared.lock().unwrap().seen.keys().cloned().collect()
    }

    /// How many times `call` was faulted.
    pub fn faulted(&self, call: &str) -> usize {
        self.shared
            .lock()
            .unwrap()
            .faulted
            .get(call)
            .copied()
            .unwrap_or(0)
    }

    /// How many faults the proxy injected, in all.
    /// Every call answered so far, timed, in the order the answers went back.
    pub fn timeline(&self) -> Vec<Timed> {
        self.shared.lock().unwrap().timeline.clone()
    }

    pub fn faults_injected(&self) -> usize {
        self.shared.lock().unwrap().faulted.values().sum()
    }
}

/// One request, as read from the client.
struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// Part `n` of the signature's credential, `KEY/DATE/REGION/SERVICE/aws4_request`.
    fn credential(&self, n: usize) -> String {
        self.header("authorization")
            .and_then(|auth| auth.split("Credential=").nth(1))
            .and_then(|credential| credential.split('/').nth(n))
            .unwrap_or("?")
            .to_string()
    }

    /// `service:Operation`.
    fn call(&self) -> String {
        let service = self.credential(3);
        let operation = match self.header("x-amz-target") {
            Some(target) => target.rsplit('.').next().unwrap_or(target).to_string(),
            None if service == "s3" => s3_operation(self.head.lines().next().unwrap_or_default())
                .unwrap_or("?")
                .to_string(),
            None => form_param(&String::from_utf8_lossy(&self.body), "Action")
                .unwrap_or_else(|| "?".to_string()),
        };
        format!("{service}:{operation}")
    }

    fn is_json(&self) -> bool {
        self.header("x-amz-target").is_some()
    }
}

fn serve(client: TcpStream, upstream: &str, shared: &Mutex<Shared>) {
    let mut reader = BufReader::new(match client.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut client = client;
    // Answers go out in one write; without this, Nagle's algorithm and delayed ACKs would add
    // tens of milliseconds to each.
    let _ = client.set_nodelay(true);
    // One connection carries many requests (the SDK keeps it alive).
    while let Some(request) = read_request(&mut reader) {
        let arrived = Instant::now();
        let call = request.call();
        let fault = {
            let mut shared = shared.lock().unwrap();
            *shared.seen.entry(call.clone()).or_default() += 1;
            shared.requests.entry(call.clone()).or_default().push(Seen {
                region: request.credential(2),
                access_key: request.credential(0),
                body: String::from_utf8_lossy(&request.body).into_owned(),
            });
            let fault = shared.rules.iter_mut().find_map(|rule| {
                if rule.call != call || rule.times == 0 {
                    return None;
                }
                if rule.skip > 0 {
                    rule.skip -= 1;
                    return None;
                }
                rule.times -= 1;
                Some(rule.fault.clone())
            });
            if fault.is_some() {
                *shared.faulted.entry(call.clone()).or_default() += 1;
            }
            fault
        };
        let response = match fault {
            None => relay(upstream, &request),
            Some(Fault::Throttle) => Some(throttled(&request, &call)),
            Some(Fault::AccessDenied) => Some(access_denied(&request, &call)),
            Some(Fault::Status(status)) => Some(status_only(status)),
            Some(Fault::Slow(delay)) => {
                thread::sleep(delay);
                relay(upstream, &request)
            }
            Some(Fault::Reset) => None,
            Some(Fault::Hold(held)) => {
                let answer = match held.arrive_and_wait() {
                    true => relay(upstream, &request),
                    false => None,
                };
                held.finish(answer.is_some());
                answer
            }
        };
        let Some(response) = response else {
            let _ = client.shutdown(Shutdown::Both);
            return;
        };
        // Taken before the answer goes out: the client's next call cannot arrive before it.
        let answered = Instant::now();
        if client.write_all(&response).is_err() {
            return;
        }
        shared.lock().unwrap().timeline.push(Timed {
            call,
            arrived,
            answered,
        });
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut request = Request {
        head,
        body: Vec::new(),
    };
    let length: usize = request
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}

/// The request relayed to the emulator on a connection of its own, its whole answer read back.
fn relay(upstream: &str, request: &Request) -> Option<Vec<u8>> {
    let mut to = TcpStream::connect(upstream).ok()?;
    to.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    to.set_nodelay(true).ok()?;
    // Ask for a connection that closes after the answer: its end marks the answer's end.
    let mut bytes: Vec<u8> = request
        .head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .flat_map(|l| format!("{l}\r\n").into_bytes())
        .collect();
    bytes.extend_from_slice(b"Connection: close\r\n\r\n");
    bytes.extend_from_slice(&request.body);
    // In one write: the emulator reads the request at once, not after a delayed ACK.
    to.write_all(&bytes).ok()?;
    let mut answer = Vec::new();
    to.read_to_end(&mut answer).ok()?;
    (!answer.is_empty()).then(|| keep_alive(answer))
}

/// The emulator's answer, told to keep the client's connection open (the proxy closed its own).
fn keep_alive(answer: Vec<u8>) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return answer;
    };
    let head = String::from_utf8_lossy(&answer[..end]);
    let kept: String = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let mut out = kept.into_bytes();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&answer[end + 4..]);
    out
}

fn response(status: u16, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} Fault\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         x-amzn-RequestId: fault-proxy\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn status_only(status: u16) -> Vec<u8> {
    response(status, "text/plain", "")
}

/// An AWS error in the request's protocol.
fn aws_error(request: &Request, call: &str, status: u16, code: &str, message: &str) -> Vec<u8> {
    if request.is_json() {
        let body = serde_json::json!({ "__type": code, "message": message }).to_string();
        return response(status, "application/x-amz-json-1.1", &body);
    }
    if call.starts_with("ec2:") {
        let body = format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>\
             </Errors><RequestID>fault-proxy</RequestID></Response>"
        );
        return response(status, "text/xml", &body);
    }
    let body = format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>\
         </Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
    );
    response(status, "text/xml", &body)
}

fn throttled(request: &Request, call: &str) -> Vec<u8> {
    if request.is_json() {
        aws_error(request, call, 400, "ThrottlingException", "Rate exceeded")
    } else if call.starts_with("ec2:") {
        aws_error(
            request,
            call,
            503,
            "RequestLimitExceeded",
            "Request limit exceeded.",
        )
    } else {
        aws_error(request, call, 400, "Throttling", "Rate exceeded")
    }
}

fn access_denied(request: &Request, call: &str) -> Vec<u8> {
    let message = format!("the fault proxy denies {call}");
    if call.starts_with("ec2:") {
        aws_error(request, call, 403, "UnauthorizedOperation", &message)
    } else if call.starts_with("sns:") {
        aws_error(request, call, 403, "AuthorizationError", &message)
    } else if request.is_json() {
        aws_error(request, call, 400, "AccessDeniedException", &message)
    } else {
        aws_error(request, call, 403, "AccessDenied", &message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_bucket_requests_are_named_by_method_and_subresource() {
        for (line, name) in [
            ("PUT /acme-reports?policy HTTP/1.1", Some("PutBucketPolicy")),
            (
                "GET /acme-reports?policy= HTTP/1.1",
                Some("GetBucketPolicy"),
            ),
            (
                "DELETE /acme-reports?publicAccessBlock HTTP/1.1",
                Some("DeletePublicAccessBlock"),
            ),
            (
                "GET /acme-reports?x-id=GetBucketAcl&acl HTTP/1.1",
                Some("GetBucketAcl"),
            ),
            (
                "GET /acme-reports?tagging HTTP/1.1",
                Some("GetBucketTagging"),
            ),
            ("HEAD /acme-reports HTTP/1.1", Some("HeadBucket")),
            ("PUT /acme-reports/key?acl HTTP/1.1", None),
            ("POST /acme-reports?delete HTTP/1.1", None),
        ] {
            assert_eq!(s3_operation(line), name, "{line}");
        }
    }

    #[test]
    fn a_form_field_is_decoded_and_found_by_its_whole_name() {
        let seen = Seen {
            region: "us-east-1".into(),
            access_key: "testing".into(),
            body: "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At\
                   &Message=a+b%2Bc%26d%3De&MessageStructure=json&Empty="
                .into(),
        };
        assert_eq!(seen.param("Action").as_deref(), Some("Publish"));
        assert_eq!(
            seen.param("TopicArn").as_deref(),
            Some("arn:aws:sns:us-east-1:1:t")
        );
        assert_eq!(seen.param("Message").as_deref(), Some("a b+c&d=e"));
        assert_eq!(seen.param("Empty").as_deref(), Some(""));
        // Not a prefix of another field's name.
        assert_eq!(seen.param("Message2"), None);
        assert_eq!(seen.param("Messag"), None);
    }
}
