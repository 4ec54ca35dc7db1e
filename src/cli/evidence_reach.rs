//! `vnx __evidence-reach KEY LEDGER GIT_DIR` (hidden): what a process here could do to the
//! evidence, as JSON. vnx runs it inside a worker's sandbox so that `dispatch_started` records
//! the sandboxed worker's reach as measured, not as assumed.

use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;

/// Measure the evidence's reach from here (internal)
#[derive(clap::Args)]
pub struct Args {
    /// The signing key's path
    key: PathBuf,
    /// The ledger's path
    ledger: PathBuf,
    /// The repository's common git directory
    git_dir: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let reach = vnx::evidence_reach::measure_inside(&args.key, &args.ledger, &args.git_dir);
    let json = serde_json::to_string(&reach).map_err(|e| CliError::from_error(&e))?;
    let mut out = super::util::output::Out::new();
    out.line(&json)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
