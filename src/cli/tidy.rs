//! `vnx tidy`: what is settled, tidied in one step: every preserved dispatch with what is
//! done about it and why, releasing (with `--yes`) those whose work landed or is pushed.

use std::process::ExitCode;

use vnx::actions::release;
use vnx::release::tidy::{Action, Tidy};

use super::CliError;
use super::util::error::Exit;
use super::util::lines::{release_base, release_summary};
use super::util::output::{Out, escape, say};

/// Tidy what is settled: release landed and pushed work, say what is kept and why
///
/// One pass over every preserved dispatch (each `dispatch/*` branch and worktree, as
/// `vnx worktree-release` finds and classifies them), read with its follow-up chain's latest
/// state on the ledger. Released: the worktree and branch of work that landed (in --base, or
/// its pull request merged), is exactly on --remote, or never started — merged, dismissed and
/// given-up dispatches alike, when nothing of theirs would be lost — each release recorded as
/// a `worktree_released` receipt. Kept, with why and the command that settles it: a running
/// dispatch, one that waits for you (a question, a prompt, a lost supervisor: a follow-up
/// continues in its worktree; a plan: `vnx approve` or `vnx deny`), and every unlanded or
/// uncommitted piece of work, even of a dismissed or failed dispatch (`vnx clean` discards
/// work on purpose; tidy never does); work whose merge into the base conflicts is told
/// `vnx follow-up ID --rebase`. Places vnx made (a container, a pod) whose dispatches all
/// ended given up or landed — a cancelled dispatch's volume — are listed too and removed with
/// --yes, their storage kept when it holds work not here (`vnx accept ID` brings that work
/// here).
///
/// Without --yes nothing changes: it lists what it would do. Exit 3 if git refused a release.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx tidy\n  $ vnx tidy --yes")]
pub struct Args {
    /// Release what is settled (without it: list what would be done, change nothing)
    #[arg(long, visible_alias = "apply")]
    yes: bool,
    /// Print every dispatch, what is done about it and why, as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    landing: super::util::settings::Landing,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let found = super::util::context::with_desk(args.tmux.tmux_socket, |desk| {
        Ok(release::tidy(
            desk,
            &args.landing.base,
            &args.landing.remote,
            args.yes,
        )?)
    })?;
    let failed = found.failed();
    let mut out = Out::new();
    if args.json {
        out.json(&found)?;
    } else {
        render(&mut out, &found)?;
    }
    Ok(Exit::Failed.when(failed))
}

fn render(out: &mut Out, found: &Tidy) -> Result<(), CliError> {
    out.line(&release_base(&found.base, &found.remote))?;
    for host in &found.unlisted {
        say!("note: the places of host {host} could not be listed (so none is shown)");
    }
    render_places(out, found)?;
    if found.entries.is_empty() {
        if found.places.is_empty() {
            out.line("nothing to tidy: no preserved dispatch worktrees or branches")?;
        }
        return Ok(());
    }
    for e in &found.entries {
        let done = e.item.done.as_ref();
        let verdict = match (e.action, done) {
            (_, Some(d)) if d.error.is_some() => "FAILED",
            (_, Some(d)) if d.skipped.is_some() => "skipped",
            (Action::Release, Some(_)) => "released",
            (Action::Release, None) => "release",
            (Action::Keep, _) => "keep",
        };
        let chain = e
            .latest
            .as_ref()
            .map(|l| format!(" (latest {l})"))
            .unwrap_or_default();
        out.line(&format!(
            "{}  {:<8}  {:<9}  {}{chain}",
            e.dispatch_id,
            verdict,
            e.settled.map_or("-", |s| s.name()),
            e.status.unwrap_or("not on the ledger"),
        ))?;
        out.line(&format!("    {}", escape(&e.why)))?;
        if let Some(next) = &e.next {
            out.line(&format!("    next: {}", escape(next)))?;
        }
        if let Some(d) = done {
            if let Some(why) = &d.skipped {
                out.line(&format!("    skipped: {}", escape(why)))?;
            }
            if let Some(err) = &d.error {
                out.line(&format!("    git refused: {}", escape(err)))?;
            }
        }
    }
    let (release, kept) = found.counts();
    let counts = (found.released(), release, kept);
    out.line(&release_summary(found.applied, counts, "--yes"))?;
    Ok(())
}

/// The places no dispatch needs any more: what tidy removes, or what became of each.
fn render_places(out: &mut Out, found: &Tidy) -> Result<(), CliError> {
    if found.places.is_empty() {
        return Ok(());
    }
    out.line(match found.applied {
        true => "places no dispatch needs:",
        false => {
            "places no dispatch needs (removed with --yes; storage that holds work not \
                  here is kept):"
        }
    })?;
    for place in &found.places {
        let line = match found.applied {
            true => super::util::hosts::cleared_line(place),
            false => super::util::hosts::orphan_line(&place.found),
        };
        out.line(&format!("  {}", escape(&line)))?;
    }
    Ok(())
}
