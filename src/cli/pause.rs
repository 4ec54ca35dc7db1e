//! `vnx pause [--provider P | --role R | --place X] [--now]`: stops new launches (and, with
//! `--now`, running headless workers, their sessions kept) until `vnx resume` (ADR 0119).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use vnx::actions::pause;
use vnx::dispatch::queue::paused::Scope;
use vnx::dispatch::view::State;

use super::CliError;
use super::util::context::desk_in;
use super::util::error::Exit;
use super::util::output::{Out, say};
use super::util::settings;

/// Pause everything, or a provider, a role or a place, before closing the laptop
///
/// Nothing the pause covers launches until `vnx resume`: a new dispatch waits in the queue
/// (`status` says why), queued ones stay there, and a worker waiting out a usage limit waits
/// on past its reset. A running worker ends the turn it is in as it would; with `--now`, a
/// running headless worker is stopped at once and its supervisor waits, its session and
/// worktree kept (`paused` in `status`). `vnx resume` continues each in its session. A TUI
/// worker's turn end ends its dispatch, so it is left to end its turn; a dispatch in another
/// place (a host, a container, a pod) keeps running there, and only its launches wait.
///
/// Each pause is a signed `paused` receipt; each stopped worker's wait a `dispatch_paused`.
/// Exits 0 when the pause is in effect and every worker told to stop reads paused (or
/// ended), 3 when one could not be told or did not stop within 30 s.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx pause --now\n  $ vnx pause --role reviewer\n  \
                             $ vnx resume"
)]
pub struct Args {
    /// Only dispatches of this provider (a CLI)
    #[arg(long, value_name = "NAME", group = "scope")]
    provider: Option<String>,
    /// Only dispatches of this role
    #[arg(long, value_name = "NAME", group = "scope")]
    role: Option<String>,
    /// Only dispatches in this place: a host's name, or `here` for this machine
    #[arg(long, value_name = "NAME", group = "scope")]
    place: Option<String>,
    /// Also stop running headless workers now, their sessions kept
    #[arg(long)]
    now: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

/// How long `vnx pause --now` waits for the workers it stopped to read paused.
const SETTLE: Duration = Duration::from_secs(30);

/// The scope the flags name (everything with none).
fn scope_of(args: &Args) -> Result<Scope, CliError> {
    Scope::of_first(
        args.provider.as_deref(),
        args.role.as_deref(),
        args.place.as_deref(),
    )
    .map_err(|e| CliError::usage(e.to_string()))
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let project = settings::project()?;
    let scope = scope_of(&args)?;
    let socket = args.tmux.tmux_socket.clone();
    let done = desk_in(&project, socket.clone(), None, |desk| {
        Ok(pause::pause(desk, &scope, args.now)?)
    })?;
    let mut out = Out::new();
    out.line(&done.pause.describe())?;
    let mut failed = false;
    let mut told = Vec::new();
    for (id, result) in &done.stopping {
        match result {
            Ok(pid) => {
                say!(
                    "{id}: told its supervisor (pid {pid}) to stop the worker, keeping its session"
                );
                told.push(id.clone());
            }
            Err(why) => {
                say!("{id}: could not be stopped now: {why}");
                failed = true;
            }
        }
    }
    for id in &done.ending_turn {
        out.line(&format!("{id}  ends the turn it is in"))?;
    }
    for id in &done.queued {
        out.line(&format!("{id}  queued: waits"))?;
    }
    let until = Instant::now() + SETTLE;
    while !told.is_empty() {
        let states = desk_in(&project, socket.clone(), None, |desk| Ok(desk.states()?))?;
        told.retain(|id| {
            let state = states.iter().find(|s| s.id == *id).map(|s| s.state);
            match state {
                Some(State::Paused) => {
                    let _ = out.line(&format!("{id}  paused: its session kept"));
                    false
                }
                Some(s) if !s.is_live() => {
                    let _ = out.line(&format!("{id}  {s} before it could be paused"));
                    false
                }
                _ => true,
            }
        });
        if told.is_empty() || Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    for id in &told {
        say!("{id}: does not read paused after {} s", SETTLE.as_secs());
        failed = true;
    }
    say!("`vnx resume` lifts the pause and continues each in its session");
    Ok(if failed {
        Exit::Failed.into()
    } else {
        ExitCode::SUCCESS
    })
}
