//! `vnx follow-up --rebase`: a branch brought onto its base's current head in its own
//! worktree. Planned in memory before anything is touched (the commit merged in, the paths
//! that will conflict, the base's commits and diffstat since the branch left it, for the
//! worker's instruction), then made by the launch as a `git merge --no-commit` of that commit
//! in the follow-up's worktree, conflict markers left for the worker (ADR 0065).

use std::path::Path;

use git2::{Oid, Repository};

use crate::ids::CommitId;
use crate::process::{self, Cmd, ProcessError};
use crate::receipts::Rebase;

/// The most base commits an instruction names one by one.
const MAX_SUBJECTS: usize = 20;
/// The most diffstat lines an instruction quotes.
const MAX_STAT_LINES: usize = 40;

/// A rebase planned: what the receipt records, and what the worker is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// What `dispatch_started.continues.rebase` records.
    pub record: Rebase,
    /// The subjects of the base's commits the branch lacks, newest first (at most 20).
    pub subjects: Vec<String>,
    /// How many more there are.
    pub more: usize,
    /// The base's diffstat since the merge base (bounded).
    pub diffstat: String,
}

/// Why a branch cannot be brought onto its base.
#[derive(Debug, thiserror::Error)]
pub enum RebaseError {
    /// The base names no branch head.
    #[error("the base {base:?} names no commit in {root}")]
    BadBase {
        /// The base given.
        base: String,
        /// The repository.
        root: std::path::PathBuf,
    },
    /// The branch already holds the base's head.
    #[error("{branch} already holds {base} at {commit}: there is nothing to bring in")]
    UpToDate {
        /// The dispatch's branch.
        branch: String,
        /// The base.
        base: String,
        /// The base's head.
        commit: CommitId,
    },
    /// The repository could not be read.
    #[error("could not compare {branch} with {base}")]
    Git {
        /// The dispatch's branch.
        branch: String,
        /// The base.
        base: String,
        /// What libgit2 said.
        #[source]
        source: git2::Error,
    },
    /// The merge in the worktree failed other than by conflicting.
    #[error("could not merge {commit} into the worktree {worktree}")]
    Merge {
        /// The commit merged in.
        commit: CommitId,
        /// The worktree.
        worktree: std::path::PathBuf,
        /// What git said.
        #[source]
        source: ProcessError,
    },
}

impl RebaseError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            RebaseError::BadBase { .. } => Some("name a branch with --base-ref".into()),
            RebaseError::UpToDate { .. } => {
                Some("`vnx merge` it, or follow it up without --rebase".into())
            }
            RebaseError::Git { .. } => None,
            RebaseError::Merge { .. } => Some(
                "the worktree must be clean for the merge: follow the dispatch up without \
                 --rebase to finish its work first"
                    .into(),
            ),
        }
    }
}

/// Plans bringing `tip` (the tip of `branch`) onto `base` in the repository at `root`:
/// nothing is written.
pub fn plan(
    root: &Path,
    branch: &str,
    tip: &CommitId,
    base: &str,
    dequeued_seq: Option<u64>,
) -> Result<Planned, RebaseError> {
    let git = |source| RebaseError::Git {
        branch: branch.to_owned(),
        base: base.to_owned(),
        source,
    };
    let bad = || RebaseError::BadBase {
        base: base.to_owned(),
        root: root.to_owned(),
    };
    let repo = Repository::open(root).map_err(git)?;
    let base_ref = if base.starts_with("refs/") {
        base.to_owned()
    } else {
        format!("refs/heads/{base}")
    };
    let base_commit = repo
        .find_reference(&base_ref)
        .and_then(|r| r.peel_to_commit())
        .map_err(|_| bad())?;
    let tip_oid = Oid::from_str(tip.as_str()).map_err(git)?;
    let tip_commit = repo.find_commit(tip_oid).map_err(git)?;
    let base_oid = base_commit.id();
    if tip_oid == base_oid || repo.graph_descendant_of(tip_oid, base_oid).map_err(git)? {
        return Err(RebaseError::UpToDate {
            branch: branch.to_owned(),
            base: base_ref,
            commit: CommitId::from(base_oid),
        });
    }
    let merge_base = repo.merge_base(tip_oid, base_oid).map_err(git)?;
    let index = repo
        .merge_commits(&tip_commit, &base_commit, None)
        .map_err(git)?;
    let mut conflicts: Vec<String> = index
        .conflicts()
        .map_err(git)?
        .filter_map(Result::ok)
        .filter_map(|c| {
            let entry = c.our.or(c.their).or(c.ancestor)?;
            Some(String::from_utf8_lossy(&entry.path).into_owned())
        })
        .collect();
    conflicts.sort();
    conflicts.dedup();
    let mut walk = repo.revwalk().map_err(git)?;
    walk.push(base_oid).map_err(git)?;
    walk.hide(tip_oid).map_err(git)?;
    let mut subjects = Vec::new();
    let mut more = 0;
    for oid in walk {
        let oid = oid.map_err(git)?;
        if subjects.len() < MAX_SUBJECTS {
            let commit = repo.find_commit(oid).map_err(git)?;
            let subject =
                String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default()).into_owned();
            subjects.push(format!("{} {}", &oid.to_string()[..12], plain(&subject)));
        } else {
            more += 1;
        }
    }
    let old = repo
        .find_commit(merge_base)
        .and_then(|c| c.tree())
        .map_err(git)?;
    let new = base_commit.tree().map_err(git)?;
    let diff = repo
        .diff_tree_to_tree(Some(&old), Some(&new), None)
        .map_err(git)?;
    let stats = diff.stats().map_err(git)?;
    let buf = stats.to_buf(git2::DiffStatsFormat::FULL, 80).map_err(git)?;
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let mut diffstat = String::new();
    for line in lines.iter().take(MAX_STAT_LINES) {
        diffstat.push_str(&plain(line));
        diffstat.push('\n');
    }
    if lines.len() > MAX_STAT_LINES {
        diffstat.push_str(&format!(
            " … and {} more lines\n",
            lines.len() - MAX_STAT_LINES
        ));
    }
    Ok(Planned {
        record: Rebase {
            base_ref,
            base_commit: CommitId::from(base_oid),
            merge_base: CommitId::from(merge_base),
            conflicts,
            dequeued_seq,
        },
        subjects,
        more,
        diffstat,
    })
}

