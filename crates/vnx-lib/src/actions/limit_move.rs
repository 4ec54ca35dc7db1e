//! A person moving a dispatch that waits out its provider's usage limit to another CLI
//! (`vnx resume ID --to [NAME]`, issue 71): refused unless it is `limited`; a signed
//! `dispatch_failover` naming both providers and who moved it first, then its supervisor told
//! to end the wait (the dispatch ends `cancelled` as moved, its worktree and branch kept),
//! then a follow-up on the other CLI in the same worktree and branch, in a new session of
//! that CLI, told the assignment and that the earlier worker stopped at its usage limit. A
//! move killed between its steps is finished by its rerun, from the receipt it recorded.

use std::path::Path;
use std::slice::from_ref;

use super::follow_up::{FollowUp, Told};
use super::start::Started;
use super::{ActionError, Desk};
use crate::dispatch::queue::failover;
use crate::dispatch::view::{DispatchState, State};
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::receipts::{DispatchFailover, DispatchStatus};

/// Why a dispatch cannot be moved to another CLI.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// It does not wait out a usage limit (and no move of it waits for its follow-up).
    #[error(
        "dispatch {id} is {state}, not limited: only a dispatch waiting out its usage limit moves to another CLI"
    )]
    NotLimited {
        /// The dispatch.
        id: DispatchId,
        /// Its state.
        state: &'static str,
    },
    /// No provider named, and its role's `on_limit:` names none that no limit holds.
    #[error(
        "nowhere to move {id} to: its role {role}'s on_limit names no provider but {from} that no usage limit holds"
    )]
    Nowhere {
        /// The dispatch.
        id: DispatchId,
        /// Its role.
        role: String,
        /// Its provider.
        from: String,
    },
    /// The provider named is its own.
    #[error("dispatch {id} runs on {provider} already")]
    Itself {
        /// The dispatch.
        id: DispatchId,
        /// Its provider.
        provider: String,
    },
    /// It runs in a place (a host, a container, a pod), whose supervisor this machine does
    /// not reach.
    #[error("dispatch {id} runs on {place}: a move to another CLI is made only here")]
    OnHost {
        /// The dispatch.
        id: DispatchId,
        /// Its place.
        place: String,
    },
    /// Its supervisor could not be told to end the wait (why).
    #[error("could not reach the supervisor of {id}: {why}")]
    Unreachable {
        /// The dispatch.
        id: DispatchId,
        /// Why.
        why: String,
    },
}

impl MoveError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            MoveError::NotLimited { id, .. } => format!(
                "`vnx status {id}` shows it; an ended dispatch is continued with `vnx follow-up \
                 {id}`"
            ),
            MoveError::Nowhere { id, role, .. } => format!(
                "name one: `vnx resume {id} --to NAME`, or list where its role goes in \
                 `roles.{role}.on_limit` of .vnx/config.yaml"
            ),
            MoveError::Itself { id, .. } => {
                format!("`vnx resume {id}` continues it now on its own CLI")
            }
            MoveError::OnHost { id, .. } => {
                format!("`vnx cancel {id}`, then `vnx follow-up {id}` continues it where it ran")
            }
            MoveError::Unreachable { id, .. } => format!(
                "nothing was stopped; `vnx status {id}` shows it, and `vnx resume {id} --to` \
                 tries again"
            ),
        })
    }
}

/// What a move did.
#[derive(Debug)]
pub struct Moved {
    /// The dispatch moved.
    pub id: DispatchId,
    /// The provider it waited on.
    pub from: String,
    /// The provider its follow-up runs on.
    pub to: String,
    /// Whether an earlier, interrupted move recorded it (this one finished it).
    pub finished_earlier: bool,
    /// The follow-up that continues it there.
    pub follow_up: Started,
}

impl Moved {
    /// The line that says so.
    pub fn line(&self) -> String {
        let how = if self.finished_earlier {
            "moved by an earlier `vnx resume --to`"
        } else {
            "moved"
        };
        format!(
            "{}  waited out a usage limit on {}: {how} to {}; {} continues it in its worktree",
            self.id,
            self.from,
            self.to,
            self.follow_up.id()
        )
    }
}

