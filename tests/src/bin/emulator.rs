//! `reflex-emulator FUNCTION [EVENT.json]`: a local AWS for running one function's real binary
//! by hand (`scripts/invoke-local`): the emulator started and the account seeded as the demo
//! seeds it for that function, the event's own call replayed (so the state is what it is right
//! after the call the event records, and the event names the ids the emulator generated), then
//! the function's environment printed as KEY=VALUE lines and a last line `READY`. It keeps
//! running until its standard input closes or it is signalled (moto stops with it).
//!
//! Options: `--env-out FILE` also writes the environment there; `--event-out FILE` writes the
//! replayed event there; `--mode MODE` sets `REFLEX_MODE` (default `enforce`, as in the demo).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use reflex_tests::emulator::{ACCOUNT, REGION};
use reflex_tests::{Account, Emulator, ec2, exposure, member, trail};
use serde_json::Value;

const USAGE: &str = "usage: reflex-emulator FUNCTION [EVENT.json] [--env-out FILE] [--event-out FILE] [--mode enforce|dry-run|off]
  FUNCTION: revoke, scale, harden, notify, quarantine or privatize";

const FUNCTIONS: [&str; 6] = [
    "revoke",
    "scale",
    "harden",
    "notify",
    "quarantine",
    "privatize",
];

struct Args {
    function: String,
    event: Option<PathBuf>,
    env_out: Option<PathBuf>,
    event_out: Option<PathBuf>,
    mode: String,
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut env_out = None;
    let mut event_out = None;
    let mut mode = "enforce".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--env-out" => env_out = Some(PathBuf::from(value("--env-out")?)),
            "--event-out" => event_out = Some(PathBuf::from(value("--event-out")?)),
            "--mode" => mode = value("--mode")?,
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let function = positional.next().ok_or("FUNCTION is missing")?;
    if !FUNCTIONS.contains(&function.as_str()) {
        return Err(format!("`{function}` is not a Reflex function"));
    }
    let event = positional.next().map(PathBuf::from);
    if let Some(extra) = positional.next() {
        return Err(format!("one event at a time: `{extra}` is one too many"));
    }
    Ok(Args {
        function,
        event,
        env_out,
        event_out,
        mode,
    })
}

fn read_event(path: &PathBuf) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(why) if why.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("reflex-emulator: {why}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    let event = match args.event.as_ref().map(read_event).transpose() {
        Ok(event) => event,
        Err(why) => {
            eprintln!("reflex-emulator: {why}");
            return ExitCode::from(1);
        }
    };
    let emulator = Emulator::start();
    let endpoint = emulator.endpoint.clone();
    // The harness panics on what it cannot set up (a call it cannot replay): on a task of its
    // own, so that is a clear error here, and the emulator is stopped with it.
    let function = args.function.clone();
    let mode = args.mode.clone();
    let prepared = tokio::spawn(async move {
        let prepared = prepare(&emulator, &function, &mode, event).await;
        (emulator, prepared)
    })
    .await;
    let (emulator, (mut env, event)) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            eprintln!(
                "reflex-emulator: could not seed the account or replay the event's call for {}: {e}",
                args.function
            );
            return ExitCode::from(1);
        }
    };
    // The function's SDK reaches the emulator with dummy credentials, never a real account.
    for (key, value) in [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ] {
        env.insert(key.to_string(), value.to_string());
    }
    let lines: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    if let Err(why) = write_outputs(&args, &lines, event.as_ref()) {
        eprintln!("reflex-emulator: {why}");
        return ExitCode::from(1);
    }
    print!("{lines}");
    println!("READY");
    // Until standard input closes (or a signal ends the process; moto then stops as its own
    // standard input closes).
    let _ =
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
            .await;
    drop(emulator);
    ExitCode::SUCCESS
}

fn write_outputs(args: &Args, env: &str, event: Option<&Value>) -> Result<(), String> {
    if let Some(path) = &args.env_out {
        std::fs::write(path, env).map_err(|e| format!("--env-out {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.event_out {
        let event = event.ok_or("--event-out needs an EVENT to replay")?;
        let text = serde_json::to_string_pretty(event).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("--event-out {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Seed the account for `function` as the demo does, replay the event's call, and return the
/// function's configuration (as the demo configures it) and the replayed event.
async fn prepare(
    emulator: &Emulator,
    function: &str,
    mode: &str,
    event: Option<Value>,
) -> (BTreeMap<String, String>, Option<Value>) {
    let home = Account::new(emulator).await;
    let mut extra: Vec<(&str, String)> = Vec::new();
    // An event from the member account is acted on there, through the function's member role.
    let in_member = event
        .as_ref()
        .is_some_and(|e| e["account"] == member::MEMBER && e["account"] != ACCOUNT);
    let at = if in_member {
        let member = member::admin(&home, REGION).await;
        member::create_remediation_roles(&member).await;
        extra.push(("REFLEX_MEMBER_ROLE_ARN", member::member_role_arn(function)));
        member
    } else {
        home.with_sdk(home.sdk.clone())
    };
    let event = match function {
        "revoke" => {
            at.seed().await;
            match event {
                Some(event) => Some(at.replay(event).await),
                None => None,
            }
        }
        "scale" => {
            at.seed_group("web", 1, 4, 2).await;
            extra.push(("REFLEX_SCALE_IN_STEP", "1".into()));
            extra.push(("REFLEX_SCALE_COOLDOWN_SECONDS", "0".into()));
            event
        }
        "harden" => {
            at.seed().await;
            trail::seed(&at).await;
            match event {
                Some(event) => Some(trail::replay(&at, event).await),
                None => None,
            }
        }
        "quarantine" => {
            let fleet = ec2::seed_fleet(&at).await;
            extra.push(("REFLEX_QUARANTINE_ALARMS", ec2::LISTED_ALARM.into()));
            extra.push(("REFLEX_QUARANTINE_TAG", ec2::OPERATOR_TAG.into()));
            match event {
                Some(event) if is_ingress_change(&event) => {
                    Some(ec2::replay_authorize(&fleet, event).await)
                }
                // A finding, an alarm or a tag about the sample's instance: about the fleet's.
                Some(event) => Some(ec2::for_group(
                    ec2::for_instance(event, &fleet.instance_id),
                    &fleet.web_group,
                )),
                None => None,
            }
        }
        "privatize" => {
            at.seed().await;
            match event {
                Some(event) if has_bucket_or_resource(&event) => {
                    Some(exposure::replay(&at, event).await)
                }
                event => event,
            }
        }
        // notify only reads the event; it runs in enforce, as the template sets it.
        _ => {
            extra.push(("REFLEX_MODE", "enforce".into()));
            event
        }
    };
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (home.env_vars(mode, &extra), event)
}

fn is_ingress_change(event: &Value) -> bool {
    matches!(
        event["detail"]["eventName"].as_str(),
        Some("AuthorizeSecurityGroupIngress" | "ModifySecurityGroupRules")
    )
}

/// A privatize event the replay can reproduce: one whose request names what it changed (the
/// `invalid-*` samples do not, and are handed to the function as they are).
fn has_bucket_or_resource(event: &Value) -> bool {
    let request = &event["detail"]["requestParameters"];
    request.get("bucketName").is_some()
        || request.get("snapshotId").is_some()
        || request.get("imageId").is_some()
}
