//! `scripts/invoke-local` (`make invoke`): one function's real binary under cargo-lambda on a
//! sample event, against the emulator it seeds itself; what it prints is the function's
//! response, the report. Needs cargo-lambda in the venv (`make setup`), like `lambda_binary.rs`.

use std::process::Command;

use reflex_shared::report::{Report, Status};
use reflex_tests::emulator::workspace_root;

#[test]
fn invoke_local_prints_the_functions_report_for_a_sample_event() {
    let mut command = Command::new(workspace_root().join("scripts/invoke-local"));
    command
        .args(["revoke", "events/revoke/attach-admin-to-user.json"])
        .current_dir(workspace_root());
    // The script itself keeps the developer's AWS and Reflex settings from the function; a test
    // run must not even hand them to it.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("AWS_") || (key.starts_with("REFLEX_") && key != "REFLEX_VENV") {
            command.env_remove(key.as_ref());
        }
    }
    let out = command.output().expect("running scripts/invoke-local");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "invoke-local failed:\n{stderr}");

    let report: Report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("the response is not a Reflex report ({e}):\n{stdout}"));
    assert_eq!(report.function, "revoke");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(
        report.findings[0].rule_id,
        "revoke.privileged-policy-attached"
    );
    let action = &report.findings[0].actions[0];
    assert_eq!(action.outcome.status(), "done", "{report:#?}");
    assert!(
        stderr.contains("emulator seeded for revoke"),
        "the emulator was used:\n{stderr}"
    );
}
