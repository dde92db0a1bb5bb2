//! `reflex undo`: reverse a remediation from the prior state the ledger recorded.
//!
//! - this file: the flow: find the entries, plan, confirm, carry out, record
//! - `resolve`: which ledger entries an id names and what to do with each
//! - `dispatch`: the per-function part, through each function's `Reverse`
//! - `show`: what people and machines read
//!
//! Every text in the ledger may carry names an attacker chose: nothing is ever run through a
//! shell, every change goes through the SDK, and every step of an entry is planned (its record
//! validated) before any is carried out.

mod dispatch;
mod resolve;
mod show;

use std::io::{BufRead, IsTerminal, Write};

use aws_config::SdkConfig;
use chrono::Utc;
use reflex_shared::config::MEMBER_ROLE_ARN;
use reflex_shared::ledger::{self, EntryKind, Ledger, UndoRecord};
use reflex_shared::target::{MemberRole, Target};

use crate::config::Config;
use crate::exit::{Exit, Output};
use dispatch::Op;

/// Reverse what a remediation changed, from the ledger.
#[derive(clap::Args)]
#[command(
    long_about = "Reverse what a remediation changed, from the prior state the ledger recorded: \
a policy attached again, an inline document or default version restored, a key active again, \
security groups, ingress rules and capacity back, a containment lifted. Shows the plan (each \
step's reversal, or why it is refused), asks before acting unless --yes, and records the undo in \
the ledger. The undo of an undo carries the remediation out again.\n\n\
The ledger table is REFLEX_LEDGER_TABLE (environment or --config); AWS credentials, region and \
endpoint as usual (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL). An entry of another account is \
undone there through REFLEX_MEMBER_ROLE_ARN.",
    after_help = "Examples:\n  \
reflex undo --list\n  \
reflex undo 7f0c2a9e-1b2c-4d5e-8f90-123456789abc\n  \
reflex undo --yes --json 'event#7f0c2a9e-1b2c-4d5e-8f90-123456789abc#revoke.privileged-policy-attached'\n  \
reflex undo 'undo#20261202T141500Z-0a1b2c3d'   # the undo of an undo: remediate again\n\n\
Exit codes:\n  \
0  nothing to undo: already undone, nothing changed, or not confirmed\n  \
1  error: an unknown id, no --yes without a terminal, a ledger or AWS error, or a step\n     \
of the undo failed (shown; one that failed for now is not recorded: run it again)\n  \
2  an undo (or redo) was made and recorded"
)]
pub struct Args {
    /// The event id, or a ledger entry id from `--list`, of the remediation (or undo) to take
    /// back.
    #[arg(required_unless_present = "list")]
    pub id: Option<String>,
    /// List the recent remediations, undos and redos with their ids, newest first.
    #[arg(long, conflicts_with = "id")]
    pub list: bool,
    /// How many entries `--list` shows.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Act without asking (required when standard input is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub fn run(args: Args, config: &Config, output: &Output) -> Result<Exit, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(undo(args, config, output))
}

