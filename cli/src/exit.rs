//! Exit codes and the one way every subcommand reports an error.

use std::process::ExitCode;

/// The exit codes, as `--help` documents them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  nothing found: no rule would act or acted, nothing to undo
  1  error: bad input, a configuration or AWS error (the message says which), or a step
     of an undo that failed
  2  found: a rule would act or acted, a report would go out, an undo was made";

/// How a subcommand ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Nothing found, nothing done.
    Nothing,
    /// A rule would act or acted; a report would be sent; an undo was made.
    Found,
    /// Done as far as it went, and what failed is shown (a step of an undo).
    Failed,
}

impl Exit {
    pub fn code(self) -> ExitCode {
        match self {
            Exit::Nothing => ExitCode::SUCCESS,
            Exit::Found => ExitCode::from(2),
            Exit::Failed => ExitCode::from(1),
        }
    }

    /// `Found` if any of `found`.
    pub fn from_found(found: bool) -> Self {
        if found { Exit::Found } else { Exit::Nothing }
    }
}

/// Output settings every subcommand shares.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// JSON for machines instead of text for people.
    pub json: bool,
}

impl Output {
    /// Print an error (as `{"error": ...}` with `--json`) and return exit code 1.
    pub fn fail(&self, error: &str) -> ExitCode {
        if self.json {
            println!("{}", serde_json::json!({ "error": error }));
        } else {
            eprintln!("reflex: {}", reflex_shared::report::one_line(error));
        }
        ExitCode::from(1)
    }
}
