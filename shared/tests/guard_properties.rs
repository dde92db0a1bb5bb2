//! Properties of the guards over generated plans (issue #12): whatever findings the rules make,
//! whatever resources are exempt, whatever each rule's mode and the blast radius,
//!
//! - no step on an exempt resource runs or is dry-run, unless the same event removes that
//!   resource's exemption tag (`Action::lifts_exemption`: a tag written by a caller not allowed
//!   to grant it), which then exempts no step of the event on it;
//! - steps that run or are dry-run never exceed the blast radius, and they are the first ones
//!   in plan order (nothing is skipped for the radius while a later step acts);
//! - a rule that is off acts on nothing, a dry-run rule on nothing for real;
//! - a call made by Reflex's own role at home, or by its member role in a member account, is
//!   always skipped by the loop guard, and a role that only looks like it (its name at another
//!   path or in another account) never is.

use std::collections::BTreeMap;

use proptest::prelude::*;
use reflex_shared::event::ApiCall;
use reflex_shared::guard::{Disposition, EventSkip, Guards, Mode};
use reflex_shared::identity::SelfIdentity;
use reflex_shared::target::MemberRole;
use reflex_shared::{Action, Finding, Resource, Severity};
use serde::Serialize;

/// A step on one of a few users or instances; some remove the exemption tag.
#[derive(Debug, Clone, Serialize)]
struct Step {
    resource: Resource,
    lifts: bool,
}

impl Action for Step {
    fn describe(&self) -> String {
        format!("change {}", self.resource)
    }
    fn resource(&self) -> Resource {
        self.resource.clone()
    }
    fn lifts_exemption(&self) -> bool {
        self.lifts
    }
}

const RULES: [&str; 3] = ["test.first", "test.second", "test.third"];

fn resource() -> impl Strategy<Value = Resource> {
    prop_oneof![
        (0..4u8).prop_map(|n| Resource::User(format!("user-{n}"))),
        (0..4u8).prop_map(|n| Resource::Instance(format!("i-{n}"))),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (resource(), prop::bool::weighted(0.1)).prop_map(|(resource, lifts)| Step { resource, lifts })
}

fn finding() -> impl Strategy<Value = Finding<Step>> {
    (0..RULES.len(), prop::collection::vec(step(), 0..6)).prop_map(|(rule, actions)| Finding {
        rule_id: RULES[rule],
        severity: Severity::High,
        reason: "generated".into(),
        actions,
    })
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Enforce), Just(Mode::DryRun), Just(Mode::Off)]
}

fn guards() -> impl Strategy<Value = Guards> {
    (
        mode(),
        prop::collection::vec(prop::option::of(mode()), RULES.len()),
        0..8usize,
    )
        .prop_map(|(default_mode, modes, max_actions)| Guards {
            default_mode,
            // Some rules with a mode of their own, the others the default.
            rule_modes: RULES
                .iter()
                .zip(modes)
                .filter_map(|(rule, mode)| Some((rule.to_string(), mode?)))
                .collect(),
            ..Guards::enforcing(max_actions)
        })
}

fn exempt() -> impl Strategy<Value = BTreeMap<Resource, String>> {
    prop::collection::btree_map(
        resource(),
        Just("tagged reflex:exempt=true".to_string()),
        0..4,
    )
}

