//! Every quarantine rule and guard over the sample events in `events/quarantine/`: pure, no
//! emulator, no AWS call (but for the handler refusing an event it does not take).

use std::collections::{BTreeMap, BTreeSet};

use reflex_quarantine::actions::{Interface, QUARANTINED_AT_TAG, QuarantineAction};
use reflex_quarantine::alarm::{AlarmFacts, AlarmLookup, EC2_NAMESPACE};
use reflex_quarantine::facts::{InstanceFacts, InstanceLookup};
use reflex_quarantine::ingress::OpenedRule;
use reflex_quarantine::settings::{SensitivePorts, TriggerTag};
use reflex_quarantine::trigger::Request;
use reflex_quarantine::{Facts, Quarantine, Settings, Trigger, rules};
use reflex_shared::exemption::ExemptPrincipals;
use reflex_shared::guard::{Disposition, EventSkip, Guards, Mode};
use reflex_shared::identity::SelfIdentity;
use reflex_shared::{
    Action, ApiCall, EventError, Finding, Function, Interpreted, Resource, Severity,
};
use reflex_testkit::{sample, sample_event, sample_files};

const INSTANCE: &str = "i-0c7e5f3a9b1d24680";
const WEB_SG: &str = "sg-0a1b2c3d4e5f60001";
const SSH_SG: &str = "sg-0a1b2c3d4e5f60002";
const QUARANTINE_SG: &str = "sg-0quarantine000001";
const VPC: &str = "vpc-0f1e2d3c4b5a69788";
const REFLEX_SESSION: &str = "arn:aws:sts::123456789012:assumed-role/reflex-revoke/reflex-revoke";

/// What quarantine makes of a sample of `events/quarantine/`: its trigger, why it ignores it,
/// or why the event is refused.
fn try_interpret(name: &str, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
    Quarantine::interpret(&sample_event(&format!("quarantine/{name}")), settings)
}

fn interpret(name: &str, settings: &Settings) -> Interpreted<Trigger> {
    try_interpret(name, settings).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The quarantine request a sample makes.
fn request(name: &str, settings: &Settings) -> Request {
    match interpret(name, settings) {
        Interpreted::Trigger(Trigger::Quarantine(request)) => request,
        other => panic!("{name}: not a quarantine request: {other:?}"),
    }
}

fn evaluate(name: &str, facts: &Facts, settings: &Settings) -> Vec<Finding<QuarantineAction>> {
    match interpret(name, settings) {
        Interpreted::Trigger(trigger) => rules::decide(&trigger, facts, settings),
        Interpreted::Ignored(_) => Vec::new(),
    }
}

/// The API call of a sample, for the event guards.
fn call(name: &str) -> ApiCall {
    sample_event(&format!("quarantine/{name}"))
        .api_call()
        .cloned()
        .unwrap_or_else(|| panic!("{name}: not an API call"))
}

fn only(name: &str, facts: &Facts, settings: &Settings) -> Finding<QuarantineAction> {
    let mut f = evaluate(name, facts, settings);
    assert_eq!(f.len(), 1, "{name}: {f:#?}");
    f.remove(0)
}

/// `web-1` as the emulator seeds it: one interface in two groups, two volumes, in `web-fleet`.
fn web_1() -> InstanceFacts {
    InstanceFacts {
        instance_id: INSTANCE.into(),
        state: "running".into(),
        vpc_id: Some(VPC.into()),
        interfaces: vec![Interface {
            id: "eni-0b1c2d3e4f5a60718".into(),
            device_index: 0,
            groups: vec![WEB_SG.into(), SSH_SG.into()],
        }],
        volumes: vec![
            ("vol-0root0000000001".into(), "/dev/xvda".into()),
            ("vol-0data0000000002".into(), "/dev/sdf".into()),
        ],
        tags: BTreeMap::from([("Name".into(), "web-1".into())]),
        auto_scaling_group: Some("web-fleet".into()),
        quarantine_group: None,
        reflex_groups: Vec::new(),
    }
}

fn facts_with(lookup: InstanceLookup) -> Facts {
    Facts {
        instances: BTreeMap::from([(INSTANCE.to_string(), lookup)]),
        ..Facts::default()
    }
}

fn found(i: InstanceFacts) -> Facts {
    facts_with(InstanceLookup::Found(i))
}

fn alarms(names: &[&str]) -> Settings {
    Settings {
        alarms: names.iter().map(|n| n.to_string()).collect(),
        ..Settings::default()
    }
}

/// The sample alarm, listed.
const LISTED: &str = "exfil-network-out-web-1";

/// The operator's trigger as configured in these tests (the samples carry it).
fn operator_tag() -> Settings {
    Settings {
        trigger_tag: Some(TriggerTag {
            key: "reflex:quarantine".into(),
            value: "approved-by-secops".into(),
        }),
        ..Settings::default()
    }
}

/// The sample alarm as CloudWatch describes it, ALARM now, and EC2's metric with the value the
/// sample's evaluation record claims.
fn genuine_alarm() -> AlarmLookup {
    AlarmLookup::Found(AlarmFacts {
        state: "ALARM".into(),
        math: false,
        namespace: Some(EC2_NAMESPACE.into()),
        metric_name: Some("NetworkOut".into()),
        dimensions: vec![("InstanceId".into(), INSTANCE.into())],
        statistic: Some("Sum".into()),
        period: Some(300),
        evaluation_periods: Some(1),
        datapoints_to_alarm: None,
        threshold: Some(5e9),
        comparison: Some("GreaterThanThreshold".into()),
        metric: vec![(
            reflex_shared::event::alarm::parse_time("2026-11-20T12:05:00Z").unwrap(),
            Some(9.12e9),
        )],
    })
}

fn with_alarm(mut facts: Facts, alarm: AlarmLookup) -> Facts {
    facts.alarm = Some(alarm);
    facts
}

/// The kind of each step, in order.
fn kinds(f: &Finding<QuarantineAction>) -> Vec<&'static str> {
    f.actions
        .iter()
        .map(|a| match a {
            QuarantineAction::RevokeIngress { .. } => "revoke-ingress",
            QuarantineAction::Isolate { .. } => "isolate",
            QuarantineAction::RecordPreviousGroups { .. } => "record-previous-groups",
            QuarantineAction::DetachFromAutoScalingGroup { .. } => "detach",
            QuarantineAction::EnableTerminationProtection { .. } => "termination-protection",
            QuarantineAction::StopOnShutdown { .. } => "stop-on-shutdown",
            QuarantineAction::TagQuarantined { .. } => "tag",
            QuarantineAction::SnapshotVolume { .. } => "snapshot",
            QuarantineAction::RemoveExemptionTag { .. } => "remove-exemption-tag",
        })
        .collect()
}

