//! `vnx attach ID`: attaches the terminal to a running dispatch's tmux pane.

use std::process::ExitCode;

use vnx::dispatch::view;
use vnx::tmux::Tmux;

use super::CliError;
use super::util::settings;

/// Attach this terminal to a running dispatch's pane (detach with C-b d)
///
/// Inside your own tmux, the pane opens in a popup of it (tmux 3.2 or later), where C-b d
/// closes it and comes back; elsewhere it takes the terminal until you detach.
#[derive(clap::Args)]
pub struct Args {
    /// The dispatch id, or its start (`D-3f2a`, `3f2a`)
    id: String,
    /// tmux socket name [default: the one the dispatch was started on]
    #[arg(long, value_name = "NAME")]
    tmux_socket: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    super::util::ids::check_dispatch_id(&args.id)?;
    let project = settings::project()?;
    let id = super::util::ids::dispatch_id(&project, &args.id)?;
    let args = Args {
        id: id.to_string(),
        ..args
    };
    let ledger = project.ledger();
    if !ledger.exists() || !view::started(&ledger, &id)? {
        return Err(CliError::usage(format!("unknown dispatch {}", args.id))
            .with_hint("`vnx status` lists the dispatches of this project"));
    }
    if let Some(place) = super::util::hosts::place_of(&project, &id)? {
        // Its pane is in its place: the place's own `vnx attach`, with a terminal.
        let err = vnx::process::exec(&place.vnx_tty(&["attach".to_owned(), args.id.clone()]));
        return Err(CliError::from_error(&err)
            .context(format!("could not reach {} to attach", place.name())));
    }
    let (tmux, session) = match args.tmux_socket {
        Some(socket) => (Tmux::new(socket), format!("vnx-{}", args.id)),
        None => view::session_of(&ledger, &id, &Tmux::new(settings::tmux_socket(None))),
    };
    if !tmux.has_session(&session) {
        return Err(
            CliError::new(format!("dispatch {} has no running pane", args.id))
                .with_hint("`vnx status` lists dispatches; a finished one has no pane"),
        );
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(CliError::usage(format!(
            "attaching to dispatch {} needs a terminal, and this is not one",
            args.id
        ))
        .with_hint(format!(
            "run it from a terminal; here, `vnx show {} --log --follow` follows its output",
            args.id
        )));
    }
    // Inside the user's own tmux, the pane opens in a popup of it: one `C-b d` comes back.
    let inside_tmux = settings::env("TMUX").is_some_and(|t| !t.is_empty()) && seen_there();
    let cmd = if inside_tmux {
        tmux.popup_attach_cmd(&session, &format!(" vnx {} · C-b d comes back ", args.id))
    } else {
        tmux.attach_cmd(&session)
    };
    let err = vnx::process::exec(&cmd);
    Err(CliError::from_error(&err).context("could not attach to tmux"))
}

/// Whether the session of the user's tmux this runs in has a terminal attached, which a popup
/// needs (a detached session, e.g. a script's, gets the attach in place).
fn seen_there() -> bool {
    let ask = vnx::process::Cmd::new("tmux")
        .args(["display-message", "-p", "#{session_attached}"])
        .timeout(std::time::Duration::from_secs(2));
    vnx::process::run_ok(&ask).is_ok_and(|n| n.trim().parse::<u32>().is_ok_and(|n| n > 0))
}
