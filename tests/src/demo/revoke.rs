//! The revoke part of the demo: every sample event replayed against a fresh account.

use std::path::Path;

use reflex_revoke::Revoke;
use reflex_revoke::actions::Identity;
use serde_json::Value;

use super::print_report;
use crate::account::APP_POLICY;
use crate::emulator::workspace_root;
use crate::member;
use crate::{Account, Emulator, sample};
use reflex_shared::config;

/// Every revoke sample, a dry-run, and malformed input.
pub async fn run(emulator: &Emulator) {
    println!("== revoke: IAM privilege escalation, one sample event at a time ==\n");

    let files = crate::sample_files("revoke");

    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for file in &files {
        let status = scenario(emulator, file, "enforce").await;
        *tally.entry(status).or_default() += 1;
    }
    println!("== the same escalation with REFLEX_MODE=dry-run ==\n");
    scenario(emulator, "attach-admin-to-user.json", "dry-run").await;

    println!("== bad input: refused with a clear, permanent error and no AWS call ==\n");
    bad_input(emulator).await;

    println!(
        "== summary: {} revoke sample events in enforce mode ==",
        files.len()
    );
    for (status, n) in tally {
        println!("  {status:<14} {n}");
    }
    println!();
}

/// Fresh account, the attacker's call replayed, the event handled; prints the story.
async fn scenario(emulator: &Emulator, file: &str, mode: &str) -> String {
    emulator.reset();
    let acct = Account::new(emulator).await;
    acct.seed().await;
    let event = sample(&format!("revoke/{file}"));
    // An event forwarded from a member account is acted on there, through its remediation role.
    let at = if event["account"] == member::MEMBER {
        let member = member::admin(&acct, crate::emulator::REGION).await;
        member.seed().await;
        member::create_remediation_roles(&member).await;
        member
    } else {
        acct.with_sdk(acct.sdk.clone())
    };
    let event = at.replay(event).await;
    let d = &event["detail"];
    println!("-- {file} ({mode})");
    println!(
        "   call      {} -> iam:{} {}",
        d["userIdentity"]["arn"].as_str().unwrap_or("?"),
        d["eventName"].as_str().unwrap_or("?"),
        compact(&d["requestParameters"])
    );
    if let Some(code) = d["errorCode"].as_str() {
        println!("             (failed with {code})");
    }
    let handler = acct
        .handler::<Revoke>(mode, &[(config::MEMBER_ROLE_ARN, member::MEMBER_ROLE_ARN)])
        .await;
    let report = match handler.handle(event.clone()).await {
        Ok(r) => r,
        Err(e) => {
            println!("   error     {} ({})\n", e, e.error_type());
            return "error".into();
        }
    };
    let status = report.status.as_str().to_string();
    print_report(&report);
    println!("   emulator  {}", read_back(&at, d).await);
    match acct.reports().await.as_slice() {
        [] => println!("   SNS       no report (nothing a person needs to see)"),
        reports => {
            for r in reports {
                println!("   SNS       \"{}\"", r.subject);
            }
        }
    }
    println!();
    status
}

async fn bad_input(emulator: &Emulator) {
    emulator.reset();
    let acct = Account::new(emulator).await;
    let handler = acct.handler::<Revoke>("enforce", &[]).await;
    let dir = workspace_root().join("events/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("events/invalid")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files {
        // Every file here, `.txt` included: text that is not JSON is bad input too.
        let text = std::fs::read_to_string(&path).expect("readable sample");
        // The runtime hands the handler decoded JSON; text that is not JSON fails before it.
        let result = match serde_json::from_str::<Value>(&text) {
            Ok(value) => handler
                .handle(value)
                .await
                .map(|_| ())
                .map_err(|e| (e.error_type(), e.to_string())),
            Err(_) => reflex_shared::event::parse_str(&text)
                .map(|_| ())
                .map_err(|e| {
                    (
                        format!("Permanent.BadEvent.{}", e.error_type()),
                        e.to_string(),
                    )
                }),
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        match result {
            Err((kind, message)) => println!("-- {name}\n   error     {kind}: {message}\n"),
            Ok(()) => println!("-- {name}\n   unexpectedly accepted\n"),
        }
    }
}

/// The state the event is about, as the emulator has it now.
async fn read_back(acct: &Account, d: &Value) -> String {
    let req = &d["requestParameters"];
    let s = |k: &str| req[k].as_str().unwrap_or_default().to_string();
    let identity = || {
        let name = d["eventName"].as_str().unwrap_or_default();
        if name.contains("User") {
            Identity::User(s("userName"))
        } else if name.contains("Group") {
            Identity::Group(s("groupName"))
        } else {
            Identity::Role(s("roleName"))
        }
    };
    match d["eventName"].as_str().unwrap_or_default() {
        n if n.starts_with("Attach") => {
            let names: Vec<String> = acct
                .attached_policies(&identity())
                .await
                .iter()
                .map(|a| short(a))
                .collect();
            format!("{} managed policies: {names:?}", identity())
        }
        n if n.starts_with("Put") => {
            format!(
                "{} inline policies: {:?}",
                identity(),
                acct.inline_policies(&identity()).await
            )
        }
        "CreatePolicyVersion" | "SetDefaultPolicyVersion" => format!(
            "app-policy versions (* = default): {:?}",
            acct.policy_versions(APP_POLICY).await
        ),
        "CreateAccessKey" => {
            let key = d["responseElements"]["accessKey"]["accessKeyId"]
                .as_str()
                .unwrap_or_default();
            let user = d["responseElements"]["accessKey"]["userName"]
                .as_str()
                .unwrap_or_default();
            format!(
                "access key {key} of {user}: {}",
                acct.access_key_status(user, key)
                    .await
                    .unwrap_or_else(|| "deleted".into())
            )
        }
        "CreateLoginProfile" | "UpdateLoginProfile" => {
            // Without `userName`: the caller's own.
            let user = req["userName"]
                .as_str()
                .or(d["userIdentity"]["userName"].as_str())
                .unwrap_or_default();
            format!(
                "user {user} console login: {}",
                if acct.has_login_profile(user).await {
                    "enabled"
                } else {
                    "none"
                }
            )
        }
        "UpdateAssumeRolePolicy" | "CreateRole" => format!(
            "role {} trust policy: {}",
            s("roleName"),
            acct.trust_policy(&s("roleName")).await["Statement"]
        ),
        "AddUserToGroup" => format!(
            "user {} groups: {:?}",
            s("userName"),
            acct.groups_of(&s("userName")).await
        ),
        other => format!("(no read-back for {other})"),
    }
}

fn short(arn: &str) -> String {
    Path::new(arn)
        .file_name()
        .map_or(arn.to_string(), |n| n.to_string_lossy().into_owned())
}

/// Request parameters on one line, policy documents elided.
fn compact(v: &Value) -> String {
    let mut v = v.clone();
    for key in ["policyDocument", "assumeRolePolicyDocument"] {
        if let Some(doc) = v.get_mut(key) {
            *doc = Value::String("{...}".into());
        }
    }
    v.to_string()
}