const FULL_QUARANTINE: [&str; 8] = [
    "record-previous-groups",
    "isolate",
    "detach",
    "termination-protection",
    "stop-on-shutdown",
    "tag",
    "snapshot",
    "snapshot",
];

#[test]
fn ssh_opened_to_the_world_is_revoked_and_https_in_the_same_call_is_kept() {
    let f = only(
        "authorize-ssh-to-world.json",
        &Facts::default(),
        &Settings::default(),
    );
    assert_eq!(f.rule_id, rules::WORLD_OPEN_INGRESS);
    assert_eq!(f.severity, Severity::High);
    assert!(
        f.reason.contains("tcp 22 (SSH) from 0.0.0.0/0"),
        "{}",
        f.reason
    );
    assert!(f.reason.contains("tcp 22 (SSH) from ::/0"), "{}", f.reason);
    let rule = |cidr: &str, id: &str| OpenedRule {
        protocol: "tcp".into(),
        from_port: Some(22),
        to_port: Some(22),
        cidr: cidr.into(),
        rule_id: Some(id.into()),
        description: None,
    };
    assert_eq!(
        f.actions,
        vec![QuarantineAction::RevokeIngress {
            group_id: WEB_SG.into(),
            rules: vec![
                rule("0.0.0.0/0", "sgr-0e1d2c3b4a5968701"),
                rule("::/0", "sgr-0e1d2c3b4a5968702"),
            ],
        }]
    );
    assert_eq!(
        f.actions[0].describe(),
        format!("revoke tcp 22 from 0.0.0.0/0, tcp 22 from ::/0 on security group {WEB_SG}")
    );
}

#[test]
fn all_traffic_to_the_world_is_revoked_even_without_rule_ids_in_the_record() {
    let f = only(
        "authorize-all-traffic-to-world.json",
        &Facts::default(),
        &Settings::default(),
    );
    assert_eq!(f.rule_id, rules::WORLD_OPEN_INGRESS);
    let QuarantineAction::RevokeIngress { rules, .. } = &f.actions[0] else {
        panic!("{f:?}")
    };
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].protocol, "-1");
    assert_eq!(rules[0].rule_id, None);
    assert_eq!(rules[0].from_port, None);
}

