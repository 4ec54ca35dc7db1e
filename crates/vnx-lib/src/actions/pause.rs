//! Pausing everything, or a provider, a role or a place, and lifting it (`vnx pause`, `vnx
//! resume`; ADR 0119). A pause is recorded (`paused`, named step `pause:recorded`), then put
//! in effect (its file, `pause:in_effect`): from then on nothing it covers launches, queued
//! dispatches wait, and a usage-limited worker waits on past its reset. With `now`, each
//! running headless worker it covers is then told to stop (its supervisor keeps its session
//! and waits, `dispatch_paused`); a TUI worker ends the turn it is in, which ends its
//! dispatch as usual. Lifting records `pause_lifted` (`unpause:recorded`) before the pause
//! ends; the supervisors that wait see it and continue their workers in their sessions. A
//! rerun after a kill at any step does what is left.

use super::{ActionError, Desk};
use crate::dispatch::queue::paused::{self, Pause, Scope, Subject};
use crate::dispatch::view::{DispatchState, State};
use crate::ids::DispatchId;
use crate::receipts::{PauseLifted, Paused};

/// What a pause did.
#[derive(Debug)]
pub struct PauseDone {
    /// The pause now in effect.
    pub pause: Pause,
    /// The running dispatches it covers whose workers were told to stop now (their pids'
    /// supervisors keep their sessions), or could not be told (why).
    pub stopping: Vec<(DispatchId, Result<u32, String>)>,
    /// The running dispatches it covers left to end their turn (without `now`, or TUIs).
    pub ending_turn: Vec<DispatchId>,
    /// The queued dispatches it covers, which wait.
    pub queued: Vec<DispatchId>,
}

/// The subject a pause judges a dispatch by: its provider, role and place.
fn subject_of(s: &DispatchState) -> Subject<'_> {
    Subject {
        provider: s.provider.as_deref().unwrap_or_default(),
        role: s.role.as_deref().unwrap_or_default(),
        place: &s.place,
    }
}

/// Whether a running dispatch's worker can be stopped now and continued in its session: a
/// headless worker of this machine (a TUI's turn end ends its dispatch; a place's worker is
/// its place's vnx's).
fn stoppable_now(desk: &Desk<'_>, s: &DispatchState) -> bool {
    let dir = desk.ctx.project.data_dir().join("dispatches").join(&s.id);
    s.place.is_here()
        && crate::dispatch::read_spec(&dir.join("spec.json"))
            .is_ok_and(|spec| spec.lane == crate::provider::Lane::Headless)
}

/// Pauses `scope`: recorded, put in effect, then, with `now`, each running headless worker it
/// covers told to stop.
pub fn pause(desk: &Desk<'_>, scope: &Scope, now: bool) -> Result<PauseDone, ActionError> {
    let states = desk.states()?;
    let covered: Vec<&DispatchState> = states
        .iter()
        .filter(|s| scope.covers(&subject_of(s)))
        .collect();
    let running: Vec<&DispatchState> = covered
        .iter()
        .copied()
        .filter(|s| matches!(s.state, State::Running | State::Blocked | State::Stalled))
        .collect();
    let (to_stop, ending_turn): (Vec<&DispatchState>, Vec<&DispatchState>) = running
        .into_iter()
        .partition(|s| now && stoppable_now(desk, s));
    let receipt = Paused {
        scope: scope.name(),
        by: desk.by.to_owned(),
        now,
        stopping: to_stop.iter().map(|s| s.id.clone()).collect(),
        extra: Default::default(),
    };
    desk.record(&receipt)?;
    crate::steps::reached(crate::steps::pause::RECORDED);
    let data_dir = desk.ctx.project.data_dir();
    let pause = Pause {
        scope: scope.name(),
        since: crate::dispatch::queue::rfc3339(jiff::Timestamp::now()),
        by: desk.by.to_owned(),
    };
    paused::set(&data_dir, scope, &pause).map_err(|source| ActionError::Io {
        path: data_dir.join(paused::PAUSE_DIR),
        source,
    })?;
    crate::steps::reached(crate::steps::pause::IN_EFFECT);
    let request = crate::dispatch::supervise::asked::REQUEST;
    let stopping = to_stop
        .iter()
        .map(|s| {
            let told =
                crate::dispatch::cancel::tell_supervisor(&data_dir, s, desk.ctx.tmux, request);
            (s.id.clone(), told)
        })
        .collect();
    Ok(PauseDone {
        pause,
        stopping,
        ending_turn: ending_turn.iter().map(|s| s.id.clone()).collect(),
        queued: (covered.iter())
            .filter(|s| s.state == State::Queued)
            .map(|s| s.id.clone())
            .collect(),
    })
}

/// What lifting pauses did.
#[derive(Debug, Default)]
pub struct Lifted {
    /// The pauses ended.
    pub ended: Vec<Pause>,
    /// Pauses still in effect (another scope's).
    pub standing: Vec<Pause>,
    /// The paused dispatches whose supervisors now continue them.
    pub continuing: Vec<DispatchId>,
}

/// Lifts the pause of `scope` (every pause with `None`): each recorded, then ended; the
/// supervisors of the dispatches no pause covers any more continue their workers.
pub fn lift(desk: &Desk<'_>, scope: Option<&Scope>) -> Result<Lifted, ActionError> {
    let data_dir = desk.ctx.project.data_dir();
    let lifting: Vec<Pause> = paused::all(&data_dir)
        .into_iter()
        .filter(|p| scope.is_none() || p.scope().as_ref() == scope)
        .collect();
    if lifting.is_empty() {
        return Ok(Lifted {
            standing: paused::all(&data_dir),
            ..Lifted::default()
        });
    }
    for p in &lifting {
        let receipt = PauseLifted {
            scope: p.scope.clone(),
            by: desk.by.to_owned(),
            extra: Default::default(),
        };
        desk.record(&receipt)?;
    }
    crate::steps::reached(crate::steps::unpause::RECORDED);
    // Read before the pauses end: a supervisor that sees its pause gone goes on at once, and
    // would no longer read as paused after.
    let paused_now: Vec<DispatchState> = (desk.states()?.into_iter())
        .filter(|s| s.state == State::Paused)
        .collect();
    let ended: Vec<Pause> = lifting
        .iter()
        .flat_map(|p| paused::lift(&data_dir, p.scope().as_ref()))
        .collect();
    let standing = paused::all(&data_dir);
    let continuing = (paused_now.into_iter())
        .filter(|s| paused::covering_in(&standing, &subject_of(s)).is_none())
        .map(|s| s.id)
        .collect();
    Ok(Lifted {
        ended,
        standing,
        continuing,
    })
}

/// Every pause in effect.
pub fn standing(desk: &Desk<'_>) -> Vec<Pause> {
    paused::all(&desk.ctx.project.data_dir())
}
