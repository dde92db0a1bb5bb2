//! `reflex invoke`: the real pipeline on an event, dry-run unless `--enforce`.
//!
//! Each event goes to the functions the deployed rules route it to (or `--function`), each
//! function's handler built exactly as its Lambda binary builds it (`handler_from_env`, the
//! configuration from `--config` and the environment, the AWS settings of the usual chain:
//! `AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`). What is printed is the report a person
//! receives: the SNS subject and text body, or the JSON report with `--json`.
//!
//! Without `--enforce` nothing may act whatever the configuration says: every mode that would
//! enforce is turned to dry-run in the handler's guards before the event is handled. Everything
//! else is the real pipeline, so with `REFLEX_TOPIC_ARN` set the report is published to SNS and
//! with `REFLEX_LEDGER_TABLE` set the ledger records the event (a dry-run apart from the same
//! event enforced, which still acts later).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use reflex_shared::Function;
use reflex_shared::config;
use reflex_shared::guard::{Guards, Mode};
use reflex_shared::pipeline::handler_from_env;
use reflex_shared::report::{Report, one_line};
use serde_json::{Value, json};

use crate::catalog::{self, Visit};
use crate::config::Config;
use crate::exit::{Exit, Output};
use crate::input;
use crate::routes::Routes;

/// Run the full pipeline on an event against the configured AWS endpoint.
#[derive(clap::Args)]
#[command(
    long_about = "Run the full pipeline on each event, as the functions the deployed rules route it \
to would: read the facts, decide, guard, act (only with --enforce), record in the ledger, publish \
the report. AWS is reached with the usual settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for \
an emulator); the functions' configuration comes from --config and the REFLEX_* environment.\n\n\
Without --enforce every rule runs in dry-run whatever REFLEX_MODE and REFLEX_RULE_MODES say. With \
REFLEX_TOPIC_ARN set the report is published to that topic, as the deployed function would.",
    after_help = "Examples:\n  \
reflex invoke events/revoke/attach-admin-to-user.json\n  \
reflex --config reflex.env invoke --enforce events/revoke/attach-admin-to-user.json\n  \
reflex invoke --function notify --json - < event.json\n\n\
Exit codes: 0 nothing would act or acted (or no rule routes the event), 1 an error (a bad event, \
configuration or AWS error, a delivery the pipeline fails such as one in progress elsewhere), \
2 a rule would act or acted, or a report would go out."
)]
pub struct Args {
    /// Event files or directories of them; `-` or none: one event on standard input.
    pub events: Vec<PathBuf>,
    /// Act: without it every rule runs in dry-run, whatever the configuration says.
    #[arg(long)]
    pub enforce: bool,
    /// Hand every event to this function, whichever rules route it (default: the functions the
    /// deployed rules route each event to).
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(catalog::NAMES))]
    pub function: Option<String>,
}

pub fn run(args: Args, config: &Config, output: &Output) -> Result<Exit, String> {
    let given = input::events(&args.events)?;
    let routes = match args.function {
        Some(_) => None,
        None => Some(Routes::load(None, &BTreeMap::new())?),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let sdk = runtime.block_on(reflex_shared::aws::load_sdk_config());

    let mut found = false;
    // Invocations run and events that could not be read; of those, the ones that failed.
    let mut attempts = 0;
    let mut failed = 0;
    for event in given {
        let raw = match event.event {
            Ok(raw) => raw,
            Err(why) => {
                attempts += 1;
                failed += 1;
                print_error(output, &event.source, None, &why);
                continue;
            }
        };
        let targets = match (&args.function, &routes) {
            (Some(name), _) => vec![Target {
                function: name.clone(),
                rules: vec!["--function".into()],
            }],
            (None, Some(routes)) => routed(routes, &raw),
            (None, None) => Vec::new(),
        };
        if targets.is_empty() {
            print_unrouted(output, &event.source);
            continue;
        }
        for target in targets {
            attempts += 1;
            let invoke = Invoke {
                runtime: &runtime,
                sdk: &sdk,
                config,
                raw: raw.clone(),
                enforce: args.enforce,
            };
            let ran = catalog::visit(&target.function, invoke)
                .unwrap_or_else(|| Err(format!("`{}` is not a Reflex function", target.function)));
            match ran {
                Ok(ran) => {
                    found |= ran.report.is_notifiable();
                    print_report(output, &event.source, &target, &ran);
                }
                Err(why) => {
                    failed += 1;
                    print_error(output, &event.source, Some(&target.function), &why);
                }
            }
        }
    }
    match failed {
        0 => Ok(Exit::from_found(found)),
        _ => Err(format!(
            "{failed} of {attempts} failed (each is named above)"
        )),
    }
}

/// A function an event goes to, and the rules that send it there.
struct Target {
    function: String,
    rules: Vec<String>,
}

/// The functions the deployed rules route `event` to, each once, in the template's order.
fn routed(routes: &Routes, event: &Value) -> Vec<Target> {
    let mut targets: Vec<Target> = Vec::new();
    for rule in routes.fired(event) {
        let Some(function) = &rule.function else {
            continue;
        };
        match targets.iter_mut().find(|t| t.function == *function) {
            Some(target) => target.rules.push(rule.name.clone()),
            None => targets.push(Target {
                function: function.clone(),
                rules: vec![rule.name.clone()],
            }),
        }
    }
    targets
}

/// One event handled by one function's real pipeline.
struct Invoke<'a> {
    runtime: &'a tokio::runtime::Runtime,
    sdk: &'a aws_config::SdkConfig,
    config: &'a Config,
    raw: Value,
    enforce: bool,
}

