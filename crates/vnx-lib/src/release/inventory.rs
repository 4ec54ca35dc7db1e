//! What teardown left: `dispatch/*` branches, worktrees under `.vnx-data/worktrees/` (as git
//! lists them and as they are on disk), what the ledger recorded about each dispatch, and
//! which dispatch branches the remote holds (asked once, only when needed).

use crate::ids::{CommitId, DispatchId};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::{Class, ReleaseError};
use crate::ledger::tail;
use crate::process::{self, Cmd};
use crate::receipts::{DequeueReason, DispatchStatus, Typed};
use crate::worktree::{REMOTE_TIMEOUT, RemoteState, Repo, TeardownClass, Worktree};

/// What the ledger says about a dispatch.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Recorded {
    pub started: bool,
    pub completed: bool,
    /// The completion's status.
    pub status: Option<DispatchStatus>,
    pub teardown_class: Option<TeardownClass>,
    pub base_commit: Option<CommitId>,
    pub head_commit: Option<CommitId>,
    pub tmux_socket: Option<String>,
    pub session: Option<String>,
    /// The paths of the chain's last merge the queue took out for a conflict, when no merge
    /// of the branch followed it.
    pub conflict: Option<Vec<String>>,
}

impl Recorded {
    /// The socket and session the dispatch ran in.
    pub fn tmux(&self) -> Option<(String, String)> {
        Some((self.tmux_socket.clone()?, self.session.clone()?))
    }
}

/// A dispatch worktree as git and the disk show it.
#[derive(Clone, Debug)]
pub(super) struct FoundWorktree {
    pub path: PathBuf,
    pub registered: bool,
    pub exists: bool,
    /// `git worktree lock`'s reason (empty for a lock without one).
    pub locked: Option<String>,
}

/// One dispatch's leftovers.
#[derive(Clone, Debug)]
pub(super) struct Found {
    pub id: DispatchId,
    pub branch: String,
    pub tip: Option<CommitId>,
    pub worktree: Option<FoundWorktree>,
    pub recorded: Option<Recorded>,
    /// Where else the branch is checked out (the main checkout or another worktree).
    pub checked_out_elsewhere: Option<PathBuf>,
    /// `.vnx-data/dispatches/<id>`, when it exists.
    pub dispatch_dir: Option<PathBuf>,
}

/// `.vnx-data/dispatches/`.
pub(super) fn dispatches_dir(repo: &Repo) -> PathBuf {
    repo.root.join(crate::project::DATA_DIR).join("dispatches")
}

/// The lock reason vnx gives a dirty dispatch's worktree (`Repo::release`).
pub(super) fn vnx_lock_reason(id: &DispatchId) -> String {
    format!("vnx: dispatch {id} is dirty")
}

