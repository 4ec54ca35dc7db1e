//! `vnx audit-chain seal`: opens a chain epoch on a legacy or unchained ledger.

use std::process::ExitCode;

use vnx::ledger::Ledger;

use super::CliError;
use super::util::output::Out;
use super::util::settings::LedgerArg;

/// Adopt a legacy or unchained ledger by appending a chain_epoch_start marker
///
/// Idempotent: a ledger that already ends in a chained entry is left as it is. Also starts a
/// new epoch after an unreadable last line, so appends can continue.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    ledger: LedgerArg,
    /// Print the outcome as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let ledger = Ledger::new(args.ledger.resolve()?);
    let outcome = ledger.seal()?;
    let mut out = Out::new();
    if args.json {
        out.json(&outcome)?;
    } else if let Some(marker) = outcome
        .lines
        .iter()
        .find(|l| l.event_type == "chain_epoch_start")
    {
        out.line(&format!(
            "sealed: chain_epoch_start at seq {} ({})",
            marker.seq, marker.line_sha256
        ))?;
    } else {
        out.line("already chained: nothing to seal")?;
    }
    Ok(ExitCode::SUCCESS)
}
