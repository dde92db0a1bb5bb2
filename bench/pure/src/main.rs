//! `reflex-bench-pure`: the per-event cost of Reflex's pure path, with no I/O, for every sample
//! event and every function that accepts it, measured with criterion.
//!
//! Per iteration, as `Handler::handle_by` runs it: the file's bytes to a JSON value, the content
//! digest, `event::parse`, the accept check, `Guards::screen`, `F::interpret`, `F::decide` with
//! `F::Facts::default()` (nothing known), `Guards::apply` with no exempt resource. Settings and
//! guards are read once, from an enforcing configuration. An event a function ignores, an event
//! its guards screen out and one it refuses still count: that is real per-event cost.

mod args;
mod corpus;
mod functions;
mod measure;
mod quiet;
mod report;
mod subject;

use std::hint::black_box;
use std::process::ExitCode;

use args::{Args, USAGE};
use measure::Bench;
use quiet::StdoutToStderr;
use reflex_shared::event;
use report::{Phase, Row};
use subject::Stage;

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let samples = corpus::load(&args.events_dir).expect("the sample events can be read");
    let subjects = functions::all().expect("the benchmark's configuration is valid");

    let mut bench = Bench::new(args.quick);
    let mut rows = Vec::new();
    let mut phases = Vec::new();
    for sample in &samples {
        // Which functions take the event: their own accept check, on the event parsed once.
        let parsed = serde_json::from_slice(&sample.raw)
            .map_err(|e| e.to_string())
            .and_then(|value| event::parse(value).map_err(|e| e.to_string()));
        let event = match parsed {
            Ok(event) => event,
            Err(e) => {
                eprintln!("not measured: {} does not parse: {e}", sample.name);
                continue;
            }
        };
        let takers: Vec<_> = subjects.iter().filter(|s| s.accepts(&event)).collect();
        if takers.is_empty() {
            eprintln!("not measured: no function accepts {}", sample.name);
        }
        for subject in takers {
            let title = format!("{} {}", subject.name(), sample.name);
            if args.filter.as_ref().is_some_and(|f| !title.contains(f)) {
                continue;
            }
            let verdict = subject.run(&sample.raw);
            let timing = {
                let _quiet = StdoutToStderr::begin();
                bench.measure(subject.name(), &sample.name, || {
                    black_box(subject.run(black_box(&sample.raw)));
                })
            };
            if args.phases {
                for stage in Stage::ALL {
                    let _quiet = StdoutToStderr::begin();
                    let id = format!("{} to {}", sample.name, stage.name());
                    let timing = bench.measure(subject.name(), &id, || {
                        black_box(subject.run_to(black_box(&sample.raw), stage));
                    });
                    phases.push(Phase {
                        event: sample.name.clone(),
                        function: subject.name(),
                        stage,
                        timing,
                    });
                }
            }
            rows.push(Row {
                event: sample.name.clone(),
                function: subject.name(),
                verdict,
                timing,
            });
        }
    }

    report::print_table(&rows);
    report::print_summary(&rows, args.quick);
    if args.phases {
        report::print_phases(&phases);
    }
    if let Some(path) = &args.json {
        if let Err(e) = report::write_json(path, &rows, args.quick) {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
        println!("results written to {}", path.display());
    }
    ExitCode::SUCCESS
}
