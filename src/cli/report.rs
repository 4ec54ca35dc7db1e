//! `vnx report --status done|failed [--summary TEXT]`: the worker's completion protocol, run
//! by the worker inside its dispatch (the composed prompt asks it to).

use super::util::output::say;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use vnx::dispatch::supervise::signals::{self, ReportStatus};

use super::CliError;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StatusArg {
    Done,
    Failed,
}

/// Report the outcome of the dispatch this worker runs in
///
/// Run by the worker as its last action. The dispatch is found from `VNX_DISPATCH_ID` and
/// `VNX_DISPATCH_DIR`, which vnx sets for every worker; a later report replaces an earlier
/// one. The supervisor records it in the completion receipt.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx report --status done --summary \"added the greeting and its test\""
)]
pub struct Args {
    /// done or failed
    #[arg(long, value_enum)]
    status: StatusArg,
    /// One line: what was changed, or what stopped the work
    #[arg(long, value_name = "TEXT")]
    summary: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let not_in_dispatch = || {
        CliError::usage("not running inside a vnx dispatch")
            .with_hint("vnx report is for workers: vnx sets VNX_DISPATCH_ID and VNX_DISPATCH_DIR")
    };
    let id = super::util::settings::env_text("VNX_DISPATCH_ID").ok_or_else(not_in_dispatch)?;
    let dir = super::util::settings::env("VNX_DISPATCH_DIR")
        .map(PathBuf::from)
        .ok_or_else(not_in_dispatch)?;
    let Ok(id) = vnx::ids::DispatchId::parse(&id) else {
        return Err(not_in_dispatch());
    };
    if !dir.join("spec.json").is_file() {
        return Err(not_in_dispatch());
    }
    let status = match args.status {
        StatusArg::Done => ReportStatus::Done,
        StatusArg::Failed => ReportStatus::Failed,
    };
    let seal = super::util::settings::env_text(signals::SEAL_VAR).ok_or_else(|| {
        CliError::usage(format!(
            "{} is not set, so the supervisor would not accept this report",
            signals::SEAL_VAR
        ))
        .with_hint(
            "run vnx report from the worker vnx started (its environment carries the seal); \
             a report for another dispatch is refused",
        )
    })?;
    signals::write_report(&dir, &id, status, args.summary.as_deref(), &seal).map_err(|e| {
        CliError::new(format!("could not write the report in {}", dir.display()))
            .with_cause(&e)
            .with_hint("the dispatch directory must be writable by the worker")
    })?;
    say!("vnx: reported {} for {id}", status.name());
    Ok(ExitCode::SUCCESS)
}
