//! `vnx merge`: merges a dispatch's branch into its base when every condition holds.

use std::process::ExitCode;

use vnx::merge::{self, Context, Outcome};

use super::CliError;
use super::output::Out;
use super::settings;

/// Merge a dispatch's branch into the branch it started from, if every condition holds
///
/// Conditions, checked in this order (a refusal names the first that fails; --json lists
/// all): ledger_verifies (the hash chain), checkpoint_extended (the ledger extends its last
/// signed checkpoint), dispatch_done (completed done, not corrected), branch_at_recorded_head
/// (the branch tip is the head its completion recorded), gates_passed (every gate the role
/// requires passed for that head, under its current definition), base_compatible (the base
/// has not moved, or moved without conflicts), main_checkout_ready (on the base branch,
/// clean). Then: a `merge` receipt, `git merge --no-ff` with a `VNX-Receipt:` trailer naming
/// that receipt's entry hash, a `merge_completed` receipt and a new checkpoint.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx merge D-1a2b3c4d")]
pub struct Args {
    /// The dispatch id
    #[arg(value_name = "ID")]
    id: String,
    /// Check the conditions only; merge nothing
    #[arg(long)]
    check: bool,
    /// Print the conditions and the merge as JSON
    #[arg(long)]
    json: bool,
    /// The checkpoint signing key [default: as for `audit-chain checkpoint`]
    #[arg(long, value_name = "PATH")]
    key: Option<std::path::PathBuf>,
    /// Merge a best-of-N candidate even though its group is undecided or another candidate
    /// won it
    #[arg(long)]
    override_group: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    super::error::check_dispatch_id(&args.id)?;
    let project = settings::project()?;
    settings::finish_pending(&project);
    let ledger = project.ledger();
    let key = settings::key_path(args.key).ok();
    let (attestor, trusted_keys) = settings::attestation(key.clone(), &ledger)?;
    group_guard(&ledger, &args.id, &trusted_keys, args.override_group)?;
    let witness_dir = settings::witness_dir();
    let ctx = Context {
        witness_dir: witness_dir.as_deref(),
        attestor: &attestor,
        trusted_keys: &trusted_keys,
        root: &project.root,
        ledger: &ledger,
        key: key.as_deref(),
        threads: settings::threads(None),
    };
    let outcome = merge::merge(&ctx, &args.id, !args.check)?;
    let mut out = Out::new();
    if args.json {
        out.json(&outcome)?;
    } else {
        render(&mut out, &outcome)?;
    }
    match merge::refusal(&outcome.plan) {
        // The JSON already says why; the error line is for people and logs.
        Some(refused) => Err(refused.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// A best-of-N candidate merges only as its group's winner, unless overridden (ADR 0029).
fn group_guard(
    ledger: &std::path::Path,
    id: &str,
    trusted: &[[u8; 32]],
    overridden: bool,
) -> Result<(), CliError> {
    let standing = vnx::group::merge_standing(ledger, id, trusted)?;
    match standing
        .as_ref()
        .and_then(|s| s.objection(id).map(|o| (s, o)))
    {
        Some((_, objection)) if overridden => {
            super::output::say!("warning: {objection}; merging anyway (--override-group)");
            Ok(())
        }
        Some((s, objection)) => Err(
            CliError::verdict(format!("refused: {objection}")).with_hint(format!(
                "decide the group with `vnx group decide {}`, merge its winner, or pass \
                 --override-group to merge this candidate anyway",
                s.group_id
            )),
        ),
        None => Ok(()),
    }
}

fn render(out: &mut Out, o: &Outcome) -> Result<(), CliError> {
    out.line(&format!(
        "{}: {} into {}",
        o.plan.dispatch_id,
        o.plan.branch.as_deref().unwrap_or("-"),
        o.plan.base_ref.as_deref().unwrap_or("-")
    ))?;
    for c in &o.plan.conditions {
        out.line(&format!(
            "  {} {:<24} {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.name,
            c.detail
        ))?;
    }
    if let Some(m) = &o.merged {
        out.line(&format!(
            "merged {} into {} as {} (merge receipt line {}, entry {}); checkpoint {} at line {}",
            o.plan.branch.as_deref().unwrap_or("-"),
            o.plan.base_ref.as_deref().unwrap_or("-"),
            m.merge_commit,
            m.merge_receipt.seq,
            m.merge_receipt.entry_hash,
            m.checkpoint.checkpoint.id,
            m.checkpoint.checkpoint.lines
        ))?;
    } else if o.plan.first_failed().is_none() {
        out.line(&format!("{}: every condition holds", o.plan.dispatch_id))?;
    }
    Ok(())
}
