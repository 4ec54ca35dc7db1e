//! `vnx tidy`: what is settled, tidied in one step. Every preserved dispatch (as
//! `worktree-release` finds and classifies it) is read together with its chain's latest state
//! on the ledger: a worktree and branch whose work landed (merged, or its pull request merged),
//! is exactly on the remote, or never started is released, by `worktree-release`'s own
//! release, each with its receipt; everything else is kept, and said why, with the command that
//! would settle it. Nothing unlanded is ever discarded (`vnx clean` does that, on purpose), and
//! a dispatch that still waits for a person (a question, a prompt, a lost supervisor) keeps its
//! branch even when nothing in it is new: a follow-up continues there.

use std::collections::HashMap;

use serde::Serialize;

use crate::dispatch::state::{DispatchState, State};
use crate::ids::DispatchId;
use crate::ledger::attest::Attestor;
use crate::receipts::DispatchStatus;
use crate::tmux::Tmux;
use crate::worktree::Repo;

use super::{Actions, Base, Class, Item, Options, Plan, ReleaseError};

/// What tidy does with a preserved dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Its worktree and branch go (`worktree-release`'s release, with its receipt).
    Release,
    /// They stay.
    Keep,
}

/// How a dispatch is settled, as tidy reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    /// Its work is in the base, or its pull request was merged.
    Merged,
    /// Its branch is exactly on the remote.
    Pushed,
    /// Its question was dismissed.
    Dismissed,
    /// It failed, timed out, was cancelled, or never started.
    GivenUp,
}

impl Settled {
    /// As the JSON and the listing spell it.
    pub fn name(self) -> &'static str {
        match self {
            Settled::Merged => "merged",
            Settled::Pushed => "pushed",
            Settled::Dismissed => "dismissed",
            Settled::GivenUp => "given up",
        }
    }
}

/// One preserved dispatch and what tidy does with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The dispatch whose branch it is (a follow-up chain's first).
    pub dispatch_id: DispatchId,
    /// The chain's latest dispatch, when follow-ups continued it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest: Option<DispatchId>,
    /// The latest dispatch's state (`None`: the ledger does not know it).
    pub status: Option<&'static str>,
    /// How it is settled, if it is.
    pub settled: Option<Settled>,
    /// Release or keep.
    pub action: Action,
    /// Why, in words.
    pub why: String,
    /// The command that settles what is kept, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The dispatch as `worktree-release` classifies it, with what was done once applied.
    pub item: Item,
}

/// What tidy found, and, once applied, did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tidy {
    /// The base the branches were proven against.
    pub base: Base,
    /// The remote asked whether branches are pushed.
    pub remote: String,
    /// Whether it was applied.
    pub applied: bool,
    /// Every preserved dispatch.
    pub entries: Vec<Entry>,
    /// The places vnx made whose dispatches all ended given up or landed (a cancelled
    /// dispatch's volume), with what became of each once applied: removed, or its storage
    /// kept because it holds work not here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<crate::remote::orphans::Cleared>,
    /// The hosts whose places could not be listed, each with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unlisted: Vec<String>,
}

impl Tidy {
    /// How many it releases (or released) and keeps.
    pub fn counts(&self) -> (usize, usize) {
        let release = self
            .entries
            .iter()
            .filter(|e| e.action == Action::Release)
            .count();
        (release, self.entries.len() - release)
    }

    /// How many were released, each recorded (after `apply`).
    pub fn released(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| (e.item.done.as_ref()).is_some_and(|d| d.receipt_seq.is_some()))
            .count()
    }

    /// Whether git refused a release, or a place could not be removed.
    pub fn failed(&self) -> bool {
        (self.entries.iter()).any(|e| (e.item.done.as_ref()).is_some_and(|d| d.error.is_some()))
            || self.places.iter().any(|p| p.error.is_some())
    }
}

/// Reads every preserved dispatch and decides what tidy does with it. Changes nothing.
pub fn plan(repo: &Repo, options: &Options, tmux: &Tmux) -> Result<Tidy, ReleaseError> {
    let states = if options.ledger.exists() {
        crate::dispatch::view::list(&options.ledger, tmux)?
    } else {
        Vec::new()
    };
    let plan = super::plan(repo, options, tmux)?;
    let changed = plans_that_changed(&states, options)?;
    Ok(decide(plan, &states, &changed))
}