fn acts(d: &Disposition) -> bool {
    matches!(d, Disposition::Run | Disposition::DryRun)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_step_on_an_exempt_resource_acts_unless_the_event_lifts_that_exemption(
        guards in guards(),
        findings in prop::collection::vec(finding(), 0..5),
        exempt in exempt(),
    ) {
        let lifted: Vec<Resource> = findings
            .iter()
            .flat_map(|f| &f.actions)
            .filter(|s| s.lifts)
            .map(|s| s.resource.clone())
            .collect();
        for guarded in guards.apply(findings, &exempt) {
            for (step, disposition) in &guarded.steps {
                let exempt_here = exempt.contains_key(&step.resource);
                if exempt_here && !lifted.contains(&step.resource) {
                    prop_assert!(
                        !acts(disposition),
                        "{:?} on an exempt resource: {:?}", step, disposition
                    );
                }
                // A refused tag holds back nothing on its resource.
                if exempt_here && lifted.contains(&step.resource) {
                    prop_assert!(
                        !matches!(disposition, Disposition::Exempt { .. }),
                        "{:?} held back by a refused tag", step
                    );
                }
            }
        }
    }

    #[test]
    fn the_blast_radius_is_never_exceeded_and_spent_in_plan_order(
        guards in guards(),
        findings in prop::collection::vec(finding(), 0..5),
        exempt in exempt(),
    ) {
        let guarded = guards.apply(findings, &exempt);
        let dispositions: Vec<&Disposition> =
            guarded.iter().flat_map(|g| g.steps.iter().map(|(_, d)| d)).collect();
        let acting = dispositions.iter().filter(|d| acts(d)).count();
        prop_assert!(acting <= guards.max_actions, "{} > {}", acting, guards.max_actions);
        // Once the radius skips a step, no later step acts, and the radius was spent.
        let radius =
            |d: &&&Disposition| matches!(d, Disposition::Skip { why } if why.starts_with("blast radius"));
        if let Some(first) = dispositions.iter().position(|d| radius(&d)) {
            prop_assert!(!dispositions[first..].iter().any(|d| acts(d)));
            prop_assert_eq!(acting, guards.max_actions);
        }
    }

    #[test]
    fn an_off_rule_acts_on_nothing_and_a_dry_run_rule_on_nothing_for_real(
        guards in guards(),
        findings in prop::collection::vec(finding(), 0..5),
        exempt in exempt(),
    ) {
        for guarded in guards.apply(findings, &exempt) {
            prop_assert_eq!(guarded.mode, guards.mode_for(guarded.finding.rule_id));
            for (_, disposition) in &guarded.steps {
                match guarded.mode {
                    Mode::Off => prop_assert!(!acts(disposition), "{:?}", disposition),
                    Mode::DryRun => prop_assert!(*disposition != Disposition::Run),
                    Mode::Enforce => prop_assert!(*disposition != Disposition::DryRun),
                }
            }
        }
    }
}

const HOME: &str = "111111111111";
const MY_ROLE: &str = "arn:aws:iam::111111111111:role/reflex/reflex-revoke-us-east-1";
const MEMBER_ROLE: &str = "arn:aws:iam::{account}:role/reflex/reflex-remediation-revoke";

fn reflex() -> Guards {
    Guards {
        self_identity: Some(
            SelfIdentity::from_arn(MY_ROLE)
                .with_member_role(Some(MemberRole::parse(MEMBER_ROLE).unwrap())),
        ),
        ..Guards::enforcing(5)
    }
}

/// A call by a session of the role `path` + `name` in `account`, as CloudTrail records it.
fn call_by(account: &str, path: &str, name: &str) -> ApiCall {
    serde_json::from_value(serde_json::json!({
        "userIdentity": {
            "type": "AssumedRole", "accountId": account,
            "arn": format!("arn:aws:sts::{account}:assumed-role/{name}/session"),
            "sessionContext": {"sessionIssuer": {"type": "Role", "accountId": account,
                "arn": format!("arn:aws:iam::{account}:role{path}{name}"), "userName": name}}
        },
        "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy",
        "awsRegion": "us-east-1"
    }))
    .unwrap()
}

fn account() -> impl Strategy<Value = String> {
    prop_oneof![Just(HOME.to_string()), "[0-9]{12}"]
}

/// Paths an attacker may choose (IAM takes `/`, then printable ASCII, ending in `/`).
fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_string()),
        Just("/reflex/".to_string()),
        "/[a-z:*]{1,8}/",
        "/reflex/[a-z]{1,6}/",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn reflex_is_known_by_its_exact_roles_and_by_nothing_that_looks_like_them(
        account in account(),
        path in path(),
        name in prop_oneof![
            Just("reflex-revoke-us-east-1".to_string()),
            Just("reflex-remediation-revoke".to_string()),
            "reflex-[a-z-]{1,20}",
        ],
    ) {
        let call = call_by(&account, &path, &name);
        let at_home = account == HOME;
        let exactly_mine = at_home && path == "/reflex/" && name == "reflex-revoke-us-east-1";
        let exactly_member =
            !at_home && path == "/reflex/" && name == "reflex-remediation-revoke";
        let skipped = matches!(reflex().screen(&call), Some(EventSkip::LoopGuard { .. }));
        prop_assert_eq!(
            skipped,
            exactly_mine || exactly_member,
            "{} {}{}", account, path, name
        );
    }
}
