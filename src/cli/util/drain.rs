//! Draining the dispatch queue from the commands that read dispatch state (`status`, `wait`,
//! `show`, `cancel`, `dispatch-agent`, a dashboard reload): a queued dispatch starts even when
//! the supervisor that should have started it died. Only a warning when it fails.

use vnx::dispatch::Context;
use vnx::dispatch::queue;

use super::output::say;
use super::settings;
use crate::cli::CliError;

/// Drains the dispatch queue when anything is queued: every command that reads dispatch
/// state does, so a queue whose finishing supervisor died still drains. A failure is only
/// a warning; what was closed is said on stderr (when `tell`).
pub(crate) fn recover_queue(ctx: &Context<'_>, tell: bool) {
    match queue::recover(ctx, false) {
        _ if !tell => {}
        Ok(d) => {
            for id in &d.started {
                say!("started queued dispatch {id}");
            }
            for (id, verdict, why) in &d.closed {
                say!("queued dispatch {id} {verdict}: {why}");
            }
        }
        Err(e) => CliError::from(e)
            .context("could not drain the dispatch queue")
            .warn(),
    }
}

/// [`recover_queue`] for a command without a dispatch context of its own: builds one only
/// when something is queued. `tell`: say what it did (not under the dashboard's screen);
/// silent otherwise.
pub(crate) fn recover_queue_here(tmux_socket: Option<String>, tell: bool) {
    let Ok(project) = settings::project() else {
        return;
    };
    if !queue::entry::any(&project.data_dir()) {
        return;
    }
    if let Err(e) = crate::cli::util::context::with_context(tmux_socket, |ctx| {
        recover_queue(ctx, tell);
        Ok(())
    }) && tell
    {
        e.warn();
    }
}