/// What the planning of each plan that waits changed, when it changed anything (read from
/// attested receipts, as `vnx approve` reads it): such a plan is not approved.
fn plans_that_changed(
    states: &[DispatchState],
    options: &Options,
) -> Result<Changed, ReleaseError> {
    let mut changed = Changed::new();
    for s in states.iter().filter(|s| s.plan_waiting().is_some()) {
        let ev = crate::evidence::Evidence::read(&options.ledger, &s.id, &options.trusted_keys)?;
        let change =
            crate::dispatch::planned::planning_change(&options.ledger, &options.trusted_keys, &ev)?;
        if let Some(change) = change {
            changed.insert(s.id.clone(), change.to_string());
        }
    }
    Ok(changed)
}

/// What the planning of a plan that waits changed, by its dispatch, in words.
pub type Changed = HashMap<DispatchId, String>;

/// Releases what `tidy` marked, each recorded as a `worktree_released` receipt; stops at the
/// first receipt that cannot be written.
pub fn apply(
    repo: &Repo,
    tidy: &mut Tidy,
    options: &Options,
    attestor: &Attestor,
) -> Result<(), ReleaseError> {
    let mut plan = Plan {
        base: tidy.base.clone(),
        remote: tidy.remote.clone(),
        applied: false,
        items: tidy.entries.iter().map(|e| e.item.clone()).collect(),
    };
    let result = super::apply(repo, &mut plan, options, attestor);
    tidy.applied = true;
    for (entry, item) in tidy.entries.iter_mut().zip(plan.items) {
        entry.item = item;
    }
    result
}

/// Tidy's verdict on each item of the release plan, given the dispatches' states and what
/// the planning of each plan that waits changed.
pub fn decide(plan: Plan, states: &[DispatchState], changed: &Changed) -> Tidy {
    let by_id: HashMap<&DispatchId, &DispatchState> = states.iter().map(|s| (&s.id, s)).collect();
    let entries = plan
        .items
        .into_iter()
        .map(|item| {
            let first = by_id.get(&item.dispatch_id).copied();
            let latest = first.map(|s| latest_of(s, &by_id));
            entry(item, latest, changed)
        })
        .collect();
    Tidy {
        base: plan.base,
        remote: plan.remote,
        applied: false,
        places: Vec::new(),
        unlisted: Vec::new(),
        entries,
    }
}

/// The last dispatch of `s`'s follow-up chain.
fn latest_of<'a>(
    s: &'a DispatchState,
    by_id: &HashMap<&DispatchId, &'a DispatchState>,
) -> &'a DispatchState {
    let mut at = s;
    // Bounded: a chain is never longer than the ledger's dispatches.
    for _ in 0..by_id.len() {
        match at.continued_by.as_ref().and_then(|f| by_id.get(f)) {
            Some(next) => at = next,
            None => break,
        }
    }
    at
}

fn entry(mut item: Item, s: Option<&DispatchState>, changed: &Changed) -> Entry {
    let latest = s.map(|s| s.id.clone()).filter(|id| *id != item.dispatch_id);
    let id = latest.clone().unwrap_or_else(|| item.dispatch_id.clone());
    let given_up = s.and_then(|s| match s.state {
        State::Ended(
            DispatchStatus::Failed | DispatchStatus::Timeout | DispatchStatus::Cancelled,
        )
        | State::Expired => Some(Settled::GivenUp),
        _ if s.dismissed.is_some() => Some(Settled::Dismissed),
        _ => None,
    });
    let (action, why, next, settled) = if item.class == Class::Running {
        (Action::Keep, item.reason.clone(), None, None)
    } else if let Some(s) = s.filter(|s| s.waiting()) {
        let (why, next) = waiting(s, changed.get(&s.id));
        (Action::Keep, why, Some(next), None)
    } else if item.actions.any() {
        let settled = given_up.or(match item.class {
            Class::Landed => Some(Settled::Merged),
            Class::Pushed => Some(Settled::Pushed),
            _ => Some(Settled::GivenUp),
        });
        (Action::Release, item.reason.clone(), None, settled)
    } else {
        let (why, next) = kept(&item, &id, given_up);
        (Action::Keep, why, next, given_up)
    };
    if action == Action::Keep {
        item.actions = Actions::default();
    }
    Entry {
        dispatch_id: item.dispatch_id.clone(),
        latest,
        status: s.map(|s| s.state.name()),
        settled,
        action,
        why,
        next,
        item,
    }
}

