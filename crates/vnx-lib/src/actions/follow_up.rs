//! Following up a dispatch: a new dispatch that continues an ended one with a new
//! instruction, in its worktree, on its branch and in its CLI session (a blocked one is
//! cancelled first; `rebase` merges the base's current head into the branch first and has
//! the worker resolve what conflicts). `vnx follow-up`, `vnx pr fix` and `vnx resume` start
//! one; the dashboard and the web page will.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::start::{self, Note, Started};
use super::{ActionError, Desk};
use crate::dispatch::Request;
use crate::dispatch::start::{follow_up, rebase};
use crate::dispatch::view::{self, State};
use crate::ids::DispatchId;
use crate::provider::{Lane, Permission};

/// A follow-up asked for: what it continues, what it is told, and what it changes of the
/// dispatch it continues (each left out is that dispatch's).
#[derive(Clone, Debug)]
pub struct FollowUp {
    /// The dispatch it continues.
    pub id: DispatchId,
    /// Its own id; a fresh one when `None`.
    pub new_id: Option<DispatchId>,
    /// Its instruction (may be empty with `rebase`: vnx's own is the whole of it then).
    pub instruction: String,
    /// Merge this base's current head into the branch first (`Some(None)`: the base whose
    /// merge conflicted, else the dispatch's).
    pub rebase: Option<Option<String>>,
    /// Its title for lists; the continued dispatch's when `None`.
    pub title: Option<String>,
    /// Its provider: the chain's when `None`. Another one (a limited dispatch moved to
    /// another CLI, `vnx resume --to`) starts a new session of that CLI (a session is one
    /// CLI's), told the earlier assignment, and takes that CLI's default model and lane unless
    /// `model` and `lane` name them.
    pub provider: Option<String>,
    /// Its model.
    pub model: Option<String>,
    /// Its lane.
    pub lane: Option<Lane>,
    /// Its permission posture.
    pub permission: Option<Permission>,
    /// Seconds it may run.
    pub deadline_secs: Option<u64>,
    /// How long a quiet worker runs before it is reported stalled.
    pub stall_after: Option<Duration>,
    /// Whether it runs in a sandbox; as the config says when `None`.
    pub sandbox: Option<bool>,
    /// The sandbox's network; as the config says when `None`.
    pub network: Option<crate::sandbox::Network>,
    /// Constraint overrides, as [`Request::overrides`].
    pub overrides: BTreeSet<String>,
    /// Their reasons, as [`Request::override_reasons`].
    pub override_reasons: BTreeMap<String, String>,
    /// Have its pull request opened when it is done and its gates pass.
    pub open_pr: bool,
    /// Its plan step (ADR 0092): `None` plans on after a planning dispatch, else none.
    pub plan: Option<crate::receipts::PlanStep>,
    /// Its budget (`--budget`, ADR 0094); `None`: the chain's.
    pub budget: Option<crate::receipts::Budget>,
}

impl FollowUp {
    /// A follow-up of dispatch `id` that changes nothing of it and is told nothing yet.
    pub fn of(id: DispatchId) -> FollowUp {
        FollowUp {
            id,
            new_id: None,
            instruction: String::new(),
            rebase: None,
            title: None,
            provider: None,
            model: None,
            lane: None,
            permission: None,
            deadline_secs: None,
            stall_after: None,
            sandbox: None,
            network: None,
            overrides: BTreeSet::new(),
            override_reasons: BTreeMap::new(),
            open_pr: false,
            plan: None,
            budget: None,
        }
    }
}

/// Where a follow-up `asked` starts: here (`None`), or in the place its dispatch ran in (a
/// host's name, or the name of the place vnx made there for it), whose own vnx starts it
/// ([`super::remote::follow_up_on_host`]). That place's host must be one `project`'s config
/// declares; a rebase there is refused ([`ActionError::RebaseOnHost`]): it brings only a local
/// dispatch onto its base.
pub fn place(
    project: &crate::project::Project,
    asked: &FollowUp,
) -> Result<Option<crate::place_name::PlaceName>, ActionError> {
    let ledger = project.ledger();
    let Some(place) = (ledger.exists())
        .then(|| view::remote_of(&ledger, &asked.id))
        .flatten()
    else {
        return Ok(None);
    };
    let hosts = project.load_config()?.hosts;
    crate::remote::host_of(&hosts, &place)?;
    if asked.rebase.is_some() {
        return Err(ActionError::RebaseOnHost {
            id: asked.id.clone(),
            place,
        });
    }
    Ok(Some(place))
}

