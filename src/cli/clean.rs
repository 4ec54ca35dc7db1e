//! `vnx clean`: discards unwanted work on purpose, with a receipt per removal.

use std::process::ExitCode;

use vnx::actions::Desk;
use vnx::actions::release::{self, Preserved};
use vnx::release::Item;

use super::CliError;
use super::util::error::Exit;
use super::util::output::{Out, confirm, plan_lines, say};

/// Discard dispatches' work on purpose: worktree (uncommitted files included) and branch
///
/// Unlike `worktree-release`, which only releases work that landed or was pushed, this
/// throws work away: the dispatches named, or every preserved one of the classes given. It
/// shows what it will delete and asks (or takes --yes), never touches a running dispatch,
/// and records each removal as a `worktree_released` receipt marked `discarded`. With
/// `--orphans`, it removes instead the places a container or kubernetes host holds for
/// dispatches with no record here (those `vnx status` lists), keeping a place's storage when
/// it holds work this repository lacks.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx clean D-7e8f9a0b1c2d\n  $ vnx clean --class unlanded --class dirty --yes"
)]
pub struct Args {
    /// The dispatches to discard (ids, or their starts)
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Every preserved dispatch of this class (repeatable): dirty, unlanded, landed, pushed,
    /// blocked
    #[arg(long = "class", value_name = "CLASS",
          value_parser = ["dirty", "unlanded", "landed", "pushed", "blocked"])]
    classes: Vec<String>,
    /// Remove the places vnx made on this project's hosts for dispatches with no record
    /// here: what runs in each, and its storage unless that holds work not here
    #[arg(long, conflicts_with_all = ["ids", "classes"])]
    orphans: bool,
    /// Do not ask
    #[arg(long)]
    yes: bool,
    /// Print what was discarded (or kept, and why) as JSON: the dispatches as
    /// `worktree-release --json` lists them, each with what was done
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    if args.orphans {
        return orphans(&args);
    }
    if args.ids.is_empty() && args.classes.is_empty() {
        return Err(CliError::usage("nothing named to discard")
            .with_hint("name dispatches (`vnx clean ID…`) or classes (`--class unlanded`)"));
    }
    let (project, ids) = crate::cli::util::ids::project_for(&args.ids)?;
    super::util::context::desk_in(&project, args.tmux.tmux_socket.clone(), None, |desk| {
        let preserved = Preserved::read(desk, project.ledger(), "HEAD", "origin")?;
        let chosen = preserved.to_discard(&ids, &args.classes)?;
        discard(desk, &preserved, chosen, &args)
    })
}

/// Shows what will go, asks (unless `--yes`), discards it and says what became of each.
fn discard(
    desk: &Desk<'_>,
    preserved: &Preserved,
    mut chosen: Vec<Item>,
    args: &Args,
) -> Result<ExitCode, CliError> {
    let mut out = Out::new();
    if chosen.is_empty() {
        if args.json {
            out.json(&chosen)?;
        }
        say!("nothing to discard");
        return Ok(ExitCode::SUCCESS);
    }
    // What will go; with --json on stderr, so that stdout holds only the JSON.
    let mut plan = vec!["to discard (worktree with any uncommitted files, and branch):".to_owned()];
    for i in &chosen {
        let what: Vec<String> = [
            i.worktree
                .as_ref()
                .map(|p| format!("worktree {}", p.display())),
            i.branch.as_ref().map(|b| format!("branch {b}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        plan.push(format!(
            "  {}  {:<9} {}  ({})",
            i.dispatch_id,
            i.class.name(),
            what.join(", "),
            i.reason
        ));
    }
    plan_lines(&mut out, &plan, args.json)?;
    if !args.yes
        && !confirm(
            &format!("discard {} dispatch(es)?", chosen.len()),
            "not discarding without confirmation",
        )?
    {
        if args.json {
            // What would have gone, each without a `done`.
            out.json(&chosen)?;
        }
        say!("nothing discarded");
        return Ok(ExitCode::SUCCESS);
    }
    for removed in preserved.discard(desk, &mut chosen)? {
        super::util::lines::place_removed(&removed, "discarded");
    }
    let failed = chosen
        .iter()
        .any(|i| i.done.as_ref().is_some_and(|d| d.error.is_some()));
    if args.json {
        out.json(&chosen)?;
    }
    for i in chosen.iter().filter(|_| !args.json) {
        out.line(&format!(
            "  {}  {}",
            i.dispatch_id,
            release::done_line(i, "discarded")
        ))?;
    }
    Ok(Exit::Failed.when(failed))
}

/// `--orphans`: the places with no dispatch record here shown, asked about, removed.
fn orphans(args: &Args) -> Result<ExitCode, CliError> {
    let project = crate::cli::util::ids::project_for(&[])?.0;
    let tmux = vnx::tmux::Tmux::new(super::util::settings::tmux_socket(
        args.tmux.tmux_socket.clone(),
    ));
    let want = vnx::dispatch::fold::Want::All;
    let states = super::util::states::verified_states(&project, &tmux, want)?.states;
    let (found, notes) = super::util::hosts::orphans(&project, &states);
    for note in notes {
        say!("{note}");
    }
    let mut out = Out::new();
    if found.is_empty() {
        if args.json {
            out.json(&Vec::<()>::new())?;
        }
        say!("no places without a dispatch record here, and none whose dispatches all ended");
        return Ok(ExitCode::SUCCESS);
    }
    let mut plan =
        vec!["to remove (what runs; its storage unless it holds work not here):".to_owned()];
    plan.extend(
        found
            .iter()
            .map(|f| format!("  {}", super::util::hosts::orphan_line(f))),
    );
    plan_lines(&mut out, &plan, args.json)?;
    if !args.yes
        && !confirm(
            &format!("remove {} place(s)?", found.len()),
            "not removing without confirmation",
        )?
    {
        say!("nothing removed");
        return Ok(ExitCode::SUCCESS);
    }
    let config = project
        .load_config()
        .map_err(|e| CliError::from_error(&e))?;
    let here = super::util::hosts::HereOwned::of(&project);
    let here = here.here();
    let mut done = Vec::new();
    for f in found {
        let mut place = vnx::remote::orphans::Cleared::found(f);
        place.remove(&config.hosts, here, &project.root);
        if !args.json {
            let said = super::util::hosts::cleared_line(&place);
            out.line(&format!("  {}", super::util::output::escape(&said)))?;
        }
        done.push(place);
    }
    if args.json {
        out.json(&done)?;
    }
    Ok(Exit::Failed.when(done.iter().any(|d| d.error.is_some())))
}
