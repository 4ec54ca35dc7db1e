//! `vnx audit-chain walk`: lists every line with its hashes and event type.

use std::fs::File;
use std::process::ExitCode;

use vnx::ledger::LedgerError;
use vnx::ledger::line::{LineFacts, Scratch, analyze};
use vnx::ledger::summary::Summary;

use super::CliError;
use super::util::output::{Out, Wrote};
use super::util::settings::LedgerArg;

/// List every ledger line: line number, hashes and event type
///
/// Columns: line, the line's SHA-256, the VNX entry hash, the event type.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    ledger: LedgerArg,
    /// One JSON object per line
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let path = args.ledger.resolve()?;
    let file = File::open(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => LedgerError::NotFound { path: path.clone() },
        _ => LedgerError::Open {
            path: path.clone(),
            source,
        },
    })?;
    let mut out = Out::new();
    let mut scratch = Scratch::default();
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        buf.clear();
        let n = std::io::BufRead::read_until(&mut reader, b'\n', &mut buf).map_err(|source| {
            LedgerError::Read {
                path: path.clone(),
                source,
            }
        })?;
        if n == 0 || buf.last() != Some(&b'\n') {
            break;
        }
        number += 1;
        let line = &buf[..buf.len() - 1];
        let LineFacts { line_hash, entry } = analyze(line, &mut scratch);
        let summary = Summary::of(line);
        let entry_hash = entry.as_ref().ok().map(|e| hex::encode(e.entry_hash));
        let event = summary.event.clone().unwrap_or_else(|| "-".into());
        let wrote = if args.json {
            out.json(&serde_json::json!({
                "line": number,
                "line_sha256": hex::encode(line_hash),
                "entry_hash": entry_hash,
                "seq": summary.seq,
                "event_type": summary.event,
                "error": entry.as_ref().err().map(ToString::to_string),
            }))
        } else {
            out.line(&format!(
                "{number}\t{}\t{}\t{event}",
                hex::encode(line_hash),
                entry_hash.unwrap_or_else(|| "(unreadable)".into()),
            ))
        };
        if let Wrote::Closed = wrote? {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
