//! The one change `scale` makes: set a group's desired capacity, recording why.

use reflex_shared::{Action, Resource};
use serde::{Deserialize, Serialize};

use crate::facts::GroupState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleAction {
    pub group: String,
    pub from: i32,
    pub to: i32,
    pub min: i32,
    pub max: i32,
    /// Bookkeeping for the ledger (not part of the report): the record the decision read, and
    /// the one to keep once the change is made.
    #[serde(skip)]
    pub before: GroupState,
    #[serde(skip)]
    pub next_state: GroupState,
    /// The alarm and the time of its state change behind the change.
    #[serde(skip)]
    pub alarm: String,
    #[serde(skip)]
    pub event_time: Option<String>,
    #[serde(skip)]
    pub expected_version: Option<i64>,
    /// An earlier run of this event made the change and died before confirming it: confirm it.
    #[serde(skip)]
    pub made_unconfirmed: bool,
}

impl Action for ScaleAction {
    fn describe(&self) -> String {
        let verb = if self.to > self.from {
            "raise"
        } else {
            "lower"
        };
        format!(
            "{verb} desired capacity of {} from {} to {} (min {}, max {})",
            self.group, self.from, self.to, self.min, self.max
        )
    }

    /// The group: its exemption tag leaves its capacity alone.
    fn resource(&self) -> Resource {
        Resource::AutoScalingGroup(self.group.clone())
    }
}
