//! Firing the schedules that are due, under the schedules' lock, as named steps: (1) a signed
//! `schedule_fired` naming the dispatch it starts, (2) the dispatch started through the same
//! start `vnx run` uses (`actions::start`: the queue, usage-limit holds and budgets apply).
//! A run killed between the two leaves a firing whose dispatch the ledger never shows; the
//! next run starts it under that id, so each firing starts one dispatch. A slot skipped
//! (its previous dispatch still runs, missed slots with `catch_up: skip`, a start refused)
//! is a signed `schedule_skipped`.

use std::path::Path;

use super::{Due, Last, ScheduleError, due_one, recorded};
use crate::actions::Desk;
use crate::actions::start::{self, Note};
use crate::config::{CatchUp, Config, Overlap, Schedule};
use crate::dispatch::fold::Records;
use crate::dispatch::queue::{Submitted, Ticket};
use crate::dispatch::view::{Sessions, State, states_of};
use crate::dispatch::{Request, error_chain};
use crate::ids::{DispatchId, Timestamp};
use crate::ledger::{Ledger, now_utc};
use crate::receipts::{self, ScheduleFired, ScheduleSkip, ScheduleSkipped};

/// What a run did with one schedule's slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// It fired: its dispatch started or queued.
    Fired,
    /// A firing an earlier, killed run recorded had its dispatch started now.
    Resumed,
    /// It was skipped.
    Skipped,
}

/// What a run did with one schedule's slot.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    /// The schedule.
    pub schedule: String,
    /// The slot (RFC 3339, UTC).
    pub slot: Timestamp,
    /// Fired, resumed or skipped.
    pub action: Action,
    /// Slots before it that passed unfired, fired or skipped with it.
    pub missed: u32,
    /// The dispatch it started (or, skipped, the one still running or that could not start).
    pub dispatch_id: Option<DispatchId>,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ScheduleSkip>,
    /// What happened, in words.
    pub detail: String,
}

/// The schedules' lock, under `.vnx-data/schedules/`: one run fires at a time, so a slot
/// fires once whoever runs it (`vnx schedule run` from cron, `vnx serve`).
fn lock(data_dir: &Path) -> Result<std::fs::File, ScheduleError> {
    let dir = data_dir.join("schedules");
    let path = dir.join("lock");
    let err = |source| ScheduleError::Lock {
        path: path.clone(),
        source,
    };
    crate::files::private_dir(&dir).map_err(err)?;
    let file = crate::files::lock_file(&path, true).map_err(err)?;
    file.ok_or_else(|| err(std::io::Error::other("the lock was not taken")))
}

/// Fires what of `config`'s schedules is due at `now`, at `desk`: first the firing a
/// killed run left unstarted, then each due slot, fired or skipped. Each request starts from
/// `base` (its constraint overrides, sandbox, completion retry), the schedule's task put in.
/// Each [`Note`] of a start is `told`.
pub fn fire(
    desk: &Desk<'_>,
    config: &Config,
    base: &Request,
    now: jiff::Timestamp,
    told: &dyn Fn(Note),
) -> Result<Vec<Outcome>, ScheduleError> {
    let ctx = desk.ctx;
    let _held = lock(&ctx.project.data_dir())?;
    let ledger_err = |source| ScheduleError::Ledger {
        path: ctx.ledger.to_path_buf(),
        source,
    };
    let last = recorded(ctx.ledger, desk.trusted).map_err(ledger_err)?;
    let run = Run {
        desk,
        config,
        base,
        told,
    };
    let mut out = Vec::new();
    for (name, schedule) in &config.schedules {
        let l = last.get(name);
        if let Some(f) = l.filter(|l| l.fired_last).and_then(|l| l.fired.as_ref())
            && !run.listed(&f.dispatch_id)?
        {
            let slot = f.slot.clone();
            let o = run.start(name, schedule, slot, f.dispatch_id.clone(), f.missed)?;
            out.push(Outcome {
                action: if o.action == Action::Fired {
                    Action::Resumed
                } else {
                    o.action
                },
                ..o
            });
        }
        if let Some(due) = due_one(name, schedule, l, now) {
            out.extend(run.due(schedule, l, due)?);
        }
    }
    Ok(out)
}