async fn undo(args: Args, config: &Config, output: &Output) -> Result<Exit, String> {
    let sdk = reflex_shared::aws::load_sdk_config().await;
    let ledger = open_ledger(config, &sdk)?;
    if args.list {
        let entries = ledger
            .remediations()
            .await
            .map_err(|e| format!("cannot read ledger {}: {}", ledger.table(), e.why))?;
        show::list(output, &entries, args.limit);
        return Ok(Exit::Nothing);
    }
    let id = args.id.unwrap_or_default();
    let found = resolve::jobs(&ledger, &id).await?;
    let home = home(&sdk).await?;
    let mut jobs = Vec::new();
    for job in found.jobs {
        jobs.push(job.planned(&home)?);
    }
    let acting = jobs.iter().any(|j| j.acts());
    show::plan(output, &found.settled, &jobs);
    if !acting {
        show::nothing(output, &id, &found.settled, &jobs);
        return Ok(Exit::Nothing);
    }
    if !args.yes && !confirmed()? {
        show::declined(output);
        return Ok(Exit::Nothing);
    }
    let member_role = match config.get(MEMBER_ROLE_ARN) {
        Some(arn) => Some(MemberRole::parse(&arn).map_err(|e| format!("{MEMBER_ROLE_ARN}: {e}"))?),
        None => None,
    };
    let by = caller_arn(&sdk).await;
    let mut made = Vec::new();
    for job in jobs.iter().filter(|j| j.acts()) {
        let place = dispatch::Place {
            sdk: &sdk,
            home_account: &home.account,
            member_role: member_role.clone(),
            target: &job.target,
        };
        let steps = dispatch::carry_out(&job.function, job.op, &job.steps, place).await?;
        let now = Utc::now();
        let kind = match job.op {
            Op::Undo => EntryKind::Undo,
            Op::Redo => EntryKind::Redo,
        };
        let record = UndoRecord {
            id: UndoRecord::new_id(kind, now),
            kind,
            undoes: job.undoes.clone(),
            original: job.original.clone(),
            function: job.function.clone(),
            event_id: job.event_id.clone(),
            rule_id: job.rule_id.clone(),
            summary: job.summary.clone(),
            account: Some(job.target.account.clone()),
            region: Some(job.target.region.clone()),
            by: by.clone(),
            steps,
        };
        // A step that failed for now (throttled, a 5xx) leaves the undo unfinished: it is not
        // recorded, so the entry is not marked undone and the same command finishes it (every
        // reversal reads the current state first: the steps already back stay as they are).
        let unfinished = record.steps.iter().any(|s| s.outcome.is_retryable());
        let recorded = if unfinished {
            false
        } else {
            ledger.record_undo(&record, now).await.map_err(|e| {
                format!(
                    "the changes were made but the ledger could not record them ({}): {}",
                    record.id, e.why
                )
            })?
        };
        made.push(show::Made {
            record,
            recorded,
            unfinished,
        });
        if unfinished {
            break;
        }
    }
    show::made(output, &id, &found.settled, &jobs, &made);
    let failed = made
        .iter()
        .flat_map(|m| &m.record.steps)
        .any(|s| s.outcome.is_failed());
    Ok(if failed { Exit::Failed } else { Exit::Found })
}

fn open_ledger(config: &Config, sdk: &SdkConfig) -> Result<Ledger, String> {
    let table = config.get(ledger::TABLE).ok_or_else(|| {
        format!(
            "no ledger table: set {} (in the environment or the --config file) to the table \
             the functions record to",
            ledger::TABLE
        )
    })?;
    Ok(Ledger::new(
        aws_sdk_dynamodb::Client::new(sdk),
        table,
        ledger::DEFAULT_TTL_DAYS,
    ))
}

/// The account and region of the credentials in use: home, where an entry that does not record
/// its own is undone.
async fn home(sdk: &SdkConfig) -> Result<Target, String> {
    let me = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot tell which account the AWS credentials are for: {}",
                reflex_shared::aws::error_text(&e)
            )
        })?;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    Ok(Target::new(me.account().unwrap_or_default(), &region))
}

async fn caller_arn(sdk: &SdkConfig) -> Option<String> {
    aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .ok()
        .and_then(|me| me.arn)
}

/// Ask on the terminal; without one, refuse (the plan was shown, `--yes` acts).
fn confirmed() -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err(
            "not a terminal to ask for confirmation: review the plan above and pass --yes to \
             carry it out"
                .into(),
        );
    }
    eprint!("Carry out this plan? [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn an_id_or_list_is_required_and_not_both() {
        assert!(Cli::try_parse_from(["undo"]).is_err());
        assert!(Cli::try_parse_from(["undo", "--list", "e-1"]).is_err());
        assert!(Cli::try_parse_from(["undo", "--list"]).is_ok());
        let cli = Cli::try_parse_from(["undo", "--yes", "e-1"]).unwrap();
        assert!(cli.args.yes);
        assert_eq!(cli.args.id.as_deref(), Some("e-1"));
    }
}
