//! One pass of `vnx pr watch` (ADR 0093): every open pull request of the project whose
//! dispatch's role has reactions (`forge.reactions`, `roles.<role>.reactions`) read through
//! the forge cache (at most one `gh` call per pull request per refresh), the reaction due
//! decided (`forge::react::decide`) and done: a signed `pr_reaction` first, then the fix
//! follow-up it names (as `vnx pr fix`) or the merge (as `vnx pr merge`); or a signed
//! `pr_escalated` and the user's `notify` command run once. A pass stopped between a
//! reaction and its act (step `pr_react:reaction_written`) is finished by the next.

use serde::Serialize;

use super::follow_up;
use super::{ActionError, Desk};
use crate::config::Config;
use crate::dispatch::state::State;
use crate::dispatch::view::DispatchState;
use crate::forge::react::{self, Due, Facts, Past, Reacted};
use crate::forge::watch::{self, Cache, Mode, ReadOptions};
use crate::forge::{self, Forge, History};
use crate::ids::DispatchId;
use crate::receipts::{self, PrEscalated, PrOpened, PrReaction, ReactionAction, ReactionRule};
use crate::steps;

/// What a pass reads the forge with.
pub struct Watch<'a> {
    /// The forge context (its root, ledger, keys, data directory).
    pub forge_ctx: &'a forge::Context<'a>,
    /// The forge.
    pub forge: &'a Forge,
    /// The project's configuration.
    pub config: &'a Config,
    /// Now, in seconds since the epoch.
    pub now: u64,
}

/// What a pass did about one pull request.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The dispatch whose recorded head the pull request is at.
    pub dispatch_id: DispatchId,
    /// The pull request.
    pub number: u64,
    /// The reaction that was due.
    #[serde(flatten)]
    pub due: Due,
    /// What was done.
    #[serde(flatten)]
    pub done: Done,
}

/// What was done about a reaction due.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "done", rename_all = "snake_case")]
pub enum Done {
    /// Nothing (nothing was due, or it waits).
    Nothing,
    /// The fix follow-up started.
    FollowUp {
        /// Its id.
        id: DispatchId,
        /// What of outsiders' words its instruction left out, in a line (ADR 0101).
        #[serde(skip_serializing_if = "Option::is_none")]
        outsiders: Option<String>,
    },
    /// The pull request merged (or found merged), `pr_merged` recorded.
    Merged {
        /// The merge commit.
        merge_commit: String,
    },
    /// Escalated: `pr_escalated` recorded and the user told.
    Escalated {
        /// Why a person is needed.
        escalation: String,
    },
    /// The act failed and is tried again by the next pass: why.
    Failed {
        /// What went wrong.
        error: String,
    },
}

impl Outcome {
    /// Whether it did something worth a line (not nothing, not a wait).
    pub fn acted(&self) -> bool {
        self.done != Done::Nothing
    }

    /// One line about it.
    pub fn line(&self) -> String {
        let line = self.said();
        match &self.done {
            Done::FollowUp {
                outsiders: Some(o), ..
            } => format!("{line}; {o}"),
            _ => line,
        }
    }

    fn said(&self) -> String {
        let head = format!("{}  #{}", self.dispatch_id, self.number);
        match (&self.due, &self.done) {
            (
                Due::Fix {
                    rule,
                    attempt,
                    of,
                    why,
                },
                Done::FollowUp { id, .. },
            ) => format!(
                "{head}  {}: fix attempt {attempt} of {of} started as {id} ({why})",
                rule.name()
            ),
            (Due::Finish { reaction }, Done::FollowUp { id, .. }) => format!(
                "{head}  {}: fix attempt {} finished: {id} started",
                reaction.rule.name(),
                reaction.attempt
            ),
            (_, Done::Merged { merge_commit }) => format!(
                "{head}  approved_and_green: merged as {}",
                merge_commit.get(..12).unwrap_or(merge_commit)
            ),
            (_, Done::Escalated { escalation }) => format!("{head}  escalated: {escalation}"),
            (_, Done::Failed { error }) => {
                format!("{head}  not done, tried again next pass: {error}")
            }
            (Due::Wait { why }, _) => format!("{head}  waits: {why}"),
            (Due::Nothing { why }, _) => format!("{head}  nothing: {why}"),
            (due, done) => format!("{head}  {due:?} {done:?}"),
        }
    }
}

