//! `reflex plan`: what the deployed rules would do with an event, offline.
//!
//! For each event: which enabled EventBridge rules of the template fire and to which function
//! (`routes.rs`), then each routed function's pure path (`judge.rs`): the event guards, the
//! trigger, the findings, each step's guard verdict. What the function would read from AWS is
//! stated as an assumption (`assumed.rs`), or read read-only with `--facts-from-aws`
//! (`aws.rs`). Shown for people or as JSON lines (`show.rs`).
//!
//! - `event.rs`: one event planned, or what is wrong with it, by field
//! - `function.rs`: one function's judgement of it

mod assumed;
mod aws;
mod event;
mod function;
mod show;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::catalog;
use crate::config::Config;
use crate::exit::{Exit, Output};
use crate::input;
use crate::routes::Routes;

use aws::AwsReader;
use event::EventPlan;

/// Show which rules route an event to which function and what each would do, without acting.
///
/// Offline by default: what a function would read from AWS first (a policy's document, a
/// resource's tags, the ledger) is not read, and the plan says what it assumed instead.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  reflex plan events/revoke/attach-admin-to-user.json
  reflex --config prod.env plan --facts-from-aws event.json
  reflex --json plan events/ | jq .routes
  aws events ... | reflex plan -

Exit codes:
  0  nothing would act and no report would go out
  1  error: an event that cannot be read, is not an event, or is refused by a function it
     reaches (the field named); a configuration or AWS error
  2  a rule would act (enforce mode) or a report would go out (dry-run, exempt, a person needed)")]
pub struct Args {
    /// Event files or directories of them (`.json`, recursively); `-` or none: one event on
    /// standard input.
    pub events: Vec<PathBuf>,
    /// The SAM template whose EventBridge rules route the events (default: the central
    /// template this binary was built with).
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,
    /// A template parameter as deployed, replacing its default (repeatable), e.g.
    /// `--parameter QuarantineTagValue=now`.
    #[arg(long = "parameter", value_name = "KEY=VALUE", value_parser = key_value)]
    pub parameters: Vec<(String, String)>,
    /// Plan only for this function, even one no rule routes the event to.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(catalog::NAMES))]
    pub function: Option<String>,
    /// Read the facts and exemption tags the functions would read, read-only, with the usual
    /// AWS settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...). Nothing is changed and
    /// the ledger is not written.
    #[arg(long)]
    pub facts_from_aws: bool,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

pub fn run(args: Args, config: &Config, output: &Output) -> Result<Exit, String> {
    let env = config.env();
    let env: &reflex_shared::config::Env<'_> = &env;
    // A bad setting fails once, before any event, naming its variable.
    let judges = crate::judge::all(env)?;
    let parameters: BTreeMap<String, String> = args.parameters.iter().cloned().collect();
    let routes = Routes::load(args.template.as_deref(), &parameters)?;
    let aws = match args.facts_from_aws {
        true => Some(AwsReader::connect(env)?),
        false => None,
    };
    let planner = event::Planner {
        routes: &routes,
        judges: &judges,
        env,
        only: args.function.as_deref(),
        aws: aws.as_ref(),
    };
    let given = input::events(&args.events)?;
    let (mut failed, mut found) = (0, false);
    for given in &given {
        let plan: EventPlan = planner.plan(given);
        if output.json {
            println!("{}", show::json(&plan));
        } else {
            print!("{}", show::text(&plan));
        }
        failed += usize::from(plan.is_error());
        found |= plan.is_found();
    }
    if failed > 0 {
        return Err(format!(
            "{failed} of {} events could not be planned (see above)",
            given.len()
        ));
    }
    Ok(Exit::from_found(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_is_key_equals_value() {
        assert_eq!(
            key_value("QuarantineTagValue=now").unwrap(),
            ("QuarantineTagValue".into(), "now".into())
        );
        assert_eq!(
            key_value("Empty=").unwrap(),
            ("Empty".into(), String::new())
        );
        assert!(key_value("novalue").unwrap_err().contains("`novalue`"));
        assert!(key_value("=x").is_err());
    }
}
