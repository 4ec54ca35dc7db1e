//! `vnx gate-check`: runs the required gates of one or more dispatches and prints GO or HOLD
//! for each.

use super::util::output::say;
use std::process::ExitCode;

use vnx::actions::gate;
use vnx::gate::{Decision, Event, Report};

use super::CliError;
use super::util::error::Exit;
use super::util::lines::finished;
use super::util::output::Out;
use super::util::settings;

/// Run the gates each dispatch's role and task require, and say GO or HOLD for each
///
/// Runs each gate named under `roles.<role>.gates` in .vnx/config.yaml, and each its task
/// asked for with `dispatch-agent --gate`, on the head the
/// dispatch's completion recorded: command gates in a fresh checkout of that head (exit 0
/// passes), review gates through a built-in or declared CLI headless and
/// read-only, asked for a JSON verdict. Records a request, a result and a report per gate
/// (tied by a contract hash) and the run's verdict as receipts, then checkpoints the ledger.
/// A gate that could not run, timed out, stalled or gave no verdict is never a pass, and a
/// role that names no gates is HOLD unless it says `gates: []`.
///
/// Several ids are checked one after the other, each with its own report, and the ledger is
/// checkpointed once at the end. Exits 0 when every dispatch is GO, 1 when any is HOLD.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx gate-check D-1a2b3c4d5e6f --json")]
pub struct Args {
    /// The dispatch ids (or their starts), checked in this order
    #[arg(value_name = "ID", required = true, num_args = 1..)]
    ids: Vec<String>,
    /// Print the report as JSON: an object for one id, an array of them for several
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = crate::cli::util::ids::project_for(&args.ids)?;
    let on_event = |event: Event<'_>| match event {
        Event::Started { gate, kind } => say!("gate {gate}: running ({kind})"),
        Event::Finished { outcome } => say!("{}", finished(outcome)),
    };
    let (reports, anchored) = super::util::context::desk_in(&project, None, None, |desk| {
        if ids.len() > 1 {
            gate::all_known(desk, &ids)?;
        }
        let mut reports = Vec::with_capacity(ids.len());
        for id in &ids {
            if ids.len() > 1 {
                say!("{id}: gate-check");
            }
            reports.push(gate::check(desk, id, &on_event)?);
        }
        Ok((reports, gate::anchor(desk, &settings::anchoring())))
    })?;
    match anchored {
        Ok(c) if c.created => say!(
            "checkpoint {} at line {}",
            c.checkpoint.id,
            c.checkpoint.lines
        ),
        Ok(_) => {}
        Err(why) => say!("{}", super::util::lines::unanchored(&why)),
    }
    let mut out = Out::new();
    match reports.as_slice() {
        [one] if args.json => {
            out.json(one)?;
        }
        all if args.json => {
            out.json(&all)?;
        }
        all => {
            for report in all {
                render(&mut out, report)?;
            }
        }
    }
    let held: Vec<&str> = reports
        .iter()
        .filter(|r| r.decision == Decision::Hold)
        .map(|r| r.dispatch_id.as_str())
        .collect();
    if reports.len() > 1 && !held.is_empty() {
        say!(
            "{} of {} dispatches HOLD: {}",
            held.len(),
            reports.len(),
            held.join(", ")
        );
    }
    Ok(Exit::No.when(!held.is_empty()))
}

fn render(out: &mut Out, r: &Report) -> Result<(), CliError> {
    let decision = match r.decision {
        Decision::Go => "GO",
        Decision::Hold => "HOLD",
    };
    out.line(&format!(
        "{}  {decision}  role {}  head {}  run {}",
        r.dispatch_id,
        r.role.as_deref().unwrap_or("-"),
        r.head_commit.as_ref().map(|i| i.as_str()).unwrap_or("-"),
        r.run
    ))?;
    for g in &r.gates {
        out.line(&format!(
            "  {:<16} {:<7} {:<5} {:>7.1} s  {}",
            g.gate,
            g.kind,
            g.status.name(),
            g.duration_seconds,
            g.reason.as_deref().unwrap_or("")
        ))?;
    }
    for reason in &r.reasons {
        out.line(&format!("  hold: {reason}"))?;
    }
    for note in &r.notes {
        out.line(&format!("  note: {note}"))?;
    }
    out.line(&format!("  report: {}", r.report_path.display()))?;
    Ok(())
}