struct Registered {
    path: PathBuf,
    branch: Option<String>,
    locked: Option<String>,
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `git worktree list --porcelain -z`.
fn registered(repo: &Repo) -> Result<Vec<Registered>, ReleaseError> {
    let out = process::run_ok(&Cmd::git().arg("-C").arg(&repo.root).args([
        "worktree",
        "list",
        "--porcelain",
        "-z",
    ]))
    .map_err(|source| ReleaseError::Git {
        root: repo.root.clone(),
        source,
    })?;
    let mut list = Vec::new();
    for record in out
        .split("\0\0")
        .filter(|r| !r.trim_matches('\0').is_empty())
    {
        let mut wt = Registered {
            path: PathBuf::new(),
            branch: None,
            locked: None,
        };
        for field in record.split('\0') {
            if let Some(p) = field.strip_prefix("worktree ") {
                wt.path = canon(Path::new(p));
            } else if let Some(b) = field.strip_prefix("branch refs/heads/") {
                wt.branch = Some(b.to_owned());
            } else if field == "locked" {
                wt.locked = Some(String::new());
            } else if let Some(r) = field.strip_prefix("locked ") {
                wt.locked = Some(r.to_owned());
            }
        }
        list.push(wt);
    }
    Ok(list)
}

/// Every dispatch that left a branch or a worktree, by id.
pub(super) fn find(repo: &Repo, ledger: &Path) -> Result<Vec<Found>, ReleaseError> {
    let dir = canon(&repo.worktrees_dir());
    let registered = registered(repo)?;
    let mut found: BTreeMap<DispatchId, Found> = BTreeMap::new();
    let entry = |found: &mut BTreeMap<DispatchId, Found>, id: DispatchId| {
        found.entry(id.clone()).or_insert_with(|| Found {
            branch: format!("dispatch/{id}"),
            id,
            tip: None,
            worktree: None,
            recorded: None,
            checked_out_elsewhere: None,
            dispatch_dir: None,
        });
    };
    let git = git2::Repository::open(&repo.root).map_err(|e| ReleaseError::Git {
        root: repo.root.clone(),
        source: process::ProcessError::libgit2(
            format!("open {}", repo.root.display()),
            e.message(),
        ),
    })?;
    if let Ok(branches) = git.branches(Some(git2::BranchType::Local)) {
        for (b, _) in branches.flatten() {
            let name = b.name().ok().flatten().unwrap_or_default().to_owned();
            let Some(id) = name
                .strip_prefix("dispatch/")
                .and_then(|i| DispatchId::parse(i).ok())
            else {
                continue;
            };
            entry(&mut found, id.clone());
            let tip = b
                .get()
                .peel_to_commit()
                .ok()
                .map(|c| CommitId::from(c.id()));
            if let Some(f) = found.get_mut(&id) {
                f.tip = tip;
            }
        }
    }
    let on_disk = std::fs::read_dir(&dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let registered_ids = registered.iter().filter_map(|r| {
        (r.path.parent() == Some(dir.as_path()))
            .then(|| r.path.file_name()?.to_str().map(str::to_owned))
            .flatten()
    });
    for name in on_disk.into_iter().chain(registered_ids) {
        if let Some(id) = name
            .strip_prefix("dispatch-")
            .and_then(|i| DispatchId::parse(i).ok())
        {
            entry(&mut found, id);
        }
    }
    // Dispatch directories too: a launcher killed before `dispatch_started` leaves one.
    let dispatches = dispatches_dir(repo);
    if let Ok(entries) = std::fs::read_dir(&dispatches) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(id) = DispatchId::parse(&name)
                && e.file_type().is_ok_and(|t| t.is_dir())
            {
                entry(&mut found, id);
            }
        }
    }
    let (records, order) = read_ledger(ledger, &found)?;
    for f in found.values_mut() {
        let path = dir.join(format!("dispatch-{}", f.id));
        let reg = registered.iter().find(|r| r.path == path);
        if reg.is_some() || path.exists() {
            f.worktree = Some(FoundWorktree {
                exists: path.exists(),
                registered: reg.is_some(),
                locked: reg.and_then(|r| r.locked.clone()),
                path: path.clone(),
            });
        }
        f.checked_out_elsewhere = registered
            .iter()
            .find(|r| r.path != path && r.branch.as_deref() == Some(f.branch.as_str()))
            .map(|r| r.path.clone());
        f.recorded = records.get(&f.id).cloned();
        let dd = dispatches.join(&f.id);
        f.dispatch_dir = std::fs::symlink_metadata(&dd)
            .is_ok_and(|m| m.is_dir())
            .then_some(dd);
    }
    // In the order they started (what a person reading the list expects); those the ledger
    // does not know last, by id.
    let mut found: Vec<Found> = found.into_values().collect();
    found.sort_by_key(|f| order.get(&f.id).copied().unwrap_or(usize::MAX));
    Ok(found)
}

/// Each dispatch's place in the order the ledger started them.
type StartOrder = HashMap<DispatchId, usize>;

