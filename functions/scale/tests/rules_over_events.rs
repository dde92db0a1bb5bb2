//! The scale rules over the sample events in `events/scale/`: pure, no emulator.

use chrono::{DateTime, Utc};
use reflex_scale::facts::{GroupFacts, GroupState, Pending, UNDER_WAY};
use reflex_scale::settings::Step;
use reflex_scale::trigger::Direction;
use reflex_scale::{Facts, Scale, ScaleAction, Settings, Trigger, rules};
use reflex_shared::{Action, Finding, Function, Interpreted, Resource};
use reflex_testkit::sample_event;

/// What scale makes of a sample event of `events/scale/`: its trigger, or why it ignores it.
fn interpret(name: &str, settings: &Settings) -> Interpreted<Trigger> {
    Scale::interpret(&sample_event(&format!("scale/{name}")), settings)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn trigger(name: &str, settings: &Settings) -> Trigger {
    match interpret(name, settings) {
        Interpreted::Trigger(trigger) => trigger,
        Interpreted::Ignored(why) => panic!("{name}: ignored: {why}"),
    }
}

/// Why scale ignores a sample event; panics if it does not.
fn ignored(name: &str, settings: &Settings) -> String {
    match interpret(name, settings) {
        Interpreted::Ignored(why) => why,
        Interpreted::Trigger(trigger) => panic!("{name}: not ignored: {trigger:?}"),
    }
}

fn findings(name: &str, facts: &Facts, settings: &Settings) -> Vec<Finding<ScaleAction>> {
    rules::decide(&trigger(name, settings), facts, settings)
}

fn now() -> DateTime<Utc> {
    "2026-11-20T12:00:00Z".parse().unwrap()
}

fn web(desired: i32, state: GroupState) -> Facts {
    Facts {
        group: Some(GroupFacts {
            desired,
            min: 1,
            max: 4,
            state,
            version: Some(3),
            made_unconfirmed: None,
            under_way: None,
        }),
        now: Some(now()),
    }
}

/// The sample alarms about `web`, mapped to it as a deployment would.
fn web_alarms() -> std::collections::BTreeMap<String, String> {
    [
        "web-cpu-high",
        "web-5xx-rate-high",
        "web-busy-and-disk-full",
    ]
    .map(|alarm| (alarm.to_string(), "web".to_string()))
    .into()
}

fn settings() -> Settings {
    Settings {
        targets: web_alarms(),
        in_step: Some(Step::Absolute(1)),
        cooldown_seconds: 300,
        ..Default::default()
    }
}

/// (from, to) of the single action, or None when the finding has no action.
fn change(name: &str, facts: &Facts, settings: &Settings) -> Option<(i32, i32)> {
    let findings = findings(name, facts, settings);
    assert!(findings.len() <= 1, "{findings:?}");
    findings.first()?.actions.first().map(|a| (a.from, a.to))
}

#[test]
fn alarm_raises_by_the_step_and_records_the_baseline() {
    let findings = findings(
        "cpu-high-alarm.json",
        &web(2, GroupState::default()),
        &settings(),
    );
    let f = &findings[0];
    assert_eq!(f.rule_id, rules::SCALE_OUT);
    assert!(
        f.reason
            .contains("CPUUtilization 91.2 against threshold 80"),
        "{}",
        f.reason
    );
    let a = &f.actions[0];
    assert_eq!(a.group, "web");
    assert_eq!((a.from, a.to), (2, 3));
    assert_eq!(a.next_state.baseline, Some(2));
    assert_eq!(
        a.next_state
            .last_event_times
            .get("web-cpu-high")
            .map(String::as_str),
        Some("2026-11-20T11:00:00+00:00")
    );
    assert_eq!(a.expected_version, Some(3));
}

#[test]
fn the_action_touches_the_auto_scaling_group() {
    let findings = findings(
        "cpu-high-alarm.json",
        &web(2, GroupState::default()),
        &settings(),
    );
    let action = &findings[0].actions[0];
    assert_eq!(action.resource(), Resource::AutoScalingGroup("web".into()));
    assert_eq!(
        action.describe(),
        "raise desired capacity of web from 2 to 3 (min 1, max 4)"
    );
}

#[test]
fn nothing_is_decided_without_the_group_s_facts() {
    // Offline, or the group could not be read: no finding (the notes say why).
    assert!(findings("cpu-high-alarm.json", &Facts::default(), &settings()).is_empty());
}

#[test]
fn scale_out_is_capped_at_the_maximum() {
    let big = Settings {
        out_step: Step::Absolute(5),
        ..settings()
    };
    assert_eq!(
        change("cpu-high-alarm.json", &web(2, GroupState::default()), &big),
        Some((2, 4))
    );
    assert_eq!(
        change("cpu-high-alarm.json", &web(4, GroupState::default()), &big),
        None
    );
    let pct = Settings {
        out_step: Step::Percent(50),
        ..settings()
    };
    assert_eq!(
        change("cpu-high-alarm.json", &web(3, GroupState::default()), &pct),
        Some((3, 4))
    );
}

#[test]
fn ok_lowers_but_never_below_the_baseline_or_minimum() {
    let raised = |baseline| GroupState {
        last_change_at: Some("2026-11-20T11:00:00Z".into()),
        last_event_times: acted_on("web-cpu-high", "2026-11-20T11:00:00Z"),
        baseline: Some(baseline),
        pending: None,
    };
    assert_eq!(
        trigger("cpu-back-to-ok.json", &settings()).direction,
        Direction::In
    );
    assert_eq!(
        findings("cpu-back-to-ok.json", &web(4, raised(2)), &settings())[0].rule_id,
        rules::SCALE_IN
    );
    assert_eq!(
        change("cpu-back-to-ok.json", &web(4, raised(2)), &settings()),
        Some((4, 3))
    );
    let two = Settings {
        in_step: Some(Step::Absolute(2)),
        ..settings()
    };
    assert_eq!(
        change("cpu-back-to-ok.json", &web(3, raised(2)), &two),
        Some((3, 2))
    );
    assert_eq!(
        change("cpu-back-to-ok.json", &web(2, raised(2)), &settings()),
        None
    );
    // A baseline under the minimum (the minimum was raised since): the minimum is the floor.
    assert_eq!(
        change("cpu-back-to-ok.json", &web(2, raised(0)), &two),
        Some((2, 1))
    );
    // Back at the baseline, the record forgets it: the next scale-out starts afresh.
    let f = findings("cpu-back-to-ok.json", &web(3, raised(2)), &settings());
    assert_eq!(f[0].actions[0].next_state.baseline, None);
}

#[test]
fn ok_does_not_lower_a_group_reflex_never_raised_nor_when_scale_in_is_off() {
    assert_eq!(
        change(
            "cpu-back-to-ok.json",
            &web(3, GroupState::default()),
            &settings()
        ),
        None
    );
    let off = Settings {
        in_step: None,
        ..settings()
    };
    let why = ignored("cpu-back-to-ok.json", &off);
    assert!(why.contains("scale-in is off"), "{why}");
}

/// Reflex's record of having acted on `alarm`'s state change of `time`.
fn acted_on(alarm: &str, time: &str) -> std::collections::BTreeMap<String, String> {
    [(alarm.to_string(), time.to_string())].into()
}

#[test]
fn an_older_state_change_of_another_alarm_is_not_out_of_order() {
    // Reflex last acted on the 5xx alarm at 12:00; the CPU alarm's 11:00 change is news.
    let after_other_alarm = GroupState {
        last_change_at: Some("2026-11-20T10:00:00Z".into()),
        last_event_times: acted_on("web-5xx-rate-high", "2026-11-20T12:00:00Z"),
        baseline: Some(2),
        pending: None,
    };
    assert_eq!(
        change(
            "cpu-high-alarm.json",
            &web(3, after_other_alarm.clone()),
            &settings()
        ),
        Some((3, 4))
    );
    let f = findings(
        "cpu-high-alarm.json",
        &web(3, after_other_alarm),
        &settings(),
    );
    let next = &f[0].actions[0].next_state.last_event_times;
    assert_eq!(next.len(), 2, "both alarms remembered: {next:?}");
    // The same alarm's older change is out of order.
    let after_same_alarm = GroupState {
        last_change_at: Some("2026-11-20T10:00:00Z".into()),
        last_event_times: acted_on("web-cpu-high", "2026-11-20T12:00:00Z"),
        baseline: Some(2),
        pending: None,
    };
    let f = findings(
        "cpu-high-alarm.json",
        &web(3, after_same_alarm),
        &settings(),
    );
    assert!(f[0].actions.is_empty());
    assert!(f[0].reason.contains("out of order"), "{}", f[0].reason);
}

#[test]
fn an_ok_older_than_the_alarm_reflex_acted_on_does_not_scale_in() {
    let after_alarm = GroupState {
        last_change_at: Some("2026-11-20T11:00:01Z".into()),
        last_event_times: acted_on("web-cpu-high", "2026-11-20T11:00:00Z"),
        baseline: Some(2),
        pending: None,
    };
    let f = findings(
        "cpu-ok-delivered-late.json",
        &web(3, after_alarm),
        &settings(),
    );
    assert!(f[0].actions.is_empty());
    assert!(f[0].reason.contains("out of order"), "{}", f[0].reason);
}

#[test]
fn cooldown_holds_between_reflex_changes() {
    let just_changed = GroupState {
        last_change_at: Some((now() - chrono::Duration::seconds(60)).to_rfc3339()),
        last_event_times: acted_on("web-cpu-high", "2026-11-20T11:00:00Z"),
        baseline: Some(2),
        pending: None,
    };
    let f = findings(
        "cpu-high-alarm-again.json",
        &web(3, just_changed.clone()),
        &settings(),
    );
    assert!(f[0].actions.is_empty());
    assert!(f[0].reason.contains("cooldown"), "{}", f[0].reason);
    let no_cooldown = Settings {
        cooldown_seconds: 0,
        ..settings()
    };
    assert_eq!(
        change(
            "cpu-high-alarm-again.json",
            &web(3, just_changed),
            &no_cooldown
        ),
        Some((3, 4))
    );
}

#[test]
fn insufficient_data_does_nothing() {
    let why = ignored("cpu-insufficient-data.json", &settings());
    assert!(why.contains("insufficient data"), "{why}");
}

#[test]
fn only_configuration_names_the_group_never_the_alarm_itself() {
    let s = settings();
    for mapped in [
        "cpu-high-alarm.json",
        "composite-cpu-and-disk-alarm.json",
        "metric-math-error-rate-alarm.json",
    ] {
        assert_eq!(trigger(mapped, &s).group, "web", "{mapped}");
    }
    assert_eq!(
        ignored("unmapped-billing-alarm.json", &s),
        "alarm billing-estimated-charges is not in REFLEX_SCALE_TARGETS: it scales no Auto \
         Scaling group"
    );
    // Unmapped, an alarm's `AutoScalingGroupName` dimension (cpu-high) or its group tag
    // (the composite's `reflex:autoscaling-group`) names nothing: whoever creates an alarm
    // chooses both.
    let unmapped = Settings {
        targets: Default::default(),
        ..settings()
    };
    for file in [
        "cpu-high-alarm.json",
        "cpu-back-to-ok.json",
        "composite-cpu-and-disk-alarm.json",
        "metric-math-error-rate-alarm.json",
    ] {
        let why = ignored(file, &unmapped);
        assert!(
            why.contains("is not in REFLEX_SCALE_TARGETS"),
            "{file}: {why}"
        );
    }
    // Configuration may send any alarm to any group.
    let configured = Settings {
        targets: [("billing-estimated-charges".to_string(), "batch".to_string())].into(),
        ..settings()
    };
    assert_eq!(
        trigger("unmapped-billing-alarm.json", &configured).group,
        "batch"
    );
}

#[test]
fn composite_and_metric_math_alarms_scale_like_metric_alarms() {
    let f = findings(
        "composite-cpu-and-disk-alarm.json",
        &web(2, GroupState::default()),
        &settings(),
    );
    assert!(
        f[0].reason.contains("triggered by web-disk-almost-full"),
        "{}",
        f[0].reason
    );
    assert_eq!((f[0].actions[0].from, f[0].actions[0].to), (2, 3));
    let f = findings(
        "metric-math-error-rate-alarm.json",
        &web(2, GroupState::default()),
        &settings(),
    );
    assert!(
        f[0].reason
            .contains("expression m1 / m2 * 100 7.3 against threshold 5"),
        "{}",
        f[0].reason
    );
    assert_eq!(f[0].actions[0].to, 3);
}

#[test]
fn a_pending_change_counts_as_made_only_when_the_capacity_shows_it() {
    let committed = GroupState {
        last_change_at: Some("2026-11-20T11:00:05Z".into()),
        last_event_times: acted_on("web-cpu-high", "2026-11-20T11:00:00+00:00"),
        baseline: Some(2),
        pending: None,
    };
    let left = GroupState {
        pending: Some(Pending {
            from: 2,
            to: 3,
            alarm: "web-cpu-high".into(),
            event_time: Some("2026-11-20T11:00:00+00:00".into()),
            marked_at: Some("2026-11-20T11:00:04Z".into()),
            then: Box::new(committed.clone()),
        }),
        ..GroupState::default()
    };
    // The capacity shows the change: it was made, and the record is the one it would keep.
    let (made, found) = left.clone().settled(3);
    assert_eq!(made, committed);
    assert_eq!(found.map(|p| (p.from, p.to)), Some((2, 3)));
    // It does not: the run died before the change, which never happened.
    let (not_made, found) = left.clone().settled(2);
    assert_eq!(not_made, GroupState::default());
    assert_eq!(found, None);
}

#[test]
fn the_change_a_crashed_delivery_made_is_confirmed_not_held_back_by_its_own_cooldown() {
    let committed = GroupState {
        last_change_at: Some((now() - chrono::Duration::seconds(30)).to_rfc3339()),
        last_event_times: acted_on("web-cpu-high", "2026-11-20T11:00:00+00:00"),
        baseline: Some(2),
        pending: None,
    };
    let mut facts = web(3, committed.clone());
    if let Some(group) = facts.group.as_mut() {
        group.made_unconfirmed = Some(Pending {
            from: 2,
            to: 3,
            alarm: "web-cpu-high".into(),
            event_time: Some("2026-11-20T11:00:00+00:00".into()),
            marked_at: Some((now() - chrono::Duration::seconds(31)).to_rfc3339()),
            then: Box::new(committed.clone()),
        });
    }
    let f = findings("cpu-high-alarm.json", &facts, &settings());
    let a = &f[0].actions[0];
    assert!(a.made_unconfirmed, "{f:?}");
    assert_eq!((a.from, a.to), (2, 3));
    // The record to confirm is the one the change would have kept.
    assert_eq!(a.next_state, committed);
    // Another state change of the alarm is held back by the cooldown, as any other.
    let f = findings("cpu-high-alarm-again.json", &facts, &settings());
    assert!(f[0].actions.is_empty(), "{f:?}");
    assert!(f[0].reason.contains("cooldown"), "{}", f[0].reason);
}

/// A change begun for the CPU alarm's 11:00 state change, 2 -> 3, marked `ago` before `now()`.
fn marked(ago: i64) -> GroupState {
    GroupState {
        pending: Some(Pending {
            from: 2,
            to: 3,
            alarm: "web-cpu-high".into(),
            event_time: Some("2026-11-20T11:00:00+00:00".into()),
            marked_at: Some((now() - chrono::Duration::seconds(ago)).to_rfc3339()),
            then: Box::new(GroupState::default()),
        }),
        ..GroupState::default()
    }
}

#[test]
fn a_recent_mark_for_another_state_change_is_under_way_until_the_capacity_shows_it() {
    let other = trigger("metric-math-error-rate-alarm.json", &settings()).alarm;
    let same = trigger("cpu-high-alarm.json", &settings()).alarm;
    let fresh = marked(5);
    // Capacity still 2: the other run may be about to set 3.
    assert!(fresh.under_way(2, &other, now()).is_some());
    // The capacity shows it: made, whether or not its run is still confirming it.
    assert!(fresh.under_way(3, &other, now()).is_none());
    // This very state change's mark is a dead delivery's: its claim keeps a live one out.
    assert!(fresh.under_way(2, &same, now()).is_none());
    // Older than any run lives: a dead run's mark blocks nobody.
    let stale = marked(UNDER_WAY.as_secs() as i64 + 1);
    assert!(stale.under_way(2, &other, now()).is_none());
    // Its run failed for now and left it to be settled: no run makes it any more.
    let mut left = marked(5);
    if let Some(p) = left.pending.as_mut() {
        p.marked_at = None;
    }
    assert!(left.under_way(2, &other, now()).is_none());
}

#[test]
fn another_alarm_is_held_back_while_a_change_is_under_way() {
    let mut facts = web(2, GroupState::default());
    if let Some(group) = facts.group.as_mut() {
        group.under_way = marked(5).pending;
    }
    let no_cooldown = Settings {
        cooldown_seconds: 0,
        ..settings()
    };
    let f = findings("metric-math-error-rate-alarm.json", &facts, &no_cooldown);
    assert!(f[0].actions.is_empty(), "{f:?}");
    assert!(
        f[0].reason.contains(
            "another change to web is under way (2 -> 3, for a state change of web-cpu-high"
        ),
        "{}",
        f[0].reason
    );
}