/// One run of [`fire`]: what every schedule's firing uses.
struct Run<'a> {
    desk: &'a Desk<'a>,
    config: &'a Config,
    base: &'a Request,
    told: &'a dyn Fn(Note),
}

impl Run<'_> {
    fn ledger_err(&self) -> impl Fn(crate::ledger::LedgerError) -> ScheduleError + '_ {
        |source| ScheduleError::Ledger {
            path: self.desk.ctx.ledger.to_path_buf(),
            source,
        }
    }

    /// Whether the ledger shows `id` queued, started or refused (its start got that far).
    fn listed(&self, id: &DispatchId) -> Result<bool, ScheduleError> {
        let records =
            Records::read_only(self.desk.ctx.ledger, &[id.as_str()]).map_err(self.ledger_err())?;
        Ok(records.by_id.get(id).is_some_and(|r| r.listed.is_some()))
    }

    /// Whether `id` still runs, or waits in the queue.
    fn still_runs(&self, id: &DispatchId) -> Result<bool, ScheduleError> {
        let ledger = self.desk.ctx.ledger;
        let records = Records::read_only(ledger, &[id.as_str()]).map_err(self.ledger_err())?;
        let sessions = Sessions::new(self.desk.ctx.tmux);
        let states = states_of(ledger, &records, &sessions).map_err(self.ledger_err())?;
        Ok(states
            .iter()
            .any(|s| s.id == *id && (s.state == State::Queued || s.state.is_live())))
    }

    /// Appends a signed receipt.
    fn record<K: receipts::Kind>(&self, kind: &K) -> Result<(), ScheduleError> {
        let ctx = self.desk.ctx;
        let receipt = ctx.attestor.attest(&receipts::write(kind), &now_utc);
        Ledger::new(ctx.ledger)
            .append(&receipt)
            .map_err(self.ledger_err())?;
        Ok(())
    }

    /// Records a skip of `slot` (and `missed` before it) and says so.
    fn skip(
        &self,
        name: &str,
        slot: Timestamp,
        reason: ScheduleSkip,
        missed: u32,
        dispatch_id: Option<DispatchId>,
        detail: String,
    ) -> Result<Outcome, ScheduleError> {
        self.record(&ScheduleSkipped {
            schedule: name.to_owned(),
            slot: slot.clone(),
            reason,
            missed,
            dispatch_id: dispatch_id.clone(),
            detail: detail.clone(),
            extra: Default::default(),
        })?;
        Ok(Outcome {
            schedule: name.to_owned(),
            slot,
            action: Action::Skipped,
            missed,
            dispatch_id,
            reason: Some(reason),
            detail,
        })
    }

    /// A due slot: skipped (missed with `catch_up: skip`, or its previous dispatch still
    /// running with `overlap: skip`), or fired.
    fn due(
        &self,
        schedule: &Schedule,
        last: Option<&Last>,
        due: Due,
    ) -> Result<Vec<Outcome>, ScheduleError> {
        let name = due.name.as_str();
        let slot = |t: jiff::Timestamp| crate::dispatch::queue::rfc3339(t);
        let mut out = Vec::new();
        let mut missed = due.missed;
        if schedule.catch_up == CatchUp::Skip && (due.late || missed > 0) {
            let plural = |n: u32| if n == 1 { "" } else { "s" };
            if due.late {
                let n = missed + 1;
                let why = format!(
                    "{n} slot{} passed while nothing fired them (catch_up: skip)",
                    plural(n)
                );
                out.push(self.skip(
                    name,
                    slot(due.slot),
                    ScheduleSkip::Missed,
                    missed,
                    None,
                    why,
                )?);
                return Ok(out);
            }
            // The missed ones are skipped; the slot on time fires.
            let before = schedule
                .when
                .latest(due.slot - jiff::SignedDuration::from_secs(1));
            if let Some(before) = before {
                let why = format!(
                    "{missed} slot{} passed while nothing fired them (catch_up: skip)",
                    plural(missed)
                );
                let skipped = missed - 1;
                out.push(self.skip(
                    name,
                    slot(before),
                    ScheduleSkip::Missed,
                    skipped,
                    None,
                    why,
                )?);
            }
            missed = 0;
        }
        let previous = last.and_then(|l| l.fired.as_ref());
        if schedule.overlap == Overlap::Skip
            && let Some(prev) = previous
            && self.still_runs(&prev.dispatch_id)?
        {
            let why = format!(
                "its previous dispatch {} still runs (overlap: skip)",
                prev.dispatch_id
            );
            let id = Some(prev.dispatch_id.clone());
            out.push(self.skip(name, slot(due.slot), ScheduleSkip::Overlap, missed, id, why)?);
            return Ok(out);
        }
        let fired = ScheduleFired {
            schedule: name.to_owned(),
            slot: slot(due.slot),
            dispatch_id: DispatchId::fresh(),
            when: schedule.when.shown(),
            missed,
            extra: Default::default(),
        };
        // Step 1: the firing is recorded before anything starts.
        self.record(&fired)?;
        crate::steps::reached(crate::steps::schedule::FIRED_APPENDED);
        // Step 2: its dispatch starts (a rerun after a kill here starts it instead).
        out.push(self.start(name, schedule, fired.slot, fired.dispatch_id, missed)?);
        Ok(out)
    }

    /// Starts the dispatch `id` of `name`'s firing for `slot`, as `vnx run` would; a start
    /// refused is recorded as a skip.
    fn start(
        &self,
        name: &str,
        schedule: &Schedule,
        slot: Timestamp,
        id: DispatchId,
        missed: u32,
    ) -> Result<Outcome, ScheduleError> {
        let started = match request(self.config, name, schedule, self.base, &id) {
            None => Err("it names no role, and `defaults.role` names none".to_owned()),
            Some(request) => match &schedule.host {
                None => start::start(self.desk, &request, &Ticket::default(), false, self.told)
                    .map(|s| match s.submitted {
                        Submitted::Started(_) => format!("started {id}"),
                        Submitted::Queued { position, why, .. } => {
                            format!("queued {id} at position {position}: {why}")
                        }
                    })
                    .map_err(|e| error_chain(&e)),
                Some(target) => self.start_on_host(target, &request),
            },
        };
        let detail = match started {
            Ok(detail) => detail,
            Err(why) => {
                let why = format!("its dispatch {id} could not start: {why}");
                let id = Some(id);
                return self.skip(name, slot, ScheduleSkip::Failed, missed, id, why);
            }
        };
        Ok(Outcome {
            schedule: name.to_owned(),
            slot,
            action: Action::Fired,
            missed,
            dispatch_id: Some(id),
            reason: None,
            detail,
        })
    }
}

