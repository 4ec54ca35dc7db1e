//! `vnx schedule list` (the config's `schedules:`, each with its next firing) and `vnx schedule
//! run` (fires what is due once, for cron or a systemd timer; `--loop` keeps firing).

use std::process::ExitCode;

use super::CliError;
use super::util::output::{Out, say};
use super::util::schedules::{fire_once, keep_firing, line, listed, outcome_line};
use super::util::settings;

/// List, or fire, the schedules of .vnx/config.yaml
#[derive(clap::Subcommand)]
pub enum Command {
    List(ListArgs),
    Run(RunArgs),
}

/// List the schedules of .vnx/config.yaml, each with its next firing (UTC)
///
/// A schedule fires only when something runs `vnx schedule run` (from cron or a systemd
/// timer), `vnx schedule run --loop`, or `vnx serve`.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx schedule list\n  $ vnx schedule list --json")]
pub struct ListArgs {
    /// Print `[{"name", "when", "enabled", "next", "due", "last_slot", "last_dispatch"}…]`
    /// as JSON
    #[arg(long)]
    json: bool,
}

/// Fire the schedules that are due, once, and exit (for cron or a systemd timer)
///
/// Each firing is a signed `schedule_fired` receipt, written before its dispatch starts
/// through the queue as `vnx run`'s would (concurrency slots, usage-limit holds and budgets
/// apply); each skip (its previous dispatch still runs, slots missed with `catch_up: skip`,
/// a start refused) a `schedule_skipped`. A firing a killed run left unstarted is started.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx schedule run")]
pub struct RunArgs {
    /// Keep firing until stopped, sleeping until the next slot (60 s at most at a time)
    #[arg(long = "loop")]
    keep: bool,
    /// Print what was done as JSON: `[{"schedule", "slot", "action", "missed",
    /// "dispatch_id", "reason", "detail"}…]`
    #[arg(long, conflicts_with = "keep")]
    json: bool,
    /// Fire as if it were this time (RFC 3339), for tests
    #[arg(long, value_name = "TIME", hide = true, conflicts_with = "keep")]
    now: Option<jiff::Timestamp>,
    #[command(flatten)]
    tmux: settings::TmuxSocket,
}

pub fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::List(args) => list(args.json),
        Command::Run(args) => fire(args),
    }
}

fn list(json: bool) -> Result<ExitCode, CliError> {
    let project = settings::project()?;
    let schedules = listed(&project, jiff::Timestamp::now())?;
    let mut out = Out::new();
    if json {
        out.json(&schedules)?;
    } else if schedules.is_empty() {
        say!("no schedules: add them under `schedules:` in .vnx/config.yaml");
    } else {
        for s in &schedules {
            out.line(&line(s))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn fire(args: RunArgs) -> Result<ExitCode, CliError> {
    if args.keep {
        say!("vnx schedule run --loop: firing the schedules as they fall due (Ctrl-C stops it)");
        keep_firing(args.tmux.tmux_socket);
    }
    let now = args.now.unwrap_or_else(jiff::Timestamp::now);
    let done = fire_once(args.tmux.tmux_socket, now)?;
    let mut out = Out::new();
    if args.json {
        out.json(&done)?;
    } else {
        for o in &done {
            out.line(&outcome_line(o))?;
        }
        if done.is_empty() {
            say!("nothing is due");
        }
    }
    Ok(ExitCode::SUCCESS)
}
