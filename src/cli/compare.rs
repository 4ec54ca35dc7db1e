//! `vnx compare A B`: two dispatches side by side (a replay and its original, say), from their
//! signed receipts and their branches.

use std::process::ExitCode;

use vnx::dispatch::start::replay::{self, Comparison, Side};

use super::CliError;
use super::util::output::Out;
use super::util::settings;

/// Compare two dispatches: status, gates, diff size and overlap, tokens and duration
///
/// Read from each dispatch's attested receipts (start, completion, gate results at its head)
/// and from git (`base..head` of each). Overlap is the files both changed over the files
/// either changed; `identical` are the common files with the same content at both heads.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx compare D-1a2b3c4d5e6f D-7e8f9a0b1c2d --json")]
pub struct Args {
    /// The first dispatch (an id, or its start)
    #[arg(value_name = "A")]
    a: String,
    /// The second dispatch (an id, or its start)
    #[arg(value_name = "B")]
    b: String,
    /// Print the comparison as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    super::util::ids::check_dispatch_id(&args.a)?;
    super::util::ids::check_dispatch_id(&args.b)?;
    let project = settings::project()?;
    let ledger = project.ledger();
    let a = super::util::ids::dispatch_id(&project, &args.a)?;
    let b = super::util::ids::dispatch_id(&project, &args.b)?;
    let (_, trusted) = settings::attestation(None, &ledger)?;
    let c = replay::compare(&project.root, &ledger, &a, &b, &trusted)?;
    let mut out = Out::new();
    if args.json {
        let json = serde_json::to_string(&c).map_err(|e| CliError::from_error(&e))?;
        out.line(&json)?;
    } else {
        for line in table(&c) {
            out.line(&line)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The comparison as rows of `what  A  B`.
fn table(c: &Comparison) -> Vec<String> {
    let gates = |s: &Side| {
        if s.gates.is_empty() {
            "-".to_owned()
        } else {
            s.gates
                .iter()
                .map(|(g, st)| format!("{g}:{st}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let rows: Vec<(&str, String, String)> = vec![
        (
            "dispatch",
            c.a.dispatch_id.to_string(),
            c.b.dispatch_id.to_string(),
        ),
        (
            "provider",
            format!("{}/{}", c.a.provider, opt(c.a.model.clone())),
            format!("{}/{}", c.b.provider, opt(c.b.model.clone())),
        ),
        ("status", c.a.status.clone(), c.b.status.clone()),
        ("gates", gates(&c.a), gates(&c.b)),
        (
            "files",
            c.a.files.len().to_string(),
            c.b.files.len().to_string(),
        ),
        (
            "lines",
            format!("+{} -{}", c.a.insertions, c.a.deletions),
            format!("+{} -{}", c.b.insertions, c.b.deletions),
        ),
        (
            "tokens",
            opt(c.a.tokens.map(|t| t.to_string())),
            opt(c.b.tokens.map(|t| t.to_string())),
        ),
        (
            "duration",
            opt(c.a.duration_seconds.map(|d| format!("{d:.1} s"))),
            opt(c.b.duration_seconds.map(|d| format!("{d:.1} s"))),
        ),
        (
            "replay of",
            opt(c.a.replay_of.as_ref().map(|d| d.to_string())),
            opt(c.b.replay_of.as_ref().map(|d| d.to_string())),
        ),
    ];
    let wa = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    let mut lines: Vec<String> = rows
        .iter()
        .map(|(k, a, b)| format!("{k:<10}  {a:<wa$}  {b}"))
        .collect();
    lines.push(format!(
        "overlap     {} common file(s) of {} changed ({:.0}%), {} identical",
        c.common.len(),
        {
            let mut all: Vec<&String> = c.a.files.iter().chain(&c.b.files).collect();
            all.sort();
            all.dedup();
            all.len()
        },
        c.overlap * 100.0,
        c.identical.len()
    ));
    lines
}
