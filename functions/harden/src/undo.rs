//! The commands that reverse harden's changes, as its reports give them (pure, so that tests
//! run them with any name an attacker may choose). Every value goes through the core's
//! [`AwsCli`], which quotes it. (Containment's undo is the core's, `reflex_shared::iam`.)

use reflex_shared::{AwsCli, Undo};

/// Undo of starting a trail's logging: stop it again.
pub fn stop_logging(trail: &str) -> Undo {
    Undo::run(AwsCli::new("cloudtrail", "stop-logging").arg("--name", trail))
}

/// Undo of making a trail multi-region (and turning its global service events back on, when
/// that was needed too).
pub fn single_region(trail: &str, global_events_were_off: bool) -> Undo {
    let mut call = AwsCli::new("cloudtrail", "update-trail")
        .arg("--name", trail)
        .switch("--no-is-multi-region-trail");
    if global_events_were_off {
        call = call.switch("--no-include-global-service-events");
    }
    Undo::run(call)
}

/// Undo of turning log file validation back on.
pub fn no_log_file_validation(trail: &str) -> Undo {
    Undo::run(
        AwsCli::new("cloudtrail", "update-trail")
            .arg("--name", trail)
            .switch("--no-enable-log-file-validation"),
    )
}

/// Undo of setting a log group's retention: keep its events forever again.
pub fn keep_forever(log_group: &str) -> Undo {
    Undo::run(AwsCli::new("logs", "delete-retention-policy").arg("--log-group-name", log_group))
}

/// Undo of encrypting a log group with the key: new events unencrypted by it again.
pub fn disassociate_key(log_group: &str) -> Undo {
    Undo::run(AwsCli::new("logs", "disassociate-kms-key").arg("--log-group-name", log_group))
}
