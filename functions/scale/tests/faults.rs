//! Scale against a mocked Auto Scaling API: the exemption tag on the group, a refused
//! `SetDesiredCapacity`, a group that does not exist. The full pipeline runs
//! (`Handler::handle` on a sample event from `events/scale/`, no ledger), and the tests read the
//! returned `Report`.
//!
//! The mocks (`aws-smithy-mocks`) answer the way Auto Scaling answers on the wire, errors as an
//! awsQuery `<ErrorResponse>` with an HTTP status, so the SDK's own error parsing runs.

use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::operation::set_desired_capacity::SetDesiredCapacityOutput;
use aws_sdk_autoscaling::types::{AutoScalingGroup, TagDescription};
use aws_smithy_mocks::{Rule, mock};
use reflex_scale::{Scale, Settings};
use reflex_shared::Outcome;
use reflex_shared::report::{Report, Status};

/// `web-cpu-high` scales `web`, as configured; no other alarm scales anything.
fn web_mapped() -> Settings {
    Settings {
        targets: [("web-cpu-high".to_string(), "web".to_string())].into(),
        ..Settings::default()
    }
}

async fn handle(rules: &[&Rule], file: &str) -> Report {
    let autoscaling: Client = reflex_testkit::mocked!(aws_sdk_autoscaling, rules);
    let handler = reflex_testkit::enforcing(Scale::new(autoscaling, None, None), web_mapped());
    let event = reflex_testkit::sample(&format!("scale/{file}"));
    handler.handle(event).await.expect("the event is handled")
}

/// DescribeAutoScalingGroups of `web`: min 1, max 4, desired 2, with `tags`. Answers every time.
fn web_with_tags(tags: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(Client::describe_auto_scaling_groups)
        .match_requests(|r| r.auto_scaling_group_names() == ["web".to_string()])
        .then_output(move || {
            let group = AutoScalingGroup::builder()
                .auto_scaling_group_name("web")
                .min_size(1)
                .max_size(4)
                .desired_capacity(2)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| TagDescription::builder().key(*k).value(*v).build())
                        .collect(),
                ))
                .build();
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(group)
                .build()
        })
}

fn set_web_to_3() -> Rule {
    mock!(Client::set_desired_capacity)
        .match_requests(|r| {
            r.auto_scaling_group_name() == Some("web") && r.desired_capacity() == Some(3)
        })
        .then_output(|| SetDesiredCapacityOutput::builder().build())
}

/// An Auto Scaling error response as Auto Scaling sends it (the awsQuery protocol).
fn autoscaling_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\
         <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>4b1e9a2c-0000-4000-8000-scalefaults01</RequestId>\
         </ErrorResponse>"
    )
}

fn outcomes(report: &Report) -> Vec<&Outcome> {
    report.actions().map(|a| &a.outcome).collect()
}

#[tokio::test]
async fn an_alarm_raises_the_group_it_names() {
    let describe = web_with_tags(&[("team", "web")]);
    let set = set_web_to_3();
    let report = handle(&[&describe, &set], "cpu-high-alarm.json").await;
    assert!(
        matches!(outcomes(&report)[..], [Outcome::Done { .. }]),
        "{report:#?}"
    );
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(set.num_calls(), 1);
    // Once for the facts, once for the group's tags.
    assert_eq!(describe.num_calls(), 2);
    assert!(
        report.notes.iter().any(|n| n.starts_with("no ledger")),
        "{:?}",
        report.notes
    );
}

#[tokio::test]
async fn the_exemption_tag_on_the_group_leaves_its_capacity_alone() {
    let describe = web_with_tags(&[("reflex:exempt", "true")]);
    let set = set_web_to_3();
    let report = handle(&[&describe, &set], "cpu-high-alarm.json").await;
    match outcomes(&report)[..] {
        [Outcome::Exempt { why }] => assert!(
            why.contains("Auto Scaling group web carries the exemption tag reflex:exempt=true"),
            "{why}"
        ),
        _ => panic!("the step should be exempt: {report:#?}"),
    }
    assert_eq!(report.status, Status::Exempt);
    assert_eq!(set.num_calls(), 0);
}

#[tokio::test]
async fn access_denied_on_set_desired_capacity_is_reported_as_failed() {
    let describe = web_with_tags(&[]);
    let set = mock!(Client::set_desired_capacity)
        .sequence()
        .http_status(
            403,
            Some(autoscaling_error(
                "AccessDenied",
                "User: arn:aws:sts::123456789012:assumed-role/reflex-scale/reflex is not \
                 authorized to perform: autoscaling:SetDesiredCapacity",
            )),
        )
        .build();
    let report = handle(&[&describe, &set], "cpu-high-alarm.json").await;
    match outcomes(&report)[..] {
        [
            Outcome::Failed {
                why, error_code, ..
            },
        ] => {
            assert_eq!(error_code.as_deref(), Some("AccessDenied"));
            assert!(
                why.starts_with("autoscaling:SetDesiredCapacity failed with AccessDenied"),
                "{why}"
            );
        }
        _ => panic!("setting the capacity should have failed: {report:#?}"),
    }
    assert_eq!(report.status, Status::Failed);
    assert_eq!(set.num_calls(), 1, "AccessDenied is not retried");
}

#[tokio::test]
async fn a_group_that_does_not_exist_is_a_note_and_no_change() {
    let describe = mock!(Client::describe_auto_scaling_groups).then_output(|| {
        DescribeAutoScalingGroupsOutput::builder()
            .set_auto_scaling_groups(Some(Vec::new()))
            .build()
    });
    let report = handle(&[&describe], "cpu-high-alarm.json").await;
    assert_eq!(report.status, Status::NothingToDo);
    assert!(
        report.notes.iter().any(|n| n
            == "Auto Scaling group web (mapped to alarm web-cpu-high in REFLEX_SCALE_TARGETS) does not exist"),
        "{:?}",
        report.notes
    );
}

#[tokio::test]
async fn an_alarm_that_maps_to_no_group_calls_nothing() {
    let describe = web_with_tags(&[]);
    let report = handle(&[&describe], "unmapped-billing-alarm.json").await;
    assert_eq!(report.status, Status::NothingToDo);
    assert_eq!(
        report.notes,
        [
            "alarm billing-estimated-charges is not in REFLEX_SCALE_TARGETS: it scales no Auto Scaling group"
        ]
    );
    assert_eq!(describe.num_calls(), 0);
}