impl Run<'_> {
    /// Starts `request` on host `target` (or `any`) as `vnx run --host` does, given the
    /// project's default sandbox: queued here while every host it may run on is full.
    fn start_on_host(&self, target: &str, request: &Request) -> Result<String, String> {
        use crate::dispatch::queue::{self, RemoteSubmitted, entry::QueuedRequest};
        let ticket = Ticket::default();
        let mut remote = crate::actions::remote::request_for_host(request, &ticket, false);
        crate::actions::remote::with_project_sandbox(self.config, &mut remote);
        let shown = QueuedRequest::of(request);
        match queue::submit_remote(self.desk.ctx, target, &remote, shown, &ticket) {
            Ok(RemoteSubmitted::Started(l)) => {
                Ok(format!("started {} on {}", l.dispatch_id, l.host))
            }
            Ok(RemoteSubmitted::Queued { id, position, .. }) => Ok(format!(
                "queued {id} at position {position} for host {target}"
            )),
            Err(e) => Err(error_chain(&e)),
        }
    }
}

/// The request of `name`'s dispatch `id`: `base` with the schedule's task, completed from
/// the project's `defaults:` as `vnx run`'s is; `None` when no role is named or a default.
fn request(
    config: &Config,
    name: &str,
    schedule: &Schedule,
    base: &Request,
    id: &DispatchId,
) -> Option<Request> {
    let asked = Request {
        id: Some(id.clone()),
        instruction: schedule.instruction.clone(),
        title: Some((schedule.title.clone()).unwrap_or_else(|| format!("schedule {name}"))),
        deadline: schedule
            .deadline
            .map_or(base.deadline, std::time::Duration::from_secs),
        ..base.clone()
    };
    let named = crate::config::Named {
        role: schedule.role.clone(),
        provider: schedule.provider.clone(),
        model: schedule.model.clone(),
        lane: schedule.lane,
    };
    start::asked(&config.defaults, named, false, asked)
}
