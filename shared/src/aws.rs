//! AWS plumbing shared by every function: the SDK configuration and reading SDK errors into
//! outcomes. (The undo commands in reports, quoted, are `undo`'s.)

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::outcome::Outcome;

/// The longest one AWS call may take, its retries included: a call that hangs fails (and is
/// retried with the event) instead of running the function into its own timeout.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one attempt of a call may take before the SDK retries it.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);

/// Every call bounded: [`OPERATION_TIMEOUT`], [`ATTEMPT_TIMEOUT`], and a connect timeout.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_timeout(OPERATION_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build()
}

/// Load the SDK configuration once per cold start, every call bounded in time, every client
/// sharing one HTTP connector whose TLS set-up starts now in the background ([`crate::http`]).
/// `AWS_ENDPOINT_URL` points it at an emulator.
pub async fn load_sdk_config() -> SdkConfig {
    let timeouts = timeouts();
    let http = crate::http::OneHttpClient::warming(&timeouts);
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .http_client(http.shared())
        .load()
        .await
}

/// A one-line description of an SDK error including its cause chain.
pub fn error_text<E: std::error::Error>(err: &E) -> String {
    DisplayErrorContext(err).to_string()
}

/// A failed read, for fact lookups and tag reads: what went wrong, and whether it may pass.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub why: String,
    pub transient: bool,
}

impl<E> From<SdkError<E, HttpResponse>> for CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn from(err: SdkError<E, HttpResponse>) -> Self {
        Self {
            transient: is_transient(&err),
            why: error_text(&err),
        }
    }
}

impl CallError {
    /// As an executor step's outcome: `call` failed, for now or for good.
    pub fn outcome(&self, call: &str) -> Outcome {
        let why = format!("{call} failed: {}", self.why);
        if self.transient {
            Outcome::failed_for_now(why, None)
        } else {
            Outcome::failed(why, None)
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

/// A failed AWS call, sorted for an executor: the resource it acts on is gone (the remediation
/// may already be done), or a failure to report as the action's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Gone,
    Failed(Outcome),
}

impl Fault {
    /// The outcome to report: `gone()` when the resource is not there, else the failure.
    pub fn or_gone(self, gone: impl FnOnce() -> Outcome) -> Outcome {
        match self {
            Fault::Gone => gone(),
            Fault::Failed(outcome) => outcome,
        }
    }
}

/// Sort an SDK error: one of `gone_codes` (e.g. `NoSuchEntity`) is `Gone`; anything else is a
/// failed outcome naming the call, AWS's error code and message (`AccessDenied` included),
/// retryable when the fault is one that passes (see [`is_transient`]).
pub fn fault<E>(call: &str, err: &SdkError<E, HttpResponse>, gone_codes: &[&str]) -> Fault
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().map(String::from);
    if code.as_deref().is_some_and(|c| gone_codes.contains(&c)) {
        return Fault::Gone;
    }
    let message = err
        .message()
        .map(String::from)
        .unwrap_or_else(|| match err.raw_response() {
            // Not an AWS error (an HTML error page): its status says enough.
            Some(raw) => format!(
                "HTTP {} with no AWS error code or message",
                raw.status().as_u16()
            ),
            None => error_text(err),
        });
    let why = match &code {
        Some(code) => format!("{call} failed with {code}: {message}"),
        None => format!("{call} failed: {message}"),
    };
    if is_transient(err) {
        Fault::Failed(Outcome::failed_for_now(why, code))
    } else {
        Fault::Failed(Outcome::failed(why, code))
    }
}

/// Error codes AWS answers when it is busy, or busy with the same resource (another change to
/// it under way), not when the request is wrong. Among the services Reflex calls, none uses
/// these for a final refusal.
pub const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "BandwidthLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    // Another change to the same resource is under way.
    "ConcurrentModification",
    "OperationAbortedException",
    "ConflictException",
    "ResourceContention",
    "ScalingActivityInProgress",
];

/// Whether a fault that outlasted the SDK's own retries may pass later: throttling, a 5xx, a
/// timeout, a connection that broke or a response that never arrived whole. AccessDenied,
/// validation errors and "not found" are final.
pub fn is_transient<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let busy = err.code().is_some_and(|c| TRANSIENT_CODES.contains(&c));
            busy || service.raw().status().as_u16() >= 500
        }
        _ => false,
    }
}

/// The outcome of a failed call where no error means "already done".
pub fn failure<E>(call: &str, err: &SdkError<E, HttpResponse>) -> Outcome
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fault(call, err, &[]).or_gone(|| Outcome::failed(format!("{call} failed"), None))
}
