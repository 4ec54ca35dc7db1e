//! `vnx merge`: merges dispatches' branches into their bases through the merge queue, one at
//! a time, each only when every condition holds and its command gates pass on the merge result.

use std::process::ExitCode;

use vnx::actions::merge::{Merging, Told};
use vnx::gate::Event as GateEvent;
use vnx::merge::{Entry, EntryResult, Event};

use super::CliError;
use super::util::output::{Out, say};
use super::util::settings;

/// Merge dispatches' branches into the branches they started from, one at a time
///
/// Every merge goes through one queue: its lock (in the git common directory) serialises
/// `vnx merge` processes. Several ids merge in the conflict radar's order, said first: at each
/// turn the one sharing the fewest changed files with those still waiting (then with other
/// running or unmerged dispatches, then as given), so the merges least likely to conflict
/// land first (--as-given keeps the order given). For each, in turn,
/// the conditions are checked on the base's current head (the head after the one before
/// landed), in this order (a refusal names the first that fails; --json lists all):
/// ledger_verifies (the hash chain), checkpoint_extended (the ledger extends its last signed
/// checkpoint), dispatch_done (completed done, not corrected), branch_at_recorded_head (the
/// branch tip is the head its completion recorded), gates_passed (every gate the role
/// requires passed for that head, under its current definition), base_compatible (the base
/// has not moved, or moved without conflicts), main_checkout_ready (on the base branch,
/// clean). Then: a `merge` receipt; the merge commit made with git merge-tree and git
/// commit-tree, with a `VNX-Receipt:` trailer naming that receipt's entry hash; when its tree
/// is not the head's (the base moved), the role's command gates run on it; only when they
/// pass does the base fast-forward to it; then `merge_completed` and a new checkpoint. A
/// dispatch whose head conflicts with the base's head, or whose gates fail on the merge
/// result, is taken out with a `merge_dequeued` receipt and the rest go on. Of several, one
/// merged before is said to be (`already merged, as COMMIT`): a rerun of a queue that landed
/// them all exits 0. Exit status 0 when every dispatch merged (or, of several, had merged
/// before), 1 when any was refused or taken out, or, alone, had merged before.
///
/// Before all that (not with --check), a required gate that has no current pass for the head
/// a dispatch recorded — never run, or run under a definition changed since — is run first,
/// as `vnx gate-check` runs it, saying so on stderr; its receipts are recorded as
/// gate-check's are. A gate whose latest result for that head failed is not run again: it
/// holds the merge until `vnx gate-check` passes it.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx merge D-1a2b3c4d5e6f --check\n  $ vnx merge D-1a2b3c4d5e6f D-9c0d1e2f3a4b"
)]
pub struct Args {
    /// The dispatch ids (or their starts)
    #[arg(value_name = "ID", required = true, num_args = 1..)]
    ids: Vec<String>,
    /// Merge several in the order given, not the ones sharing the fewest files first
    #[arg(long)]
    as_given: bool,
    /// Check the conditions only; merge nothing
    #[arg(long)]
    check: bool,
    /// Print one JSON object per dispatch, one per line
    #[arg(long)]
    json: bool,
    /// Print each dispatch's conditions and the merge's steps, not one line per dispatch
    /// (--check always prints the conditions)
    #[arg(long, short = 'v')]
    verbose: bool,
    /// The checkpoint signing key [default: as for `audit-chain checkpoint`]
    #[arg(long, value_name = "PATH")]
    key: Option<std::path::PathBuf>,
    /// Merge a best-of-N candidate even though its group is undecided or another candidate
    /// won it
    #[arg(long)]
    override_group: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = crate::cli::util::ids::project_for(&args.ids)?;
    let verbose = args.verbose || args.check;
    let merging = Merging {
        check_only: args.check,
        override_group: args.override_group,
        anchoring: settings::anchoring(),
        as_given: args.as_given,
    };
    let told = |told: Told<'_>| match told {
        Told::Order(ordered) => order_lines(ordered, verbose),
        Told::GroupOverridden { objection } => {
            say!("warning: {objection}; merging anyway (--override-group)")
        }
        Told::MissingGates { id, gates } => say!(
            "{id}: gate{} {} {} no current pass for its head; running {} first",
            if gates.len() == 1 { "" } else { "s" },
            gates.join(", "),
            if gates.len() == 1 { "has" } else { "have" },
            if gates.len() == 1 { "it" } else { "them" },
        ),
        Told::Gate(GateEvent::Started { gate, kind }) => say!("gate {gate}: running ({kind})"),
        Told::Gate(GateEvent::Finished { outcome }) => {
            say!("{}", super::util::lines::finished(outcome))
        }
        Told::GatesRan { id, report } => say!(
            "{id}: gate report {} ({})",
            match report.decision {
                vnx::gate::Decision::Go => "GO",
                vnx::gate::Decision::Hold => "HOLD",
            },
            report.report_path.display()
        ),
        Told::NotAnchored(why) => {
            say!("warning: could not checkpoint the ledger after the gates: {why}")
        }
        Told::FirstCheckpoint(made) => say!(
            "nothing anchored the ledger yet: made its first checkpoint {} at line {}",
            made.checkpoint.id,
            made.checkpoint.lines
        ),
        Told::Merge(event) => said(event, verbose),
        Told::PlaceRemoved(removed) => super::util::lines::place_removed(removed, "merged"),
    };
    let entries = super::util::context::desk_in(&project, None, args.key, |desk| {
        Ok(vnx::actions::merge::merge(desk, &ids, &merging, &told)?)
    })?;
    // What waited for these merges (`--after --after-merged`) starts now.
    if !args.check {
        super::util::drain::recover_queue_here(None, true);
    }
    let mut out = Out::new();
    for entry in &entries {
        let unattested = entry
            .merged
            .as_ref()
            .and_then(|m| m.attestation.error.as_ref());
        if let Some(why) = unattested {
            say!(
                "warning: {}: merged, but its attestation could not be written: {why}",
                entry.dispatch_id
            );
        }
        if args.json {
            out.json(entry)?;
        } else {
            render(&mut out, entry, verbose)?;
        }
    }
    match entries.as_slice() {
        // The JSON already says why; the error line is for people and logs.
        [one] => match super::util::error::merge_verdict(one) {
            Some(e) => Err(e),
            None => Ok(ExitCode::SUCCESS),
        },
        all => {
            let not: Vec<String> = all
                .iter()
                .filter(|e| super::util::error::merge_verdict(e).is_some())
                .map(|e| {
                    format!(
                        "{} ({})",
                        e.dispatch_id,
                        vnx::actions::merge::result_name(e.result)
                    )
                })
                .collect();
            if not.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            Err(CliError::verdict(format!(
                "{} of {} dispatches did not merge: {}",
                not.len(),
                all.len(),
                not.join(", ")
            ))
            .with_hint(
                "`vnx merge ID --check --json` lists one dispatch's conditions; \
                 `merge_dequeued` receipts say why a dispatch was taken out",
            ))
        }
    }
}

