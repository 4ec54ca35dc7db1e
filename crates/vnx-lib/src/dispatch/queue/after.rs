//! Dependencies (`--after`): what a queued dispatch waits for, read once a drain; whether
//! each has ended done (or merged), holds its dependents (failed, timed out, cancelled,
//! expired, itself held) or keeps them waiting; and the base that holds their work — the
//! dependency's head for one, their heads merged for several (fan-in, refused with the
//! conflicting paths), the base branch's tip once each is merged into it. The heads come
//! from each dependency's own receipts attested by a trusted key, never from a worker.

use std::collections::{BTreeMap, BTreeSet};

use crate::dispatch::state::{DispatchState, Landed, State};
use crate::dispatch::{Context, DispatchError, Plan, Request};
use crate::ids::{CommitId, DispatchId};
use crate::receipts::{Awaited, Dependencies, Dependency, DependencyEnd, DispatchStatus};
use crate::worktree::Repo;

use super::Entry;

/// The most dispatches a dependency walk visits (a graph is a handful to a few hundred).
const MAX_WALK: usize = 10_000;

/// The most follow-ups followed from a dependency to the last that continues it.
const MAX_CHAIN: usize = 100;

/// What the dependencies of a queued dispatch say now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judged {
    /// At least one has not ended (or not merged) yet: why, in words.
    Waiting(String),
    /// One ended without its work, or is itself held: why, in words.
    Held(String),
    /// Each reached what it had to: their heads, as their states record them.
    Met(Vec<Met>),
}

/// A dependency that reached what it had to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Met {
    /// The dispatch waited for, as asked.
    pub asked: DispatchId,
    /// The dispatch whose end counts: the one asked, or the last follow-up continuing it.
    pub by: DispatchId,
    /// The head of its work.
    pub head: CommitId,
}

/// The dependencies' states, read once for every queued dispatch that waits for some.
#[derive(Debug, Default)]
pub struct Graph {
    /// Each dependency's state, by id, as the ledger and tmux show it.
    states: BTreeMap<DispatchId, DispatchState>,
    /// The queued dispatches, by id (a dependency may itself wait in the queue).
    queued: BTreeMap<DispatchId, Entry>,
}

impl Graph {
    /// Reads the states of every dispatch the queued `entries` (and `also`, a dispatch not
    /// queued yet) wait for: one pass over the ledger that parses only the lines naming
    /// them, none when nothing waits for any.
    pub fn read(
        ctx: &Context<'_>,
        entries: &[Entry],
        also: Option<&Awaited>,
    ) -> Result<Graph, DispatchError> {
        let queued: BTreeMap<DispatchId, Entry> =
            entries.iter().map(|e| (e.id.clone(), e.clone())).collect();
        let wanted: BTreeSet<&DispatchId> = entries
            .iter()
            .filter_map(|e| e.request.0.after.as_ref())
            .chain(also)
            .flat_map(|a| a.on.iter())
            .filter(|id| !queued.contains_key(*id))
            .collect();
        let mut states = states(ctx, wanted.into_iter())?;
        // A dependency continued by follow-ups is judged by the last of them.
        for _ in 0..MAX_CHAIN {
            let next: Vec<&DispatchId> = states
                .values()
                .filter_map(|s| s.continued_by.as_ref())
                .filter(|c| !states.contains_key(*c))
                .collect();
            if next.is_empty() {
                break;
            }
            let more = self::states(ctx, next.into_iter())?;
            if more.is_empty() {
                break;
            }
            states.extend(more);
        }
        Ok(Graph { states, queued })
    }

    /// What `awaited` says now.
    pub fn judge(&self, awaited: &Awaited) -> Judged {
        let mut waiting = Vec::new();
        let mut met = Vec::new();
        for id in &awaited.on {
            match self.one(id, awaited.until) {
                One::Met(by, head) => met.push(Met {
                    asked: id.clone(),
                    by,
                    head,
                }),
                One::Waiting(why) => waiting.push(why),
                One::Held(why) => return Judged::Held(why),
            }
        }
        if waiting.is_empty() {
            Judged::Met(met)
        } else {
            Judged::Waiting(format!("waits for {}", waiting.join(", ")))
        }
    }

