//! `vnx receipts append`: validates receipts and appends them to the ledger.

use super::util::output::say;
use std::path::PathBuf;
use std::process::ExitCode;

use vnx::ledger::{AppendOutcome, Ledger, Receipt};

use super::CliError;
use super::util::output::Out;
use super::util::settings::LedgerArg;

/// The most one call reads (a stream is validated whole before anything is appended).
const MAX_INPUT: u64 = 64 << 20;

/// Receipts per group commit when reading a stream.
const BATCH: usize = 4096;

/// Append receipts to the ledger
///
/// Takes one receipt (--receipt or --receipt-file) or NDJSON receipts on stdin (`-`). Each
/// must be a JSON object with an `event_type`; the ledger stamps `seq`, `schema_version`,
/// `timestamp` (if absent) and both hash links. Invalid input writes nothing. The kinds vnx
/// writes itself (`dispatch_*`, `constraint_*`, `gate_*`, `merge*`, `worktree_*`,
/// `checkpoint*`, `ledger_*`, `chain_*`) are refused: their commands write them, signed.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx receipts append --receipt '{\"event_type\":\"note\",\"status\":\"done\"}'\n  $ printf '%s\\n' '{\"event_type\":\"note\"}' '{\"event_type\":\"note\"}' | vnx receipts append -"
)]
pub struct Args {
    #[command(flatten)]
    ledger: LedgerArg,
    /// One receipt as JSON text
    #[arg(long, value_name = "JSON", conflicts_with_all = ["receipt_file", "stdin"])]
    receipt: Option<String>,
    /// A file holding one receipt (or NDJSON receipts)
    #[arg(long, value_name = "FILE", conflicts_with = "stdin")]
    receipt_file: Option<PathBuf>,
    /// `-` reads NDJSON receipts from stdin
    #[arg(value_name = "-", value_parser = ["-"])]
    stdin: Option<String>,
    /// Print what was appended as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let receipts = read_receipts(&args)?;
    refuse_owned(&receipts)?;
    let ledger = Ledger::new(args.ledger.resolve()?);
    let mut out = Out::new();
    let mut all = AppendOutcome::default();
    for batch in receipts.chunks(BATCH) {
        let outcome = match ledger.append_all(batch) {
            Ok(outcome) => outcome,
            Err(e) => {
                return Err(partial_failure(
                    e,
                    &all,
                    receipts.len(),
                    args.json,
                    &mut out,
                ));
            }
        };
        if let Some(r) = &outcome.repair {
            say!(
                "note: quarantined a torn tail (bytes {}..{}, sha256 {}) to {}",
                r.byte_start,
                r.byte_end,
                r.sha256,
                r.quarantine.display()
            );
        }
        if outcome.sealed {
            say!("note: the ledger was unchained; opened a new chain epoch first");
        }
        if !args.json {
            for a in &outcome.lines {
                out.line(&format!("{}\t{}\t{}", a.seq, a.line_sha256, a.event_type))?;
            }
            out.flush()?;
        }
        all.lines.extend(outcome.lines);
        all.repair = all.repair.or(outcome.repair);
        all.sealed |= outcome.sealed;
    }
    if args.json {
        out.json(&all)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn read_receipts(args: &Args) -> Result<Vec<Receipt>, CliError> {
    let (bytes, source) = match (&args.receipt, &args.receipt_file, &args.stdin) {
        (Some(text), _, _) => {
            let r = Receipt::from_json(text.as_bytes()).map_err(|e| {
                CliError::from_error(&e)
                    .with_hint(RECEIPT_HINT)
                    .exit(super::util::exits::receipt(&e))
            })?;
            return Ok(vec![r]);
        }
        (None, Some(path), _) => (
            vnx::files::read_named(path, MAX_INPUT).map_err(|e| {
                CliError::new(format!("could not read {}", path.display()))
                    .with_cause(&e)
                    .with_hint(format!(
                        "--receipt-file takes a regular file of at most {} MiB",
                        MAX_INPUT >> 20
                    ))
            })?,
            path.display().to_string(),
        ),
        (None, None, Some(_)) => {
            let buf = super::util::output::read_stdin(MAX_INPUT)
                .map_err(|e| CliError::new("could not read stdin").with_cause(&e))?
                .ok_or_else(|| {
                    CliError::usage(format!(
                        "stdin holds more than {} MiB of receipts; nothing was appended",
                        MAX_INPUT >> 20
                    ))
                    .with_hint("append a stream in parts of at most 64 MiB")
                })?;
            (buf, "stdin".to_owned())
        }
        (None, None, None) => {
            return Err(CliError::usage("no receipt given")
                .with_hint("pass --receipt JSON, --receipt-file FILE, or `-` to read stdin"));
        }
    };
    let receipts = Receipt::from_ndjson(&bytes).map_err(|e| {
        CliError::new(format!("invalid receipt in {source} at line {}", e.line))
            .with_cause(&e.source)
            .with_hint(format!("{RECEIPT_HINT}; nothing was appended"))
            .exit(super::util::exits::receipt(&e.source))
    })?;
    if receipts.is_empty() {
        return Err(CliError::usage(format!("no receipts in {source}"))
            .with_hint("give one JSON object per line"));
    }
    Ok(receipts)
}

/// Refuses the receipts vnx writes itself (dispatches, gates, merges, releases, constraint
/// decisions, checkpoints) and any attestation: evidence that decides a merge must come
/// from the command that produced it, never from a caller — a worker included.
fn refuse_owned(receipts: &[Receipt]) -> Result<(), CliError> {
    use vnx::ledger::attest;
    for (n, r) in receipts.iter().enumerate() {
        let at = if receipts.len() > 1 {
            format!(" (receipt {} of {})", n + 1, receipts.len())
        } else {
            String::new()
        };
        if let Some(command) = attest::owner_command(r.event_type()) {
            return Err(CliError::usage(format!(
                "`{}` receipts are written by vnx itself{at}; nothing was appended",
                r.event_type()
            ))
            .with_hint(format!(
                "use {command}; `vnx receipts append` takes your own kinds, e.g. \"task_complete\""
            )));
        }
        if r.object().contains_key(attest::FIELD) {
            return Err(CliError::usage(format!(
                "`{}` is set by vnx itself and may not be supplied{at}; nothing was appended",
                attest::FIELD
            ))
            .with_hint("leave the field out"));
        }
    }
    Ok(())
}

/// The error for a failed batch, after reporting the batches already durable (with `--json`
/// their outcome is printed, as it would have been on success).
fn partial_failure(
    e: vnx::ledger::LedgerError,
    done: &AppendOutcome,
    total: usize,
    json: bool,
    out: &mut Out,
) -> CliError {
    let err = CliError::from(e);
    let appended: Vec<_> = done
        .lines
        .iter()
        .filter(|l| !matches!(l.event_type.as_str(), "ledger_repair" | "chain_epoch_start"))
        .collect();
    let (Some(first), Some(last)) = (appended.first(), appended.last()) else {
        return err.context("nothing was appended");
    };
    if json {
        let _ = out.json(done);
    }
    err.context(format!(
        "appended {} of {total} receipt(s) (seq {}..{}), then failed; the rest were not \
         appended",
        appended.len(),
        first.seq,
        last.seq
    ))
}

const RECEIPT_HINT: &str = "a receipt is a JSON object with an `event_type` like \"task_complete\"";
