//! `reflex`: trust Reflex before deploying it, and take back what it did.
//!
//! - `plan`: what the deployed rules would do with an event, offline (`plan.rs`)
//! - `invoke`: the real pipeline on an event, dry-run unless `--enforce` (`invoke.rs`)
//! - `backtest`: the rules over months of CloudTrail logs, no AWS call (`backtest/`)
//! - `undo`: reverse a remediation from the prior state the ledger recorded (`undo/`)
//! - `completions`: shell completions
//!
//! The command line has no rules of its own: it runs the functions' interpreters, rules, guards
//! and executors (`catalog.rs`) and the template's EventBridge patterns (`routes.rs`).

mod backtest;
mod catalog;
mod config;
mod exit;
mod input;
mod invoke;
mod judge;
mod plan;
mod routes;
mod undo;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use exit::{EXIT_CODES, Exit};

#[derive(Parser)]
#[command(
    name = "reflex",
    version,
    about = "Plan, invoke, backtest and undo Reflex's remediations",
    after_help = EXIT_CODES
)]
struct Cli {
    /// Write JSON for machines instead of text for people.
    #[arg(long, global = true)]
    json: bool,
    /// The functions' configuration as KEY=VALUE lines (REFLEX_MODE, REFLEX_EXEMPT_PRINCIPALS,
    /// ...), as the deployment sets them; a variable in the environment wins over the file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Plan(plan::Args),
    Invoke(invoke::Args),
    Backtest(backtest::Args),
    Undo(undo::Args),
    /// Print a completion script for a shell.
    #[command(after_help = "Example:\n  reflex completions bash > /etc/bash_completion.d/reflex")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = exit::Output { json: cli.json };
    let config = match config::Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return output.fail(&e),
    };
    let result = match cli.command {
        Command::Plan(args) => plan::run(args, &config, &output),
        Command::Invoke(args) => invoke::run(args, &config, &output),
        Command::Backtest(args) => backtest::run(args, &config, &output),
        Command::Undo(args) => undo::run(args, &config, &output),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "reflex", &mut std::io::stdout());
            Ok(Exit::Nothing)
        }
    };
    match result {
        Ok(exit) => exit.code(),
        Err(e) => output.fail(&e),
    }
}
