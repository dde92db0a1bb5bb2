//! The command that reverses scale's change, as its reports give it (pure, so that tests run it
//! with any group name: Auto Scaling names take any character, line breaks included). Every
//! value goes through the core's [`AwsCli`], which quotes it.

use reflex_shared::{AwsCli, Undo};

/// Undo of setting a group's desired capacity: set it back to what it was.
pub fn set_back(group: &str, desired_before: i32) -> Undo {
    Undo::run(
        AwsCli::new("autoscaling", "set-desired-capacity")
            .arg("--auto-scaling-group-name", group)
            .arg("--desired-capacity", desired_before.to_string()),
    )
}