    fn one(&self, id: &DispatchId, until: DependencyEnd) -> One {
        if let Some(e) = self.queued.get(id) {
            return match &e.held {
                Some(why) => One::Held(format!("{id} is held ({why})")),
                None => One::Waiting(format!("{id} (queued)")),
            };
        }
        let Some(mut s) = self.states.get(id) else {
            return One::Held(format!("{id} is not a dispatch this ledger knows"));
        };
        for _ in 0..MAX_CHAIN {
            match s.continued_by.as_ref().and_then(|c| self.states.get(c)) {
                Some(next) => s = next,
                None => break,
            }
        }
        of_state(s, until)
    }

    /// The dispatch `start` may not wait for: itself, or one that (through the queue's
    /// dependencies) waits for it. `Some(path)` names the cycle.
    pub fn cycle(&self, start: &DispatchId, awaited: &Awaited) -> Option<Vec<DispatchId>> {
        let mut stack: Vec<Vec<DispatchId>> = awaited
            .on
            .iter()
            .map(|d| vec![start.clone(), d.clone()])
            .collect();
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().expect("a path has its start");
            if last == start {
                return Some(path);
            }
            if !seen.insert(last.clone()) || seen.len() > MAX_WALK {
                continue;
            }
            let next = self
                .queued
                .get(last)
                .and_then(|e| e.request.0.after.as_ref());
            for d in next.map(|a| a.on.as_slice()).unwrap_or_default() {
                let mut longer = path.clone();
                longer.push(d.clone());
                stack.push(longer);
            }
        }
        None
    }

    /// The ids of `awaited` that are neither queued nor on the ledger.
    pub fn unknown<'a>(&self, awaited: &'a Awaited) -> Vec<&'a DispatchId> {
        awaited
            .on
            .iter()
            .filter(|id| !self.queued.contains_key(*id) && !self.states.contains_key(*id))
            .collect()
    }
}

/// What one dependency says.
enum One {
    Met(DispatchId, CommitId),
    Waiting(String),
    Held(String),
}

/// What the state of dependency `s` says to a dependent that needs it `until` done or
/// merged.
fn of_state(s: &DispatchState, until: DependencyEnd) -> One {
    let id = &s.id;
    let head = || s.head_commit.clone();
    match (s.state, s.landed, until) {
        (State::Ended(_), Some(Landed::Merged), _) => match head() {
            Some(h) => One::Met(id.clone(), h),
            None => One::Held(format!("{id} merged, but records no head")),
        },
        (State::Ended(DispatchStatus::Done), Some(Landed::Released), _) => {
            One::Held(format!("{id}'s branch was released without a merge"))
        }
        (State::Ended(DispatchStatus::Done), None, DependencyEnd::Done) => match head() {
            Some(h) => One::Met(id.clone(), h),
            None => One::Held(format!("{id} ended done, but records no head")),
        },
        (State::Ended(DispatchStatus::Done), None, DependencyEnd::Merged) => {
            One::Waiting(format!("{id} (done, not merged yet)"))
        }
        (State::Ended(DispatchStatus::NeedsInput), _, _) => {
            One::Waiting(format!("{id} (needs input)"))
        }
        (State::Ended(status), _, _) => One::Held(format!(
            "{id} ended {}{}",
            status.name(),
            s.reason
                .as_deref()
                .map(|r| format!(": {}", crate::dispatch::title_of(r)))
                .unwrap_or_default()
        )),
        (State::Expired, _, _) => One::Held(format!("{id} expired in the queue")),
        (state, _, _) => One::Waiting(format!("{id} ({state})")),
    }
}

/// The states of dispatches `ids` as their receipts fold (a started one reads running until
/// its end is on the ledger, lost or not: either way what waits for it waits), by id.
fn states<'a>(
    ctx: &Context<'_>,
    ids: impl Iterator<Item = &'a DispatchId>,
) -> Result<BTreeMap<DispatchId, DispatchState>, DispatchError> {
    let ids: Vec<&str> = ids.map(DispatchId::as_str).collect();
    if ids.is_empty() || !ctx.ledger.exists() {
        return Ok(BTreeMap::new());
    }
    Ok(folded(ctx.ledger, &ids)?)
}

/// The states of dispatches `ids` as their receipts on `ledger` fold, by id.
fn folded(
    ledger: &std::path::Path,
    ids: &[&str],
) -> Result<BTreeMap<DispatchId, DispatchState>, crate::ledger::LedgerError> {
    let records = crate::dispatch::fold::Records::read_only(ledger, ids)?;
    Ok((records.by_id.into_values())
        .filter_map(|r| r.listed)
        .map(|l| l.state)
        .filter(|s| ids.contains(&s.id.as_str()))
        .map(|s| (s.id.clone(), s))
        .collect())
}

