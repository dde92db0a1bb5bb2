//! What every test suite shares: the sample events in `events/` (one loader), SDK clients answered
//! by aws-smithy-mocks rules for the faults the emulator cannot produce (AccessDenied, throttling
//! that outlasts the retries, a 500 mid-way), a handler that enforces every rule, and the check
//! that a delivery fails for now ([`fails_for_now`]).
//!
//! The emulator-backed suites build their handlers the way the Lambda binary does
//! (`reflex_tests::Account::handler`); the mocked ones use [`enforcing`].

use std::path::PathBuf;

pub use aws_smithy_mocks;

use reflex_shared::config::DEFAULT_MAX_ACTIONS;
use reflex_shared::event::{self, Event};
use reflex_shared::exemption::ExemptTag;
use reflex_shared::guard::Guards;
use reflex_shared::pipeline::{Handler, Places};
use reflex_shared::target::Target;
use reflex_shared::{Function, ReflexError};
use serde_json::Value;

/// The account and region of the sample events.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// Attempts per call, the first one included: the SDK's standard retry mode.
pub const MAX_ATTEMPTS: u32 = 3;

/// The `events/` directory of the workspace.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// A sample file's text, e.g. `sample_text("revoke/attach-admin-to-user.json")`.
pub fn sample_text(relative: &str) -> String {
    let path = events_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A sample event as the Lambda runtime hands it over: decoded JSON.
pub fn sample(relative: &str) -> Value {
    serde_json::from_str(&sample_text(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// A sample event parsed into the core's typed event.
pub fn sample_event(relative: &str) -> Event {
    event::parse(sample(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The sample files of `events/<dir>/`, sorted, by name: `attach-admin-to-user.json`, ...
pub fn sample_files(dir: &str) -> Vec<String> {
    let path = events_dir().join(dir);
    let mut files: Vec<String> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    files
}

/// A client of SDK crate `$sdk` (e.g. `aws_sdk_iam`) that answers only from `$rules`
/// (`&[&Rule]`): the first rule that matches a request and is not used up answers it, and a
/// request no rule answers panics, so an unexpected call fails the test.
///
/// This is what aws-smithy-mocks' `mock_client!` expands to, built by hand because that macro
/// needs each SDK's `test-util` feature. Retries are on (standard mode, [`MAX_ATTEMPTS`], like
/// the SDK default) with no backoff, so retry tests take no time.
#[macro_export]
macro_rules! mocked {
    ($sdk:ident, $rules:expr) => {{
        use $crate::aws_smithy_mocks::{
            MockResponseInterceptor, Rule, RuleMode, create_mock_http_client,
        };
        let rules: &[&Rule] = $rules;
        let interceptor = rules.iter().fold(
            MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
            |i, rule| i.with_rule(rule),
        );
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($sdk::config::Credentials::new(
                "AKIDFAULTSTEST",
                "secret",
                None,
                None,
                "faults-test",
            ))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .retry_config(
                $sdk::config::retry::RetryConfig::standard()
                    .with_max_attempts($crate::MAX_ATTEMPTS)
                    .with_initial_backoff(::std::time::Duration::ZERO)
                    .with_max_backoff(::std::time::Duration::ZERO),
            )
            .build();
        $sdk::Client::from_conf(config)
    }};
}

/// A handler that enforces every rule with `function` (its clients mocked), in the sample
/// events' account and region only, with no caller exempt by pattern, the default exemption tag,
/// no ledger and no topic (the report is the return value).
pub fn enforcing<F: Function>(function: F, settings: F::Settings) -> Handler<F> {
    Handler {
        places: Places::fixed(function, Target::new(ACCOUNT, REGION)),
        settings,
        guards: Guards::enforcing(DEFAULT_MAX_ACTIONS),
        rate_limit: Default::default(),
        exempt_tag: ExemptTag::default(),
        publisher: None,
        ledger: None,
        emit_metrics: false,
    }
}

/// Deliver `event` to `handler` and check that the delivery fails for now with `error_type`, a
/// transient error (Lambda retries the event); the error, for more checks.
pub async fn fails_for_now<F: Function>(
    handler: &Handler<F>,
    event: &Value,
    error_type: &str,
) -> ReflexError {
    let err = handler
        .handle(event.clone())
        .await
        .expect_err("the delivery must fail for now");
    assert_eq!(err.error_type(), error_type, "{err}");
    assert!(err.is_transient(), "Lambda retries it: {err}");
    err
}
