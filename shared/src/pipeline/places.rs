//! A function's instance per account and region it acts in: built on first use (assuming the
//! member role for another account) and kept for later events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_sts::config::{ProvideCredentials, Region, SharedCredentialsProvider};

use crate::error::TargetError;
use crate::function::{Function, Place};
use crate::ledger::Ledger;
use crate::target::{MemberRole, Route, Target, route};

/// How instances for other accounts and regions are made.
struct Builder {
    base: SdkConfig,
    member_role: Option<MemberRole>,
    ledger: Option<Ledger>,
}

pub struct Places<F> {
    home: Target,
    at_home: Arc<F>,
    /// `None`: one fixed instance that acts only at home (tests with mocked clients).
    builder: Option<Builder>,
    built: Mutex<HashMap<Target, Arc<F>>>,
}

impl<F: Function> Places<F> {
    /// The function at home now (`base`'s region, `home_account`), elsewhere on first use.
    pub fn new(
        base: &SdkConfig,
        home_account: &str,
        member_role: Option<MemberRole>,
        ledger: Option<Ledger>,
    ) -> Self {
        let home = Target::new(
            home_account,
            &base
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".to_string()),
        );
        let place = Place {
            target: home.clone(),
            is_home: true,
            ledger: ledger.clone(),
        };
        Self {
            at_home: Arc::new(F::connect(base, &place)),
            home,
            builder: Some(Builder {
                base: base.clone(),
                member_role,
                ledger,
            }),
            built: Mutex::new(HashMap::new()),
        }
    }

    /// One instance that acts only in `home`; events from anywhere else are refused.
    pub fn fixed(function: F, home: Target) -> Self {
        Self {
            home,
            at_home: Arc::new(function),
            builder: None,
            built: Mutex::new(HashMap::new()),
        }
    }

    /// The function in its own account and region.
    pub fn home(&self) -> &F {
        &self.at_home
    }

    pub fn home_target(&self) -> &Target {
        &self.home
    }

    /// The function in an event's account and region. Assuming a member role is checked here,
    /// so a role that cannot be assumed fails the event before anything is done.
    pub async fn at(&self, target: &Target) -> Result<Arc<F>, TargetError> {
        if *target == self.home {
            return Ok(self.at_home.clone());
        }
        let Some(builder) = &self.builder else {
            return Err(TargetError::Refused(format!(
                "this handler acts only in {}",
                self.home
            )));
        };
        if let Some(built) = self.built.lock().expect("not poisoned").get(target) {
            return Ok(built.clone());
        }
        let region = Region::new(target.region.clone());
        let sdk = match route(target, &self.home, builder.member_role.as_ref()) {
            Route::Refused { why } => return Err(TargetError::Refused(why)),
            Route::Own => builder.base.to_builder().region(region).build(),
            Route::Member { role_arn } => {
                let provider = AssumeRoleProvider::builder(&role_arn)
                    // What the member's CloudTrail shows: `reflex-revoke`, ...
                    .session_name(format!("reflex-{}", F::NAME))
                    // STS in the home region, not the event's: a regional STS endpoint answers
                    // only where the calling account has the region enabled, and an opt-in
                    // region the member uses may be disabled at home. The clients built from
                    // these credentials still act in the event's region. See
                    // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_enable-regions.html
                    .region(Region::new(self.home.region.clone()))
                    .configure(&builder.base)
                    .build()
                    .await;
                provider.provide_credentials().await.map_err(|e| {
                    TargetError::AssumeRole(format!(
                        "could not assume {role_arn} to act in {target}: {}",
                        crate::aws::error_text(&e)
                    ))
                })?;
                builder
                    .base
                    .to_builder()
                    .region(region)
                    .credentials_provider(SharedCredentialsProvider::new(provider))
                    .build()
            }
        };
        let place = Place {
            target: target.clone(),
            is_home: false,
            ledger: builder.ledger.clone(),
        };
        let function = Arc::new(F::connect(&sdk, &place));
        self.built
            .lock()
            .expect("not poisoned")
            .insert(target.clone(), function.clone());
        Ok(function)
    }
}