/// The ledger's `dispatch_started` and `dispatch_completed` receipts for these dispatches,
/// and the order in which they started.
fn read_ledger(
    ledger: &Path,
    wanted: &BTreeMap<DispatchId, Found>,
) -> Result<(HashMap<DispatchId, Recorded>, StartOrder), ReleaseError> {
    let mut out: HashMap<DispatchId, Recorded> = HashMap::new();
    let mut order: HashMap<DispatchId, usize> = HashMap::new();
    if wanted.is_empty() || !ledger.exists() {
        return Ok((out, order));
    }
    let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, b"\"dispatch_").is_some()
    })?;
    // A follow-up works on its chain's first dispatch's branch and worktree: what it records
    // is what the ledger says about them now.
    let mut first_of: HashMap<DispatchId, DispatchId> = HashMap::new();
    for line in lines {
        let Some(typed) = Typed::of_line(&line) else {
            continue;
        };
        match typed {
            Typed::DispatchStarted(r) => {
                let started = r.receipt;
                let id = match &started.continues {
                    Some(c) => c.first.clone(),
                    None => started.dispatch_id.clone(),
                };
                if !wanted.contains_key(&id) {
                    continue;
                }
                first_of.insert(started.dispatch_id.clone(), id.clone());
                let next = order.len();
                order.entry(id.clone()).or_insert(next);
                let e = out.entry(id).or_default();
                *e = Recorded {
                    started: true,
                    base_commit: Some(started.base_commit),
                    ..Default::default()
                };
                if let Some((socket, session)) = started.tmux.split_once(':') {
                    e.tmux_socket = Some(socket.to_owned());
                    e.session = Some(session.to_owned());
                }
            }
            Typed::DispatchCompleted(r) => {
                let completed = r.receipt;
                let id = match first_of.get(&completed.dispatch_id) {
                    Some(first) => first.clone(),
                    None if wanted.contains_key(&completed.dispatch_id) => {
                        completed.dispatch_id.clone()
                    }
                    None => continue,
                };
                let e = out.entry(id).or_default();
                e.completed = true;
                e.status = Some(completed.status);
                e.teardown_class = completed.teardown_class;
                e.head_commit = completed.head_commit;
            }
            Typed::MergeDequeued(r) if r.receipt.reason == DequeueReason::Conflict => {
                if let Some(first) = first_of.get(&r.receipt.dispatch_id) {
                    let e = out.entry(first.clone()).or_default();
                    e.conflict = Some(r.receipt.conflicts.clone());
                }
            }
            Typed::MergeCompleted(r) => {
                if let Some(first) = first_of.get(&r.receipt.dispatch_id) {
                    out.entry(first.clone()).or_default().conflict = None;
                }
            }
            _ => {}
        }
    }
    Ok((out, order))
}

/// Whether a worktree may go, given what is in it: `Ok(unlock)` when it may (after unlocking
/// vnx's own lock), else the class and reason that keep it.
pub(super) fn worktree_state(wt: &FoundWorktree, f: &Found) -> Result<bool, (Class, String)> {
    if wt.exists && !wt.registered {
        return Err((
            Class::Blocked,
            format!("{} is not a worktree git knows", wt.path.display()),
        ));
    }
    if !wt.exists {
        return Err((
            Class::Blocked,
            "git lists the worktree but it is missing on disk (`git worktree prune` forgets it)"
                .into(),
        ));
    }
    match Worktree::dirt_at(&wt.path, &f.branch) {
        Err(e) => return Err((Class::Blocked, format!("could not read the worktree: {e}"))),
        Ok((Some(reason), _)) => return Err((Class::Dirty, reason)),
        Ok((None, _)) => {}
    }
    match wt.locked.as_deref() {
        None => Ok(false),
        Some(reason) if reason.starts_with(&vnx_lock_reason(&f.id)) => Ok(true),
        Some("") => Err((Class::Blocked, "the worktree is locked".into())),
        Some(reason) => Err((
            Class::Blocked,
            format!("the worktree is locked by someone else: {reason}"),
        )),
    }
}

/// The remote's `dispatch/*` branches, asked for once, when first needed.
pub(super) struct RemoteHeads {
    pub name: String,
    root: PathBuf,
    known: bool,
    heads: Option<Result<HashMap<String, String>, String>>,
}

impl RemoteHeads {
    pub(super) fn new(repo: &Repo, name: &str) -> RemoteHeads {
        let known = git2::Repository::open(&repo.root).is_ok_and(|r| r.find_remote(name).is_ok());
        RemoteHeads {
            name: name.to_owned(),
            root: repo.root.clone(),
            known,
            heads: None,
        }
    }

    /// Where the remote has `branch`, compared with `tip`. An unreachable remote is never
    /// read as holding anything.
    pub(super) fn state(&mut self, branch: &str, tip: &str) -> RemoteState {
        if !self.known {
            return RemoteState::NoRemote;
        }
        let heads = self.heads.get_or_insert_with(|| {
            let asked = process::run_ok(
                &Cmd::git()
                    .arg("-C")
                    .arg(&self.root)
                    .args(["ls-remote", "--heads", &self.name, "refs/heads/dispatch/*"])
                    .timeout(REMOTE_TIMEOUT),
            );
            asked.map_err(|e| e.to_string()).map(|out| {
                out.lines()
                    .filter_map(|l| {
                        let (sha, name) = l.split_once('\t')?;
                        Some((name.strip_prefix("refs/heads/")?.to_owned(), sha.to_owned()))
                    })
                    .collect()
            })
        });
        match heads {
            Err(e) => RemoteState::Unreachable(e.clone()),
            Ok(h) => match h.get(branch) {
                None => RemoteState::Absent,
                Some(sha) if sha == tip => RemoteState::InSync,
                Some(sha) => RemoteState::Differs(sha.clone()),
            },
        }
    }
}