/// Says the order several dispatches merge in: the order and why each is where it is, when
/// it is not the order given (or always, `verbose`).
fn order_lines(ordered: &vnx::radar::Ordered, verbose: bool) {
    if !ordered.moved && !verbose {
        return;
    }
    let ids: Vec<&str> = ordered.ids.iter().map(|i| i.as_str()).collect();
    say!(
        "merge order: {}{}",
        ids.join(", "),
        if ordered.moved {
            " (the ones sharing the fewest changed files with the others first)"
        } else {
            ""
        }
    );
    for (id, why) in ordered.ids.iter().zip(&ordered.why) {
        // File names are a worker's.
        say!("  {id}: {}", super::util::output::escape(why));
    }
}

/// Says what the merge queue is doing; `verbose`: each step, not only the line each dispatch
/// gets at the end.
fn said(event: Event<'_>, verbose: bool) {
    match event {
        Event::Waiting { lock } => say!(
            "waiting for the merge queue: another vnx merge holds {}",
            lock.display()
        ),
        // The line printed for each dispatch says what these said.
        Event::Formed { .. } | Event::Landed { .. } | Event::Dequeued { .. } if !verbose => {}
        Event::Formed {
            id,
            merge_commit,
            base_tip,
        } => say!("{id}: merge commit {merge_commit} formed on {base_tip}"),
        Event::Gate(GateEvent::Started { gate, .. }) => {
            say!("gate {gate}: running on the merge result")
        }
        Event::Gate(GateEvent::Finished { outcome }) => say!(
            "gate {}: {} on the merge result{}",
            outcome.gate,
            outcome.status.name(),
            super::util::lines::why(outcome.reason.as_deref())
        ),
        Event::Landed { id, merge_commit } => say!("{id}: landed as {merge_commit}"),
        Event::Interrupted {
            id,
            seq,
            landed: Some(commit),
        } => say!(
            "{id}: the merge of receipt line {seq} was interrupted after the base moved to \
             {commit}; recording its merge_completed"
        ),
        Event::Interrupted {
            id,
            seq,
            landed: None,
        } => say!(
            "{id}: the merge of receipt line {seq} was interrupted before the base moved; \
             recorded as merge_failed, merging anew"
        ),
        Event::Dequeued { id, detail, .. } => {
            say!("{id}: taken out of the merge queue: {detail}")
        }
    }
}