/// What one invocation gave.
struct Ran {
    report: Report,
    /// `--enforce` was given: the configured modes applied.
    enforce: bool,
    /// The SNS topic the pipeline published the report to (`REFLEX_TOPIC_ARN`), if it did.
    published_to: Option<String>,
    /// The rules whose configured mode was enforce, run in dry-run for want of `--enforce`
    /// (`*` for the default mode, `REFLEX_MODE`).
    held_back: Vec<String>,
}

impl Visit for Invoke<'_> {
    type Out = Result<Ran, String>;

    fn visit<F: Function>(self) -> Result<Ran, String> {
        self.runtime.block_on(async {
            let env = self.config.env();
            let mut handler = handler_from_env::<F>(&env, self.sdk)
                .await
                .map_err(|e| format!("configuration: {e}"))?;
            let held_back = match self.enforce {
                true => Vec::new(),
                false => dry_run_only(&mut handler.guards),
            };
            let report = handler
                .handle(self.raw)
                .await
                .map_err(|e| format!("{e} ({})", e.error_type()))?;
            let published_to = (handler.publisher.is_some() && report.is_notifiable())
                .then(|| config::var(&env, config::TOPIC_ARN))
                .flatten();
            Ok(Ran {
                report,
                enforce: self.enforce,
                held_back,
                published_to,
            })
        })
    }
}

/// Turn every mode that enforces into dry-run; the rules so turned (`*`: the default mode).
fn dry_run_only(guards: &mut Guards) -> Vec<String> {
    let mut turned = Vec::new();
    if guards.default_mode == Mode::Enforce {
        guards.default_mode = Mode::DryRun;
        turned.push("*".to_string());
    }
    for (rule, mode) in &mut guards.rule_modes {
        if *mode == Mode::Enforce {
            *mode = Mode::DryRun;
            turned.push(rule.clone());
        }
    }
    turned
}

/// How the run was held back, in words, for the header above the report.
fn mode_words(ran: &Ran) -> String {
    match (ran.enforce, ran.held_back.as_slice()) {
        (true, _) => "--enforce: the configured modes apply".into(),
        (false, []) => "dry-run (no --enforce): nothing is changed".into(),
        (false, held) => format!(
            "dry-run (no --enforce): nothing is changed, although the configuration enforces {}",
            held.iter()
                .map(|r| match r.as_str() {
                    "*" => "every rule (REFLEX_MODE=enforce)".to_string(),
                    rule => rule.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn print_report(output: &Output, source: &str, target: &Target, ran: &Ran) {
    if output.json {
        let line = json!({
            "source": source,
            "function": target.function,
            "rules": target.rules,
            "dry_run_forced": !ran.enforce,
            "held_back": ran.held_back,
            "published_to": ran.published_to,
            "report": ran.report.to_json(),
        });
        emit(&format!("{line}\n"));
        return;
    }
    let report = &ran.report;
    let published = match (&ran.published_to, report.is_notifiable()) {
        (Some(topic), _) => format!("published to {topic}"),
        (None, true) => "not published: no REFLEX_TOPIC_ARN configured".into(),
        (None, false) => "not published: no report is sent for this status".into(),
    };
    emit(&format!(
        "== {} -> {} ({})\n   {}\n   status: {}\n   {published}\n\nSubject: {}\n\n{}\n",
        one_line(source),
        target.function,
        target.rules.join(", "),
        mode_words(ran),
        report.status.as_str(),
        report.subject(),
        report.text(),
    ));
}

fn print_unrouted(output: &Output, source: &str) {
    let why = "no enabled rule of the deployed template routes this event to a function: \
               nothing would run";
    if output.json {
        let line = json!({ "source": source, "function": null, "rules": [], "note": why });
        emit(&format!("{line}\n"));
    } else {
        emit(&format!("== {}: {why}\n\n", one_line(source)));
    }
}

fn print_error(output: &Output, source: &str, function: Option<&str>, why: &str) {
    if output.json {
        let line = json!({ "source": source, "function": function, "error": why });
        emit(&format!("{line}\n"));
    } else {
        match function {
            Some(function) => eprintln!(
                "reflex: {} -> {function}: {}",
                one_line(source),
                one_line(why)
            ),
            None => eprintln!("reflex: {}: {}", one_line(source), one_line(why)),
        }
    }
}

/// Write to standard output; a reader that went away (`| head`) is no reason to stop handling
/// the events given, nor to panic.
fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}
