//! For the functions' fault tests (`functions/*/tests/faults.rs`): AWS faults the emulator cannot
//! produce (AccessDenied, throttling that outlasts the retries, a 500 mid-way), answered by
//! aws-smithy-mocks rules instead of a server.

pub use aws_smithy_mocks;

use reflex_shared::config::ExemptTag;
use reflex_shared::guard::{ExemptPrincipals, Guards, Mode};
use reflex_shared::pipeline::{Handler, Remediator};
use reflex_shared::target::{Remediators, Target};

/// Attempts per call, the first one included: the SDK's standard retry mode.
pub const MAX_ATTEMPTS: u32 = 3;

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

/// A handler that enforces every rule with `remediator`, in the sample events' account and
/// region only, with no exemptions, no ledger and no topic (the report is the return value).
pub fn enforcing<R: Remediator>(remediator: R) -> Handler<R> {
    Handler {
        remediators: Remediators::fixed(remediator, Target::new("123456789012", "us-east-1")),
        guards: Guards {
            self_identity: None,
            member_role: None,
            exempt: ExemptPrincipals::none(),
            default_mode: Mode::Enforce,
            rule_modes: Default::default(),
            max_actions: reflex_shared::config::DEFAULT_MAX_ACTIONS,
        },
        exempt_tag: ExemptTag::default(),
        notifier: None,
        ledger: None,
        emit_metrics: false,
    }
}
