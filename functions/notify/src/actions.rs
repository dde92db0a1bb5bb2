//! Notify's actions: none. It reports; the pipeline publishes each finding to a person.

use reflex_shared::{Action, Resource};
use serde::{Deserialize, Serialize};

/// notify plans no actions; this type has no values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum NoAction {}

impl Action for NoAction {
    fn describe(&self) -> String {
        match *self {}
    }

    fn resource(&self) -> Resource {
        match *self {}
    }
}