/// The open pull requests with reactions, by branch: the dispatch whose role decides the
/// rules (the branch's own, its chain's first) and the pull request last opened.
fn candidates(
    states: &[DispatchState],
    all: &std::collections::HashMap<String, History>,
    config: &Config,
) -> Vec<(DispatchId, String, PrOpened)> {
    let mut out = Vec::new();
    for (branch, history) in all {
        let Some(opened) = history.current() else {
            continue;
        };
        if history.merged_as(opened.number).is_some() || history.closed_recorded(opened.number) {
            continue;
        }
        let owner = crate::dispatch::fold::branch_owner(branch);
        let Some(first) = states
            .iter()
            .find(|s| Some(&s.id) == owner.as_ref())
            .or_else(|| states.iter().find(|s| s.branch.as_deref() == Some(branch)))
        else {
            continue;
        };
        let role = first.role.as_deref().unwrap_or_default();
        if config.reactions(role).is_empty() {
            continue;
        }
        out.push((first.id.clone(), branch.clone(), opened.clone()));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A dispatch of `branch` that is not finished: running, queued, or its supervisor still at
/// its chores (the pull request of a done follow-up being updated).
fn busy(desk: &Desk<'_>, states: &[DispatchState], branch: &str) -> Option<String> {
    let dispatches = desk.ctx.project.data_dir().join("dispatches");
    states
        .iter()
        .filter(|s| s.branch.as_deref() == Some(branch))
        .find_map(|s| {
            if s.state.is_live() || s.state == State::Queued {
                Some(format!("{} is {}", s.id, s.state.name()))
            } else if crate::dispatch::liveness::locked(&dispatches.join(s.id.as_str())) {
                Some(format!("{}'s supervisor is finishing", s.id))
            } else {
                None
            }
        })
}

/// Why a pass found nothing to watch (it returns no outcome then).
pub const NOTHING_TO_WATCH: &str = "nothing to watch: no open pull request of a dispatch \
    whose role has reactions (forge.reactions, roles.<role>.reactions)";

/// One pass over the project's open pull requests: the reactions due, each done.
pub fn pass(desk: &Desk<'_>, w: &Watch<'_>) -> Result<Vec<Outcome>, ActionError> {
    let ctx = w.forge_ctx;
    let states = desk.states()?;
    let all = History::read_all(ctx.reading.ledger, ctx.reading.trusted_keys)?;
    let found = candidates(&states, &all, w.config);
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let forge_config = w.config.forge.clone().unwrap_or_default();
    let asked: Vec<(DispatchId, String)> = found
        .iter()
        .map(|(id, branch, _)| (id.clone(), branch.clone()))
        .collect();
    let read = watch::read_dispatches(
        ctx,
        w.forge,
        &asked,
        &ReadOptions {
            now: w.now,
            max_age_secs: forge_config.refresh_seconds,
            mode: Mode::Auto,
            notify: &w.config.notify,
        },
    );
    let cache = Cache::load(ctx.data_dir);
    let past = Past::read(ctx.reading.ledger, ctx.reading.trusted_keys)?;
    let mut out = Vec::new();
    for (id, branch, opened) in &found {
        let role = states
            .iter()
            .find(|s| s.id == *id)
            .and_then(|s| s.role.clone())
            .unwrap_or_default();
        let rules = w.config.reactions(&role);
        let number = opened.number;
        let outcome = |due: Due, done: Done| Outcome {
            dispatch_id: opened.dispatch_id.clone(),
            number,
            due,
            done,
        };
        // A stacked pull request whose parent merged moves onto its own base (`--after`).
        if opened.base.starts_with("dispatch/")
            && let Err(e) = forge::stack::retarget_if_parent_merged(ctx, w.forge, opened)
        {
            let why = format!("could not retarget it onto its base: {e}");
            out.push(outcome(Due::Nothing { why }, Done::Nothing));
            continue;
        }
        let status = read.get(id);
        let summary = cache.prs.get(&number).map(|c| &c.summary);
        let (Some(status), Some(summary)) = (status, summary) else {
            out.push(outcome(
                Due::Nothing {
                    why: "not read from the forge yet".into(),
                },
                Done::Nothing,
            ));
            continue;
        };
        if let Some(stale) = &status.stale {
            let why = format!("the forge's state is not fresh: {stale}");
            out.push(outcome(Due::Nothing { why }, Done::Nothing));
            continue;
        }
        let history = &all[branch];
        let escalated = past.escalated_on(number);
        let reacted: Vec<Reacted> = past
            .on(number)
            .into_iter()
            .map(|mut r| {
                r.carried_out = carried_out(&r.receipt, &states, history, &escalated);
                r
            })
            .collect();
        let facts = Facts {
            number,
            recorded_head: opened.head_commit.as_str(),
            summary,
            reacted: &reacted,
            escalated: &escalated,
            busy: busy(desk, &states, branch),
            require_checks: forge_config.require_checks,
            now: w.now,
            trusted: &forge_config.trusted_associations,
        };
        let due = react::decide(&facts, &rules);
        let done = act(desk, w, opened, &due);
        out.push(outcome(due, done));
    }
    Ok(out)
}

/// Whether reaction `r` was carried out: its follow-up is on the ledger, its merge recorded,
/// or it gave up on that head (an escalation).
fn carried_out(
    r: &PrReaction,
    states: &[DispatchState],
    history: &History,
    escalated: &[PrEscalated],
) -> bool {
    let gave_up = escalated
        .iter()
        .any(|e| e.rule == r.rule && e.head_commit == r.head_commit);
    gave_up
        || match r.action {
            ReactionAction::Fix => r
                .follow_up
                .as_ref()
                .is_some_and(|f| states.iter().any(|s| s.id == *f)),
            ReactionAction::Merge => history.merged_as(r.number).is_some(),
        }
}

/// Does what `due` asks.
fn act(desk: &Desk<'_>, w: &Watch<'_>, opened: &PrOpened, due: &Due) -> Done {
    let result = match due {
        Due::Nothing { .. } | Due::Wait { .. } => return Done::Nothing,
        Due::Fix {
            rule,
            attempt,
            of,
            why,
        } => {
            let reaction = reaction(opened, *rule, ReactionAction::Fix, (*attempt, *of), why);
            write(w, &reaction).and_then(|()| {
                steps::reached(steps::pr_react::REACTION_WRITTEN);
                start_fix(desk, w, &reaction)
            })
        }
        Due::Merge { why } => {
            let reaction = reaction(
                opened,
                ReactionRule::ApprovedAndGreen,
                ReactionAction::Merge,
                (1, 1),
                why,
            );
            write(w, &reaction).and_then(|()| {
                steps::reached(steps::pr_react::REACTION_WRITTEN);
                merge(w, opened, &reaction)
            })
        }
        Due::Finish { reaction } => match reaction.action {
            ReactionAction::Fix => start_fix(desk, w, reaction),
            ReactionAction::Merge => merge(w, opened, reaction),
        },
        Due::Escalate {
            rule,
            attempts,
            why,
        } => escalate(w, opened, *rule, *attempts, why),
    };
    result.unwrap_or_else(|e| Done::Failed {
        error: e.to_string(),
    })
}

/// The `pr_reaction` of `rule` on the pull request `opened` records, a fix's follow-up id
/// chosen now.
fn reaction(
    opened: &PrOpened,
    rule: ReactionRule,
    action: ReactionAction,
    (attempt, of): (u32, u32),
    why: &str,
) -> PrReaction {
    PrReaction {
        dispatch_id: opened.dispatch_id.clone(),
        number: opened.number,
        url: opened.url.clone(),
        branch: opened.branch.clone(),
        head_commit: opened.head_commit.clone(),
        rule,
        action,
        attempt,
        attempts_allowed: of,
        follow_up: (action == ReactionAction::Fix).then(DispatchId::fresh),
        why: why.to_owned(),
        extra: Default::default(),
    }
}

/// Signs `receipt` and appends it to the ledger.
fn write<K: receipts::Kind + Serialize>(w: &Watch<'_>, receipt: &K) -> Result<(), ActionError> {
    Ok(w.forge_ctx.record(receipt)?)
}

/// Starts the fix follow-up `reaction` names, as `vnx pr fix` does; one that cannot start
/// for good (nothing to fix any more, the pull request closed) escalates instead.
fn start_fix(desk: &Desk<'_>, w: &Watch<'_>, reaction: &PrReaction) -> Result<Done, ActionError> {
    let new_id = reaction.follow_up.clone().unwrap_or_else(DispatchId::fresh);
    let data = w.forge_ctx.data_dir;
    let fix = match super::pr::fix_as(w.forge_ctx, w.forge, data, &reaction.dispatch_id, new_id) {
        Ok(fix) => fix,
        Err(e @ (ActionError::NothingToFix { .. } | ActionError::Forge(_))) if permanent(&e) => {
            let why = format!("fix attempt {} could not start: {e}", reaction.attempt);
            return escalate_at(w, reaction, &why);
        }
        Err(e) => return Err(e),
    };
    match follow_up::follow_up(desk, &fix.follow_up, &|_| {}) {
        Ok(started) => Ok(Done::FollowUp {
            id: started.id().clone(),
            outsiders: fix.feedback.left_out.line(),
        }),
        Err(e) => {
            fix.abandon(data);
            Err(e)
        }
    }
}

/// Whether `e` will not go away by itself: trying again next pass would not help.
fn permanent(e: &ActionError) -> bool {
    match e {
        ActionError::NothingToFix { .. } => true,
        ActionError::Forge(f) => matches!(
            **f,
            forge::ForgeError::Closed { .. }
                | forge::ForgeError::AlreadyMerged { .. }
                | forge::ForgeError::NoPullRequest { .. }
        ),
        _ => false,
    }
}

/// Merges the pull request as `vnx pr merge` does; a merge vnx's conditions or the forge
/// refuse escalates with the refusal.
fn merge(w: &Watch<'_>, opened: &PrOpened, reaction: &PrReaction) -> Result<Done, ActionError> {
    match forge::merge::merge(w.forge_ctx, w.forge, w.config, &opened.dispatch_id, None) {
        Ok(m) => Ok(Done::Merged {
            merge_commit: m.receipt.merge_commit.to_string(),
        }),
        Err(
            e @ (forge::ForgeError::Refused { .. }
            | forge::ForgeError::MergeRefused { .. }
            | forge::ForgeError::Closed { .. }),
        ) => escalate_at(w, reaction, &format!("the merge was refused: {e}")),
        Err(e) => Err(e.into()),
    }
}

/// Escalates on the head `reaction` acted on.
fn escalate_at(w: &Watch<'_>, reaction: &PrReaction, why: &str) -> Result<Done, ActionError> {
    let opened = PrOpenedRef {
        dispatch_id: &reaction.dispatch_id,
        number: reaction.number,
        url: &reaction.url,
        branch: &reaction.branch,
        head: &reaction.head_commit,
    };
    escalate_ref(w, &opened, reaction.rule, reaction.attempt, why)
}

/// What an escalation names of the pull request.
struct PrOpenedRef<'a> {
    dispatch_id: &'a DispatchId,
    number: u64,
    url: &'a str,
    branch: &'a str,
    head: &'a crate::ids::CommitId,
}

fn escalate(
    w: &Watch<'_>,
    opened: &PrOpened,
    rule: ReactionRule,
    attempts: u32,
    why: &str,
) -> Result<Done, ActionError> {
    let r = PrOpenedRef {
        dispatch_id: &opened.dispatch_id,
        number: opened.number,
        url: &opened.url,
        branch: &opened.branch,
        head: &opened.head_commit,
    };
    escalate_ref(w, &r, rule, attempts, why)
}

/// Records `pr_escalated` and runs the user's `notify` command once for it.
fn escalate_ref(
    w: &Watch<'_>,
    pr: &PrOpenedRef<'_>,
    rule: ReactionRule,
    attempts: u32,
    why: &str,
) -> Result<Done, ActionError> {
    let receipt = PrEscalated {
        dispatch_id: pr.dispatch_id.clone(),
        number: pr.number,
        url: pr.url.to_owned(),
        branch: pr.branch.to_owned(),
        head_commit: pr.head.clone(),
        rule,
        attempts,
        why: why.to_owned(),
        extra: Default::default(),
    };
    write(w, &receipt)?;
    if !w.config.notify.is_empty() {
        let mut n = crate::dispatch::supervise::notify::Notifier::new(&w.config.notify)
            .titled(&format!("pull request #{}", pr.number));
        n.fire(pr.dispatch_id, "pr_escalated", "", why);
        n.finish(watch::NOTIFY_WAIT);
    }
    Ok(Done::Escalated {
        escalation: why.to_owned(),
    })
}
