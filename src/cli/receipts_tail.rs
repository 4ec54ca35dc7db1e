//! `vnx receipts tail`: shows the newest receipts and follows new ones.

use super::util::output::say;
use std::process::ExitCode;

use vnx::ledger::LedgerError;
use vnx::ledger::summary::Summary;
use vnx::ledger::tail::{self, Followed};

use super::CliError;
use super::util::output::{Out, Wrote};
use super::util::settings::LedgerArg;

/// Show the newest receipts, and follow new ones with -f
///
/// One line per receipt: time, seq, event, dispatch, status and the first 12 hex digits of
/// the line's SHA-256. --json prints the raw ledger lines.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx receipts tail -n 20 --dispatch D-1a2b3c4d5e6f\n  $ vnx receipts tail -f --event dispatch_completed"
)]
pub struct Args {
    #[command(flatten)]
    ledger: LedgerArg,
    /// How many receipts to show
    #[arg(short = 'n', long = "lines", default_value_t = 10, value_name = "N")]
    lines: usize,
    /// Keep running and print receipts as they are appended
    #[arg(short, long)]
    follow: bool,
    /// Print raw ledger lines (NDJSON)
    #[arg(long)]
    json: bool,
    /// Only receipts of this dispatch
    #[arg(long, value_name = "ID")]
    dispatch: Option<String>,
    /// Only receipts of this event type
    #[arg(long, value_name = "TYPE")]
    event: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let path = args.ledger.resolve()?;
    let filter =
        |line: &[u8]| Summary::of(line).matches(args.dispatch.as_deref(), args.event.as_deref());
    let mut out = Out::new();
    let (lines, offset) = match tail::last_lines(&path, args.lines, filter) {
        // Following a ledger that does not exist yet waits for it.
        Err(LedgerError::NotFound { .. }) if args.follow => (Vec::new(), 0),
        // A project whose ledger has no receipt yet (its directory is there).
        Err(LedgerError::NotFound { .. }) if path.parent().is_some_and(|p| p.is_dir()) => {
            say!("no receipts yet ({} does not exist)", path.display());
            return Ok(ExitCode::SUCCESS);
        }
        other => other?,
    };
    if let Some(event) = args.event.as_deref()
        && !args.follow
        && lines.is_empty()
        && !vnx::receipts::KINDS.contains(&event)
        && tail::last_lines(&path, 1, |l| Summary::of(l).matches(None, Some(event)))?
            .0
            .is_empty()
    {
        return Err(
            CliError::usage(format!("no receipt on the ledger has event type {event:?}"))
                .with_hint(format!(
                    "vnx writes these: {}; other tools may append their own",
                    vnx::receipts::KINDS.join(", ")
                )),
        );
    }
    for line in &lines {
        if let Wrote::Closed = show(&mut out, line, args.json)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if let Wrote::Closed = out.flush()? {
        return Ok(ExitCode::SUCCESS);
    }
    if args.follow {
        let mut failure = None;
        tail::follow(&path, offset, |event| {
            let line = match event {
                Followed::Idle => return true,
                Followed::Restarted => {
                    say!("note: the ledger was replaced or cut; reading it from the start");
                    return true;
                }
                Followed::Line(line) => line,
            };
            if !filter(line) {
                return true;
            }
            match show(&mut out, line, args.json).and_then(|w| match w {
                Wrote::Ok => out.flush(),
                closed => Ok(closed),
            }) {
                Ok(Wrote::Ok) => true,
                Ok(Wrote::Closed) => false,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(out: &mut Out, line: &[u8], json: bool) -> Result<Wrote, CliError> {
    if json {
        return out.bytes_line(line);
    }
    let s = Summary::of(line);
    if !s.readable {
        return out.line(&format!("(unreadable line)  {}", &s.line_sha256[..12]));
    }
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    out.line(&format!(
        "{}  {}  {}  {}  {}  {}",
        dash(&s.timestamp),
        s.seq.map_or_else(|| "-".into(), |n| format!("#{n}")),
        dash(&s.event),
        dash(&s.dispatch_id),
        dash(&s.status),
        &s.line_sha256[..12]
    ))
}
