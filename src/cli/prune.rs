//! `vnx prune`: removes old dispatch and gate directories that nothing needs any more, and the
//! gate checkouts killed gate runs left.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use vnx::actions::{Desk, prune};

use super::CliError;
use super::util::context::with_desk;
use super::util::error::Exit;
use super::util::output::{Out, confirm, plan_lines, say};

/// Remove old dispatch and gate directories nothing needs any more
///
/// Each dispatch keeps its instruction, prompt, spec, worker log and report under
/// .vnx-data/dispatches/ID, and its gate runs under .vnx-data/gates/ID. Once nothing in them
/// has changed for --older-than, they go, unless something still needs them: a dispatch that
/// has not ended on the ledger, whose worktree or branch still exists, that an open follow-up
/// continues, or whose lock (or a gate run's) is held. The receipts stay on the ledger.
///
/// Gate checkouts a killed gate-check or merge left go too, whatever their age: registered
/// with git under .vnx-data/gates/, their run's lock (run.lock) free. A running gate's
/// checkout is never touched.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx prune --older-than 30d --dry-run\n  $ vnx prune --older-than 2w --yes"
)]
pub struct Args {
    /// Only directories idle for longer than this (`30d`, `12h`, `2w`, `1d 6h`)
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    older_than: Duration,
    /// Show what would go, remove nothing
    #[arg(long)]
    dry_run: bool,
    /// Do not ask
    #[arg(long)]
    yes: bool,
    /// Print the plan (and with a removal, its outcome) as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

/// Parses a friendly span (`30d`, `12h`, `1d 6h`, `2w`) into a duration, days and weeks
/// counted as 24 and 168 hours.
fn parse_age(text: &str) -> Result<Duration, String> {
    let span: jiff::Span = text
        .parse()
        .map_err(|e| format!("`{text}` is not an age like 30d, 12h or 2w: {e}"))?;
    let seconds = span
        .total((
            jiff::Unit::Second,
            jiff::SpanRelativeTo::days_are_24_hours(),
        ))
        .map_err(|e| format!("`{text}`: {e}"))?;
    if seconds < 0.0 {
        return Err(format!("`{text}` is negative"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    with_desk(args.tmux.tmux_socket.clone(), |desk| prune_at(desk, &args))
}

fn prune_at(desk: &Desk<'_>, args: &Args) -> Result<ExitCode, CliError> {
    let now = SystemTime::now();
    let plan = prune::plan(desk, args.older_than, now)?;
    let mut out = Out::new();
    let nothing = plan.prune.is_empty() && plan.gate_checkouts.is_empty();
    if args.json && (args.dry_run || nothing) {
        out.json(&plan)?;
        return Ok(ExitCode::SUCCESS);
    }
    // What stays and what goes; with --json on stderr, so that stdout holds only the JSON.
    let mut shown: Vec<String> = (plan.kept.iter())
        .map(|k| format!("  {}  kept: {}", k.dispatch_id, k.reason))
        .collect();
    for p in &plan.prune {
        let paths: Vec<String> = p.paths.iter().map(|p| p.display().to_string()).collect();
        shown.push(format!(
            "  {}  {}  {}  ({})",
            p.dispatch_id,
            prune::human_bytes(p.bytes),
            paths.join(", "),
            p.reason
        ));
    }
    for c in &plan.gate_checkouts {
        shown.push(format!(
            "  {}  gate checkout {}  ({})",
            c.dispatch_id,
            c.path.display(),
            c.reason
        ));
    }
    plan_lines(&mut out, &shown, args.json)?;
    if nothing {
        say!("nothing to prune");
        return Ok(ExitCode::SUCCESS);
    }
    if args.dry_run {
        say!("would remove {}", prune::what(&plan));
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes
        && !confirm(
            &format!("remove {}?", prune::what(&plan)),
            "not pruning without confirmation",
        )?
    {
        if args.json {
            out.json(&plan)?;
        }
        say!("nothing pruned");
        return Ok(ExitCode::SUCCESS);
    }
    // Judged again with the same age, now: the cut-off is the plan's.
    let done = prune::prune(desk, &plan, args.older_than, now)?;
    for id in &done.needed_again {
        say!("{id}: kept: something needs it again");
    }
    if args.json {
        let outcome: Vec<_> = (done.pruned.iter())
            .map(|d| serde_json::json!({"dispatch_id": d.dispatch_id, "error": d.error}))
            .collect();
        let checkouts: Vec<_> = (done.checkouts.iter())
            .map(|r| serde_json::json!({"path": r.path, "error": r.error}))
            .collect();
        out.json(&serde_json::json!({
            "prune": plan.prune,
            "kept": plan.kept,
            "gate_checkouts": plan.gate_checkouts,
            "pruned": outcome,
            "gate_checkouts_removed": checkouts,
        }))?;
    } else {
        for r in &done.checkouts {
            match &r.error {
                None => out.line(&format!("  {}  removed", r.path.display()))?,
                Some(e) => out.line(&format!("  {}  kept: {e}", r.path.display()))?,
            };
        }
        for d in &done.pruned {
            match &d.error {
                None => out.line(&format!("  {}  pruned", d.dispatch_id))?,
                Some(e) => out.line(&format!("  {}  kept: {e}", d.dispatch_id))?,
            };
        }
    }
    Ok(Exit::Failed.when(done.failed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_people_write_them() {
        assert_eq!(parse_age("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_age("1d 6h"), Ok(Duration::from_secs(30 * 3_600)));
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_age("soon").is_err());
        assert!(parse_age("-1d").is_err());
    }
}