#[test]
fn a_private_source_or_a_non_sensitive_port_is_left_alone() {
    for file in [
        "authorize-ssh-to-private-cidr.json",
        "authorize-https-to-world.json",
    ] {
        assert!(
            evaluate(file, &Facts::default(), &Settings::default()).is_empty(),
            "{file}"
        );
    }
    // ... unless the port is configured sensitive.
    let settings = Settings {
        sensitive_ports: SensitivePorts::parse("X", "443").unwrap(),
        ..Settings::default()
    };
    assert_eq!(
        only(
            "authorize-https-to-world.json",
            &Facts::default(),
            &settings
        )
        .rule_id,
        rules::WORLD_OPEN_INGRESS
    );
}

#[test]
fn a_call_that_returned_false_changed_nothing_and_is_ignored() {
    let mut event = sample("quarantine/authorize-ssh-to-world.json");
    event["detail"]["responseElements"]["_return"] = false.into();
    let event = reflex_shared::event::parse(event).unwrap();
    assert!(
        matches!(
            Quarantine::interpret(&event, &Settings::default()),
            Ok(Interpreted::Ignored(why)) if why.contains("changed nothing")
        ),
        "a call that returned false is ignored"
    );
}

#[test]
fn revoking_ingress_touches_the_group_and_every_quarantine_step_the_instance() {
    let f = only(
        "authorize-ssh-to-world.json",
        &Facts::default(),
        &Settings::default(),
    );
    assert_eq!(
        f.actions[0].resource(),
        Resource::SecurityGroup(WEB_SG.into())
    );
    let f = only(
        "guardduty-bitcoin-tool-high.json",
        &found(web_1()),
        &Settings::default(),
    );
    assert_eq!(kinds(&f), FULL_QUARANTINE);
    for action in &f.actions {
        assert_eq!(
            action.resource(),
            Resource::Instance(INSTANCE.into()),
            "{action:?}"
        );
    }
}

#[test]
fn an_exemption_tag_on_the_group_or_the_instance_makes_its_steps_exempt() {
    let cases = [
        (
            "authorize-ssh-to-world.json",
            Resource::SecurityGroup(WEB_SG.into()),
        ),
        (
            "guardduty-bitcoin-tool-high.json",
            Resource::Instance(INSTANCE.into()),
        ),
    ];
    for (file, resource) in cases {
        let why = format!("{resource} carries the exemption tag reflex:exempt=true");
        let exempt = BTreeMap::from([(resource, why.clone())]);
        let f = only(file, &found(web_1()), &Settings::default());
        let guarded = Guards::enforcing(10).apply(vec![f], &exempt);
        assert!(!guarded[0].steps.is_empty(), "{file}");
        for (action, disposition) in &guarded[0].steps {
            assert_eq!(
                disposition,
                &Disposition::Exempt { why: why.clone() },
                "{file}: {action:?}"
            );
        }
    }
}

