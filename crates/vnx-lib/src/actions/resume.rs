//! Resuming interrupted dispatches (`vnx resume`): which are lost and continued, which had
//! reported and are recovered, which a resume closed and stopped before continuing; each
//! closed with a completion that says so and continued by a follow-up in its worktree
//! ([`super::follow_up`]). A front end runs the follow-up (here, or on the dispatch's host).
//! A dispatch named that waits out a usage limit is continued at once by its own supervisor,
//! in its session ([`continue_now`], ADR 0117).

use super::{ActionError, Desk};
use crate::dispatch::resume;
use crate::dispatch::state::{DispatchState, State};
use crate::ids::DispatchId;
use crate::receipts::DispatchStatus;

/// What a resume does to one dispatch.
#[derive(Clone, Debug)]
pub enum Todo {
    /// It was interrupted: close it, then continue it in a follow-up.
    Continue(DispatchState),
    /// Its worker reported before it was lost: record its end from the report.
    Recover(DispatchState),
    /// A resume closed it and stopped before its follow-up: start that follow-up.
    Finish(DispatchState),
    /// It waits out a usage limit: its supervisor continues it now, before the reset.
    Now(DispatchState),
}

impl Todo {
    /// The dispatch.
    pub fn state(&self) -> &DispatchState {
        match self {
            Todo::Continue(s) | Todo::Recover(s) | Todo::Finish(s) | Todo::Now(s) => s,
        }
    }

    /// What a dry run says would be done.
    pub fn would(&self) -> String {
        let id = &self.state().id;
        match self {
            Todo::Recover(_) => format!(
                "its worker reported before it was lost: would record its end (`vnx recover \
                 {id}`)"
            ),
            Todo::Continue(_) => format!(
                "interrupted: would close it and continue it in a follow-up in its worktree \
                 (`vnx follow-up {id} --detach`)"
            ),
            Todo::Finish(_) => format!(
                "closed by a resume that stopped before its follow-up: would start it in its \
                 worktree (`vnx follow-up {id} --detach`)"
            ),
            Todo::Now(_) => "waits out a usage limit: would have its supervisor continue it \
                             now, in its session"
                .to_owned(),
        }
    }
}

/// A dispatch named that a resume leaves as it is, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Left {
    /// A follow-up continues it already (that one, in this state).
    Continued {
        /// The dispatch named.
        id: DispatchId,
        /// The follow-up at the end of its chain.
        by: DispatchId,
        /// That follow-up's state.
        state: &'static str,
    },
    /// Its end was recorded from its worker's report already.
    Recovered {
        /// The dispatch named.
        id: DispatchId,
        /// Its state.
        state: &'static str,
    },
}

impl Left {
    /// The line that says so.
    pub fn line(&self) -> String {
        match self {
            Left::Continued { id, by, state } => {
                format!("{id}  resumed already: {by} continues it ({state})")
            }
            Left::Recovered { id, state } => {
                format!("{id}  recorded already from its worker's report (recovered): {state}")
            }
        }
    }
}

/// What a resume of `ids` (every lost dispatch when empty) does, in order (the interrupted,
/// then those a resume left half done), and the dispatches named it leaves as they are. A
/// dispatch named that nothing interrupted is [`ActionError::NotInterrupted`].
pub fn plan(desk: &Desk<'_>, ids: &[DispatchId]) -> Result<(Vec<Todo>, Vec<Left>), ActionError> {
    let ledger = desk.ctx.ledger;
    let states = desk.states()?;
    // Dispatches an earlier resume closed: continued, or not yet when it was killed between
    // its close and the follow-up's launch.
    let closes = if (states.iter()).any(|s| s.state == State::Ended(DispatchStatus::Cancelled)) {
        resume::closed_for_resume(ledger, &states, desk.trusted)?
    } else {
        Vec::new()
    };
    let unfollowed = |id: &DispatchId| closes.iter().any(|(c, next)| c == id && next.is_none());
    let mut chosen: Vec<&DispatchState> = Vec::new();
    let mut left = Vec::new();
    if ids.is_empty() {
        chosen.extend((states.iter()).filter(|s| s.state == State::Lost || unfollowed(&s.id)));
    }
    let mut now = Vec::new();
    for s in Desk::named(&states, ids)? {
        if matches!(s.state, State::Limited | State::Paused) {
            now.push(Todo::Now(s.clone()));
            continue;
        }
        if s.state == State::Lost || unfollowed(&s.id) {
            chosen.push(s);
            continue;
        }
        let resumed = closes.iter().any(|(c, next)| *c == s.id && next.is_some());
        match resume::chain_end(&states, &s.id).filter(|_| resumed) {
            // Its follow-up was lost in turn: that one is what is left to continue.
            Some(end) if end.state == State::Lost => chosen.push(end),
            Some(end) => left.push(Left::Continued {
                id: s.id.clone(),
                by: end.id.clone(),
                state: end.state.name(),
            }),
            None if matches!(s.state, State::Ended(_))
                && resume::recovered(ledger, &s.id, desk.trusted)? =>
            {
                left.push(Left::Recovered {
                    id: s.id.clone(),
                    state: s.state.name(),
                });
            }
            None => {
                return Err(ActionError::NotInterrupted {
                    id: s.id.clone(),
                    state: s.state.name(),
                });
            }
        }
    }
    let owned: Vec<DispatchState> = chosen.into_iter().cloned().collect();
    let data_dir = desk.ctx.project.data_dir();
    let mut todo: Vec<Todo> = resume::interrupted(&data_dir, &owned)
        .into_iter()
        .map(|i| {
            let state = owned.iter().find(|s| s.id == i.id).expect("chosen").clone();
            // A remote dispatch's report is on its host: it is continued there.
            if i.reported && state.place.is_here() {
                Todo::Recover(state)
            } else {
                Todo::Continue(state)
            }
        })
        .collect();
    todo.extend(
        (owned.iter())
            .filter(|s| unfollowed(&s.id))
            .map(|s| Todo::Finish(s.clone())),
    );
    todo.extend(now);
    Ok((todo, left))
}

/// Asks the supervisor of dispatch `id`, which waits out a usage limit, to continue it now
/// (it looks for the request while it waits; ADR 0117).
pub fn continue_now(desk: &Desk<'_>, id: &DispatchId) -> Result<(), ActionError> {
    let dir = crate::dispatch::dir_of(&desk.ctx.project.root, id);
    let request = dir.join(crate::dispatch::supervise::asked::CONTINUE_REQUEST);
    crate::files::write_atomic_private(&request, b"vnx resume\n", false).map_err(|source| {
        crate::dispatch::DispatchError::Io {
            path: request.clone(),
            source,
        }
        .into()
    })
}

/// Closes interrupted dispatch `id` with a signed completion that says a resume continues it
/// (see [`resume::close`]); the closing line's entry hash.
pub fn close(desk: &Desk<'_>, id: &DispatchId) -> Result<String, ActionError> {
    Ok(resume::close(desk.ctx.ledger, id, desk.ctx.attestor)?)
}
