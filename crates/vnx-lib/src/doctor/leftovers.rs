//! What dispatches left behind: worktrees under `.vnx-data/worktrees/` with no running
//! dispatch, `dispatch/*` branches teardown should have deleted, `vnx-*` tmux sessions with no
//! open dispatch, dispatches that started but never completed and lost their session, and
//! gate checkouts killed gate runs left. Work kept on purpose (dirty worktrees, committed
//! branches) is counted, not flagged. A follow-up chain's worktree and branch are judged by
//! its latest dispatch; one a launch or a supervisor holds (its lock, read before the ledger)
//! is in use; a branch is called left over only when nothing on it is newer than `HEAD` (or,
//! pushed, than the head its dispatch recorded).

use std::collections::BTreeMap;
use std::path::Path;

use super::check::{Check, count};
use crate::dispatch::view::{self, DispatchState, State};
use crate::project::DATA_DIR;
use crate::tmux::Tmux;
use crate::worktree::TeardownClass;

type States<'a> = BTreeMap<&'a str, &'a DispatchState>;

/// `worktrees`, `branches`, `tmux sessions` and `dispatches`.
pub(super) fn checks(root: &Path, ledger: Option<&Path>, tmux: &Tmux) -> Vec<Check> {
    // The worktrees and branches, and which dispatches hold their locks, before the ledger:
    // a launch (a follow-up's too) that began before is then either seen holding its lock, or
    // its start is on the ledger (a launch appends it before it lets the lock go), and one
    // that finished meanwhile is there with its end.
    let seen = Seen::now(root);
    let live = tmux.sessions();
    let mut states = match ledger.filter(|l| l.exists()) {
        None => Vec::new(),
        Some(l) => match view::list_with(l, &view::Sessions::new(tmux)) {
            Ok(s) => s,
            Err(e) => {
                let hint = e.hint().unwrap_or_else(|| "check the ledger file".into());
                return vec![Check::fail("dispatches", e.to_string(), hint)];
            }
        },
    };
    // Sessions were listed before the ledger was read: a dispatch launched in between looks
    // lost, and one that just ended looks running. Look again at the ones that seem lost.
    for s in states.iter_mut().filter(|s| s.state == State::Lost) {
        let session = s.session.clone().unwrap_or_else(|| format!("vnx-{}", s.id));
        let socket = s.tmux_socket.as_deref().unwrap_or(tmux.socket());
        if Tmux::new(socket).has_session(&session) {
            s.state = State::Running;
        } else if let Some(line) = ledger.and_then(|l| view::completion(l, &s.id).ok().flatten()) {
            let done = view::Completion::of(&s.id, line).receipt;
            s.state = State::Ended(done.status);
            s.teardown_class = done.teardown_class;
        }
        s.status = s.shown();
    }
    let by_id: States<'_> = states.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut checks = vec![
        worktrees(root, &seen, &by_id),
        branches(root, &seen, &by_id),
        sessions(root, tmux, &live, &by_id),
        dispatches(root, &states),
    ];
    checks.extend(unstarted_dirs(root, &by_id));
    checks.extend(places(root, &states));
    checks.extend(gate_checkouts(root));
    checks.extend(unfinished_files(root, ledger));
    checks
}