#[test]
fn a_high_guardduty_finding_quarantines_the_instance_isolation_first() {
    let f = only(
        "guardduty-bitcoin-tool-high.json",
        &found(web_1()),
        &Settings::default(),
    );
    assert_eq!(f.rule_id, rules::GUARDDUTY_FINDING);
    assert_eq!(f.severity, Severity::High);
    assert!(
        f.reason
            .contains("CryptoCurrency:EC2/BitcoinTool.B!DNS (severity 8, at or above 7)"),
        "{}",
        f.reason
    );
    assert_eq!(kinds(&f), FULL_QUARANTINE);
    match &f.actions[1] {
        QuarantineAction::Isolate {
            instance_id,
            vpc_id,
            quarantine_group,
            ..
        } => {
            assert_eq!(instance_id, INSTANCE);
            assert_eq!(vpc_id, VPC);
            assert_eq!(quarantine_group, &None);
        }
        other => panic!("{other:?}"),
    }
    match &f.actions[0] {
        QuarantineAction::RecordPreviousGroups { interfaces, .. } => {
            assert_eq!(interfaces[0].groups, [WEB_SG, SSH_SG]);
        }
        other => panic!("{other:?}"),
    }
    match &f.actions[6] {
        QuarantineAction::SnapshotVolume {
            volume_id,
            finding,
            event_id,
            ..
        } => {
            assert_eq!(volume_id, "vol-0root0000000001");
            assert!(finding.starts_with("GuardDuty finding CryptoCurrency"));
            assert_eq!(event_id, "0e5c8a2f-6b1d-4f3e-a7c9-2d4f6b8e0a01");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn low_findings_and_findings_about_other_resources_do_nothing() {
    let facts = found(web_1());
    assert!(
        evaluate(
            "guardduty-port-probe-low.json",
            &facts,
            &Settings::default()
        )
        .is_empty()
    );
    assert!(
        evaluate(
            "guardduty-access-key-high.json",
            &facts,
            &Settings::default()
        )
        .is_empty()
    );
    // They are no trigger, so no lookup is made for them either.
    for (file, why) in [
        ("guardduty-port-probe-low.json", "below 7"),
        ("guardduty-access-key-high.json", "not an instance"),
    ] {
        assert!(
            matches!(interpret(file, &Settings::default()), Interpreted::Ignored(w) if w.contains(why)),
            "{file}"
        );
    }
    let low = Settings {
        min_severity: 2.0,
        ..Settings::default()
    };
    let f = only("guardduty-port-probe-low.json", &facts, &low);
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(kinds(&f), FULL_QUARANTINE);
}

#[test]
fn a_listed_alarm_proven_by_ec2s_metric_quarantines_the_instance_of_its_dimension() {
    let facts = with_alarm(found(web_1()), genuine_alarm());
    assert!(
        evaluate(
            "alarm-instance-network-out-high.json",
            &facts,
            &Settings::default()
        )
        .is_empty()
    );
    let f = only(
        "alarm-instance-network-out-high.json",
        &facts,
        &alarms(&[LISTED]),
    );
    assert_eq!(f.rule_id, rules::INSTANCE_ALARM);
    assert!(
        f.reason.contains(&format!(
            "alarm {LISTED} (listed) is ALARM for instance {INSTANCE}"
        )) && f.reason.contains("EC2's own metric confirms it"),
        "{}",
        f.reason
    );
    assert_eq!(kinds(&f), FULL_QUARANTINE);
    // The instance to look up is the one the alarm's dimension names; the alarm is looked up
    // too.
    let request = request("alarm-instance-network-out-high.json", &alarms(&[LISTED]));
    assert_eq!(request.instances, [INSTANCE]);
    assert_eq!(request.alarm.expect("a claim to verify").name, LISTED);
}

#[test]
fn a_listed_alarm_set_by_hand_or_not_proven_is_a_finding_for_a_person_and_isolates_nothing() {
    let settings = alarms(&[LISTED]);
    // cloudwatch:SetAlarmState: a reason of the caller's, no evaluation record.
    let f = only(
        "alarm-set-by-set-alarm-state.json",
        &with_alarm(found(web_1()), genuine_alarm()),
        &settings,
    );
    assert_eq!(f.rule_id, rules::INSTANCE_ALARM);
    assert!(f.actions.is_empty(), "{f:#?}");
    assert!(
        f.reason.contains("not quarantined")
            && f.reason.contains("set with cloudwatch:SetAlarmState"),
        "{}",
        f.reason
    );
    // A record CloudWatch's own format, but not EC2's metric; or no lookup at all.
    let AlarmLookup::Found(mut other) = genuine_alarm() else {
        unreachable!()
    };
    other.metric[0].1 = Some(12.0);
    for facts in [
        with_alarm(found(web_1()), AlarmLookup::Found(other)),
        with_alarm(found(web_1()), AlarmLookup::Missing),
        found(web_1()),
    ] {
        let f = only("alarm-instance-network-out-high.json", &facts, &settings);
        assert!(f.actions.is_empty(), "{f:#?}");
        assert!(f.reason.contains("not quarantined"), "{}", f.reason);
    }
}

#[test]
fn a_listed_alarm_that_watches_no_instance_is_a_finding_for_a_person() {
    let mut event = sample("quarantine/alarm-instance-network-out-high.json");
    let metric = &mut event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"];
    metric["dimensions"] = serde_json::json!({});
    let event = reflex_shared::event::parse(event).unwrap();
    let settings = alarms(&[LISTED]);
    let Ok(Interpreted::Trigger(trigger)) = Quarantine::interpret(&event, &settings) else {
        panic!("a listed alarm is a trigger even without an instance")
    };
    let f = rules::decide(&trigger, &Facts::default(), &settings);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule_id, rules::INSTANCE_ALARM);
    assert!(f[0].actions.is_empty(), "{f:?}");
    assert!(
        f[0].reason.contains("watches no instance"),
        "{}",
        f[0].reason
    );
}

#[test]
fn an_unlisted_alarm_does_nothing() {
    assert!(
        evaluate(
            "alarm-unlisted-cpu-high.json",
            &found(web_1()),
            &alarms(&[LISTED])
        )
        .is_empty()
    );
    // Exact names: a new alarm named like a listed one is not listed.
    let mut event = sample("quarantine/alarm-instance-network-out-high.json");
    event["detail"]["alarmName"] = "exfil-network-out-web-1-by-mallory".into();
    let event = reflex_shared::event::parse(event).unwrap();
    assert!(matches!(
        Quarantine::interpret(&event, &alarms(&[LISTED])),
        Ok(Interpreted::Ignored(why)) if why.contains("not listed")
    ));
}

#[test]
fn the_operator_tag_with_its_exact_value_on_an_instance_quarantines_and_nothing_else_does() {
    let f = only(
        "create-tags-quarantine.json",
        &found(web_1()),
        &operator_tag(),
    );
    assert_eq!(f.rule_id, rules::OPERATOR_TAG);
    assert!(
        f.reason.starts_with(&format!(
            "arn:aws:iam::123456789012:user/alice tagged instance {INSTANCE} with the quarantine tag reflex:quarantine"
        )),
        "{}",
        f.reason
    );
    assert!(
        !f.reason.contains("approved-by-secops"),
        "the value is the operators' and the reason is written on the instance: {}",
        f.reason
    );
    assert_eq!(kinds(&f), FULL_QUARANTINE);
    for (file, why) in [
        (
            "create-tags-name-only.json",
            "no tag set asks for quarantine",
        ),
        (
            "create-tags-quarantine-wrong-value.json",
            "no tag set asks for quarantine",
        ),
        (
            "create-tags-quarantine-on-a-volume.json",
            "was put on no instance",
        ),
    ] {
        assert!(
            matches!(interpret(file, &operator_tag()), Interpreted::Ignored(w) if w.contains(why)),
            "{file}"
        );
    }
    // Off by default: even the right key and value do nothing.
    assert!(matches!(
        interpret("create-tags-quarantine.json", &Settings::default()),
        Interpreted::Ignored(w) if w.contains("is off")
    ));
    let other_tag = Settings {
        trigger_tag: Some(TriggerTag {
            key: "security:isolate".into(),
            value: "approved-by-secops".into(),
        }),
        ..Settings::default()
    };
    assert!(evaluate("create-tags-quarantine.json", &found(web_1()), &other_tag).is_empty());
}

/// A sample with its request's tags replaced.
fn tagged(name: &str, tags: serde_json::Value) -> reflex_shared::Event {
    let mut raw = sample(&format!("quarantine/{name}"));
    raw["detail"]["requestParameters"]["tagSet"]["items"] = tags;
    reflex_shared::event::parse(raw).expect("still an event")
}

#[test]
fn the_exemption_tag_written_on_a_security_group_or_an_instance_is_removed_and_reported_high() {
    for (file, id, resource) in [
        (
            "exemption-tag-on-security-group.json",
            WEB_SG,
            Resource::SecurityGroup(WEB_SG.into()),
        ),
        (
            "exemption-tag-on-instance.json",
            INSTANCE,
            Resource::Instance(INSTANCE.into()),
        ),
    ] {
        let f = only(file, &Facts::default(), &Settings::default());
        assert_eq!(f.rule_id, rules::EXEMPTION_TAG, "{file}");
        assert_eq!(f.severity, Severity::High, "{file}");
        assert!(
            f.reason.starts_with(&format!(
                "arn:aws:iam::123456789012:user/mallory set the exemption tag reflex:exempt=true on {id}, which would make Reflex leave it alone"
            )),
            "{file}: {}",
            f.reason
        );
        assert_eq!(
            f.actions,
            vec![QuarantineAction::RemoveExemptionTag {
                resource_id: id.into(),
                key: "reflex:exempt".into(),
                value: "true".into(),
            }],
            "{file}"
        );
        // The resource carries the tag the step removes: the tag must not hold the step back.
        assert_eq!(f.actions[0].resource(), resource, "{file}");
        assert!(f.actions[0].lifts_exemption(), "{file}");
    }
}

#[test]
fn an_exemption_tag_written_with_another_value_or_key_or_on_a_volume_is_none_of_quarantines() {
    let settings = Settings::default();
    for (what, tags) in [
        (
            "a value that does not exempt",
            serde_json::json!([{ "key": "reflex:exempt", "value": "false" }]),
        ),
        (
            "another key",
            serde_json::json!([{ "key": "reflex:exempt-until", "value": "true" }]),
        ),
    ] {
        let event = tagged("exemption-tag-on-security-group.json", tags);
        assert!(
            matches!(
                Quarantine::interpret(&event, &settings),
                Ok(Interpreted::Ignored(_))
            ),
            "{what}"
        );
    }
    let mut raw = sample("quarantine/exemption-tag-on-instance.json");
    raw["detail"]["requestParameters"]["resourcesSet"]["items"][0]["resourceId"] =
        "vol-0a1b2c3d4e5f60001".into();
    let on_a_volume = reflex_shared::event::parse(raw).unwrap();
    assert!(matches!(
        Quarantine::interpret(&on_a_volume, &settings),
        Ok(Interpreted::Ignored(_))
    ));
    // The value exempts as the guard reads it: case aside.
    let upper = tagged(
        "exemption-tag-on-instance.json",
        serde_json::json!([{ "key": "reflex:exempt", "value": "TRUE" }]),
    );
    assert!(matches!(
        Quarantine::interpret(&upper, &settings),
        Ok(Interpreted::Trigger(Trigger::ExemptionTagSet(_)))
    ));
}

/// The operator's quarantine tag and the exemption tag in one call: the exemption would hold
/// the quarantine back, so it is removed and the report says the quarantine was not started.
#[test]
fn the_exemption_tag_written_with_the_quarantine_tag_is_removed_first_and_said() {
    let event = tagged(
        "exemption-tag-on-instance.json",
        serde_json::json!([
            { "key": "reflex:quarantine", "value": "approved-by-secops" },
            { "key": "reflex:exempt", "value": "true" }
        ]),
    );
    let settings = operator_tag();
    let Ok(Interpreted::Trigger(trigger)) = Quarantine::interpret(&event, &settings) else {
        panic!("a trigger")
    };
    let findings = rules::decide(&trigger, &Facts::default(), &settings);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].rule_id, rules::EXEMPTION_TAG);
    assert!(
        findings[0]
            .reason
            .ends_with("set the quarantine tag again to quarantine"),
        "{}",
        findings[0].reason
    );
}

