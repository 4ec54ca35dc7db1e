//! `vnx __capture FILE SECONDS` (hidden): a screenshots gate's capture run here, as vnx runs
//! it inside a dispatch's sandbox without a network, where the preview and Chromium must
//! share that sandbox's loopback (ADR 0125). Its images are its word; vnx outside reads them
//! back and hashes them itself.

use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;

/// Run a screenshots gate's capture here (internal)
#[derive(clap::Args)]
pub struct Args {
    /// The capture, as vnx wrote it
    file: PathBuf,
    /// The seconds it may take
    seconds: u64,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let data = vnx::files::read_bounded(&args.file, 1 << 20)
        .map_err(|e| CliError::from_error(&e).with_hint("vnx writes this file itself"))?;
    let capture: vnx::gate::shots::Capture =
        serde_json::from_slice(&data).map_err(|e| CliError::from_error(&e))?;
    let taken = vnx::gate::shots::capture_here(&capture, args.seconds).map_err(CliError::new)?;
    eprintln!("vnx: {taken} image(s) taken");
    Ok(ExitCode::SUCCESS)
}
