//! `vnx worktree-release`: lists the dispatch worktrees and branches teardown preserved and
//! releases those whose work is provably in the base or on the remote.

use std::path::Path;
use std::process::ExitCode;

use vnx::actions::release::Preserved;
use vnx::release::{Item, Plan};

use super::CliError;
use super::util::error::Exit;
use super::util::lines::{release_base, release_summary};
use super::util::output::Out;
use super::util::settings::LedgerArg;

/// List preserved dispatch worktrees and branches; release the ones already landed or pushed
///
/// Finds every `dispatch/*` branch and `.vnx-data/worktrees/dispatch-*` worktree (kept dirty or
/// committed at teardown, or left by a lost supervisor) and classifies it now: running (its
/// tmux session is alive), dirty, blocked, landed (its tip is in --base's history, or merging
/// it into --base changes nothing, as after a squash merge), pushed (--remote has exactly its
/// tip; an unreachable remote never counts), or unlanded. Without --apply nothing changes.
/// With --apply only landed and pushed ones are released — the worktree removed with git's
/// own checks, the branch deleted — each under the worktree lock and recorded as a
/// `worktree_released` receipt. Exit 1 if git refused a release.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx worktree-release\n  $ git fetch && vnx worktree-release --base origin/main --apply"
)]
pub struct Args {
    /// Only these dispatches, by id or its start (default: every preserved one)
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Release what is landed or pushed (without it: print the plan, change nothing)
    #[arg(long)]
    apply: bool,
    /// Print the plan (and what was done) as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    landing: super::util::settings::Landing,
    #[command(flatten)]
    ledger: LedgerArg,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = crate::cli::util::ids::project_for(&args.ids)?;
    let ledger = args
        .ledger
        .resolve_in(Some(&project))
        .unwrap_or_else(|| project.ledger());
    let root = project.root.clone();
    let plan = super::util::context::desk_in(&project, args.tmux.tmux_socket, None, |desk| {
        let mut preserved =
            Preserved::read(desk, ledger, &args.landing.base, &args.landing.remote)?;
        preserved.only(&ids)?;
        if args.apply {
            for removed in preserved.release(desk)? {
                super::util::lines::place_removed(&removed, "released");
            }
        }
        Ok(preserved.plan)
    })?;
    let failed = plan
        .items
        .iter()
        .any(|i| i.done.as_ref().is_some_and(|d| d.error.is_some()));
    let mut out = Out::new();
    if args.json {
        out.json(&plan)?;
    } else {
        render(&mut out, &plan, &root)?;
    }
    Ok(Exit::Failed.when(failed))
}

fn render(out: &mut Out, plan: &Plan, root: &Path) -> Result<(), CliError> {
    out.line(&release_base(&plan.base, &plan.remote))?;
    if plan.items.is_empty() {
        out.line("no preserved dispatch worktrees or branches")?;
        return Ok(());
    }
    for item in &plan.items {
        render_item(out, item, plan.applied, root)?;
    }
    let releasable = plan.items.iter().filter(|i| i.actions.any()).count();
    let released = (plan.items.iter())
        .filter(|i| i.done.as_ref().is_some_and(|d| d.receipt_seq.is_some()))
        .count();
    let counts = (released, releasable, plan.items.len() - releasable);
    out.line(&release_summary(plan.applied, counts, "--apply"))?;
    Ok(())
}

fn render_item(out: &mut Out, item: &Item, applied: bool, root: &Path) -> Result<(), CliError> {
    let shown = |p: &std::path::PathBuf| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let dir = (item.dispatch_dir.as_ref()).filter(|_| item.actions.remove_dispatch_dir);
    let what: Vec<String> = [
        item.branch.as_ref().map(|b| format!("branch {b}")),
        item.worktree
            .as_ref()
            .map(|w| format!("worktree {}", shown(w))),
        dir.map(|d| format!("dispatch directory {}", shown(d))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let verdict = match (&item.done, item.actions.any()) {
        (Some(d), _) if d.error.is_some() => "FAILED",
        (Some(d), _) if d.skipped.is_some() => "skipped",
        (Some(_), _) => "released",
        (None, true) if !applied => "release",
        (None, _) => "keep",
    };
    out.line(&format!(
        "{}  {:<8}  {:<8}  {}",
        item.dispatch_id,
        item.class.name(),
        verdict,
        what.join(", ")
    ))?;
    out.line(&format!("    {}", item.reason))?;
    if let Some(d) = &item.done {
        let deleted = || {
            format!(
                "branch deleted (git branch {})",
                d.branch_delete.unwrap_or("-D")
            )
        };
        let did: Vec<String> = [
            d.worktree_unlocked.then(|| "worktree unlocked".to_owned()),
            d.worktree_removed.then(|| "worktree removed".to_owned()),
            d.branch_deleted.then(deleted),
            d.dispatch_dir_removed
                .then(|| "dispatch directory removed".to_owned()),
            d.receipt_seq.map(|seq| format!("receipt line {seq}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !did.is_empty() {
            out.line(&format!("    {}", did.join("; ")))?;
        }
        if let Some(why) = &d.skipped {
            out.line(&format!("    skipped: {why}"))?;
        }
        if let Some(e) = &d.error {
            out.line(&format!("    git refused: {e}"))?;
        }
    }
    Ok(())
}
