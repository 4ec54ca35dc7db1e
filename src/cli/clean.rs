//! `vnx clean`: discards unwanted work on purpose, with a receipt per removal.

use std::process::ExitCode;

use vnx::release::{self, Class, Item, Options, ReleaseError};
use vnx::tmux::Tmux;
use vnx::worktree::Repo;

use super::CliError;
use super::util::output::{Out, confirm, plan_lines, say};
use super::util::settings;

/// Discard dispatches' work on purpose: worktree (uncommitted files included) and branch
///
/// Unlike `worktree-release`, which only releases work that landed or was pushed, this
/// throws work away: the dispatches named, or every preserved one of the classes given. It
/// shows what it will delete and asks (or takes --yes), never touches a running dispatch,
/// and records each removal as a `worktree_released` receipt marked `discarded`.
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
    if args.ids.is_empty() && args.classes.is_empty() {
        return Err(CliError::usage("nothing named to discard")
            .with_hint("name dispatches (`vnx clean ID…`) or classes (`--class unlanded`)"));
    }
    let project = settings::project()?;
    crate::cli::util::pending::finish_pending(&project);
    let ids = super::util::ids::dispatch_ids(&project, &args.ids)?;
    let repo = Repo::for_project(&project).map_err(ReleaseError::from)?;
    let options = Options {
        base: "HEAD".into(),
        remote: "origin".into(),
        ledger: project.ledger(),
        trusted_keys: settings::attestation(None, &project.ledger())?.1,
    };
    let tmux = Tmux::new(settings::tmux_socket(args.tmux.tmux_socket));
    let plan = release::plan(&repo, &options, &tmux)?;
    // Each id as the ledger records it: a start given (`7e8f`) names its dispatch.
    if let Some(id) = ids
        .iter()
        .find(|id| !plan.items.iter().any(|i| i.dispatch_id == **id))
    {
        return Err(CliError::usage(format!(
            "dispatch {id} has no worktree or branch to discard"
        ))
        .with_hint("`vnx worktree-release` lists the preserved dispatches"));
    }
    let mut chosen: Vec<Item> = plan
        .items
        .into_iter()
        .filter(|i| i.class != Class::Unstarted)
        .filter(|i| {
            ids.contains(&i.dispatch_id) || args.classes.iter().any(|c| c == i.class.name())
        })
        .collect();
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
    let attestor = settings::attestor(None)?;
    release::discard(&repo, &mut chosen, &options, &attestor)?;
    let failed = chosen
        .iter()
        .any(|i| i.done.as_ref().is_some_and(|d| d.error.is_some()));
    if args.json {
        out.json(&chosen)?;
    }
    for i in chosen.iter().filter(|_| !args.json) {
        let done = i.done.clone().unwrap_or_default();
        let line = match (&done.skipped, &done.error) {
            (Some(why), _) => format!("  {}  kept: {why}", i.dispatch_id),
            (None, Some(e)) => format!("  {}  failed: {e}", i.dispatch_id),
            (None, None) => format!(
                "  {}  discarded (receipt line {})",
                i.dispatch_id,
                done.receipt_seq
                    .map_or_else(|| "-".into(), |n| n.to_string())
            ),
        };
        out.line(&line)?;
    }
    Ok(if failed {
        super::util::error::Exit::Failed.into()
    } else {
        ExitCode::SUCCESS
    })
}
