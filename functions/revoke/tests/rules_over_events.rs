//! Every revoke rule and guard over the sample events in `events/`: pure, no emulator.

use std::collections::BTreeMap;

use reflex_revoke::actions::{Identity, Principal};
use reflex_revoke::facts::{GroupPolicies, ManagedPolicy};
use reflex_revoke::{Facts, IamAction, Revoke, Settings, Trigger, rules};
use reflex_shared::exemption::ExemptPrincipals;
use reflex_shared::guard::{Disposition, EventSkip, Guards, Mode};
use reflex_shared::iam::Containment;
use reflex_shared::identity::SelfIdentity;
use reflex_shared::target::MemberRole;
use reflex_shared::{Action, ApiCall, Finding, Function, Interpreted, Resource};
use reflex_testkit::sample_event;
use serde_json::json;

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// The API call of a sample event, for the event guards.
fn call(name: &str) -> ApiCall {
    sample_event(name)
        .api_call()
        .cloned()
        .unwrap_or_else(|| panic!("{name}: not an API call"))
}

/// What revoke makes of a sample event: its trigger, or why it ignores it.
fn interpret(name: &str) -> Interpreted<Trigger> {
    Revoke::interpret(&sample_event(name), &Settings::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn findings_with(name: &str, facts: &Facts, settings: &Settings) -> Vec<Finding<IamAction>> {
    let interpreted =
        Revoke::interpret(&sample_event(name), settings).unwrap_or_else(|e| panic!("{name}: {e}"));
    match interpreted {
        Interpreted::Trigger(trigger) => rules::decide(&trigger, facts, settings),
        Interpreted::Ignored(_) => Vec::new(),
    }
}

fn findings(name: &str, facts: &Facts) -> Vec<Finding<IamAction>> {
    findings_with(name, facts, &Settings::default())
}

/// The single finding of an event, with its rule id and actions.
fn only_finding(name: &str, facts: &Facts) -> Finding<IamAction> {
    let mut f = findings(name, facts);
    assert_eq!(f.len(), 1, "{name}: {f:?}");
    f.remove(0)
}

fn admin_group() -> Facts {
    Facts {
        group_policies: Some(GroupPolicies {
            managed: vec![ManagedPolicy {
                arn: ADMIN.into(),
                document: None,
            }],
            inline: vec![],
        }),
        ..Default::default()
    }
}

#[test]
fn privileged_policy_attached_to_user_group_or_role_is_detached() {
    let cases = [
        (
            "revoke/attach-admin-to-user.json",
            Identity::User("alice".into()),
            ADMIN,
        ),
        (
            "revoke/attach-admin-to-group.json",
            Identity::Group("developers".into()),
            ADMIN,
        ),
        (
            "revoke/attach-iam-full-access-to-role.json",
            Identity::Role("app-role".into()),
            "arn:aws:iam::aws:policy/IAMFullAccess",
        ),
    ];
    for (file, from, policy_arn) in cases {
        let f = only_finding(file, &Facts::default());
        assert_eq!(f.rule_id, rules::PRIVILEGED_POLICY_ATTACHED, "{file}");
        assert_eq!(
            f.actions,
            vec![IamAction::DetachManagedPolicy {
                from,
                policy_arn: policy_arn.into()
            }],
            "{file}"
        );
    }
}

#[test]
fn a_harmless_managed_policy_is_left_alone_unless_configured_privileged() {
    assert!(findings("revoke/attach-readonly-to-user.json", &Facts::default()).is_empty());
    let mut settings = Settings::default();
    settings
        .privileged_policies
        .push("arn:aws:iam::aws:policy/ReadOnlyAccess".into());
    let f = findings_with(
        "revoke/attach-readonly-to-user.json",
        &Facts::default(),
        &settings,
    );
    assert_eq!(f[0].rule_id, rules::PRIVILEGED_POLICY_ATTACHED);
}

#[test]
fn escalating_inline_policies_are_deleted() {
    let cases = [
        (
            "revoke/put-user-policy-allow-all.json",
            Identity::User("alice".into()),
            "debug-access",
            "every action",
        ),
        (
            "revoke/put-role-policy-passrole.json",
            Identity::Role("app-role".into()),
            "deploy-helper",
            "iam:PassRole",
        ),
        (
            "revoke/put-group-policy-iam-star.json",
            Identity::Group("developers".into()),
            "iam-admin",
            "all of IAM",
        ),
    ];
    for (file, from, policy_name, why) in cases {
        let f = only_finding(file, &Facts::default());
        assert_eq!(f.rule_id, rules::ESCALATING_INLINE_POLICY, "{file}");
        assert!(f.reason.contains(why), "{file}: {}", f.reason);
        assert_eq!(
            f.actions,
            vec![IamAction::DeleteInlinePolicy {
                from,
                policy_name: policy_name.into()
            }]
        );
    }
    assert!(findings("revoke/put-user-policy-s3-read.json", &Facts::default()).is_empty());
}

#[test]
fn an_escalating_default_policy_version_is_rolled_back() {
    let restore = vec![IamAction::RestorePolicyVersion {
        policy_arn: "arn:aws:iam::123456789012:policy/app-policy".into(),
        escalating_version: "v2".into(),
    }];
    let f = only_finding(
        "revoke/create-policy-version-escalating-default.json",
        &Facts::default(),
    );
    assert_eq!(f.rule_id, rules::ESCALATING_POLICY_VERSION);
    assert_eq!(f.actions, restore);

    // Not the default: it grants nothing yet, and nothing is looked up for it.
    assert!(
        matches!(
            interpret("revoke/create-policy-version-not-default.json"),
            Interpreted::Ignored(why) if why.contains("not the default")
        ),
        "a version that is not the default is ignored"
    );

    // SetDefaultPolicyVersion: the document is not in the event; the rule needs it as a fact.
    let escalating = Facts {
        version_document: Some(
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        ),
        ..Default::default()
    };
    let f = only_finding(
        "revoke/set-default-policy-version-escalating.json",
        &escalating,
    );
    assert_eq!(f.actions, restore);
    let harmless = Facts {
        version_document: Some(
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
        ),
        ..Default::default()
    };
    assert!(
        findings(
            "revoke/set-default-policy-version-escalating.json",
            &harmless
        )
        .is_empty()
    );
    assert!(
        findings(
            "revoke/set-default-policy-version-escalating.json",
            &Facts::default()
        )
        .is_empty()
    );
}

#[test]
fn credentials_created_for_another_user_are_revoked_but_not_ones_for_yourself() {
    let f = only_finding(
        "revoke/create-access-key-for-another-user.json",
        &Facts::default(),
    );
    assert_eq!(f.rule_id, rules::ACCESS_KEY_FOR_ANOTHER_USER);
    assert_eq!(
        f.actions,
        vec![IamAction::DeactivateAccessKey {
            user: "alice".into(),
            access_key_id: "AKIAALICEEXAMPLE0001".into()
        }]
    );
    assert!(matches!(
        interpret("revoke/create-access-key-for-self.json"),
        Interpreted::Ignored(why) if why.contains("for themselves")
    ));

    let f = only_finding(
        "revoke/create-login-profile-for-another-user.json",
        &Facts::default(),
    );
    assert_eq!(f.rule_id, rules::LOGIN_PROFILE_FOR_ANOTHER_USER);
    assert_eq!(
        f.actions,
        vec![IamAction::DeleteLoginProfile {
            user: "alice".into()
        }]
    );
    assert!(matches!(
        interpret("revoke/create-login-profile-for-self.json"),
        Interpreted::Ignored(_)
    ));
}

#[test]
fn a_login_profile_created_without_a_user_name_is_the_callers_own() {
    // CloudTrail records `CreateLoginProfile` without `userName` when the caller gives itself a
    // password: a valid call, not a malformed event.
    let mut raw = reflex_testkit::sample("revoke/create-login-profile-for-another-user.json");
    raw["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("userName");
    let event = reflex_shared::event::parse(raw).unwrap();
    assert!(matches!(
        Revoke::interpret(&event, &Settings::default()),
        Ok(Interpreted::Ignored(why)) if why.contains("for themselves")
    ));
}

#[test]
fn joining_a_privileged_group_is_undone() {
    let f = only_finding("revoke/add-user-to-admin-group.json", &admin_group());
    assert_eq!(f.rule_id, rules::ADDED_TO_PRIVILEGED_GROUP);
    assert_eq!(
        f.actions,
        vec![IamAction::RemoveUserFromGroup {
            user: "mallory".into(),
            group: "admins".into()
        }]
    );
    // A group whose only policy is harmless, or whose policies are unknown: nothing.
    let readers = Facts {
        group_policies: Some(GroupPolicies {
            managed: vec![ManagedPolicy {
                arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
                document: Some(
                    json!({"Statement": [{"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}]}),
                ),
            }],
            inline: vec![],
        }),
        ..Default::default()
    };
    assert!(findings("revoke/add-user-to-readers-group.json", &readers).is_empty());
    assert!(findings("revoke/add-user-to-admin-group.json", &Facts::default()).is_empty());
    // An inline policy that escalates makes a group privileged too.
    let inline = Facts {
        group_policies: Some(GroupPolicies {
            managed: vec![],
            inline: vec![(
                "all".into(),
                json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}),
            )],
        }),
        ..Default::default()
    };
    assert!(
        only_finding("revoke/add-user-to-readers-group.json", &inline)
            .reason
            .contains("inline policy all")
    );
}

#[test]
fn containment_of_the_actor_is_off_by_default_and_fits_the_actor() {
    let settings = Settings {
        contain_actor: true,
        ..Default::default()
    };
    let user = findings_with(
        "revoke/attach-admin-to-user.json",
        &Facts::default(),
        &settings,
    );
    assert_eq!(user[1].rule_id, rules::CONTAIN_ACTOR);
    assert_eq!(
        user[1].actions,
        vec![IamAction::Contain(Containment::DeactivateUserAccessKeys {
            user: "mallory".into()
        })]
    );
    let role = findings_with(
        "revoke/put-role-policy-passrole.json",
        &Facts::default(),
        &settings,
    );
    assert_eq!(
        role[1].actions,
        vec![IamAction::Contain(Containment::RevokeRoleSessions {
            role: "ci-deployer".into(),
            // The second after the call: the session that made it is cut off, and every
            // delivery of this event sets the same cut-off.
            issued_before: Some("2026-11-20T10:23:08Z".into()),
        })]
    );
    // Nothing to remediate, nothing to contain.
    assert!(
        findings_with(
            "revoke/attach-readonly-to-user.json",
            &Facts::default(),
            &settings
        )
        .is_empty()
    );
    // The default settings contain nobody.
    assert_eq!(
        findings("revoke/attach-admin-to-user.json", &Facts::default()).len(),
        1
    );
}

#[test]
fn an_event_missing_a_field_a_rule_needs_is_a_clear_error() {
    let err = Revoke::interpret(
        &sample_event("invalid/attach-policy-without-policy-arn.json"),
        &Settings::default(),
    )
    .unwrap_err();
    assert_eq!(err.error_type(), "MissingField");
    assert!(
        err.to_string().contains("requestParameters.policyArn"),
        "{err}"
    );
}

// ---- guards over the same sample events ----

fn guards() -> Guards {
    Guards {
        self_identity: Some(
            SelfIdentity::from_arn(
                "arn:aws:sts::123456789012:assumed-role/reflex-revoke/reflex-revoke",
            )
            .with_member_role(Some(
                MemberRole::parse("arn:aws:iam::{account}:role/reflex/reflex-remediation-revoke")
                    .unwrap(),
            )),
        ),
        exempt: ExemptPrincipals::new("TEST", &["arn:aws:iam::*:role/break-glass".to_string()])
            .unwrap(),
        default_mode: Mode::Enforce,
        rule_modes: BTreeMap::new(),
        max_actions: 10,
    }
}

#[test]
fn loop_guard_skips_reflex_own_calls() {
    let skip = guards().screen(&call("revoke/attach-admin-to-user-by-reflex.json"));
    assert!(
        matches!(skip, Some(EventSkip::LoopGuard { .. })),
        "{skip:?}"
    );
    assert_eq!(
        guards().screen(&call("revoke/attach-admin-to-user.json")),
        None
    );
}

#[test]
fn loop_guard_skips_reflex_in_a_member_account_through_the_member_role() {
    let skip = guards().screen(&call(
        "revoke/attach-admin-to-user-by-reflex-in-member-account.json",
    ));
    assert!(
        matches!(skip, Some(EventSkip::LoopGuard { .. })),
        "{skip:?}"
    );
    // The member role is what marks Reflex there: without it, the session is just a role.
    let without = Guards {
        self_identity: Some(SelfIdentity::from_arn(
            "arn:aws:sts::123456789012:assumed-role/reflex-revoke/reflex-revoke",
        )),
        ..guards()
    };
    assert_eq!(
        without.screen(&call(
            "revoke/attach-admin-to-user-by-reflex-in-member-account.json"
        )),
        None
    );
    assert_eq!(
        guards().screen(&call("revoke/attach-admin-to-user-in-member-account.json")),
        None
    );
}

#[test]
fn failed_calls_are_not_remediated() {
    let skip = guards().screen(&call("revoke/attach-admin-to-user-access-denied.json"));
    assert_eq!(
        skip,
        Some(EventSkip::FailedCall {
            error_code: "AccessDenied".into()
        })
    );
}

#[test]
fn exempt_principals_are_left_alone() {
    let skip = guards().screen(&call("revoke/attach-admin-to-user-by-break-glass.json"));
    assert!(
        matches!(&skip, Some(EventSkip::ExemptActor { because, .. }) if because.contains("role/break-glass")),
        "{skip:?}"
    );
}

#[test]
fn mode_per_rule_decides_run_dry_run_or_off() {
    let f = findings("revoke/attach-admin-to-user.json", &Facts::default());
    let mut g = guards();
    assert_eq!(
        g.apply(f.clone(), &BTreeMap::new())[0].steps[0].1,
        Disposition::Run
    );
    g.rule_modes
        .insert(rules::PRIVILEGED_POLICY_ATTACHED.into(), Mode::DryRun);
    assert_eq!(
        g.apply(f.clone(), &BTreeMap::new())[0].steps[0].1,
        Disposition::DryRun
    );
    g.rule_modes
        .insert(rules::PRIVILEGED_POLICY_ATTACHED.into(), Mode::Off);
    assert!(matches!(
        g.apply(f, &BTreeMap::new())[0].steps[0].1,
        Disposition::Skip { .. }
    ));
}

#[test]
fn an_exemption_tag_on_the_target_makes_the_action_exempt() {
    let f = findings("revoke/attach-admin-to-user.json", &Facts::default());
    assert_eq!(f[0].actions[0].resource(), Resource::User("alice".into()));
    let exempt = BTreeMap::from([(
        Resource::User("alice".into()),
        "user alice carries the exemption tag reflex:exempt=true".to_string(),
    )]);
    let guarded = guards().apply(f, &exempt);
    assert!(
        matches!(&guarded[0].steps[0].1, Disposition::Exempt { why } if why.contains("user alice carries the exemption tag")),
        "{guarded:?}"
    );
}

#[test]
fn every_action_names_the_resource_it_touches() {
    let mallory = || Resource::User("mallory".into());
    let ci_deployer = || Resource::Role("ci-deployer".into());
    // Each sample: the resource its remediation touches, and the caller containment touches.
    let cases = [
        (
            "revoke/attach-admin-to-group.json",
            Resource::Group("developers".into()),
            mallory(),
        ),
        (
            "revoke/attach-iam-full-access-to-role.json",
            Resource::Role("app-role".into()),
            ci_deployer(),
        ),
        (
            "revoke/create-policy-version-escalating-default.json",
            Resource::Policy("arn:aws:iam::123456789012:policy/app-policy".into()),
            mallory(),
        ),
        (
            "revoke/put-role-policy-passrole.json",
            Resource::Role("app-role".into()),
            ci_deployer(),
        ),
        (
            "revoke/create-access-key-for-another-user.json",
            Resource::User("alice".into()),
            mallory(),
        ),
        (
            "revoke/create-login-profile-for-another-user.json",
            Resource::User("alice".into()),
            mallory(),
        ),
        ("revoke/add-user-to-admin-group.json", mallory(), mallory()),
    ];
    let contain = Settings {
        contain_actor: true,
        ..Default::default()
    };
    for (file, resource, actor) in cases {
        let f = findings_with(file, &admin_group(), &contain);
        assert_eq!(f[0].actions[0].resource(), resource, "{file}");
        assert_eq!(f[1].actions[0].resource(), actor, "{file}");
    }
}

#[test]
fn blast_radius_caps_actions_per_invocation_and_reports_the_rest() {
    let settings = Settings {
        contain_actor: true,
        ..Default::default()
    };
    let f = findings_with(
        "revoke/attach-admin-to-user.json",
        &Facts::default(),
        &settings,
    );
    let mut g = guards();
    g.max_actions = 1;
    let guarded = g.apply(f, &BTreeMap::new());
    assert_eq!(guarded[0].steps[0].1, Disposition::Run);
    assert!(
        matches!(&guarded[1].steps[0].1, Disposition::Skip { why } if why.contains("blast radius")),
        "{guarded:?}"
    );
}

#[test]
fn a_tag_write_that_exempts_nothing_names_the_key_but_never_the_exempting_value() {
    // The value that exempts is the one thing a tagger must know: the note goes to logs and
    // reports anyone may read, so it names the key only.
    let settings = Settings {
        exempt_tag: reflex_shared::exemption::ExemptTag {
            key: "reflex:exempt".into(),
            value: "s3cret-word".into(),
        },
        ..Settings::default()
    };
    for name in [
        "revoke/tag-user-exempt-false.json",
        "revoke/tag-user-exempt-self.json",
        "revoke/tag-user-other-key.json",
    ] {
        let interpreted = Revoke::interpret(&sample_event(name), &settings)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let Interpreted::Ignored(why) = interpreted else {
            panic!("{name}: writes no value that exempts: {interpreted:?}");
        };
        assert!(
            why.contains("sets no exemption tag (reflex:exempt)"),
            "{name}: {why}"
        );
        assert!(!why.contains("s3cret-word"), "{name}: {why}");
    }
}

// ---- revoke.exemption-tag over its samples ----

/// The removal of the exemption tag `value` (as written) from `from`.
fn remove_tag(from: Principal, value: &str) -> Vec<IamAction> {
    vec![IamAction::RemoveExemptionTag {
        from,
        key: "reflex:exempt".into(),
        value: value.into(),
    }]
}

#[test]
fn an_exemption_tag_written_on_a_user_or_role_is_removed_and_reported_high() {
    let cases = [
        // Mallory tags herself.
        (
            "revoke/tag-user-exempt-self.json",
            remove_tag(Principal::User("mallory".into()), "true"),
            "arn:aws:iam::123456789012:user/mallory set the exemption tag reflex:exempt=true on \
             user mallory",
        ),
        // A role session tags another role, `TRUE`: the value is compared as the exemption
        // compares it, case aside.
        (
            "revoke/tag-role-exempt.json",
            remove_tag(Principal::Role("app-role".into()), "TRUE"),
            "set the exemption tag reflex:exempt=TRUE on role app-role",
        ),
        // Created with the tag already on.
        (
            "revoke/create-role-with-exempt-tag.json",
            remove_tag(Principal::Role("shadow-admin".into()), "true"),
            "set the exemption tag reflex:exempt=true on role shadow-admin",
        ),
        (
            "revoke/create-user-with-exempt-tag.json",
            remove_tag(Principal::User("backdoor".into()), "true"),
            "set the exemption tag reflex:exempt=true on user backdoor",
        ),
    ];
    // Not an escalation: the tagger is not contained, even with containment on.
    let contain = Settings {
        contain_actor: true,
        ..Settings::default()
    };
    for (file, actions, says) in cases {
        let f = findings_with(file, &Facts::default(), &contain);
        assert_eq!(f.len(), 1, "{file}: {f:?}");
        assert_eq!(f[0].rule_id, rules::EXEMPTION_TAG, "{file}");
        assert_eq!(f[0].severity, reflex_shared::Severity::High, "{file}");
        assert!(f[0].reason.contains(says), "{file}: {}", f[0].reason);
        assert!(
            f[0].reason.contains("REFLEX_EXEMPT_PRINCIPALS"),
            "{file}: {}",
            f[0].reason
        );
        assert_eq!(f[0].actions, actions, "{file}");
        // The step acts on the tagged principal, and is never held back by the tag it removes.
        let action = &f[0].actions[0];
        let expected = match &actions[0] {
            IamAction::RemoveExemptionTag { from, .. } => from.resource(),
            _ => unreachable!("built above"),
        };
        assert_eq!(action.resource(), expected, "{file}");
        assert!(action.lifts_exemption(), "{file}");
    }
}

#[test]
fn a_tag_write_that_exempts_nothing_is_no_finding() {
    // `reflex:exempt=false` exempts nothing; another key is no business of revoke's.
    for (file, why) in [
        (
            "revoke/tag-user-exempt-false.json",
            "iam:TagUser on user alice sets no exemption tag",
        ),
        (
            "revoke/tag-user-other-key.json",
            "iam:TagUser on user alice sets no exemption tag",
        ),
    ] {
        match interpret(file) {
            Interpreted::Ignored(note) => assert!(note.starts_with(why), "{file}: {note}"),
            other => panic!("{file}: {other:?}"),
        }
    }
    // A user created without tags: a valid call, and nothing to judge.
    let mut raw = reflex_testkit::sample("revoke/create-user-with-exempt-tag.json");
    raw["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("tags");
    let event = reflex_shared::event::parse(raw).unwrap();
    assert!(matches!(
        Revoke::interpret(&event, &Settings::default()),
        Ok(Interpreted::Ignored(why)) if why.contains("sets no exemption tag")
    ));
}

#[test]
fn the_value_that_exempts_is_compared_case_aside_and_the_key_exactly() {
    let configured = |key: &str, value: &str| Settings {
        exempt_tag: reflex_shared::exemption::ExemptTag {
            key: key.into(),
            value: value.into(),
        },
        ..Settings::default()
    };
    // Configured `True`: the sample's `true` exempts, so it is removed as written.
    let f = findings_with(
        "revoke/tag-user-exempt-self.json",
        &Facts::default(),
        &configured("reflex:exempt", "True"),
    );
    assert_eq!(
        f[0].actions,
        remove_tag(Principal::User("mallory".into()), "true")
    );
    // Another key, differing only in case, is another tag.
    assert!(
        findings_with(
            "revoke/tag-user-exempt-self.json",
            &Facts::default(),
            &configured("Reflex:Exempt", "true"),
        )
        .is_empty()
    );
}

#[test]
fn the_exemption_tag_written_by_a_principal_exempt_by_configuration_is_left_alone() {
    let skip = guards().screen(&call("revoke/tag-user-exempt-by-break-glass.json"));
    assert!(
        matches!(&skip, Some(EventSkip::ExemptActor { because, .. }) if because.contains("role/break-glass")),
        "{skip:?}"
    );
    // The same write by anyone else is judged.
    assert_eq!(
        guards().screen(&call("revoke/tag-user-exempt-self.json")),
        None
    );
}

#[test]
fn a_tag_call_without_its_tags_or_principal_is_a_clear_error() {
    let broken = |file: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut raw = reflex_testkit::sample(file);
        edit(&mut raw["detail"]["requestParameters"]);
        let event = reflex_shared::event::parse(raw).unwrap();
        Revoke::interpret(&event, &Settings::default()).unwrap_err()
    };
    // `TagUser` / `TagRole` must name the tags they write.
    for file in [
        "revoke/tag-user-exempt-self.json",
        "revoke/tag-role-exempt.json",
    ] {
        let err = broken(file, &|p| {
            p.as_object_mut().unwrap().remove("tags");
        });
        assert_eq!(err.error_type(), "MissingField", "{file}: {err}");
        assert!(err.to_string().contains("requestParameters.tags"), "{err}");
        let err = broken(file, &|p| p["tags"] = json!("reflex:exempt=true"));
        assert_eq!(err.error_type(), "InvalidField", "{file}: {err}");
    }
    // Every one names its user or role.
    let err = broken("revoke/create-role-with-exempt-tag.json", &|p| {
        p.as_object_mut().unwrap().remove("roleName");
    });
    assert_eq!(err.error_type(), "MissingField", "{err}");
    assert!(
        err.to_string().contains("requestParameters.roleName"),
        "{err}"
    );
}
