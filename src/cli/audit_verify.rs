//! `vnx audit-chain verify`: checks the ledger's chain and its anchored checkpoints.

use std::path::Path;
use std::process::ExitCode;

use vnx::ledger::checkpoint;
use vnx::ledger::{ChainStatus, VerifyOptions, VerifyReport};

use super::CliError;
use super::util::error::Exit;
use super::util::output::Out;
use super::util::settings::{self, LedgerArg};

/// Verify the ledger's hash chain and checkpoints
///
/// States: unchained, verified, verified-segmented (exit 0) and broken (exit 1, with every
/// violation by line and kind). With --strict an unchained ledger, a torn tail or a ledger
/// without any checkpoint also exits 1. With --allow-missing a ledger not written yet passes
/// (the git hooks `vnx init` installs use it), unless the repository holds checkpoints.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx audit-chain verify --json")]
pub struct Args {
    #[command(flatten)]
    ledger: LedgerArg,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
    /// Also fail when unchained, torn or not anchored by a checkpoint
    #[arg(long)]
    strict: bool,
    /// Pass when the ledger does not exist yet, unless the repository holds checkpoints (then
    /// it was deleted)
    #[arg(long)]
    allow_missing: bool,
    /// Hashing threads [default: the number of CPUs]
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Most violations to list (all are counted)
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_violations: usize,
    /// The signing key whose checkpoints are trusted [default: as for `checkpoint`]
    #[arg(long, value_name = "PATH")]
    key: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let path = args.ledger.resolve()?;
    if args.allow_missing && std::fs::symlink_metadata(&path).is_err() {
        return missing(&path, args.json);
    }
    let options = VerifyOptions {
        threads: settings::threads(args.threads),
        max_violations: args.max_violations,
        ..VerifyOptions::default()
    };
    let (report, anchored) = full(&path, options, args.key)?;
    let mut out = Out::new();
    let fails = !report.status.is_ok()
        || (args.strict
            && (report.status == ChainStatus::Unchained
                || report.torn_tail.is_some()
                || report.checkpoints.is_empty()));
    if args.json {
        out.json(&serde_json::json!({
            "ledger": path,
            "verified": report.status.is_ok(),
            "strict": args.strict,
            "passed": !fails,
            "report": report,
        }))?;
    } else {
        render(&mut out, &path, &report, anchored)?;
    }
    Ok(Exit::No.when(fails))
}

/// Verifies the ledger at `path` as `audit-chain verify` does (see
/// `vnx::audit`), with this machine's key and witness.
pub fn full(
    path: &Path,
    options: VerifyOptions,
    key: Option<std::path::PathBuf>,
) -> Result<(VerifyReport, bool), CliError> {
    // A key path that cannot be resolved (no HOME) just means there is no local key.
    let key_path = settings::key_path(key).ok();
    let witness_dir = settings::witness_dir();
    Ok(vnx::audit::verify_anchored(
        path,
        options,
        key_path.as_deref(),
        witness_dir.as_deref(),
    )?)
}

/// A ledger that does not exist: not written yet, or deleted if checkpoints name one.
fn missing(path: &Path, json: bool) -> Result<ExitCode, CliError> {
    let witness_dir = settings::witness_dir();
    if let Some(why) = checkpoint::missing_ledger_was_deleted(path, witness_dir.as_deref()) {
        return Err(CliError::verdict(why).with_hint(format!(
            "the ledger was deleted or moved: restore it; `git log {}` lists what was \
             checkpointed",
            checkpoint::CHECKPOINT_REF
        )));
    }
    let mut out = Out::new();
    if json {
        out.json(&serde_json::json!({
            "ledger": path,
            "missing": true,
            "passed": true,
        }))?;
    } else {
        out.line(&format!(
            "missing  {} (no receipts yet, and no checkpoints: nothing to verify)",
            path.display()
        ))?;
    }
    Ok(Exit::Ok.into())
}

fn render(out: &mut Out, path: &Path, r: &VerifyReport, in_repo: bool) -> Result<(), CliError> {
    out.line(&format!("{}  {}", r.status.as_str(), path.display()))?;
    out.line(&format!(
        "  {} line(s), {} bytes ({} canonical, {} parsed); {} unchained prefix line(s), {} \
         epoch marker(s)",
        r.lines, r.bytes, r.canonical_lines, r.parsed_lines, r.unchained_prefix, r.epochs
    ))?;
    if let Some(h) = &r.head {
        out.line(&format!(
            "  head: line {} sha256 {}{}",
            h.line,
            h.line_sha256,
            h.entry_hash
                .as_ref()
                .map(|e| format!(" entry {e}"))
                .unwrap_or_default()
        ))?;
    }
    match r.checkpoints.last() {
        Some(last) => out.line(&format!(
            "  checkpoints: {} anchored, {} extended; latest {} at line {}",
            r.checkpoints.len(),
            r.checkpoints.iter().filter(|c| c.ok).count(),
            last.id,
            last.lines
        ))?,
        None if in_repo => out.line(
            "  checkpoints: none; run `vnx audit-chain checkpoint` so truncation and rewrites \
             are detected",
        )?,
        None => out.line("  checkpoints: none (the ledger is outside any git repository)")?,
    };
    if let Some(t) = &r.torn_tail {
        out.line(&format!(
            "  torn tail: line {} (bytes {}..{}) is an interrupted append, not a receipt; the \
             next append quarantines it",
            t.line, t.byte_start, t.byte_end
        ))?;
    }
    for v in &r.violations {
        out.line(&format!("  {}", v.describe()))?;
        if let (Some(e), Some(a)) = (&v.expected, &v.actual) {
            out.line(&format!("      expected {e}"))?;
            out.line(&format!("      actual   {a}"))?;
        }
    }
    if r.violations_total > r.violations.len() as u64 {
        out.line(&format!(
            "  … and {} more violation(s) (raise --max-violations to list them)",
            r.violations_total - r.violations.len() as u64
        ))?;
    }
    Ok(())
}