/// The follow-up's instruction: what vnx merged, what conflicts, what changed on the base,
/// what to do, then `extra` (the person's own words), if any.
pub fn instruction(planned: &Planned, branch: &str, extra: Option<&str>) -> String {
    let r = &planned.record;
    let mut s = format!(
        "vnx merged {base} (at {commit}) into this branch, {branch}, in this worktree, so \
         that your work lands on the base as it is now. The merge is not committed yet.\n\n",
        base = r.base_ref,
        commit = r.base_commit,
    );
    if r.conflicts.is_empty() {
        s.push_str("It merged without conflicts.\n\n");
    } else {
        s.push_str(
            "These files conflict; each has git's conflict markers (<<<<<<< ======= >>>>>>>):\n",
        );
        for path in &r.conflicts {
            s.push_str(&format!("- {}\n", plain(path)));
        }
        s.push('\n');
    }
    s.push_str(&format!(
        "What changed on {} since your branch left it ({} commits):\n",
        r.base_ref,
        planned.subjects.len() + planned.more
    ));
    for subject in &planned.subjects {
        s.push_str(&format!("- {subject}\n"));
    }
    if planned.more > 0 {
        s.push_str(&format!("- … and {} older commits\n", planned.more));
    }
    s.push_str(&format!("\n{}\n", planned.diffstat.trim_end()));
    s.push_str(
        "\nFinish the merge: resolve every conflict so that both the base's changes and your \
         task's are kept (never revert the base's changes to make yours fit), remove every \
         conflict marker, check that the result builds and its tests pass, and leave the \
         resolved files in the worktree (vnx commits the merge when you report done; do not \
         rebase, reset or switch branches). Then report as the completion protocol says, \
         naming the files you resolved.\n",
    );
    if let Some(extra) = extra.filter(|e| !e.trim().is_empty()) {
        s.push_str(&format!("\nAlso: {extra}\n"));
    }
    s
}

/// Makes the planned merge in `worktree`: `git merge --no-ff --no-commit` of the base's
/// commit, conflicts left with their markers. A merge of that commit already under way there
/// (a launch killed after it) is taken as made.
pub fn apply(worktree: &Path, rebase: &Rebase) -> Result<(), RebaseError> {
    let git = || process::Cmd::git().arg("-C").arg(worktree);
    let merge_head = process::run_ok(&git().args(["rev-parse", "-q", "--verify", "MERGE_HEAD"]));
    if merge_head.is_ok_and(|h| h.trim() == rebase.base_commit.as_str()) {
        return Ok(());
    }
    let message = format!("Merge {} into the dispatch's branch", rebase.base_ref);
    let merge: Cmd = git()
        .args([
            "-c",
            "user.name=vnx",
            "-c",
            "user.email=vnx@vnx.invalid",
            "merge",
            "--no-ff",
            "--no-commit",
            "--no-edit",
            "-m",
            &message,
        ])
        .arg(rebase.base_commit.as_str());
    let result = process::run_ok(&merge);
    // A conflict exits 1 and leaves MERGE_HEAD: that is the merge the worker finishes.
    let started = process::run_ok(&git().args(["rev-parse", "-q", "--verify", "MERGE_HEAD"]))
        .is_ok_and(|h| h.trim() == rebase.base_commit.as_str());
    match result {
        _ if started => Ok(()),
        Ok(_) => Ok(()),
        Err(source) => Err(RebaseError::Merge {
            commit: rebase.base_commit.clone(),
            worktree: worktree.to_owned(),
            source,
        }),
    }
}

/// Text from the repository (commit subjects, paths) with control characters shown as
/// `\u{…}` escapes, for the worker's instruction.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