/// Why a dispatch that waits for a person is kept, and what answers it (`changed`: what the
/// planning of a plan that waits changed, when it did).
fn waiting(s: &DispatchState, changed: Option<&String>) -> (String, String) {
    let id = &s.id;
    match (s.plan_waiting(), changed) {
        // `vnx approve` refuses such a plan (ADR 0092): it goes back, or the dispatch goes.
        (Some(_), Some(change)) => {
            return (
                format!("its plan waits, but {change}: it cannot be approved"),
                format!("vnx show {id} --diff, then vnx deny {id}  (or vnx clean {id})"),
            );
        }
        (Some(_), None) => {
            return (
                "its plan waits for your approval; approved, a follow-up carries it out in \
                 its worktree"
                    .into(),
                format!("vnx approve {id}  (or vnx deny {id} --message \"…\")"),
            );
        }
        (None, _) => {}
    }
    match s.state {
        State::Blocked => (
            "it waits for your answer to its permission prompt".into(),
            format!("vnx approve {id}  (or vnx deny {id})"),
        ),
        State::Stalled => (
            "it is stalled: its worker shows no progress".into(),
            format!("vnx attach {id}  (or vnx cancel {id})"),
        ),
        State::Lost => (
            "its supervisor is gone and its end is not recorded".into(),
            format!("vnx recover {id}"),
        ),
        _ => (
            "it ended with a question that waits for you; a follow-up continues in its \
             worktree"
                .into(),
            format!("vnx follow-up {id} --instruction \"…\"  (or vnx dismiss {id})"),
        ),
    }
}