impl FollowUp {
    /// The follow-up as the host's own `vnx follow-up` takes it, for a dispatch that ran on a
    /// host (see [`super::remote::follow_up_on_host`]). `rebase` is not passed: it brings
    /// only a local dispatch onto its base.
    pub fn on_host_request(&self) -> crate::remote::RemoteRequest {
        use crate::remote::launch::{flags, sandbox_flags};
        let mut args = flags([
            ("--instruction", Some(self.instruction.clone())),
            ("--model", self.model.clone()),
            // Only when given: a host's vnx from before titles takes none.
            ("--title", self.title.clone()),
            ("--lane", self.lane.map(|l| l.name().to_owned())),
            ("--permission", self.permission.map(|p| p.name().to_owned())),
            ("--deadline", self.deadline_secs.map(|d| d.to_string())),
            (
                "--stall-after",
                self.stall_after.map(|d| d.as_secs().to_string()),
            ),
        ]);
        args.extend(sandbox_flags(self.sandbox, self.network));
        crate::remote::RemoteRequest {
            id: self.new_id.clone(),
            base_ref: String::new(),
            args,
            follows: Some(self.id.to_string()),
            base_commit: None,
            dispatcher: None,
        }
    }
}

/// What is worth saying while a follow-up starts, as it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Told {
    /// The dispatch continued is blocked (on this): it is being cancelled and waited for.
    CancellingBlocked {
        /// The dispatch.
        id: DispatchId,
        /// What it waits on.
        waiting: String,
    },
    /// The base was merged into the branch: cleanly, or conflicting in these files (the
    /// worker resolves them).
    Rebased {
        /// The dispatch continued.
        id: DispatchId,
        /// The base merged in.
        base_ref: String,
        /// The branch.
        branch: String,
        /// The files that conflict.
        conflicts: Vec<String>,
    },
    /// A note from the start.
    Start(Note),
}

impl Told {
    /// The line that says it (conflicting file names as the worker's repository has them:
    /// the front end escapes what it shows).
    pub fn line(&self) -> String {
        match self {
            Told::CancellingBlocked { id, waiting } => {
                format!("{id} is blocked ({waiting}): cancelling it to follow it up")
            }
            Told::Rebased {
                id,
                base_ref,
                branch,
                conflicts,
            } if conflicts.is_empty() => {
                format!("{id}: {base_ref} merges into {branch} without conflicts")
            }
            Told::Rebased {
                id,
                base_ref,
                branch,
                conflicts,
            } => format!(
                "{id}: merging {base_ref} into {branch} conflicts in {}; the worker resolves it",
                conflicts.join(", ")
            ),
            Told::Start(note) => note.line(),
        }
    }
}

/// Starts the follow-up `asked` describes (see [`start::start`]).
pub fn follow_up(
    desk: &Desk<'_>,
    asked: &FollowUp,
    told: &dyn Fn(Told),
) -> Result<Started, ActionError> {
    let request = request(desk, asked, told)?;
    start::start(
        desk,
        &request,
        &Default::default(),
        asked.open_pr,
        &|note| told(Told::Start(note)),
    )
}

/// Where a follow-up started: on the host its dispatch ran on, by that host's vnx, or here.
#[derive(Debug)]
pub enum Begun {
    /// Started in the place its dispatch ran in.
    OnHost(crate::remote::RemoteLaunched),
    /// Started (or queued) here.
    Here(Started),
}

impl Begun {
    /// The follow-up's dispatch.
    pub fn id(&self) -> &DispatchId {
        match self {
            Begun::OnHost(launched) => &launched.dispatch_id,
            Begun::Here(started) => started.id(),
        }
    }
}