/// Why a base that holds the dependencies' work could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoBase {
    /// Their work does not merge: the paths that conflict.
    Conflict(Vec<String>),
    /// A dependency's head is not what its own attested receipts record, or a step failed:
    /// why, in words.
    Unproven(String),
}

impl NoBase {
    /// In words, as a hold's reason says it.
    pub fn describe(&self) -> String {
        match self {
            NoBase::Conflict(paths) => format!(
                "the work of its dependencies does not merge: {} conflict{}",
                paths.join(", "),
                if paths.len() == 1 { "s" } else { "" }
            ),
            NoBase::Unproven(why) => why.clone(),
        }
    }
}

/// The base a dispatch waiting for `awaited` starts from, once each dependency `met` what it
/// had to, with what its start records: for `done`, the one dependency's head, or the heads
/// of several merged in the order given (a merge commit vnx makes); for `merged`, the tip of
/// `base_ref` now, which must hold each head. Each head is checked against the
/// dependency's own attested receipts (`trusted`).
pub fn base(
    ctx: &Context<'_>,
    repo: &Repo,
    (id, base_ref): (&DispatchId, &str),
    awaited: &Awaited,
    met: &[Met],
) -> Result<(CommitId, Dependencies), NoBase> {
    let trusted = crate::ledger::attest::trusted_keys(ctx.ledger, ctx.attestor)
        .map_err(|e| NoBase::Unproven(format!("could not read the trusted keys: {e}")))?;
    let mut on = Vec::new();
    for m in met {
        let by = &m.by;
        let ev = crate::evidence::Evidence::read(ctx.ledger, by, &trusted)
            .map_err(|e| NoBase::Unproven(format!("could not read {by}'s receipts: {e}")))?;
        let attested_done = ev.verdict(by).is_ok() && ev.unattested_lines().is_empty();
        if !attested_done || ev.head() != Some(&m.head) {
            return Err(NoBase::Unproven(format!(
                "{by}'s head {} is not what its own attested completion records",
                m.head
            )));
        }
        on.push(Dependency {
            dispatch_id: m.asked.clone(),
            head_commit: m.head.clone(),
            finished_by: (m.by != m.asked).then(|| m.by.clone()),
        });
    }
    let holds = Dependencies {
        until: awaited.until,
        on,
    };
    let commit = match awaited.until {
        DependencyEnd::Merged => {
            let tip = repo.resolve(base_ref).map_err(|e| {
                NoBase::Unproven(format!("could not resolve the base {base_ref}: {e}"))
            })?;
            for m in met {
                if !is_ancestor(repo, &m.head, &tip) {
                    return Err(NoBase::Unproven(format!(
                        "{} merged, but {base_ref} at {tip} does not hold its head {}",
                        m.by, m.head
                    )));
                }
            }
            tip
        }
        DependencyEnd::Done => fan_in(repo, id, met)?,
    };
    Ok((commit, holds))
}

/// The heads merged in order into one commit (the one head itself when there is one).
fn fan_in(repo: &Repo, id: &DispatchId, met: &[Met]) -> Result<CommitId, NoBase> {
    let mut iter = met.iter();
    let Some(first) = iter.next() else {
        return Err(NoBase::Unproven("it waits for no dispatch".into()));
    };
    let mut acc = first.head.clone();
    for Met {
        asked: dep, head, ..
    } in iter
    {
        if is_ancestor(repo, head, &acc) {
            continue;
        }
        if is_ancestor(repo, &acc, head) {
            acc = head.clone();
            continue;
        }
        let tree =
            match crate::worktree::objects::merge_tree(repo, acc.as_str(), head.as_str(), None)
                .map_err(NoBase::Unproven)?
            {
                crate::worktree::objects::Formed::Clean(tree) => tree,
                crate::worktree::objects::Formed::Conflict(paths) => {
                    return Err(NoBase::Conflict(paths));
                }
            };
        let message = [
            format!("vnx: the work of {dep} merged in for {id} (--after)"),
            format!("VNX-Dependencies-Of: {id}"),
        ];
        acc = crate::worktree::objects::commit_tree(
            repo,
            &tree,
            acc.as_str(),
            head.as_str(),
            &message,
        )
        .map_err(|e| NoBase::Unproven(format!("could not make the merge commit: {e}")))?;
    }
    Ok(acc)
}