#[test]
fn two_halves_of_the_internet_opened_in_two_calls_are_both_revoked_on_the_second() {
    let lower = "sgr-0e1d2c3b4a5968741";
    let upper = "sgr-0e1d2c3b4a5968742";
    // The first call alone is half the internet: world-open already.
    let first = only(
        "authorize-ssh-to-lower-half-of-the-internet.json",
        &Facts::default(),
        &Settings::default(),
    );
    assert_eq!(first.rule_id, rules::WORLD_OPEN_INGRESS);
    // The second call's event, the first rule still on the group (its event not handled yet).
    let on_the_group = |id: &str, cidr: &str| OpenedRule {
        protocol: "tcp".into(),
        from_port: Some(22),
        to_port: Some(22),
        cidr: cidr.into(),
        rule_id: Some(id.into()),
        description: None,
    };
    let facts = Facts {
        group_rules: Some(vec![
            on_the_group(lower, "0.0.0.0/1"),
            on_the_group(upper, "128.0.0.0/1"),
        ]),
        ..Facts::default()
    };
    let f = only(
        "authorize-ssh-to-upper-half-of-the-internet.json",
        &facts,
        &Settings::default(),
    );
    let QuarantineAction::RevokeIngress { rules, .. } = &f.actions[0] else {
        panic!("{f:?}")
    };
    let mut ids: Vec<&str> = rules.iter().filter_map(|r| r.rule_id.as_deref()).collect();
    ids.sort();
    assert_eq!(ids, [lower, upper]);
    assert!(
        f.reason
            .contains("0.0.0.0/1 (already there), 128.0.0.0/1: 100% of the public IPv4 space"),
        "{}",
        f.reason
    );
}