/// Moves dispatch `id`, which waits out a usage limit, to provider `to` (`None`: the first
/// of its role's `on_limit:` that no limit holds), as the module says; a move an earlier
/// run recorded and did not finish is finished (to the provider it recorded).
pub fn move_limited(
    desk: &Desk<'_>,
    id: &DispatchId,
    to: Option<&str>,
    told: &dyn Fn(Told),
) -> Result<Moved, ActionError> {
    let states = desk.states()?;
    let s = Desk::named(&states, from_ref(id))?.remove(0).clone();
    let recorded = recorded_move(desk, id)?;
    let from = s.provider.clone().unwrap_or_default();
    let (to, finished_earlier) = match (s.state, recorded) {
        (State::Limited, None) => {
            if let Some(place) = s.place.recorded_name() {
                return Err(MoveError::OnHost { id: s.id, place }.into());
            }
            let to = target(desk, &s, to)?;
            let why = reason(&s, desk.by);
            let ctx = desk.ctx;
            let ids = (id, s.model.as_deref());
            failover::record_by(ctx, ctx.ledger, ids, (&from, &to), (&why, Some(desk.by)))?;
            crate::steps::reached(crate::steps::limit_move::RECORDED);
            end_wait(desk, &s)?;
            (to, false)
        }
        (State::Limited, Some(r)) => {
            end_wait(desk, &s)?;
            (r.to, true)
        }
        (State::Ended(DispatchStatus::Cancelled), Some(r)) if s.continued_by.is_none() => {
            (r.to, true)
        }
        (state, _) => {
            return Err(MoveError::NotLimited {
                id: s.id,
                state: state.name(),
            }
            .into());
        }
    };
    let asked = FollowUp {
        provider: Some(to.clone()),
        instruction: crate::dispatch::start::compose::moved_after_limit(&from),
        ..FollowUp::of(id.clone())
    };
    let follow_up = super::follow_up::follow_up(desk, &asked, told)?;
    Ok(Moved {
        id: id.clone(),
        from,
        to,
        finished_earlier,
        follow_up,
    })
}

/// The provider dispatch `s` moves to: `to` when named (a provider the project knows, not
/// its own), else the first of its role's `on_limit:` that is not its own and that no usage
/// limit holds.
fn target(desk: &Desk<'_>, s: &DispatchState, to: Option<&str>) -> Result<String, ActionError> {
    let config = desk.ctx.project.load_config()?;
    let from = s.provider.as_deref().unwrap_or_default();
    let Some(to) = to else {
        let role = s.role.clone().unwrap_or_default();
        let data = desk.ctx.project.data_dir();
        return failover::next_provider(&config, &data, &role, from).ok_or_else(|| {
            MoveError::Nowhere {
                id: s.id.clone(),
                role,
                from: from.to_owned(),
            }
            .into()
        });
    };
    if to == from {
        return Err(MoveError::Itself {
            id: s.id.clone(),
            provider: to.to_owned(),
        }
        .into());
    }
    if !config.providers.contains_key(to)
        && let Err(e) = crate::provider::Provider::parse(to)
    {
        return Err(crate::dispatch::DispatchError::from(e).into());
    }
    Ok(to.to_owned())
}

/// Why it moves, in words: who moved it, and the limit it waited out.
fn reason(s: &DispatchState, by: &str) -> String {
    let provider = s.provider.as_deref().unwrap_or_default();
    match &s.limited {
        Some(l) => format!(
            "moved by {by} while {provider} was limited until {}: {}",
            l.continues_at.as_str(),
            l.said
        ),
        None => format!("moved by {by} while {provider} was limited"),
    }
}

