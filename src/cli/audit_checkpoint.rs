//! `vnx audit-chain checkpoint`: signs the ledger's head and anchors it in the repository.

use super::util::output::say;
use std::path::PathBuf;
use std::process::ExitCode;

use vnx::ledger::checkpoint::{self, Anchor, CHECKPOINT_REF, TRUSTED_KEYS_FILE};
use vnx::ledger::now_utc;

use super::CliError;
use super::util::output::Out;
use super::util::settings::{self, LedgerArg};

/// Sign (line count, head hash) and anchor it under refs/vnx/checkpoints
///
/// Verifies the ledger first (including every earlier checkpoint), then commits a signed
/// checkpoint on top of the ref's history. The Ed25519 key is created on first use
/// (mode 0600) outside the repository. Afterwards `verify` detects a cut or rewritten ledger.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    ledger: LedgerArg,
    /// The governed repository [default: the one holding the ledger]
    #[arg(long, value_name = "DIR")]
    repo: Option<PathBuf>,
    /// The signing key [default: $VNX_CHECKPOINT_KEY, else $XDG_CONFIG_HOME/vnx/checkpoint.key]
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    /// Hashing threads for the verification [default: the number of CPUs]
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Print the checkpoint as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let path = args.ledger.resolve()?;
    if path.symlink_metadata().is_err() {
        return Err(CliError::new(format!(
            "there is no ledger at {}, so there is nothing to checkpoint",
            path.display()
        ))
        .with_hint("append receipts first (a dispatch does), or pass --ledger PATH"));
    }
    let anchor = Anchor::discover(args.repo.as_deref().unwrap_or(&path))?;
    let key = settings::key_path(args.key)?;
    let trusted = checkpoint::trusted_keys(&anchor, Some(&key))?;
    let outcome = checkpoint::checkpoint(
        &path,
        &anchor,
        &key,
        &trusted,
        settings::threads(args.threads),
        &now_utc(),
        settings::witness_dir().as_deref(),
    )?;
    if outcome.key_created {
        say!(
            "note: created checkpoint signing key {} (public key {}); add the public key to \
             {TRUSTED_KEYS_FILE} so other machines trust its checkpoints",
            key.display(),
            hex::encode(outcome.checkpoint.public_key)
        );
    }
    let mut out = Out::new();
    if args.json {
        out.json(&outcome)?;
    } else {
        let c = &outcome.checkpoint;
        out.line(&format!(
            "{} {} at line {} (head {}) in {}",
            if outcome.created {
                "checkpoint"
            } else {
                "unchanged: latest checkpoint"
            },
            c.id,
            c.lines,
            hex::encode(c.head),
            CHECKPOINT_REF
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
