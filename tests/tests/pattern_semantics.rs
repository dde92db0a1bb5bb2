//! The event-pattern matcher against EventBridge's documented semantics: every operator with
//! events it must match and events it must not, and the patterns EventBridge refuses.

use reflex_tests::pattern::{Pattern, PatternError};
use serde_json::{Value, json};

fn pattern(p: Value) -> Pattern {
    Pattern::parse(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// `pattern` matches every event in `yes` and none in `no`.
#[track_caller]
fn check(p: Value, yes: &[Value], no: &[Value]) {
    let compiled = pattern(p.clone());
    for event in yes {
        assert!(compiled.matches(event), "{p}\nshould match\n{event}");
    }
    for event in no {
        assert!(!compiled.matches(event), "{p}\nshould not match\n{event}");
    }
}

/// `{"detail": {"f": <value>}}`: most cases test one leaf field.
fn with(value: Value) -> Value {
    json!({ "detail": { "f": value } })
}

fn without() -> Value {
    json!({ "detail": { "other": 1 } })
}

/// A pattern on that one leaf field.
fn on_f(alternatives: Value) -> Value {
    json!({ "detail": { "f": alternatives } })
}

#[track_caller]
fn invalid(p: Value, expected_in_message: &str) -> PatternError {
    let error = Pattern::parse(&p).expect_err(&format!("{p} should be refused"));
    let message = error.to_string();
    assert!(
        message.contains(expected_in_message),
        "{p}: message {message:?} should mention {expected_in_message:?}"
    );
    error
}

/// The sample event of the EventBridge user guide's examples.
fn ec2_event() -> Value {
    json!({
        "version": "0",
        "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "012345679012",
        "time": "2017-10-02T16:24:49Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
        "detail": {
            "c-count": 5,
            "d-count": 3,
            "x-limit": 301.8,
            "source-ip": "10.0.0.33",
            "instance-id": "i-000000aaaaaa00000",
            "state": "running"
        }
    })
}

// --- literal values, AND / OR, nesting ----------------------------------------------------------

#[test]
fn literal_strings_match_exactly_and_case_sensitively() {
    check(
        on_f(json!(["running"])),
        &[with(json!("running"))],
        &[
            with(json!("Running")),
            with(json!("running ")),
            with(json!("run")),
            without(),
        ],
    );
}

#[test]
fn the_values_of_a_field_are_alternatives() {
    check(
        on_f(json!(["initializing", "running"])),
        &[with(json!("initializing")), with(json!("running"))],
        &[with(json!("stopped"))],
    );
}

#[test]
fn every_field_of_the_pattern_must_match() {
    let p = json!({ "source": ["aws.ec2"], "detail": { "state": ["running"] } });
    let mut other_state = ec2_event();
    other_state["detail"]["state"] = json!("stopped");
    let mut other_source = ec2_event();
    other_source["source"] = json!("aws.iam");
    check(p, &[ec2_event()], &[other_state, other_source]);
}

#[test]
fn fields_the_pattern_does_not_name_are_ignored() {
    check(
        json!({ "detail": { "state": ["running"] } }),
        &[ec2_event()],
        &[],
    );
}

#[test]
fn literal_numbers_match_numbers_by_value_not_strings() {
    check(
        on_f(json!([5])),
        &[with(json!(5)), with(json!(5.0))],
        &[
            with(json!("5")),
            with(json!(6)),
            with(json!(5.1)),
            without(),
        ],
    );
    // Integers beyond f64's precision (account ids) still compare exactly.
    check(
        on_f(json!([123456789012345678_u64])),
        &[with(json!(123456789012345678_u64))],
        &[with(json!(123456789012345679_u64))],
    );
}

#[test]
fn booleans_match_booleans_not_strings() {
    check(
        on_f(json!([true])),
        &[with(json!(true))],
        &[with(json!(false)), with(json!("true")), without()],
    );
}

#[test]
fn null_matches_null_only_and_not_a_missing_field() {
    check(
        on_f(json!([null])),
        &[with(json!(null))],
        &[
            with(json!("")),
            with(json!("null")),
            with(json!(0)),
            without(),
        ],
    );
}

#[test]
fn the_empty_string_matches_the_empty_string_only_and_not_null() {
    check(
        on_f(json!([""])),
        &[with(json!(""))],
        &[with(json!(null)), with(json!(" ")), without()],
    );
}

#[test]
fn a_literal_ip_address_matches_the_same_address_written_differently() {
    check(
        on_f(json!(["2001:db8::1"])),
        &[with(json!("2001:db8::1")), with(json!("2001:DB8:0:0::1"))],
        &[with(json!("2001:db8::2"))],
    );
}

#[test]
fn nested_objects_match_level_by_level() {
    check(
        json!({ "detail": { "state": { "value": ["ALARM"] } } }),
        &[json!({ "detail": { "state": { "value": "ALARM", "reason": "x" } } })],
        &[
            json!({ "detail": { "state": { "value": "OK" } } }),
            json!({ "detail": { "state": "ALARM" } }),
            json!({ "detail": { "value": "ALARM" } }),
            json!({ "detail": {} }),
            json!({}),
        ],
    );
}

#[test]
fn a_pattern_object_does_not_match_a_leaf_value() {
    check(
        json!({ "detail": { "f": { "g": ["x"] } } }),
        &[],
        &[
            with(json!("x")),
            with(json!(["x"])),
            with(json!({ "h": "x" })),
        ],
    );
}

// --- arrays in events --------------------------------------------------------------------------

#[test]
fn an_event_array_matches_if_any_element_matches() {
    check(
        json!({ "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"] }),
        &[
            ec2_event(),
            json!({ "resources": ["arn:other", "arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"] }),
        ],
        &[
            json!({ "resources": ["arn:other"] }),
            json!({ "resources": [] }),
        ],
    );
    check(
        on_f(json!(["b", "z"])),
        &[with(json!(["a", "b"])), with(json!([["a"], ["z"]]))],
        &[with(json!(["a", "c"]))],
    );
}

#[test]
fn objects_in_event_arrays_are_matched_element_by_element() {
    let employees = json!({ "employees": [
        { "firstName": "John", "lastName": "Doe" },
        { "firstName": "Anna", "lastName": "Smith" },
        { "firstName": "Peter", "lastName": "Jones" }
    ]});
    let nested = json!({ "employees": [
        [{ "firstName": "John", "lastName": "Doe" }, { "firstName": "Anna", "lastName": "Smith" }],
        [{ "firstName": "Peter", "lastName": "Jones" }]
    ]});
    check(
        json!({ "employees": { "firstName": ["Anna"] } }),
        &[employees.clone(), nested.clone()],
        &[json!({ "employees": [{ "firstName": "John" }] })],
    );
    // Two fields of one pattern object never match in two different elements.
    check(
        json!({ "employees": { "firstName": ["Anna"], "lastName": ["Jones"] } }),
        &[],
        &[employees, nested],
    );
}

// --- prefix and suffix -------------------------------------------------------------------------

#[test]
fn prefix_matches_the_start_of_strings_only() {
    check(
        json!({ "time": [{ "prefix": "2017-10-02" }] }),
        &[ec2_event(), json!({ "time": "2017-10-02" })],
        &[
            json!({ "time": "2017-10-03T16:24:49Z" }),
            json!({ "time": "x2017-10-02" }),
            json!({ "time": 20171002 }),
            json!({}),
        ],
    );
    check(
        on_f(json!([{ "prefix": "5" }])),
        &[],
        &[with(json!(5)), with(json!(55))],
    );
}

#[test]
fn prefix_ignoring_case() {
    check(
        json!({ "detail": { "service": [{ "prefix": { "equals-ignore-case": "EventB" } }] } }),
        &[
            json!({ "detail": { "service": "EventBridge" } }),
            json!({ "detail": { "service": "eventbridge" } }),
            json!({ "detail": { "service": "EVENTB" } }),
        ],
        &[
            json!({ "detail": { "service": "Event Bridge" } }),
            json!({ "detail": {} }),
        ],
    );
}

#[test]
fn suffix_matches_the_end_of_strings_only() {
    check(
        json!({ "FileName": [{ "suffix": ".png" }] }),
        &[json!({ "FileName": "image.png" })],
        &[
            json!({ "FileName": "image.PNG" }),
            json!({ "FileName": "image.png.zip" }),
            json!({}),
        ],
    );
    check(on_f(json!([{ "suffix": "5" }])), &[], &[with(json!(15))]);
}

#[test]
fn suffix_ignoring_case() {
    check(
        json!({ "FileName": [{ "suffix": { "equals-ignore-case": ".png" } }] }),
        &[
            json!({ "FileName": "image.png" }),
            json!({ "FileName": "image.PnG" }),
        ],
        &[
            json!({ "FileName": "image.jpg" }),
            json!({ "FileName": "png" }),
        ],
    );
}

// --- equals-ignore-case ------------------------------------------------------------------------

#[test]
fn equals_ignore_case_matches_whole_strings_in_any_case() {
    check(
        json!({ "detail-type": [{ "equals-ignore-case": "ec2 instance state-change notification" }] }),
        &[ec2_event()],
        &[
            json!({ "detail-type": "EC2 Instance State-change" }),
            json!({}),
        ],
    );
    check(
        on_f(json!([{ "equals-ignore-case": "true" }])),
        &[],
        &[with(json!(true))],
    );
}

// --- wildcard ----------------------------------------------------------------------------------

#[test]
fn wildcard_star_stands_for_any_run_of_characters() {
    check(
        on_f(json!([{ "wildcard": "arn:aws:iam::*:role/*-admin" }])),
        &[
            with(json!("arn:aws:iam::123456789012:role/ops-admin")),
            with(json!("arn:aws:iam:::role/-admin")),
            with(json!("arn:aws:iam::1:role/a/b/c-admin")),
        ],
        &[
            with(json!("arn:aws:iam::123456789012:role/ops-admins")),
            with(json!("arn:aws:iam::123456789012:user/ops-admin")),
            with(json!(5)),
            without(),
        ],
    );
    check(
        on_f(json!([{ "wildcard": "*" }])),
        &[with(json!("")), with(json!("anything"))],
        &[with(json!(1)), with(json!(null)), without()],
    );
    check(
        on_f(json!([{ "wildcard": "exact" }])),
        &[with(json!("exact"))],
        &[with(json!("exactly")), with(json!("Exact"))],
    );
    // The pieces may not overlap: "aba" is not "ab*ba".
    check(
        on_f(json!([{ "wildcard": "ab*ba" }])),
        &[with(json!("abba")), with(json!("ab-ba"))],
        &[with(json!("aba"))],
    );
}

#[test]
fn wildcard_escapes_stars_and_backslashes() {
    check(
        on_f(json!([{ "wildcard": "a\\*b" }])),
        &[with(json!("a*b"))],
        &[with(json!("axb")), with(json!("ab"))],
    );
    check(
        on_f(json!([{ "wildcard": "dir\\\\*" }])),
        &[with(json!("dir\\")), with(json!("dir\\file"))],
        &[with(json!("dir/file"))],
    );
}

// --- anything-but ------------------------------------------------------------------------------

#[test]
fn anything_but_a_string() {
    check(
        json!({ "detail": { "state": [{ "anything-but": "initializing" }] } }),
        &[
            ec2_event(),
            json!({ "detail": { "state": "INITIALIZING" } }),
            json!({ "detail": { "state": 5 } }),
            json!({ "detail": { "state": null } }),
        ],
        &[
            json!({ "detail": { "state": "initializing" } }),
            json!({ "detail": {} }),
        ],
    );
}

#[test]
fn anything_but_a_number() {
    check(
        json!({ "detail": { "x-limit": [{ "anything-but": 123 }] } }),
        &[ec2_event(), json!({ "detail": { "x-limit": "123" } })],
        &[
            json!({ "detail": { "x-limit": 123 } }),
            json!({ "detail": { "x-limit": 123.0 } }),
        ],
    );
}

#[test]
fn anything_but_a_list() {
    check(
        on_f(json!([{ "anything-but": ["stopped", "overloaded"] }])),
        &[with(json!("running"))],
        &[with(json!("stopped")), with(json!("overloaded")), without()],
    );
    check(
        on_f(json!([{ "anything-but": [100, 200, 300] }])),
        &[with(json!(301.8)), with(json!(150))],
        &[with(json!(100)), with(json!(200.0)), without()],
    );
}

#[test]
fn anything_but_against_an_event_array_needs_one_element_not_refused() {
    check(
        on_f(json!([{ "anything-but": "a" }])),
        &[with(json!(["a", "b"]))],
        &[with(json!(["a", "a"])), with(json!([]))],
    );
}

#[test]
fn anything_but_a_prefix() {
    check(
        json!({ "region": [{ "anything-but": { "prefix": "us-" } }] }),
        &[json!({ "region": "eu-west-1" }), json!({ "region": 1 })],
        &[json!({ "region": "us-east-1" }), json!({})],
    );
    check(
        on_f(json!([{ "anything-but": { "prefix": ["init", "stop"] } }])),
        &[with(json!("running"))],
        &[with(json!("initializing")), with(json!("stopped"))],
    );
}

#[test]
fn anything_but_a_suffix() {
    check(
        json!({ "FileName": [{ "anything-but": { "suffix": ".png" } }] }),
        &[json!({ "FileName": "a.jpg" })],
        &[json!({ "FileName": "a.png" }), json!({})],
    );
}

#[test]
fn anything_but_ignoring_case() {
    check(
        on_f(json!([{ "anything-but": { "equals-ignore-case": ["initializing", "stopped"] } }])),
        &[with(json!("running"))],
        &[
            with(json!("INITIALIZING")),
            with(json!("Stopped")),
            without(),
        ],
    );
}

#[test]
fn anything_but_a_wildcard() {
    check(
        json!({ "FilePath": [{ "anything-but": { "wildcard": "*/lib/*" } }] }),
        &[json!({ "FilePath": "/usr/bin/env" })],
        &[json!({ "FilePath": "/usr/lib/libc.so" }), json!({})],
    );
    check(
        on_f(json!([{ "anything-but": { "wildcard": ["*/lib/*", "*/bin/*"] } }])),
        &[with(json!("/etc/hosts"))],
        &[with(json!("/usr/bin/env")), with(json!("/usr/lib/x"))],
    );
}

// --- numeric -----------------------------------------------------------------------------------

#[test]
fn numeric_ranges() {
    check(
        on_f(json!([{ "numeric": [">", 0, "<=", 5] }])),
        &[
            with(json!(0.1)),
            with(json!(5)),
            with(json!(5.0)),
            with(json!(3)),
        ],
        &[
            with(json!(0)),
            with(json!(-1)),
            with(json!(5.000001)),
            with(json!("3")),
            without(),
        ],
    );
    check(
        on_f(json!([{ "numeric": [">=", 0, "<", 5] }])),
        &[with(json!(0)), with(json!(4.99))],
        &[with(json!(5)), with(json!(-0.01))],
    );
}

#[test]
fn numeric_single_bounds_and_equality() {
    check(
        json!({ "detail": { "d-count": [{ "numeric": ["<", 10] }] } }),
        &[ec2_event()],
        &[json!({ "detail": { "d-count": 10 } })],
    );
    check(
        json!({ "detail": { "x-limit": [{ "numeric": ["=", 3.018e2] }] } }),
        &[ec2_event()],
        &[
            json!({ "detail": { "x-limit": 301.9 } }),
            json!({ "detail": { "x-limit": "301.8" } }),
        ],
    );
    check(
        on_f(json!([{ "numeric": [">=", 10] }])),
        &[with(json!(10))],
        &[with(json!(9))],
    );
    check(
        on_f(json!([{ "numeric": ["<=", -1] }])),
        &[with(json!(-1))],
        &[with(json!(0))],
    );
    check(
        on_f(json!([{ "numeric": [">", 1] }])),
        &[with(json!([0, 2]))],
        &[with(json!(true)), with(json!(null))],
    );
}

// --- cidr --------------------------------------------------------------------------------------

#[test]
fn cidr_ipv4() {
    check(
        json!({ "detail": { "source-ip": [{ "cidr": "10.0.0.0/24" }] } }),
        &[
            ec2_event(),
            json!({ "detail": { "source-ip": "10.0.0.255" } }),
        ],
        &[
            json!({ "detail": { "source-ip": "10.0.1.0" } }),
            json!({ "detail": { "source-ip": "not an address" } }),
            json!({ "detail": { "source-ip": "::ffff:10.0.0.1" } }),
            json!({ "detail": { "source-ip": 167772161 } }),
            json!({ "detail": {} }),
        ],
    );
    check(
        on_f(json!([{ "cidr": "0.0.0.0/0" }])),
        &[with(json!("203.0.113.7"))],
        &[with(json!("2001:db8::1"))],
    );
    check(
        on_f(json!([{ "cidr": "203.0.113.7/32" }])),
        &[with(json!("203.0.113.7"))],
        &[with(json!("203.0.113.8"))],
    );
}

#[test]
fn cidr_ipv6() {
    check(
        on_f(json!([{ "cidr": "2001:db8::/32" }])),
        &[with(json!("2001:db8::1")), with(json!("2001:0DB8:ffff::"))],
        &[with(json!("2001:db9::1")), with(json!("10.0.0.1"))],
    );
}

// --- exists ------------------------------------------------------------------------------------

#[test]
fn exists_true_needs_a_leaf_value_null_included() {
    check(
        on_f(json!([{ "exists": true }])),
        &[
            with(json!("x")),
            with(json!(null)),
            with(json!(0)),
            with(json!([1])),
        ],
        &[
            without(),
            with(json!({ "g": 1 })),
            with(json!([])),
            json!({}),
        ],
    );
}

#[test]
fn exists_false_matches_a_missing_field_and_non_leaf_nodes() {
    check(
        on_f(json!([{ "exists": false }])),
        // A missing parent counts too; so does an object (not a leaf) or an empty array.
        &[
            without(),
            json!({}),
            with(json!({ "g": 1 })),
            with(json!([])),
        ],
        &[
            with(json!("x")),
            with(json!(null)),
            with(json!("")),
            with(json!([1])),
        ],
    );
}

#[test]
fn exists_false_is_how_to_match_a_missing_field_or_a_value() {
    check(
        on_f(json!([false, { "exists": false }])),
        &[with(json!(false)), without()],
        &[with(json!(true)), with(json!(null))],
    );
}

// --- $or ---------------------------------------------------------------------------------------

#[test]
fn or_at_the_top_level() {
    check(
        json!({
            "source": ["aws.cloudwatch"],
            "$or": [
                { "metricName": ["CPUUtilization", "ReadLatency"] },
                { "namespace": ["AWS/EC2", "AWS/ES"] }
            ]
        }),
        &[
            json!({ "source": "aws.cloudwatch", "metricName": "ReadLatency" }),
            json!({ "source": "aws.cloudwatch", "namespace": "AWS/ES" }),
        ],
        &[
            json!({ "source": "aws.cloudwatch", "metricName": "DiskReads", "namespace": "AWS/RDS" }),
            json!({ "source": "aws.ec2", "metricName": "ReadLatency" }),
        ],
    );
}

#[test]
fn or_nested_in_an_object_and_in_another_or() {
    let p = json!({
        "source": ["aws.cloudwatch"],
        "detail": {
            "$or": [
                { "metricName": ["CPUUtilization"] },
                {
                    "metricType": ["MetricType"],
                    "$or": [{ "metricId": [1234] }, { "spaceId": [1000] }]
                }
            ]
        }
    });
    let event = |detail: Value| json!({ "source": "aws.cloudwatch", "detail": detail });
    check(
        p,
        &[
            event(json!({ "metricName": "CPUUtilization" })),
            event(json!({ "metricType": "MetricType", "spaceId": 1000 })),
            event(json!({ "metricType": "MetricType", "metricId": 1234 })),
        ],
        &[
            event(json!({ "metricType": "MetricType" })),
            event(json!({ "metricType": "Other", "spaceId": 1000 })),
            event(json!({ "metricId": 1234 })),
        ],
    );
}

#[test]
fn two_or_groups_must_both_match() {
    check(
        json!({
            "$or": [{ "a": [1] }, { "b": [1] }],
            "detail": { "$or": [{ "c": [1] }, { "d": [1] }] }
        }),
        &[json!({ "a": 1, "detail": { "d": 1 } })],
        &[
            json!({ "a": 1, "detail": { "e": 1 } }),
            json!({ "detail": { "c": 1 } }),
        ],
    );
}

#[test]
fn the_user_guide_complex_example() {
    check(
        json!({
            "time": [{ "prefix": "2017-10-02" }],
            "detail": {
                "state": [{ "anything-but": "initializing" }],
                "c-count": [{ "numeric": [">", 0, "<=", 5] }],
                "d-count": [{ "numeric": ["<", 10] }],
                "x-limit": [{ "anything-but": [100, 200, 300] }],
                "source-ip": [{ "cidr": "10.0.0.0/8" }]
            }
        }),
        &[ec2_event()],
        &[{
            let mut e = ec2_event();
            e["detail"]["c-count"] = json!(6);
            e
        }],
    );
}

// --- invalid patterns --------------------------------------------------------------------------

#[test]
fn the_pattern_and_its_fields_must_be_objects_or_arrays() {
    invalid(json!(["aws.iam"]), "must be a JSON object");
    invalid(json!({}), "empty objects");
    invalid(json!({ "detail": {} }), "empty objects");
    let e = invalid(json!({ "source": "aws.iam" }), "object or an array");
    assert_eq!(e.path, "source");
    invalid(
        json!({ "detail": { "state": { "value": "ALARM" } } }),
        "`detail.state.value`",
    );
    invalid(json!({ "source": [] }), "empty arrays");
    invalid(json!({ "source": [["aws.iam"]] }), "not an array");
}

#[test]
fn operators_are_known_and_alone_in_their_object() {
    invalid(
        on_f(json!([{ "contains": "x" }])),
        "unknown operator `contains`",
    );
    invalid(
        on_f(json!([{ "prefix": "a", "suffix": "b" }])),
        "exactly one key",
    );
    invalid(on_f(json!([{}])), "exactly one key");
}

#[test]
fn prefix_suffix_and_equals_ignore_case_take_strings() {
    invalid(
        on_f(json!([{ "prefix": 1 }])),
        "`detail.f.prefix`: must be a string",
    );
    invalid(on_f(json!([{ "suffix": ["a"] }])), "must be a string");
    invalid(
        on_f(json!([{ "prefix": { "wildcard": "a*" } }])),
        "equals-ignore-case",
    );
    invalid(
        on_f(json!([{ "suffix": { "equals-ignore-case": 1 } }])),
        "equals-ignore-case",
    );
    invalid(
        on_f(json!([{ "equals-ignore-case": null }])),
        "must be a string",
    );
}

#[test]
fn wildcards_refuse_consecutive_stars_and_stray_backslashes() {
    invalid(
        on_f(json!([{ "wildcard": "a**b" }])),
        "consecutive wildcard",
    );
    invalid(on_f(json!([{ "wildcard": "a\\b" }])), "backslash");
    invalid(on_f(json!([{ "wildcard": "a\\" }])), "backslash");
    invalid(on_f(json!([{ "wildcard": 5 }])), "must be a string");
    invalid(
        on_f(json!([{ "anything-but": { "wildcard": ["ok*", "**"] } }])),
        "consecutive",
    );
}

#[test]
fn anything_but_refuses_what_it_cannot_compare() {
    invalid(on_f(json!([{ "anything-but": true }])), "anything-but");
    invalid(on_f(json!([{ "anything-but": null }])), "anything-but");
    invalid(
        on_f(json!([{ "anything-but": [] }])),
        "only strings or only numbers",
    );
    invalid(
        on_f(json!([{ "anything-but": ["a", 1] }])),
        "only strings or only numbers",
    );
    invalid(
        on_f(json!([{ "anything-but": [true] }])),
        "only strings or only numbers",
    );
    invalid(
        on_f(json!([{ "anything-but": { "prefix": "" } }])),
        "empty prefix",
    );
    invalid(
        on_f(json!([{ "anything-but": { "suffix": [""] } }])),
        "empty prefix or suffix",
    );
    invalid(
        on_f(json!([{ "anything-but": { "prefix": 1 } }])),
        "must be a string",
    );
    invalid(
        on_f(json!([{ "anything-but": { "numeric": [">", 1] } }])),
        "does not support `numeric`",
    );
    invalid(
        on_f(json!([{ "anything-but": { "prefix": "a", "suffix": "b" } }])),
        "exactly one key",
    );
}

#[test]
fn numeric_needs_known_operators_numbers_and_a_lower_bound_first() {
    invalid(on_f(json!([{ "numeric": 5 }])), "must be an array");
    invalid(on_f(json!([{ "numeric": [] }])), "pairs");
    invalid(on_f(json!([{ "numeric": [">"] }])), "pairs");
    invalid(
        on_f(json!([{ "numeric": [">", "1"] }])),
        "followed by a number",
    );
    invalid(
        on_f(json!([{ "numeric": ["!=", 1] }])),
        "unknown `numeric` operator `!=`",
    );
    invalid(
        on_f(json!([{ "numeric": ["<", 5, ">", 0] }])),
        "lower bound then an upper",
    );
    invalid(
        on_f(json!([{ "numeric": [">", 0, ">", 5] }])),
        "lower bound then an upper",
    );
    invalid(
        on_f(json!([{ "numeric": ["=", 1, "<", 5] }])),
        "lower bound then an upper",
    );
    invalid(
        on_f(json!([{ "numeric": [">", 0, "<", 5, "<", 9] }])),
        "lower bound then an upper",
    );
    invalid(
        on_f(json!([{ "numeric": [">", 5, "<", 1] }])),
        "above its upper bound",
    );
}

#[test]
fn exists_takes_a_boolean() {
    invalid(on_f(json!([{ "exists": "true" }])), "true or false");
    invalid(on_f(json!([{ "exists": 1 }])), "true or false");
}

#[test]
fn cidr_takes_a_block_with_a_prefix_length() {
    invalid(on_f(json!([{ "cidr": "10.0.0.1" }])), "not a CIDR block");
    invalid(on_f(json!([{ "cidr": "10.0.0.0/33" }])), "not a CIDR block");
    invalid(
        on_f(json!([{ "cidr": "2001:db8::/129" }])),
        "not a CIDR block",
    );
    invalid(on_f(json!([{ "cidr": "10.0.0/8" }])), "not a CIDR block");
    invalid(on_f(json!([{ "cidr": 10 }])), "must be a string");
}

#[test]
fn or_needs_two_objects_without_operator_names() {
    invalid(json!({ "$or": { "a": [1] } }), "array of objects");
    invalid(json!({ "$or": [{ "a": [1] }] }), "at least two");
    invalid(json!({ "$or": [{ "a": [1] }, ["b"]] }), "only hold objects");
    invalid(json!({ "$or": [{ "a": [1] }, {}] }), "empty objects");
    let e = invalid(
        json!({ "detail": { "$or": [{ "a": [1] }, { "prefix": ["b"] }] } }),
        "cannot be a field name inside `$or`",
    );
    assert_eq!(e.path, "detail.$or[1].prefix");
}

#[test]
fn the_convenience_function_reports_invalid_patterns() {
    assert_eq!(
        reflex_tests::pattern::matches(
            &json!({ "source": ["aws.iam"] }),
            &json!({ "source": "aws.iam" })
        ),
        Ok(true)
    );
    let error =
        reflex_tests::pattern::matches(&json!({ "source": "aws.iam" }), &json!({})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid event pattern at `source`: a field must be an object or an array of values"
    );
}