/// Ends the limited wait of `s`: its supervisor, told the dispatch moves (a file in its
/// directory), is asked to stop as a cancel asks it, ends the dispatch `cancelled` as moved
/// (its worktree and branch kept), and is waited for.
fn end_wait(desk: &Desk<'_>, s: &DispatchState) -> Result<(), ActionError> {
    let ctx = desk.ctx;
    let data_dir = ctx.project.data_dir();
    let dir = crate::dispatch::dir_of(&ctx.project.root, &s.id);
    let marker = dir.join(crate::dispatch::supervise::limited::MOVE_REQUEST);
    crate::files::write_atomic_private(&marker, b"vnx resume --to\n", false).map_err(|source| {
        crate::dispatch::DispatchError::Io {
            path: marker.clone(),
            source,
        }
    })?;
    let request = crate::dispatch::cancel::REQUEST;
    crate::dispatch::cancel::tell_supervisor(&data_dir, s, ctx.tmux, request).map_err(|why| {
        let _ = std::fs::remove_file(&marker);
        MoveError::Unreachable {
            id: s.id.clone(),
            why,
        }
    })?;
    crate::dispatch::view::wait(ctx.ledger, from_ref(&s.id), ctx.tmux, false)?;
    crate::steps::reached(crate::steps::limit_move::ENDED);
    Ok(())
}

/// The move of dispatch `id` a person recorded (a `dispatch_failover` naming who moved it,
/// signed by a trusted key), if any: the latest.
fn recorded_move(
    desk: &Desk<'_>,
    id: &DispatchId,
) -> Result<Option<DispatchFailover>, ActionError> {
    Ok(person_moves(desk.ctx.ledger, desk.trusted, Some(id))?.pop())
}

/// The moves a person recorded (`dispatch_failover` naming who moved it, signed by a key in
/// `trusted`), of dispatch `only` or of every one, in ledger order.
fn person_moves(
    ledger: &Path,
    trusted: &[[u8; 32]],
    only: Option<&DispatchId>,
) -> Result<Vec<DispatchFailover>, LedgerError> {
    if !ledger.exists() {
        return Ok(Vec::new());
    }
    let needle = only.map_or("", |id| id.as_str());
    let (lines, _) = crate::ledger::tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, b"dispatch_failover").is_some()
            && memchr::memmem::find(l, needle.as_bytes()).is_some()
    })?;
    Ok(lines
        .iter()
        .filter_map(|line| crate::ledger::json::object_of_line(line))
        .filter(|o| crate::ledger::attest::check(o, trusted).is_valid())
        .filter_map(|o| crate::receipts::read::<DispatchFailover>(&o))
        .map(|r| r.receipt)
        .filter(|r| r.by.is_some() && only.is_none_or(|id| r.dispatch_id == *id))
        .collect())
}

/// The dispatches of `states` a person's move ended and no follow-up continues (the move was
/// killed between its wait's end and the follow-up's start), each with the provider its
/// recorded move names: `vnx resume ID --to` finishes each. For `vnx doctor`.
pub fn unfinished(
    ledger: &Path,
    states: &[DispatchState],
    trusted: &[[u8; 32]],
) -> Result<Vec<(DispatchId, String)>, LedgerError> {
    let ended = |s: &&DispatchState| {
        s.state == State::Ended(DispatchStatus::Cancelled) && s.continued_by.is_none()
    };
    if !states.iter().any(|s| ended(&s)) {
        return Ok(Vec::new());
    }
    let moves = person_moves(ledger, trusted, None)?;
    Ok(states
        .iter()
        .filter(ended)
        .filter_map(|s| {
            let m = moves.iter().rfind(|m| m.dispatch_id == s.id)?;
            Some((s.id.clone(), m.to.clone()))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_says_what_to_do() {
        let id = DispatchId::parse("D-0a1b2c3d4e5f").unwrap();
        let refusals = [
            MoveError::NotLimited {
                id: id.clone(),
                state: "running",
            },
            MoveError::Nowhere {
                id: id.clone(),
                role: "implementer".into(),
                from: "demo".into(),
            },
            MoveError::Itself {
                id: id.clone(),
                provider: "demo".into(),
            },
        ];
        for e in refusals {
            assert!(e.hint().unwrap().contains("D-0a1b2c3d4e5f"), "{e}");
        }
    }
}