/// `places`: launches in places killed on the way (finished by the next reading command), and
/// places no dispatch needs: made for dispatches with no record here (a launch killed before
/// it kept one) or whose dispatches all ended given up or landed (a cancelled dispatch's
/// volume); `vnx clean --orphans` removes them, keeping storage that holds work. Nothing to
/// say when there are none.
fn places(root: &Path, states: &[DispatchState]) -> Option<Check> {
    let project = crate::project::Project::at(root);
    let data = project.data_dir();
    let interrupted = crate::remote::interrupted::interrupted(&data);
    let hosts = project.load_config().map(|c| c.hosts).unwrap_or_default();
    let orphans = if hosts.values().any(crate::remote::kinds::per_dispatch) {
        let here = crate::remote::place::Here {
            data_dir: &data,
            home: None,
            key: None,
        };
        crate::remote::orphans::orphans(&hosts, here, |p| view::place_left_over(states, p)).0
    } else {
        Vec::new()
    };
    let mut said = Vec::new();
    if !interrupted.is_empty() {
        let ids: Vec<&str> = interrupted.iter().map(|(id, _)| id.as_str()).collect();
        said.push(format!(
            "{} launch(es) in a place killed on the way: {}",
            ids.len(),
            ids.join(", ")
        ));
    }
    let (ended, unrecorded): (Vec<_>, Vec<_>) = orphans.iter().partition(|o| o.ended.is_some());
    let named = |of: &[&crate::remote::orphans::Found]| {
        (of.iter())
            .map(|o| format!("{} ({})", o.dispatch_id, o.host))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !unrecorded.is_empty() {
        said.push(format!(
            "{} place(s) made for dispatches with no record here: {}",
            unrecorded.len(),
            named(&unrecorded)
        ));
    }
    if !ended.is_empty() {
        said.push(format!(
            "{} place(s) kept for dispatches that all ended: {}",
            ended.len(),
            named(&ended)
        ));
    }
    if said.is_empty() {
        return None;
    }
    let hint = match (interrupted.is_empty(), orphans.is_empty()) {
        (false, true) => "`vnx status` finishes them",
        (true, false) => "`vnx clean --orphans` removes them, keeping storage that holds work",
        _ => "`vnx status` finishes the launches; `vnx clean --orphans` removes the places",
    };
    Some(Check::warn("places", said.join("; "), hint))
}

/// `unfinished files`: completion reservations (1 MiB each) of dispatches that ended or never
/// started, with nobody holding their lock (a killed launcher's), and read-index files a
/// reader killed while writing left. Any command that appends pending completions sweeps
/// the first, the next index write the second; until then they are named here.
fn unfinished_files(root: &Path, ledger: Option<&Path>) -> Option<Check> {
    let data = root.join(DATA_DIR);
    let reserves = ledger
        .map(|l| crate::dispatch::supervise::pending::abandoned_reserves(&data, l))
        .unwrap_or_default();
    let index = crate::dispatch::fold::index::path_in(&data);
    let temporaries = crate::files::abandoned_temporaries(&index);
    if reserves.is_empty() && temporaries.is_empty() {
        return None;
    }
    let mut found = Vec::new();
    if !reserves.is_empty() {
        found.push(format!(
            "{} completion reservation(s) no dispatch will use (1 MiB each, left by a killed \
             launch): {}",
            reserves.len(),
            reserves
                .iter()
                .map(|id| format!("{DATA_DIR}/pending/{id}.reserve"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !temporaries.is_empty() {
        let bytes: u64 = temporaries
            .iter()
            .filter_map(|p| p.symlink_metadata().ok())
            .map(|m| m.len())
            .sum();
        found.push(format!(
            "{} unfinished read-index file(s) ({bytes} bytes, left by a reader killed while \
             writing): {}",
            temporaries.len(),
            temporaries
                .iter()
                .map(|p| super::check::rel(p, &data))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Some(Check::warn(
        "unfinished files",
        found.join("; "),
        "`vnx status` sweeps them (nothing in them is needed: their owners are gone)",
    ))
}

/// `dispatch directories`: directories under `.vnx-data/dispatches/` of dispatches the
/// ledger never started, whose launch is not under way (its lock free) and no supervisor ran
/// in (a launch killed before its start left them, with no worktree when it was a follow-up
/// that reopens its first dispatch's). `vnx worktree-release --apply` removes them (its rule,
/// `release::never_started`).
fn unstarted_dirs(root: &Path, by_id: &States<'_>) -> Option<Check> {
    let dir = root.join(DATA_DIR).join("dispatches");
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| !by_id.contains_key(id.as_str()))
        .filter(|id| {
            let path = dir.join(id);
            crate::release::never_started(None, &path) && !crate::dispatch::liveness::locked(&path)
        })
        .collect();
    left.sort();
    (!left.is_empty()).then(|| {
        Check::warn(
            "dispatch directories",
            format!(
                "{} dispatch director{} of launches killed before their start (nothing on the \
                 ledger, no worker ran): {}",
                left.len(),
                if left.len() == 1 { "y" } else { "ies" },
                left.iter()
                    .map(|id| format!("{DATA_DIR}/dispatches/{id}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "run `vnx worktree-release --apply`: it removes each (with a worktree the launch \
             left on its base, if any)",
        )
    })
}

/// `gate checkouts`: checkouts of a dispatch's head under `.vnx-data/gates/` that git still
/// has registered though their gate run's lock is free. A gate run holds that lock while its
/// checkouts exist and removes them when it ends; one still there was left by a `gate-check`
/// or `merge` that was killed. The rule is `vnx prune`'s, which removes them.
fn gate_checkouts(root: &Path) -> Option<Check> {
    let gates = std::fs::canonicalize(root.join(DATA_DIR).join(crate::gate::GATES_DIR)).ok()?;
    let left: Vec<String> = crate::release::prune::gate_leftovers(root)
        .iter()
        .map(|c| super::check::rel(&c.path, &gates))
        .collect();
    (!left.is_empty()).then(|| {
        Check::warn(
            "gate checkouts",
            format!(
                "{} gate checkout(s) under {DATA_DIR}/gates/ still registered with git, their \
                 gate run's lock free (left by a gate-check or merge that was killed): {}",
                left.len(),
                left.join(", ")
            ),
            "`vnx prune --older-than 30d --yes` removes them (the age is for directories: these go \
             whatever theirs, holding only a checkout of a recorded head); it never touches a \
             running gate's checkout",
        )
    })
}

/// Whether branch tip `tip`, kept though the chain's latest dispatch `s` was torn down
/// `class` (clean or pushed, whose branch teardown deletes), holds nothing a deletion would
/// lose: it is in `head`'s history (or merging it changes nothing), or, pushed, it is still
/// the head that dispatch recorded. A branch a later commit moved holds work.
fn holds_nothing_new(
    root: &Path,
    s: &DispatchState,
    class: TeardownClass,
    tip: Option<git2::Oid>,
    head: Option<git2::Oid>,
) -> bool {
    let Some(tip) = tip else {
        return false;
    };
    let pushed = class == TeardownClass::Pushed
        && (s.head_commit.as_ref()).is_some_and(|h| h.as_str() == tip.to_string());
    let landed = head.is_some_and(|head| {
        crate::release::proof::landed(root, &tip.to_string(), &head.to_string())
            .is_ok_and(|p| p.is_some())
    });
    pushed || landed
}

/// Non-zero counts as "n what" phrases, joined; `none` when every count is zero.
fn parts(items: &[(usize, &str)], none: String) -> String {
    let said: Vec<String> = (items.iter())
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if said.is_empty() {
        none
    } else {
        said.join("; ")
    }
}

/// What the worktrees and branches checks judge, read before the ledger (see [`checks`]):
/// the dispatch worktrees and branches, and the dispatches whose worktree or branch a live
/// process holds.
struct Seen {
    /// The entries of `.vnx-data/worktrees/`, by name.
    worktrees: Vec<String>,
    /// The local `dispatch/*` branches and their tips.
    branches: Vec<(String, Option<git2::Oid>)>,
    /// The dispatches (a follow-up chain's first) whose launch or supervisor holds their
    /// lock, or a follow-up's of their chain: their worktree and branch are in use.
    in_use: std::collections::BTreeSet<String>,
}

impl Seen {
    fn now(root: &Path) -> Seen {
        let mut worktrees: Vec<String> = std::fs::read_dir(root.join(DATA_DIR).join("worktrees"))
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        worktrees.sort();
        let mut branches: Vec<(String, Option<git2::Oid>)> = git2::Repository::open(root)
            .ok()
            .and_then(|repo| {
                let branches = repo.branches(Some(git2::BranchType::Local)).ok()?;
                Some(
                    branches
                        .flatten()
                        .filter_map(|(b, _)| {
                            let name = b.name().ok().flatten()?.to_owned();
                            name.starts_with("dispatch/")
                                .then(|| (name, b.get().target()))
                        })
                        .collect(),
                )
            })
            .unwrap_or_default();
        branches.sort();
        // After the names: what started before them holds its lock now, or is on the ledger.
        let dispatches = root.join(DATA_DIR).join("dispatches");
        let mut in_use: std::collections::BTreeSet<String> =
            crate::dispatch::liveness::reopened(&dispatches)
                .into_iter()
                .collect();
        let named = (worktrees.iter().filter_map(|n| n.strip_prefix("dispatch-"))).chain(
            branches
                .iter()
                .filter_map(|(n, _)| n.strip_prefix("dispatch/")),
        );
        for id in named {
            if !in_use.contains(id)
                && crate::ids::DispatchId::parse(id).is_ok()
                && crate::dispatch::liveness::locked(&dispatches.join(id))
            {
                in_use.insert(id.to_owned());
            }
        }
        Seen {
            worktrees,
            branches,
            in_use,
        }
    }
}

/// The latest dispatch of the follow-up chain whose first is `id` (a follow-up works in its
/// chain's first dispatch's worktree and on its branch): the one that decides about them.
fn latest<'a>(id: &str, by_id: &States<'a>) -> Option<&'a DispatchState> {
    let mut state = by_id.get(id).copied();
    for _ in 0..by_id.len() {
        match state.and_then(|s| s.continued_by.as_ref()) {
            Some(next) if by_id.contains_key(next.as_str()) => {
                state = by_id.get(next.as_str()).copied();
            }
            _ => break,
        }
    }
    state
}

fn worktrees(root: &Path, seen: &Seen, by_id: &States<'_>) -> Check {
    const NAME: &str = "worktrees";
    let dir = root.join(DATA_DIR).join("worktrees");
    let (mut running, mut kept, mut lost) = (0, 0, 0);
    let mut orphans = Vec::new();
    // Ended dispatches whose worktree is still there: vnx's commands look after them.
    let mut ended = Vec::new();
    for name in &seen.worktrees {
        let id = name.strip_prefix("dispatch-");
        // A launch under way (its start not yet on the ledger), a follow-up's, or a
        // supervisor finishing after its recorded end.
        let in_use = id.is_some_and(|id| seen.in_use.contains(id));
        match id.and_then(|id| latest(id, by_id)) {
            _ if in_use => running += 1,
            None => orphans.push(format!("{name} (no dispatch on the ledger)")),
            Some(s) if s.state.is_live() => running += 1,
            Some(s) if s.state == State::Lost => lost += 1,
            Some(s) if s.teardown_class == Some(TeardownClass::Dirty) => kept += 1,
            Some(s) => {
                orphans.push(format!(
                    "{name} (the dispatch ended {}, teardown {}, but its worktree is still \
                     there and may hold its worker's files)",
                    s.state,
                    s.teardown_class.map_or("none", TeardownClass::name)
                ));
                ended.push(s.id.clone());
            }
        }
    }
    // Registered with git but gone from disk.
    if let Ok(repo) = git2::Repository::open(root)
        && let Ok(registered) = repo.worktrees()
    {
        for name in registered.iter().flatten().flatten() {
            if let Ok(wt) = repo.find_worktree(name)
                && wt.path().starts_with(&dir)
                && !wt.path().exists()
            {
                orphans.push(format!(
                    "{} (registered with git, missing on disk)",
                    super::check::rel(wt.path(), &dir)
                ));
            }
        }
    }
    if !orphans.is_empty() {
        let hint = match ended.first() {
            // Never a bare removal: what the worker left may be its only copy.
            Some(id) => format!(
                "look at each with `vnx show {id} --diff` (and the worktree's files); keep \
                 the work with `vnx worktree-release {id}` once it landed, or discard it, \
                 recorded, with `vnx clean {id}`; `git worktree prune` forgets missing ones"
            ),
            // A launch killed before its `dispatch_started` leaves a worktree on its base.
            None => "run `vnx worktree-release --apply`: it releases, with its dispatch \
                     directory, each that a launch killed before its start left on its base \
                     (one holding anything more is kept and listed); `git worktree prune` \
                     forgets missing ones"
                .to_owned(),
        };
        return Check::warn(
            NAME,
            format!(
                "orphaned under {DATA_DIR}/worktrees: {}",
                orphans.join(", ")
            ),
            hint,
        );
    }
    let found = parts(
        &[
            (running, "in use by running dispatches"),
            (kept, "kept on purpose (dirty work, locked for review)"),
            (lost, "of lost dispatches (see dispatches)"),
        ],
        format!("none under {DATA_DIR}/worktrees"),
    );
    Check::pass(NAME, found)
}

fn branches(root: &Path, seen: &Seen, by_id: &States<'_>) -> Check {
    const NAME: &str = "branches";
    let (mut running, mut committed, mut dirty, mut lost, mut other, mut unknown) =
        (0, 0, 0, 0, 0, 0);
    let mut orphans = Vec::new();
    let git = git2::Repository::open(root).ok();
    let head = (git.as_ref())
        .and_then(|g| g.head().ok()?.peel_to_commit().ok())
        .map(|c| c.id());
    for (name, tip) in &seen.branches {
        let id = &name["dispatch/".len()..];
        if seen.in_use.contains(id) {
            running += 1;
            continue;
        }
        // A follow-up works on its chain's first dispatch's branch: the latest decides.
        match latest(id, by_id) {
            None => unknown += 1,
            Some(s) if s.state.is_live() => running += 1,
            Some(s) if s.state == State::Lost => lost += 1,
            Some(s) => match s.teardown_class {
                Some(class @ (TeardownClass::Clean | TeardownClass::Pushed))
                    if holds_nothing_new(root, s, class, *tip, head) =>
                {
                    orphans.push(format!("{name} (teardown {class})"));
                }
                Some(TeardownClass::Dirty) => dirty += 1,
                // Committed work, or a later commit on a branch torn down clean or pushed
                // (a follow-up's, an approved plan's): work a deletion would lose.
                Some(_) => committed += 1,
                None => other += 1,
            },
        }
    }
    if !orphans.is_empty() {
        return Check::warn(
            NAME,
            format!("not deleted at teardown: {}", orphans.join(", ")),
            "teardown deletes these (their work is on the base or on the remote); check with \
             `git log BRANCH`, then `git branch -D BRANCH`",
        );
    }
    let found = parts(
        &[
            (committed, "kept on purpose (committed work)"),
            (dirty, "kept on purpose (dirty worktree)"),
            (running, "of running dispatches"),
            (lost, "of lost dispatches (see dispatches)"),
            (other, "of dispatches that ended before teardown"),
            (unknown, "not on the ledger"),
        ],
        "no dispatch/* branches".to_owned(),
    );
    Check::pass(NAME, found)
}

fn sessions(root: &Path, tmux: &Tmux, live: &Option<Vec<String>>, by_id: &States<'_>) -> Check {
    const NAME: &str = "tmux sessions";
    let socket = tmux.socket();
    let Some(live) = live else {
        return Check::fail(
            NAME,
            format!(
                "the tmux server on socket {socket} does not answer (stopped?): which \
                 dispatches still run there is not known"
            ),
            format!(
                "look at the server's process (`kill -CONT` a stopped one), or `tmux -L \
                 {socket} kill-server` and `vnx resume` what it ran"
            ),
        );
    };
    let dispatches = root.join(DATA_DIR).join("dispatches");
    let mut running = 0;
    let mut orphans = Vec::new();
    let dispatch_sessions =
        (live.iter()).filter(|n| n.starts_with("vnx-") && !crate::tmux::is_service_session(n));
    for name in dispatch_sessions {
        let id = &name["vnx-".len()..];
        match by_id.get(id) {
            Some(s) if s.state.is_live() => running += 1,
            // Its supervisor still holds the dispatch: it tidies up after the recorded end
            // (the worktree teardown moved aside, the queue) and closes its pane itself.
            Some(_) if crate::dispatch::liveness::locked(&dispatches.join(id)) => {}
            Some(s) => orphans.push(format!("{name} (its dispatch ended {})", s.state)),
            // A launch under way: its supervisor waits for the start.
            None if crate::dispatch::liveness::locked(&dispatches.join(id)) => running += 1,
            None => orphans.push(format!("{name} (no dispatch on the ledger)")),
        }
    }
    if !orphans.is_empty() {
        return Check::warn(
            NAME,
            format!(
                "no open dispatch on socket {socket}: {}",
                orphans.join(", ")
            ),
            format!(
                "look with `tmux -L {socket} attach -t NAME`, then `tmux -L {socket} \
                 kill-session -t NAME`"
            ),
        );
    }
    Check::pass(
        NAME,
        format!(
            "{} on socket {socket}",
            count(running, "running dispatch", "running dispatches")
        ),
    )
}

fn dispatches(root: &Path, states: &[DispatchState]) -> Check {
    const NAME: &str = "dispatches";
    // The lost dispatches whose worker reported, and the others: each group gets one command
    // that works as given (`recover` and `cancel` take every id named).
    let (mut reported_ids, mut other_ids) = (Vec::new(), Vec::new());
    let lost: Vec<String> = states
        .iter()
        .filter(|s| s.state == State::Lost)
        .map(|s| {
            // Whether its worker left a report (its seal is checked by `vnx recover`).
            let dir = crate::dispatch::dir_of(root, &s.id);
            let reported =
                crate::dispatch::has_file(&dir, crate::dispatch::supervise::signals::REPORT);
            // Whether its supervisor could not commit the reported work for want of space.
            let uncommitted = root
                .join(DATA_DIR)
                .join(crate::dispatch::supervise::pending::DIR)
                .join(format!("{}.uncommitted", s.id))
                .symlink_metadata()
                .is_ok();
            if reported {
                reported_ids.push(s.id.as_str());
            } else {
                other_ids.push(s.id.as_str());
            }
            format!(
                "{} ({} {}, started {}{})",
                s.id,
                s.provider.as_deref().unwrap_or("?"),
                s.model.as_deref().unwrap_or("-"),
                s.started_at.as_deref().unwrap_or("?"),
                match (reported, uncommitted) {
                    (true, true) =>
                        "; its worker reported, and its work waits uncommitted in \
                                     its worktree: the disk was full when it was to be committed",
                    (true, false) => "; its worker reported",
                    _ => "",
                }
            )
        })
        .collect();
    if !lost.is_empty() {
        return Check::fail(
            NAME,
            format!(
                "lost (started, never completed, tmux session gone): {}",
                lost.join(", ")
            ),
            lost_hint(&reported_ids, &other_ids),
        );
    }
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for s in states {
        *by_state.entry(s.state.name()).or_default() += 1;
    }
    if states.is_empty() {
        return Check::pass(NAME, "none yet");
    }
    Check::pass(
        NAME,
        format!(
            "{}: {}",
            count(states.len(), "dispatch", "dispatches"),
            by_state
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

/// What to do about lost dispatches: `vnx recover` for those whose worker reported, `vnx
/// cancel` for the others, each naming its ids.
fn lost_hint(reported: &[&str], other: &[&str]) -> String {
    let mut hint = "their supervisor died without recording an end (a reboot, a crash, a \
                    killed process); nothing was removed (the worktree \
                    .vnx-data/worktrees/dispatch-ID and branch dispatch/ID are kept)."
        .to_owned();
    if !reported.is_empty() {
        hint.push_str(&format!(
            " Whose worker reported: `{} {}` records the end from the sealed report \
             (committing done work, as the supervisor would); work a full disk kept from \
             being committed is recorded by the first vnx command once space is freed.",
            crate::dispatch::supervise::recover::COMMAND,
            reported.join(" ")
        ));
    }
    if !other.is_empty() {
        hint.push_str(&format!(
            " Whose worker did not report: `vnx resume {ids}` continues it in a follow-up in \
             its worktree and CLI session (`--dry-run` first says how), or review its worktree \
             and branch and `vnx cancel {ids}` closes it.",
            ids = other.join(" ")
        ));
    }
    hint
}

/// `pool`: the worktree pools, when the config keeps them: how many entries are idle, busy,
/// lent or not yet proven clean (left by a crash; the next refill proves or removes them).
pub(super) fn pool(root: &Path) -> Option<Check> {
    const NAME: &str = "pool";
    let project = crate::project::Project::at(root);
    let config = project.load_config().ok()?.worktree.pool;
    if !config.enabled() {
        return None;
    }
    let repo = crate::worktree::Repo::for_project(&project).ok()?;
    let mut parts = Vec::new();
    let mut unproven = 0;
    for (which, pool) in [
        (
            "dispatches",
            crate::worktree::Pool::new(&repo, config.size, &config.keep),
        ),
        (
            "gates",
            crate::worktree::Pool::for_gates(&repo, config.size, &config.keep),
        ),
    ] {
        let entries = pool.entries();
        let n = |state: &str| entries.iter().filter(|e| e.state == state).count();
        unproven += n("unproven");
        parts.push(format!(
            "{which}: {} idle, {} busy, {} lent of {}",
            n("idle"),
            n("busy"),
            n("lent"),
            config.size
        ));
    }
    let detail = parts.join("; ");
    Some(if unproven > 0 {
        Check::warn(
            NAME,
            format!("{detail}; {unproven} not proven clean yet"),
            "`vnx pool fill` proves them (or removes them) and tops the pool up",
        )
    } else {
        Check::pass(NAME, detail)
    })
}
