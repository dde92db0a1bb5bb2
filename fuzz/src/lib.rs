//! What Reflex's fuzz targets share: the rules of the SAM templates (read by `reflex-routing`,
//! whose EventBridge pattern matcher the command line and the wiring tests use) and the checks
//! each function's interpretation must pass.

use std::fmt::Debug;
use std::sync::OnceLock;

use reflex_shared::event::Event;
use reflex_shared::{EventError, Function, Interpreted};

/// The matcher and the template reader the command line and the wiring tests use.
pub use reflex_routing::{pattern, template};

use pattern::Pattern;

/// Whether function `name` takes `event` (`Function::ACCEPTS`, checked by the pipeline before
/// anything else); `None` for a name that is not a function's.
pub fn accepts(name: &str, event: &Event) -> Option<bool> {
    Some(match name {
        "revoke" => event.is_one_of(reflex_revoke::Revoke::ACCEPTS),
        "scale" => event.is_one_of(reflex_scale::Scale::ACCEPTS),
        "harden" => event.is_one_of(reflex_harden::Harden::ACCEPTS),
        "notify" => event.is_one_of(reflex_notify::Notify::ACCEPTS),
        "quarantine" => event.is_one_of(reflex_quarantine::Quarantine::ACCEPTS),
        _ => return None,
    })
}

/// Every function's interpretation of `event`, as the pipeline runs it (only for an event the
/// function accepts), with the function's default settings, and its rules over the trigger with
/// nothing known about the account. Checks: interpreting is deterministic; an error has a type
/// and a message; an ignored event has a reason; every finding names one of the function's rules
/// and gives a reason.
pub fn interpret_everywhere(event: &Event) {
    interpret_as::<reflex_revoke::Revoke>(event, &Default::default());
    interpret_as::<reflex_scale::Scale>(event, &Default::default());
    interpret_as::<reflex_harden::Harden>(event, &Default::default());
    interpret_as::<reflex_notify::Notify>(event, &Default::default());
    interpret_as::<reflex_quarantine::Quarantine>(event, &Default::default());
}

fn interpret_as<F>(event: &Event, settings: &F::Settings)
where
    F: Function,
    F::Trigger: PartialEq + Debug,
    F::Action: Debug,
{
    if !event.is_one_of(F::ACCEPTS) {
        return;
    }
    let first = F::interpret(event, settings);
    let again = F::interpret(event, settings);
    assert_eq!(
        first,
        again,
        "{}: interpreting the same event twice differs",
        F::NAME
    );
    match first {
        Ok(Interpreted::Trigger(trigger)) => {
            for finding in F::decide(&trigger, &F::Facts::default(), settings) {
                assert!(
                    F::RULE_IDS.contains(&finding.rule_id),
                    "{}: a finding of an unknown rule: {finding:?}",
                    F::NAME
                );
                assert!(
                    !finding.reason.trim().is_empty(),
                    "{}: a finding without a reason: {finding:?}",
                    F::NAME
                );
            }
        }
        Ok(Interpreted::Ignored(why)) => {
            assert!(
                !why.trim().is_empty(),
                "{}: an event ignored without a reason",
                F::NAME
            );
        }
        Err(error) => check_error(&error),
    }
}

/// An event error has a type and a message a person can act on.
pub fn check_error(error: &EventError) {
    assert!(!error.error_type().is_empty(), "{error:?}: no error type");
    assert!(
        !error.to_string().trim().is_empty(),
        "{error:?}: an empty message"
    );
}

// ---------------------------------------------------------------------------------------------
// The rules of the templates

/// One EventBridge rule of `infra/template.yaml` or `infra/member.yaml`.
pub struct TemplateRule {
    /// `template.yaml: RevokeFunction.Events.IamEscalation`.
    pub name: String,
    /// The function the rule invokes (`revoke`), `None` for a member account's forwarding rule.
    pub function: Option<String>,
    pub pattern: Pattern,
}

/// The rules of both templates, as deployed with the parameters' defaults (read when the target
/// was built); every rule, enabled by default or not.
pub fn template_rules() -> &'static [TemplateRule] {
    static RULES: OnceLock<Vec<TemplateRule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut rules = Vec::new();
        for (file, text) in [
            ("template.yaml", include_str!("../../infra/template.yaml")),
            ("member.yaml", include_str!("../../infra/member.yaml")),
        ] {
            rules_of(file, text, &mut rules);
        }
        assert!(
            rules.iter().filter(|r| r.function.is_some()).count() >= 5
                && rules.iter().any(|r| r.function.is_none()),
            "the templates' rules were not found: fuzz/src/lib.rs reads them"
        );
        rules
    })
}

fn rules_of(file: &str, text: &str, rules: &mut Vec<TemplateRule>) {
    let read = reflex_routing::rules_of(text, &Default::default())
        .unwrap_or_else(|e| panic!("infra/{file}: {e}"));
    rules.extend(read.into_iter().map(|rule| TemplateRule {
        name: format!("{file}: {}", rule.name),
        function: rule.function,
        pattern: rule.pattern,
    }));
}
