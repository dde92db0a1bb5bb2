//! One realistic event per function, on a freshly seeded account: what each cold start and
//! each memory run answers. The account is seeded as the demo seeds it and the attacker's call
//! replayed, so the function has real work to do (a detach, a scale-out, a trail restarted, a
//! report, a group revoked, a bucket made private).

use reflex_tests::{Account, Emulator, ec2, exposure, sample, trail};
use serde_json::Value;

/// A function's release binary and the sample event it is measured on.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// `revoke`, ...
    pub function: &'static str,
    /// The sample under `events/`.
    pub event: &'static str,
    /// The report's status when the function did its job (`remediated`; notify, which only
    /// tells a person, `needs-attention`): a run that did not is an error, not a figure.
    pub done: &'static str,
}

impl Scenario {
    /// `reflex-revoke`: the package and its binary share the name.
    pub fn binary(&self) -> String {
        format!("reflex-{}", self.function)
    }
}

pub const ALL: &[Scenario] = &[
    Scenario {
        function: "revoke",
        event: "revoke/attach-admin-to-user.json",
        done: "remediated",
    },
    Scenario {
        function: "scale",
        event: "scale/cpu-high-alarm.json",
        done: "remediated",
    },
    Scenario {
        function: "harden",
        event: "harden/stop-logging.json",
        done: "remediated",
    },
    Scenario {
        function: "notify",
        event: "notify/guardduty-s3-exfiltration-high.json",
        done: "needs-attention",
    },
    Scenario {
        function: "quarantine",
        event: "quarantine/authorize-all-traffic-to-world.json",
        done: "remediated",
    },
    Scenario {
        function: "privatize",
        event: "privatize/put-bucket-policy-public.json",
        done: "remediated",
    },
];

/// Empty the emulator, seed the account the scenario needs and replay the attacker's call;
/// the account (its topic and ledger) and the event to deliver.
pub async fn prepare(emulator: &Emulator, scenario: &Scenario) -> (Account, Value) {
    emulator.reset();
    let acct = Account::new(emulator).await;
    let raw = sample(scenario.event);
    let event = match scenario.function {
        "revoke" => {
            acct.seed().await;
            acct.replay(raw).await
        }
        "scale" => {
            acct.seed_group("web", 1, 4, 2).await;
            raw
        }
        "harden" => {
            acct.seed().await;
            trail::seed(&acct).await;
            trail::replay(&acct, raw).await
        }
        "quarantine" => {
            let fleet = ec2::seed_fleet(&acct).await;
            ec2::replay_authorize(&fleet, raw).await
        }
        "privatize" => {
            acct.seed().await;
            exposure::replay(&acct, raw).await
        }
        _ => raw,
    };
    (acct, event)
}

/// The function's environment as the template sets it (enforce mode, the ledger, the topic,
/// its own ARN), aimed at `endpoint` with dummy credentials and nothing else of this process's.
pub fn environment(acct: &Account, endpoint: &str) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = acct.env_vars("enforce", &[]).into_iter().collect();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", reflex_tests::emulator::REGION),
        ("AWS_DEFAULT_REGION", reflex_tests::emulator::REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        vars.push((k.into(), v.into()));
    }
    vars
}
