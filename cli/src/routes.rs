//! Which deployed rule routes an event to which function: the EventBridge rules of the central
//! template this binary was built with (or `--template`), as deployed with its parameters'
//! defaults and any `--parameter` given.

use std::collections::BTreeMap;
use std::path::Path;

use reflex_routing::rules::{CENTRAL_TEMPLATE, Rule, rules_of};
use serde_json::Value;

/// The enabled rules that invoke a function.
pub struct Routes {
    rules: Vec<Rule>,
}

impl Routes {
    /// The rules of `template` (the built-in central template when `None`), with `parameters`
    /// replacing defaults.
    pub fn load(
        template: Option<&Path>,
        parameters: &BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let text = match template {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("--template {}: {e}", path.display()))?,
            None => CENTRAL_TEMPLATE.to_string(),
        };
        let rules = rules_of(&text, parameters)?
            .into_iter()
            .filter(|rule| rule.enabled && rule.function.is_some())
            .collect();
        Ok(Self { rules })
    }

    /// The rules that fire for `event`, each with the function it invokes.
    pub fn fired<'a>(&'a self, event: &'a Value) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(|rule| rule.pattern.matches(event))
    }
}
