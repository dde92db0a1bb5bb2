//! `privatize`: make S3 buckets, EBS snapshots and AMIs that a call made public private again
//! (EventBridge sources `aws.s3` and `aws.ec2`, CloudTrail API calls).
//!
//! A function of its own rather than a part of revoke or quarantine: it needs the S3 SDK (heavy
//! to compile, so in one binary only), and the power to rewrite bucket policies, ACLs and
//! sharing belongs to one role with nothing else, not to revoke's IAM role or quarantine's EC2
//! role (each role's blast radius stays what it was). Snapshot and image sharing are EC2 calls;
//! the EC2 SDK is compiled for quarantine already.
//!
//! The same files as every function, each for one job:
//!
//! - `settings`: none of its own (modes, exemptions and limits are the core's) but the core's
//!   exemption tag, whose writes by a caller not exempt by ARN it removes
//! - `trigger`: an S3 or EC2 call as privatize's trigger, validated once (pure); `policy` judges
//!   which statements of a bucket policy are public, `acl` which grants of an ACL are
//! - `facts`: none: the rules judge the event alone
//! - `rules`: the rules, one id each (pure, cannot fail)
//! - `actions`: the changes privatize makes; `executor`: making them (reading the current state
//!   first, with the same judges); `undo`: the commands that reverse them (pure); `tags`: the
//!   tags of buckets, snapshots and images, for exemptions
//! - this file: the wiring into the core's pipeline ([`Function`])

pub mod acl;
pub mod actions;
pub mod executor;
pub mod facts;
pub mod policy;
pub mod reverse;
pub mod rules;
pub mod settings;
pub mod tags;
pub mod trigger;
pub mod undo;

use aws_config::SdkConfig;
use reflex_shared::aws::CallError;
use reflex_shared::config::Env;
use reflex_shared::event::{Accepts, Event};
use reflex_shared::exemption::Tags;
use reflex_shared::{
    ConfigError, EventError, Finding, Function, Interpreted, Notes, Outcome, Place, Resource,
};

pub use actions::PrivatizeAction;
pub use facts::Facts;
pub use rules::RULE_IDS;
pub use settings::Settings;
pub use trigger::Trigger;

/// The privatize function in one account and region: S3 and EC2 to look and act, IAM for the
/// exemption tag of the caller.
pub struct Privatize {
    s3: aws_sdk_s3::Client,
    ec2: aws_sdk_ec2::Client,
    iam: aws_sdk_iam::Client,
}

impl Privatize {
    pub fn new(s3: aws_sdk_s3::Client, ec2: aws_sdk_ec2::Client, iam: aws_sdk_iam::Client) -> Self {
        Self { s3, ec2, iam }
    }

    /// The S3 client for `sdk`: path-style addressing when an endpoint is configured (an
    /// emulator serves every bucket on one host), virtual-hosted otherwise, as AWS prefers.
    pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

impl Function for Privatize {
    const NAME: &'static str = "privatize";
    const RULE_IDS: &'static [&'static str] = RULE_IDS;
    const ACCEPTS: &'static [Accepts] =
        &[Accepts::api_calls("aws.s3"), Accepts::api_calls("aws.ec2")];

    type Settings = Settings;
    type Trigger = Trigger;
    type Facts = Facts;
    type Action = PrivatizeAction;

    fn settings(env: &Env<'_>) -> Result<Settings, ConfigError> {
        Settings::from_env(env)
    }

    fn connect(sdk: &SdkConfig, _place: &Place) -> Self {
        Self::new(
            Self::s3_client(sdk),
            aws_sdk_ec2::Client::new(sdk),
            aws_sdk_iam::Client::new(sdk),
        )
    }

    fn interpret(event: &Event, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
        trigger::interpret(event, &settings.exempt_tag)
    }

    fn decide(
        trigger: &Trigger,
        facts: &Facts,
        settings: &Settings,
    ) -> Vec<Finding<PrivatizeAction>> {
        rules::decide(trigger, facts, settings)
    }

    async fn gather(&self, trigger: &Trigger, notes: &mut Notes) -> Facts {
        facts::gather(trigger, notes).await
    }

    /// Buckets carry S3 tags, snapshots and images EC2 tags; the caller, an IAM user or role,
    /// IAM tags.
    async fn tags(&self, resource: &Resource) -> Result<Option<Tags>, CallError> {
        match resource {
            Resource::Bucket(name) => tags::bucket(&self.s3, name).await.map(Some),
            Resource::Snapshot(id) => tags::snapshot(&self.ec2, id).await.map(Some),
            Resource::Image(id) => tags::image(&self.ec2, id).await.map(Some),
            Resource::User(_) | Resource::Role(_) => {
                reflex_shared::iam::tags(&self.iam, resource).await
            }
            _ => Ok(None),
        }
    }

    async fn execute(&self, action: &PrivatizeAction) -> Outcome {
        executor::execute(&self.s3, &self.ec2, action).await
    }
}