#[test]
fn an_instance_in_no_auto_scaling_group_is_not_detached() {
    let mut i = web_1();
    i.auto_scaling_group = None;
    i.quarantine_group = Some(QUARANTINE_SG.into());
    let f = only(
        "guardduty-bitcoin-tool-high.json",
        &found(i),
        &Settings::default(),
    );
    assert!(!kinds(&f).contains(&"detach"));
    assert!(matches!(
        &f.actions[1],
        QuarantineAction::Isolate { quarantine_group: Some(g), .. } if g == QUARANTINE_SG
    ));
}

#[test]
fn an_already_quarantined_instance_gets_the_same_steps_and_never_records_the_quarantine_group() {
    let mut i = web_1();
    i.quarantine_group = Some(QUARANTINE_SG.into());
    i.interfaces[0].groups = vec![QUARANTINE_SG.into()];
    // As the instance's description names it: Reflex's group.
    i.reflex_groups = vec![QUARANTINE_SG.into()];
    i.tags
        .insert(QUARANTINED_AT_TAG.into(), "2026-11-20T11:41:00Z".into());
    let f = only(
        "guardduty-bitcoin-tool-high.json",
        &found(i),
        &Settings::default(),
    );
    assert_eq!(kinds(&f), FULL_QUARANTINE);
    assert!(
        f.reason
            .contains("already quarantined by Reflex at 2026-11-20T11:41:00Z"),
        "{}",
        f.reason
    );
    match &f.actions[0] {
        QuarantineAction::RecordPreviousGroups { interfaces, .. } => {
            assert!(interfaces[0].groups.is_empty(), "{interfaces:?}")
        }
        other => panic!("{other:?}"),
    }
    // The quarantine in place is the one its tag and snapshots belong to.
    assert_eq!(
        earlier_quarantines(&f),
        [Some("2026-11-20T11:41:00Z"); 3],
        "the tag step and both snapshots"
    );
}

