//! `vnx memory [list] | show ID | promote ID | drop NAME --cli CLI`: the project's memory of
//! each coding CLI that keeps one, what dispatches' workers wrote to theirs, and a person's
//! promotion of it (or a lesson dropped), each a signed `memory_promoted`.

use std::process::ExitCode;

use vnx::actions::memory::{self, Proposal};
use vnx::actions::{ActionError, Desk};
use vnx::receipts::MemoryPromoted;

use super::CliError;
use super::util::error::Exit;
use super::util::escape::escape_keep_lines;
use super::util::output::{Out, escape, say};
use super::util::settings;

/// Read what workers wrote to their CLI's memory; promote it to the project's
///
/// A CLI that keeps memory its later sessions load (an auto memory that every worktree of
/// a repository shares) is given its dispatch's own memory folder, holding the
/// project's memory of that CLI. What the worker writes there stays with the dispatch: no
/// later dispatch loads it until a person promotes it here.
#[derive(clap::Subcommand)]
pub enum Command {
    List(ListArgs),
    Show(ShowArgs),
    Promote(PromoteArgs),
    Drop(DropArgs),
}

/// List the project's memory of each CLI and what dispatches propose
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx memory list\n  $ vnx memory list --json")]
pub struct ListArgs {
    /// Print `{"kept": [{"provider", "files": [{"name", "sha256", "text"}…]}…], "proposed":
    /// [{"dispatch_id", "provider", "files", "passed_over"}…]}` as JSON
    #[arg(long)]
    json: bool,
}

/// Show what one dispatch's worker wrote to its memory that the project's lacks
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx memory show D-5c6d7e8f9a0b")]
pub struct ShowArgs {
    /// The dispatch id, or its start
    #[arg(value_name = "ID")]
    id: String,
    /// Print `{"dispatch_id", "provider", "files", "passed_over"}` as JSON
    #[arg(long)]
    json: bool,
}

/// Promote what a dispatch proposes to the project's memory of its CLI
///
/// Every later dispatch of that CLI starts with it. Refused (exit 1) when the dispatch
/// proposes nothing (or not a file named), and from inside a dispatch's worker (exit 2).
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx memory promote D-5c6d7e8f9a0b\n  $ vnx memory promote D-5c6d7e8f9a0b --only MEMORY.md --note \"true of the repo\""
)]
pub struct PromoteArgs {
    /// The dispatch id, or its start
    #[arg(value_name = "ID")]
    id: String,
    /// Only this file of what it proposes (repeatable)
    #[arg(long, value_name = "NAME")]
    only: Vec<String>,
    /// Why, recorded with it
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
}

/// Drop a file from the project's memory of a CLI
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx memory drop MEMORY.md --cli demo")]
pub struct DropArgs {
    /// The file's name
    name: String,
    /// The CLI whose memory it is in
    #[arg(long, value_name = "CLI")]
    cli: String,
    /// Why, recorded with it
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
}

pub fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::List(args) => list(args.json),
        Command::Show(args) => show(args),
        Command::Promote(args) => promote(args),
        Command::Drop(args) => drop_file(args),
    }
}

fn list(json: bool) -> Result<ExitCode, CliError> {
    let project = settings::project()?;
    let (kept, proposed) = super::util::context::desk_in(&project, None, None, |desk| {
        Ok((memory::kept(desk)?, memory::proposals(desk)?))
    })?;
    let mut out = Out::new();
    if json {
        let kept: Vec<_> = (kept.iter())
            .map(|k| serde_json::json!({"provider": k.provider, "files": k.files}))
            .collect();
        let proposed: Vec<_> = proposed.iter().map(proposal_json).collect();
        out.json(&serde_json::json!({"kept": kept, "proposed": proposed}))?;
        return Ok(ExitCode::SUCCESS);
    }
    for k in &kept {
        let names: Vec<&str> = k.files.iter().map(|f| f.name.as_str()).collect();
        out.line(&format!("{}: {}", k.provider, escape(&names.join(", "))))?;
    }
    if kept.is_empty() {
        say!("the project's memory is empty: nothing was promoted");
    }
    for p in &proposed {
        let names: Vec<&str> = p.files.iter().map(|f| f.name.as_str()).collect();
        out.line(&format!(
            "{} ({}) proposes {}{}",
            p.id,
            p.provider,
            escape(&names.join(", ")),
            passed(p)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn show(args: ShowArgs) -> Result<ExitCode, CliError> {
    let (project, ids) = super::util::ids::project_for(&[args.id])?;
    let p = super::util::context::desk_in(&project, None, None, |desk| {
        Ok(memory::proposal(desk, &ids[0])?)
    })?;
    let mut out = Out::new();
    if args.json {
        out.json(&proposal_json(&p))?;
        return Ok(ExitCode::SUCCESS);
    }
    if p.files.is_empty() {
        say!("{} proposes no memory{}", p.id, passed(&p));
    }
    for f in &p.files {
        out.line(&format!(
            "== {} ({} of {})",
            escape(&f.name),
            p.id,
            p.provider
        ))?;
        out.line(&escape_keep_lines(&f.text))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn promote(args: PromoteArgs) -> Result<ExitCode, CliError> {
    let (project, ids) = super::util::ids::project_for(&[args.id])?;
    change(&project, |desk| {
        memory::promote(desk, &ids[0], &args.only, args.note.as_deref())
    })
}

fn drop_file(args: DropArgs) -> Result<ExitCode, CliError> {
    change(&settings::project()?, |desk| {
        memory::drop_file(desk, &args.cli, &args.name, args.note.as_deref())
    })
}

/// Changes the project's memory by `change` at its desk, refused to a worker, and says
/// what it holds now.
fn change(
    project: &vnx::project::Project,
    change: impl FnOnce(&Desk<'_>) -> Result<MemoryPromoted, ActionError>,
) -> Result<ExitCode, CliError> {
    refuse_a_worker(project)?;
    let r = super::util::context::desk_in(project, None, None, |desk| Ok(change(desk)?))?;
    say!("{}", escape(&promoted_line(&r)));
    Ok(Exit::Ok.into())
}

/// A worker never promotes memory, its own or another's: decided from this process's real
/// ancestry and directory, not from a variable it sets.
fn refuse_a_worker(project: &vnx::project::Project) -> Result<(), CliError> {
    match settings::acting_worker(&project.root, &project.ledger())? {
        Some(worker) => Err(CliError::usage(format!(
            "{} cannot change the project's memory",
            worker.describe()
        ))
        .with_hint("a person promotes memory from outside the dispatch")),
        None => Ok(()),
    }
}

fn promoted_line(r: &MemoryPromoted) -> String {
    let from = r
        .dispatch_id
        .as_ref()
        .map_or("dropped".to_owned(), |id| format!("promoted from {id}"));
    format!(
        "{}'s memory: {} {from} by {}; it holds {} file(s)",
        r.provider,
        r.changed.join(", "),
        r.by,
        r.files.len()
    )
}

fn passed(p: &Proposal) -> String {
    match p.passed_over.is_empty() {
        true => String::new(),
        false => format!(" (passed over: {})", escape(&p.passed_over.join(", "))),
    }
}

fn proposal_json(p: &Proposal) -> serde_json::Value {
    serde_json::json!({
        "dispatch_id": p.id,
        "provider": p.provider,
        "files": p.files,
        "passed_over": p.passed_over,
    })
}