/// Whether `ancestor` is `descendant` or one of its ancestors.
fn is_ancestor(repo: &Repo, ancestor: &CommitId, descendant: &CommitId) -> bool {
    let cmd = crate::process::Cmd::git().arg("-C").arg(&repo.root).args([
        "merge-base",
        "--is-ancestor",
        ancestor.as_str(),
        descendant.as_str(),
    ]);
    crate::process::run(&cmd).is_ok_and(|o| o.status.success())
}

/// The ids as `--after` lists them: `D-a, D-b`.
pub fn list(on: &[DispatchId]) -> String {
    on.iter()
        .map(DispatchId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a dispatch of `--after` is told when it is submitted.
pub(super) enum AtSubmit {
    /// Each dependency reached what it had to: planned again from a base that holds their
    /// work, its start recording them.
    Ready(Box<Plan>),
    /// It waits in the queue: why; `held` when a dependency holds it.
    Waits {
        /// Why, in words.
        why: String,
        /// Whether a dependency holds it (a `held` receipt follows its `queued`).
        held: bool,
    },
}

/// A dispatch as it is submitted: for one of `--after` (not a follow-up), its plan again
/// from a base holding its dependencies' work when they allow it now, else why it waits and
/// whether they hold it; a refusal of work that does not merge recorded (`rejected`) first.
#[expect(clippy::type_complexity, reason = "a pair the one caller takes apart")]
pub(super) fn submitted(
    ctx: &Context<'_>,
    data: &std::path::Path,
    (plan, req, ticket): (&Plan, &Request, &super::Ticket),
) -> Result<(Option<Box<Plan>>, Option<(String, bool)>), DispatchError> {
    let (Some(awaited), None) = (&req.after, &req.continues) else {
        return Ok((None, None));
    };
    match at_submit(ctx, data, (plan, req), awaited) {
        Ok(AtSubmit::Ready(replanned)) => Ok((Some(replanned), None)),
        Ok(AtSubmit::Waits { why, held }) => Ok((None, Some((why, held)))),
        Err(e @ DispatchError::DependenciesConflict { .. }) => {
            let verdict = crate::receipts::QueueVerdict::Rejected;
            let mut d = super::decision_of(plan, verdict, ticket, e.to_string());
            d.after = req.after.clone();
            super::record(ctx, &plan.spec.ledger, d)?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Judges a dispatch of `--after` as it is submitted: refused when it waits for a dispatch
/// neither queued nor on the ledger, for itself (a cycle), or for work that does not merge;
/// else ready now, or waiting.
pub(super) fn at_submit(
    ctx: &Context<'_>,
    data: &std::path::Path,
    (plan, req): (&Plan, &Request),
    awaited: &Awaited,
) -> Result<AtSubmit, DispatchError> {
    let id = &plan.spec.id;
    let graph = Graph::read(ctx, &super::entry::all(data), Some(awaited))?;
    if let Some(cycle) = graph.cycle(id, awaited) {
        return Err(DispatchError::DependencyCycle {
            id: id.to_string(),
            cycle: list(&cycle).replace(", ", " → "),
        });
    }
    if let Some(unknown) = graph.unknown(awaited).first() {
        return Err(DispatchError::UnknownDependency {
            id: id.to_string(),
            dependency: unknown.to_string(),
        });
    }
    let met = match graph.judge(awaited) {
        Judged::Waiting(why) => return Ok(AtSubmit::Waits { why, held: false }),
        Judged::Held(why) => return Ok(AtSubmit::Waits { why, held: true }),
        Judged::Met(met) => met,
    };
    let repo = &plan.repo;
    match base(ctx, repo, (id, &plan.base_ref), awaited, &met) {
        Ok((commit, holds)) => {
            let from = Request {
                id: Some(id.clone()),
                base_ref: commit.to_string(),
                ..req.clone()
            };
            let mut replanned = crate::dispatch::plan(ctx, &from)?;
            replanned.base_ref = plan.base_ref.clone();
            replanned.spec.after = Some(holds);
            Ok(AtSubmit::Ready(Box::new(replanned)))
        }
        Err(NoBase::Conflict(paths)) => Err(DispatchError::DependenciesConflict {
            id: id.to_string(),
            dependencies: list(&awaited.on),
            paths,
        }),
        Err(NoBase::Unproven(why)) => Ok(AtSubmit::Waits { why, held: true }),
    }
}

/// The graph of a listing, indexed once (nothing when no dispatch of it waits for any):
/// each dispatch by id, the queued ones that wait for each, and those that started after it.
#[derive(Debug, Default)]
pub struct Around<'a> {
    by_id: BTreeMap<&'a DispatchId, &'a DispatchState>,
    waiting: BTreeMap<&'a DispatchId, Vec<DispatchId>>,
    started: BTreeMap<&'a DispatchId, Vec<DispatchId>>,
}

impl<'a> Around<'a> {
    /// The graph of the states `all`.
    pub fn of(all: &'a [DispatchState]) -> Around<'a> {
        if all.iter().all(|s| s.after.is_empty()) {
            return Around::default();
        }
        let mut waiting: BTreeMap<&DispatchId, Vec<DispatchId>> = BTreeMap::new();
        let mut started: BTreeMap<&DispatchId, Vec<DispatchId>> = BTreeMap::new();
        for s in all {
            let into = match s.state {
                State::Queued => &mut waiting,
                _ => &mut started,
            };
            for d in &s.after {
                into.entry(d).or_default().push(s.id.clone());
            }
        }
        Around {
            by_id: all.iter().map(|s| (&s.id, s)).collect(),
            waiting,
            started,
        }
    }

    /// [`lines`] of `s`, its dependencies' states and what waits for it from this graph.
    pub fn lines(&self, s: &DispatchState) -> Vec<String> {
        if self.by_id.is_empty() {
            return Vec::new();
        }
        let deps: Vec<DispatchState> = (s.after.iter())
            .filter_map(|d| self.by_id.get(d).map(|o| (*o).clone()))
            .collect();
        let waiting = self
            .waiting
            .get(&s.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut out = lines(s, &deps, waiting);
        if let Some(after) = self.started.get(&s.id) {
            out.push(format!("{} started after it", list(after)));
        }
        out
    }
}

/// The graph around dispatch `s` in words, as `status`, `show`, the dashboard and the page
/// show it: why a dependency holds it, what it waits (or waited) for with each one's state
/// in `deps` (the states read; an id alone when its state was not read), and the queued
/// dispatches that wait for it (`waiting`).
pub fn lines(s: &DispatchState, deps: &[DispatchState], waiting: &[DispatchId]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(why) = s.held.as_ref().filter(|_| s.state == State::Queued) {
        out.push(format!("held: {why}"));
    }
    if !s.after.is_empty() {
        let listed: Vec<String> = (s.after.iter())
            .map(|d| match deps.iter().find(|o| &o.id == d) {
                Some(o) => format!("{d} ({})", o.shown()),
                None => d.to_string(),
            })
            .collect();
        let verb = if s.state == State::Queued {
            "after"
        } else {
            "started after"
        };
        out.push(format!("{verb} {}", listed.join(", ")));
    }
    if !waiting.is_empty() {
        out.push(format!(
            "{} wait{} for it",
            list(waiting),
            if waiting.len() == 1 { "s" } else { "" }
        ));
    }
    out
}

/// [`lines`] for one dispatch read alone (`show`, the page, the dashboard's detail): its
/// dependencies' states read from `ledger` (only when it has some), the dispatches waiting
/// for it from the queue in `data_dir`.
pub fn lines_alone(
    ledger: &std::path::Path,
    data_dir: &std::path::Path,
    s: &DispatchState,
) -> Vec<String> {
    let deps = match s.after.is_empty() {
        true => Vec::new(),
        false => {
            let ids: Vec<&str> = s.after.iter().map(DispatchId::as_str).collect();
            folded(ledger, &ids)
                .map(|m| m.into_values().collect())
                .unwrap_or_default()
        }
    };
    let waiting: Vec<DispatchId> = super::entry::all(data_dir)
        .into_iter()
        .filter(|e| {
            e.request
                .0
                .after
                .as_ref()
                .is_some_and(|a| a.on.contains(&s.id))
        })
        .map(|e| e.id)
        .collect();
    lines(s, &deps, &waiting)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> DispatchId {
        DispatchId::parse(text).unwrap()
    }

    /// A queued entry `of` waiting for `on`.
    fn entry(of: &str, on: &[&str]) -> Entry {
        serde_json::from_value(serde_json::json!({
            "id": of, "provider": "demo", "priority": 0, "seq": 0, "queued_at": "",
            "capacity": 0, "base_commit": "0123456789abcdef0123456789abcdef01234567",
            "base_ref": "refs/heads/main", "ledger": "/l", "tmux_socket": "s",
            "request": {
                "role": "implementer", "model": null, "instruction": "x", "deadline_secs": 1,
                "permission": "edits", "lane": null, "skills": [], "overrides": [],
                "override_reasons": {}, "completion_retry_secs": 1, "stall_after_secs": null,
                "after": {"on": on, "until": "done"},
            },
        }))
        .unwrap()
    }

    fn graph(entries: &[Entry], states: Vec<DispatchState>) -> Graph {
        Graph {
            states: states.into_iter().map(|s| (s.id.clone(), s)).collect(),
            queued: entries.iter().map(|e| (e.id.clone(), e.clone())).collect(),
        }
    }

    fn awaited(on: &[&str]) -> Awaited {
        Awaited {
            on: on.iter().map(|o| id(o)).collect(),
            until: DependencyEnd::Done,
        }
    }

    #[test]
    fn a_wait_that_leads_back_to_the_dispatch_is_a_cycle() {
        // D-b waits for D-a and D-c for D-b in the queue: D-a waiting for D-c closes it.
        let g = graph(
            &[
                entry("D-0000000b", &["D-0000000a"]),
                entry("D-0000000c", &["D-0000000b"]),
            ],
            vec![],
        );
        let cycle = g
            .cycle(&id("D-0000000a"), &awaited(&["D-0000000c"]))
            .unwrap();
        assert_eq!(
            list(&cycle),
            "D-0000000a, D-0000000c, D-0000000b, D-0000000a"
        );
        assert!(
            g.cycle(&id("D-0000000d"), &awaited(&["D-0000000c"]))
                .is_none()
        );
        assert!(
            g.cycle(&id("D-0000000d"), &awaited(&["D-0000000d"]))
                .is_some()
        );
    }

    #[test]
    fn each_state_of_a_dependency_waits_holds_or_lets_go() {
        let state = |s: State, landed: Option<Landed>| {
            let mut d = DispatchState::blank(id("D-0000000a"), s);
            d.landed = landed;
            d.head_commit =
                Some(CommitId::parse("0123456789abcdef0123456789abcdef01234567").unwrap());
            d
        };
        let judge = |s: DispatchState, until: DependencyEnd| {
            graph(&[], vec![s]).judge(&Awaited {
                on: vec![id("D-0000000a")],
                until,
            })
        };
        let done = State::Ended(DispatchStatus::Done);
        assert!(matches!(
            judge(state(done, None), DependencyEnd::Done),
            Judged::Met(_)
        ));
        assert!(matches!(
            judge(state(done, None), DependencyEnd::Merged),
            Judged::Waiting(_)
        ));
        let merged = state(done, Some(Landed::Merged));
        assert!(matches!(
            judge(merged, DependencyEnd::Merged),
            Judged::Met(_)
        ));
        assert!(matches!(
            judge(state(State::Running, None), DependencyEnd::Done),
            Judged::Waiting(_)
        ));
        let failed = judge(
            state(State::Ended(DispatchStatus::Failed), None),
            DependencyEnd::Done,
        );
        assert_eq!(failed, Judged::Held("D-0000000a ended failed".into()));
        let asks = State::Ended(DispatchStatus::NeedsInput);
        assert!(matches!(
            judge(state(asks, None), DependencyEnd::Done),
            Judged::Waiting(_)
        ));
        let released = state(done, Some(Landed::Released));
        assert!(matches!(
            judge(released, DependencyEnd::Done),
            Judged::Held(_)
        ));
        // A follow-up that ended done stands for the dispatch it continues.
        let mut first = state(State::Ended(DispatchStatus::Failed), None);
        first.continued_by = Some(id("D-0000000f"));
        let mut fixed = state(done, None);
        fixed.id = id("D-0000000f");
        let g = graph(&[], vec![first, fixed]);
        let Judged::Met(met) = g.judge(&awaited(&["D-0000000a"])) else {
            panic!("the follow-up's end counts");
        };
        assert_eq!(met[0].by, id("D-0000000f"));
        // A held dependency in the queue holds what waits for it.
        let mut held = entry("D-0000000a", &["D-00000009"]);
        held.held = Some("D-00000009 ended failed".into());
        let g = graph(&[held], vec![]);
        assert!(
            matches!(g.judge(&awaited(&["D-0000000a"])), Judged::Held(w) if w.contains("is held"))
        );
    }
}