/// Starts the follow-up `asked` describes where it belongs: in the place its dispatch ran in
/// ([`super::remote::follow_up_on_host`]), else here ([`follow_up()`]). What the dashboard,
/// the page and the MCP server do for a follow-up they start without waiting for it.
pub fn begin(desk: &Desk<'_>, asked: &FollowUp, told: &dyn Fn(Told)) -> Result<Begun, ActionError> {
    match super::remote::follow_up_on_host(desk, &asked.on_host_request())? {
        Some(launched) => Ok(Begun::OnHost(launched)),
        None => Ok(Begun::Here(follow_up(desk, asked, told)?)),
    }
}

/// The request that starts the follow-up `asked` describes: the dispatch it continues found
/// (cancelled first when blocked) and, with `rebase`, its branch merged with the base.
pub fn request(
    desk: &Desk<'_>,
    asked: &FollowUp,
    told: &dyn Fn(Told),
) -> Result<Request, ActionError> {
    let ctx = desk.ctx;
    let id = &asked.id;
    let state = settle_blocked(desk, id, told)?;
    let mut continued = follow_up::find(ctx.project, ctx.ledger, id, state)?;
    let mut instruction = asked.instruction.clone();
    if let Some(base_ref) = &asked.rebase {
        let (seq, conflict_base) = continued.conflict.clone().unzip();
        let base = base_ref
            .clone()
            .or(conflict_base)
            .unwrap_or_else(|| continued.started.base_ref.clone());
        let branch = continued.started.branch.clone();
        let planned = rebase::plan(
            &ctx.project.root,
            &branch,
            &continued.head_commit,
            &base,
            seq.flatten(),
        )?;
        told(Told::Rebased {
            id: id.clone(),
            base_ref: planned.record.base_ref.clone(),
            branch: branch.clone(),
            conflicts: planned.record.conflicts.clone(),
        });
        instruction = rebase::instruction(&planned, &branch, Some(&instruction));
        continued.rebase = Some(planned.record);
    }
    let provider = (asked.provider.clone()).unwrap_or_else(|| continued.started.provider.clone());
    // Another CLI: a new session of it (the recorded one is the earlier CLI's), its defaults.
    let moved = provider != continued.started.provider;
    if moved {
        continued.session_id = None;
    }
    let started = &continued.started;
    Ok(Request {
        after: None,
        gates: Vec::new(), // its chain's are kept (`dispatch::start::checks::asked_gates`)
        id: asked.new_id.clone(),
        role: started.role.clone(),
        provider: Some(provider),
        model: (asked.model.clone()).or_else(|| started.model.clone().filter(|_| !moved)),
        instruction,
        base_ref: started.base_ref.clone(),
        deadline: Duration::from_secs(asked.deadline_secs.unwrap_or(started.deadline_seconds)),
        completion_retry: Duration::from_secs(30),
        stall_after: asked.stall_after,
        permission: asked.permission.unwrap_or(started.permission),
        lane: asked.lane.or((!moved).then_some(started.lane)),
        skills: started.skills.iter().map(|s| s.name.clone()).collect(),
        overrides: asked.overrides.clone(),
        override_reasons: asked.override_reasons.clone(),
        continues: Some(continued.clone()),
        sandbox: asked.sandbox,
        network: asked.network,
        replay_of: None,
        title: asked.title.clone(),
        plan: asked.plan.clone(),
        budget: asked.budget.clone(),
    })
}

/// The dispatch's state; a blocked one is cancelled first (its worker waits on a question
/// the follow-up replaces) and waited for.
fn settle_blocked(
    desk: &Desk<'_>,
    id: &DispatchId,
    told: &dyn Fn(Told),
) -> Result<Option<State>, ActionError> {
    let ctx = desk.ctx;
    let find = || -> Result<Option<view::DispatchState>, ActionError> {
        Ok(desk.states()?.into_iter().find(|s| s.id == *id))
    };
    let Some(state) = find()? else {
        return Ok(None);
    };
    if state.state != State::Blocked {
        return Ok(Some(state.state));
    }
    told(Told::CancellingBlocked {
        id: id.clone(),
        waiting: (state.blocked.as_ref())
            .map(|b| b.describe())
            .unwrap_or_default(),
    });
    crate::dispatch::cancel::cancel(
        ctx.ledger,
        &ctx.project.data_dir(),
        &state,
        ctx.tmux,
        ctx.attestor,
    )?;
    view::wait(ctx.ledger, std::slice::from_ref(id), ctx.tmux, false)?;
    Ok(find()?.map(|s| s.state))
}