/// The earlier quarantine the tag and snapshot steps keep, each.
fn earlier_quarantines(f: &Finding<QuarantineAction>) -> Vec<Option<&str>> {
    f.actions
        .iter()
        .filter_map(|a| match a {
            QuarantineAction::TagQuarantined {
                earlier_quarantine, ..
            }
            | QuarantineAction::SnapshotVolume {
                earlier_quarantine, ..
            } => Some(earlier_quarantine.as_deref()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_quarantined_at_tag_on_an_instance_not_isolated_is_not_taken_as_a_quarantine_in_place() {
    // Whoever may tag the instance may set the tag (and tag snapshots of their own with it):
    // without the isolation it proves nothing.
    let mut i = web_1();
    i.quarantine_group = Some(QUARANTINE_SG.into());
    i.tags
        .insert(QUARANTINED_AT_TAG.into(), "2020-01-01T00:00:00Z".into());
    let f = only(
        "guardduty-bitcoin-tool-high.json",
        &found(i),
        &Settings::default(),
    );
    assert_eq!(kinds(&f), FULL_QUARANTINE);
    assert_eq!(earlier_quarantines(&f), [None; 3]);
    assert!(
        f.reason.contains("is not isolated") && !f.reason.contains("already quarantined"),
        "{}",
        f.reason
    );
}

#[test]
fn a_missing_terminated_or_unreadable_instance_gets_a_finding_without_actions() {
    let mut terminated = web_1();
    terminated.state = "terminated".into();
    let cases = [
        (InstanceLookup::Missing, "does not exist"),
        (
            InstanceLookup::Unreadable("AccessDenied".into()),
            "could not be read (AccessDenied)",
        ),
        (InstanceLookup::Found(terminated), "is terminated"),
    ];
    for (lookup, says) in cases {
        let f = only(
            "guardduty-bitcoin-tool-high.json",
            &facts_with(lookup),
            &Settings::default(),
        );
        assert!(f.actions.is_empty(), "{f:?}");
        assert!(f.reason.contains(says), "{}", f.reason);
        // A person is told: the shared report marks this finding as needs-attention.
        let report = reflex_shared::report::FindingReport {
            rule_id: f.rule_id.into(),
            severity: f.severity,
            reason: f.reason.clone(),
            mode: Mode::Enforce,
            already_handled: false,
            attention: None,
            actions: vec![],
        };
        assert!(report.needs_a_person(Severity::High), "{f:?}");
    }
}

#[test]
fn malformed_events_are_refused_naming_the_field() {
    let cases = [
        (
            "invalid-authorize-without-ip-permissions.json",
            "detail.requestParameters.ipPermissions",
        ),
        (
            "invalid-create-tags-without-resources.json",
            "detail.requestParameters.resourcesSet.items",
        ),
    ];
    for (file, field) in cases {
        let err = try_interpret(file, &Settings::default()).expect_err(file);
        assert_eq!(err.error_type(), "MissingField", "{file}");
        assert!(err.to_string().contains(field), "{file}: {err}");
    }
}

#[test]
fn reflexs_own_calls_and_refused_calls_are_stopped_by_the_event_guards() {
    let guards = Guards {
        self_identity: Some(SelfIdentity::from_arn(REFLEX_SESSION)),
        exempt: ExemptPrincipals::none(),
        default_mode: Mode::Enforce,
        rule_modes: BTreeMap::new(),
        max_actions: 10,
    };
    let screen = |file: &str| guards.screen(&call(file));
    for file in [
        "authorize-ssh-to-world-by-reflex.json",
        "create-tags-quarantine-by-reflex.json",
    ] {
        assert!(
            matches!(screen(file), Some(EventSkip::LoopGuard { .. })),
            "{file}"
        );
    }
    assert_eq!(
        screen("authorize-ssh-to-world-access-denied.json"),
        Some(EventSkip::FailedCall {
            error_code: "Client.UnauthorizedOperation".into()
        })
    );
    for file in ["authorize-ssh-to-world.json", "create-tags-quarantine.json"] {
        assert_eq!(screen(file), None, "{file}");
    }
}

#[test]
fn the_blast_radius_keeps_isolation_and_cuts_the_tail() {
    let guards = Guards {
        self_identity: None,
        exempt: ExemptPrincipals::none(),
        default_mode: Mode::Enforce,
        rule_modes: BTreeMap::new(),
        max_actions: 3,
    };
    let f = only(
        "guardduty-bitcoin-tool-high.json",
        &found(web_1()),
        &Settings::default(),
    );
    let guarded = guards.apply(vec![f], &BTreeMap::new());
    let run: Vec<_> = guarded[0]
        .steps
        .iter()
        .map(|(a, d)| (kinds_of(a), matches!(d, Disposition::Run)))
        .collect();
    // The first three steps, isolation first, run; the rest are reported as skipped.
    let ran: Vec<&str> = run
        .iter()
        .filter(|(_, ran)| *ran)
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(
        ran,
        ["record-previous-groups", "isolate", "detach"],
        "{run:?}"
    );
    assert_eq!(run.len(), 8, "every step is reported, run or not: {run:?}");
}

fn kinds_of(a: &QuarantineAction) -> &'static str {
    kinds(&Finding {
        rule_id: "x",
        severity: Severity::Low,
        reason: String::new(),
        actions: vec![a.clone()],
    })[0]
}

#[test]
fn every_sample_parses_and_every_rule_has_a_positive_sample() {
    let mut fired = BTreeSet::new();
    let settings = Settings {
        alarms: vec![LISTED.into()],
        ..operator_tag()
    };
    for name in sample_files("quarantine") {
        let result = try_interpret(&name, &settings);
        if name.starts_with("invalid-") {
            assert!(result.is_err(), "{name}");
            continue;
        }
        // The facts of a genuine case: web-1, and for an alarm, CloudWatch's own.
        let facts = with_alarm(found(web_1()), genuine_alarm());
        if let Interpreted::Trigger(trigger) = result.unwrap_or_else(|e| panic!("{name}: {e}")) {
            // A positive sample is one that acts: a finding without actions only tells.
            for f in rules::decide(&trigger, &facts, &settings) {
                if !f.actions.is_empty() {
                    fired.insert(f.rule_id);
                }
            }
        }
    }
    assert_eq!(
        fired,
        rules::RULE_IDS.iter().copied().collect::<BTreeSet<_>>()
    );
}

#[test]
fn only_ec2_calls_guardduty_findings_and_alarms_are_accepted() {
    for name in sample_files("quarantine") {
        let event = sample_event(&format!("quarantine/{name}"));
        assert!(event.is_one_of(Quarantine::ACCEPTS), "{name}");
    }
    let iam = sample_event("revoke/attach-admin-to-user.json");
    assert!(!iam.is_one_of(Quarantine::ACCEPTS));
}

#[tokio::test]
async fn the_handler_refuses_an_event_it_does_not_take() {
    let none: [&reflex_testkit::aws_smithy_mocks::Rule; 0] = [];
    let quarantine = Quarantine::new(
        reflex_testkit::mocked!(aws_sdk_ec2, &none),
        reflex_testkit::mocked!(aws_sdk_autoscaling, &none),
        reflex_testkit::mocked!(aws_sdk_cloudwatch, &none),
        reflex_testkit::mocked!(aws_sdk_iam, &none),
    );
    let err = reflex_testkit::enforcing(quarantine, Settings::default())
        .handle(sample("revoke/attach-admin-to-user.json"))
        .await
        .expect_err("an IAM call is not quarantine's");
    assert_eq!(err.error_type(), "Permanent.BadEvent.UnsupportedEvent");
    assert!(err.to_string().contains("aws.iam"), "{err}");
}