/// One entry for a person: its conditions and outcome (`verbose`), or one line.
fn render(out: &mut Out, e: &Entry, verbose: bool) -> Result<(), CliError> {
    if let Some(r) = &e.resumed {
        out.line(&format!(
            "merged {} as {} (merge receipt line {}, entry {}; merge_completed line {}); \
             checkpoint {} at line {}",
            e.dispatch_id,
            r.merge_commit,
            r.merge_receipt_seq,
            r.merge_receipt,
            r.completed_receipt.seq,
            r.checkpoint.checkpoint.id,
            r.checkpoint.checkpoint.lines
        ))?;
        return Ok(());
    }
    if e.result == EntryResult::AlreadyMerged {
        let commit = (e.already_merged.as_ref()).map_or_else(|| "-".to_owned(), |c| c.to_string());
        out.line(&format!("{}: already merged, as {commit}", e.dispatch_id))?;
        return Ok(());
    }
    let Some(plan) = &e.plan else {
        let why = e.refused.as_ref().map_or("", |r| r.detail.as_str());
        out.line(&format!("{}: refused: {why}", e.dispatch_id))?;
        return Ok(());
    };
    if !verbose {
        // Merged (as what, its receipt and checkpoint), taken out, refused (the first
        // condition that failed) or mergeable.
        let said = vnx::actions::merge::said(e, plan);
        out.line(&format!("{}: {said}", plan.dispatch_id))?;
        return Ok(());
    }
    out.line(&format!(
        "{}: {} into {}",
        plan.dispatch_id,
        plan.branch.as_deref().unwrap_or("-"),
        plan.base_ref.as_deref().unwrap_or("-")
    ))?;
    for c in &plan.conditions {
        out.line(&format!(
            "  {} {:<24} {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.name,
            c.detail
        ))?;
    }
    if let Some(m) = &e.merged {
        let gates: Vec<String> = m
            .merge_result_gates
            .iter()
            .map(|g| format!("{} {}", g.gate, g.status))
            .collect();
        if !gates.is_empty() {
            out.line(&format!(
                "  gates on the merge result: {}",
                gates.join(", ")
            ))?;
        }
        out.line(&format!(
            "merged {} into {} as {} (merge receipt line {}, entry {}); checkpoint {} at line {}",
            plan.branch.as_deref().unwrap_or("-"),
            plan.base_ref.as_deref().unwrap_or("-"),
            m.merge_commit,
            m.merge_receipt.seq,
            m.merge_receipt.entry_hash,
            m.checkpoint.checkpoint.id,
            m.checkpoint.checkpoint.lines
        ))?;
    } else if let Some(d) = &e.dequeued {
        out.line(&format!(
            "{}: taken out of the merge queue ({}): {} (receipt line {}); {} stays at {}",
            plan.dispatch_id,
            match d.reason {
                vnx::receipts::DequeueReason::Conflict => "conflict",
                vnx::receipts::DequeueReason::GatesFailed => "gates failed",
            },
            d.detail,
            d.receipt.seq,
            plan.base_ref.as_deref().unwrap_or("-"),
            d.base_tip
        ))?;
    } else if e.result == EntryResult::Mergeable {
        out.line(&format!("{}: every condition holds", plan.dispatch_id))?;
    }
    Ok(())
}
