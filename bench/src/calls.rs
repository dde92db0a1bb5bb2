//! The AWS calls one remediation makes, and how many of them ran one after another: the
//! function's every call goes through a recording proxy on loopback, each timed from its
//! arrival to its answer. Calls whose times overlap ran concurrently and cost one round trip
//! together; `rounds` is the number of round trips the event waited for.

use std::time::Instant;

use reflex_tests::proxy::Timed;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Calls {
    pub total: usize,
    /// Round trips waited for one after another (calls that overlap count once).
    pub rounds: usize,
    /// The calls round by round: `iam:ListUserTags + iam:ListUserTags -> dynamodb:PutItem`.
    pub sequence: String,
    /// Each call: when it arrived after the first one, and how long it took, in ms.
    pub timeline: Vec<(String, f64, f64)>,
}

pub fn analyse(timeline: &[Timed]) -> Calls {
    let mut calls: Vec<&Timed> = timeline.iter().collect();
    calls.sort_by_key(|c| c.arrived);
    let first = calls.first().map(|c| c.arrived);
    let timed = calls
        .iter()
        .map(|c| {
            let at = first.map_or(0.0, |f| crate::lambda::millis(c.arrived - f));
            (
                c.call.clone(),
                at,
                crate::lambda::millis(c.answered - c.arrived),
            )
        })
        .collect();
    let mut rounds: Vec<Vec<&str>> = Vec::new();
    let mut open_until: Option<Instant> = None;
    for call in calls {
        match open_until {
            Some(until) if call.arrived < until => {
                rounds.last_mut().expect("a round is open").push(&call.call);
                open_until = Some(until.max(call.answered));
            }
            _ => {
                rounds.push(vec![&call.call]);
                open_until = Some(call.answered);
            }
        }
    }
    Calls {
        total: timeline.len(),
        rounds: rounds.len(),
        sequence: rounds
            .iter()
            .map(|round| round.join(" + "))
            .collect::<Vec<_>>()
            .join(" -> "),
        timeline: timed,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(call: &str, start: u64, end: u64, zero: Instant) -> Timed {
        Timed {
            call: call.into(),
            arrived: zero + Duration::from_millis(start),
            answered: zero + Duration::from_millis(end),
        }
    }

    #[test]
    fn overlapping_calls_are_one_round_and_the_rest_one_each() {
        let zero = Instant::now();
        let timeline = [
            at("iam:ListUserTags", 0, 5, zero),
            at("iam:ListUserTags", 1, 4, zero),
            at("dynamodb:PutItem", 6, 9, zero),
            at("sns:Publish", 10, 14, zero),
            at("dynamodb:UpdateItem", 12, 13, zero),
        ];
        let calls = analyse(&timeline);
        assert_eq!(calls.total, 5);
        assert_eq!(calls.rounds, 3);
        assert_eq!(
            calls.sequence,
            "iam:ListUserTags + iam:ListUserTags -> dynamodb:PutItem -> sns:Publish + dynamodb:UpdateItem"
        );
    }
}