/// Why work that is not proven landed is kept, and what would settle it.
fn kept(item: &Item, id: &DispatchId, given_up: Option<Settled>) -> (String, Option<String>) {
    let clean = format!("vnx clean {}", item.dispatch_id);
    match (item.class, given_up) {
        (Class::Unlanded | Class::Dirty, Some(g)) => (
            format!(
                "{}, but {}: tidy never discards unlanded work",
                g.name(),
                item.reason
            ),
            Some(format!("{clean}  (discards it)")),
        ),
        (Class::Dirty, None) => (
            format!("{}: uncommitted work", item.reason),
            Some(format!(
                "vnx accept {id}  (commits it; or {clean} discards it)"
            )),
        ),
        (Class::Unlanded, None) => match &item.conflicts {
            // A merge would be refused (or taken out of the queue) for the conflict: a
            // follow-up brings the base in and has its worker resolve it first.
            Some(paths) => (
                format!(
                    "{}: work that conflicts with the base in {}",
                    item.reason,
                    paths.join(", ")
                ),
                Some(format!(
                    "vnx follow-up {id} --rebase  (then vnx merge it; or {clean} discards it)"
                )),
            ),
            None => (
                format!("{}: work that awaits its merge", item.reason),
                Some(format!("vnx merge {id}  (or {clean} discards it)")),
            ),
        },
        _ => (
            item.reason.clone(),
            Some(format!("vnx worktree-release {}", item.dispatch_id)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::state::Dismissed;
    use crate::ids::CommitId;

    fn id(n: u8) -> DispatchId {
        DispatchId::parse(&format!("D-{n:012x}")).unwrap()
    }

    fn commit() -> CommitId {
        CommitId::parse(&"a".repeat(40)).unwrap()
    }

    /// A landed branch of dispatch `n`, as the release plan proposes it.
    fn landed(n: u8) -> Item {
        Item {
            dispatch_id: id(n),
            branch: Some(format!("dispatch/{}", id(n))),
            tip: Some(commit()),
            worktree: None,
            recorded: None,
            dispatch_dir: None,
            class: Class::Landed,
            reason: "its tip is in main's history".into(),
            evidence: None,
            conflicts: None,
            actions: Actions {
                delete_branch: true,
                ..Actions::default()
            },
            done: None,
        }
    }

    fn unlanded(n: u8) -> Item {
        Item {
            class: Class::Unlanded,
            reason: "not in main, and there is no remote origin".into(),
            actions: Actions::default(),
            ..landed(n)
        }
    }

    fn plan(items: Vec<Item>) -> Plan {
        Plan {
            base: Base {
                reference: "HEAD".into(),
                branch: Some("main".into()),
                commit: commit(),
            },
            remote: "origin".into(),
            applied: false,
            items,
        }
    }

    fn ended(n: u8, status: DispatchStatus) -> DispatchState {
        DispatchState::blank(id(n), State::Ended(status))
    }

    #[test]
    fn a_question_that_waits_keeps_even_a_landed_branch() {
        let tidy = decide(
            plan(vec![landed(1)]),
            &[ended(1, DispatchStatus::NeedsInput)],
            &Changed::new(),
        );
        let e = &tidy.entries[0];
        assert_eq!(e.action, Action::Keep);
        assert!(!e.item.actions.any(), "{e:?}");
        assert!(
            e.next.as_deref().unwrap().starts_with("vnx follow-up"),
            "{e:?}"
        );
        assert_eq!(tidy.counts(), (0, 1));
    }

    #[test]
    fn given_up_work_goes_when_landed_and_stays_when_not() {
        let tidy = decide(
            plan(vec![landed(1), unlanded(2)]),
            &[
                ended(1, DispatchStatus::Failed),
                ended(2, DispatchStatus::Cancelled),
            ],
            &Changed::new(),
        );
        assert_eq!(tidy.entries[0].action, Action::Release);
        assert_eq!(tidy.entries[0].settled, Some(Settled::GivenUp));
        let kept = &tidy.entries[1];
        assert_eq!(kept.action, Action::Keep);
        assert!(kept.why.contains("never discards"), "{kept:?}");
        assert_eq!(
            kept.next.as_deref(),
            Some("vnx clean D-000000000002  (discards it)")
        );
    }

    #[test]
    fn a_plan_that_waits_is_approved_and_a_conflict_is_rebased() {
        let mut planning = ended(1, DispatchStatus::NeedsInput);
        planning.planning = true;
        planning.question = Some("Plan: write it".into());
        planning.plan_sha256 = Some("ab".repeat(32));
        let conflicted = Item {
            conflicts: Some(vec!["a.txt".into()]),
            ..unlanded(2)
        };
        let tidy = decide(
            plan(vec![landed(1), conflicted, unlanded(3)]),
            &[
                planning,
                ended(2, DispatchStatus::Done),
                ended(3, DispatchStatus::Done),
            ],
            &Changed::new(),
        );
        let [plan, conflict, plain] = &tidy.entries[..] else {
            panic!("{tidy:?}")
        };
        assert_eq!(plan.action, Action::Keep);
        assert_eq!(
            plan.next.as_deref(),
            Some("vnx approve D-000000000001  (or vnx deny D-000000000001 --message \"…\")")
        );
        assert!(plan.why.contains("plan waits"), "{plan:?}");
        assert_eq!(
            conflict.next.as_deref(),
            Some(
                "vnx follow-up D-000000000002 --rebase  (then vnx merge it; or vnx clean \
                 D-000000000002 discards it)"
            )
        );
        assert!(conflict.why.contains("conflicts with the base in a.txt"));
        assert!(plain.next.as_deref().unwrap().starts_with("vnx merge"));
    }

    #[test]
    fn a_chain_is_read_at_its_latest_dispatch() {
        let mut first = ended(1, DispatchStatus::NeedsInput);
        first.continued_by = Some(id(2));
        let mut follow_up = ended(2, DispatchStatus::NeedsInput);
        follow_up.dismissed = Some(Dismissed {
            by: "ana".into(),
            at: None,
            note: None,
        });
        let tidy = decide(
            plan(vec![unlanded(1)]),
            &[first, follow_up],
            &Changed::new(),
        );
        let e = &tidy.entries[0];
        assert_eq!(e.latest, Some(id(2)));
        assert_eq!(e.settled, Some(Settled::Dismissed));
        assert_eq!(e.action, Action::Keep);
        assert_eq!(e.status, Some("needs_input"));
    }
}
