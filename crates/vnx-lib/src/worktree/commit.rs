//! The commit vnx makes for a worker: when a worker reports done and leaves changes
//! uncommitted (its sandbox or its permissions may forbid `git commit`), or a person accepts
//! the work of one that ended without reporting, everything it changed in the worktree,
//! except the paths vnx put there, goes into one commit on the dispatch branch, with trailers
//! naming the dispatch. Commits the worker made stay as they are. A merge under way there (a
//! `vnx follow-up --rebase`'s) is concluded by that commit, once every conflict is resolved
//! and only when it merges the commit vnx merged in.

use super::{Worktree, WorktreeError, git};
use crate::process::{self, Cmd};

pub use crate::receipts::VnxCommit;
pub use crate::receipts::worktree::MAX_LISTED;

/// Who the commit is by, when the repository's git config names nobody.
pub const FALLBACK_NAME: &str = "vnx";
/// The matching e-mail address (`.invalid` is reserved: it never reaches anyone).
pub const FALLBACK_EMAIL: &str = "vnx@localhost.invalid";

/// What goes into the message besides the summary: each becomes a `VNX-…` trailer.
#[derive(Clone, Debug, Default)]
pub struct CommitNote<'a> {
    /// The dispatch id.
    pub dispatch_id: &'a str,
    /// The provider that ran the worker.
    pub provider: &'a str,
    /// The model, when one was asked for.
    pub model: Option<&'a str>,
    /// The CLI's session id, when known.
    pub session_id: Option<&'a str>,
    /// The worker's one-line summary from its report.
    pub summary: Option<&'a str>,
    /// Who accepted the work with `vnx accept`, when that is why vnx commits it (the worker
    /// did not report); `None`: the worker reported done.
    pub accepted_by: Option<&'a str>,
}

/// One line of free text fit for a subject or a trailer: control characters become spaces.
fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    flat.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The commit message: the summary as subject (or a stock one), a body saying who committed,
/// then the trailers.
pub fn message(note: &CommitNote<'_>) -> String {
    let summary = note.summary.map(one_line).filter(|s| !s.is_empty());
    let subject = match &summary {
        Some(s) if s.chars().count() <= 72 => s.clone(),
        Some(s) => format!("{}…", s.chars().take(71).collect::<String>()),
        None => format!("vnx dispatch {}", note.dispatch_id),
    };
    let mut m = match note.accepted_by {
        None => format!(
            "{subject}\n\nThe worker of dispatch {} reported done and left these changes \
             uncommitted; vnx committed them.\n\n",
            note.dispatch_id
        ),
        Some(by) => format!(
            "{subject}\n\nThe worker of dispatch {} ended without reporting and left these \
             changes uncommitted; {} accepted them (`vnx accept`) and vnx committed them.\n\n",
            note.dispatch_id,
            one_line(by)
        ),
    };
    let mut trailer = |key: &str, value: &str| {
        m.push_str(&format!("{key}: {}\n", one_line(value)));
    };
    trailer("VNX-Dispatch", note.dispatch_id);
    trailer("VNX-Provider", note.provider);
    trailer("VNX-Model", note.model.unwrap_or("default"));
    if let Some(s) = note.session_id {
        trailer("VNX-Session", s);
    }
    if let Some(s) = &summary {
        trailer("VNX-Summary", s);
    }
    if let Some(by) = note.accepted_by {
        trailer("VNX-Accepted-By", by);
    }
    m
}

impl Worktree {
    /// Commits every change in the worktree (modified, deleted and untracked files; ignored
    /// ones stay out) to the dispatch branch, leaving out `exclude` (paths relative to the
    /// worktree). `None` when there was nothing to commit. Refuses when the worktree is not
    /// on its branch: a commit must never land on another. Git hooks do not run: the
    /// project's checks run as gates before a merge.
    ///
    /// A merge under way in the worktree is concluded (the commit has its two parents, even
    /// when the resolution changed nothing of the branch's files) when it merges the commit
    /// of `merging`, the rebase vnx made, and no path it left conflicted, nor any the index
    /// still holds unmerged, has a conflict marker left; otherwise it is refused
    /// ([`WorktreeError::MergeUnfinished`]) before anything is staged.
    pub fn commit_all(
        &self,
        note: &CommitNote<'_>,
        exclude: &[String],
        merging: Option<&crate::receipts::Rebase>,
    ) -> Result<Option<VnxCommit>, WorktreeError> {
        let err = |source| WorktreeError::Git {
            path: self.path.clone(),
            source,
        };
        let mut repo = self.open()?;
        let on = repo
            .find_reference("HEAD")
            .ok()
            .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned));
        let expected = format!("refs/heads/{}", self.branch);
        if on.as_deref() != Some(expected.as_str()) {
            return Err(WorktreeError::NotOnBranch {
                path: self.path.clone(),
                branch: self.branch.clone(),
            });
        }
        let merge = self.merge_under_way(&mut repo, merging)?;
        drop(repo);
        // Literal pathspecs: a file name is never a glob or a magic word.
        let literal = |c: Cmd| c.env("GIT_LITERAL_PATHSPECS", "1");
        process::run_ok(&literal(git(&self.path).args(["add", "--all", "--", "."])))
            .map_err(err)?;
        if !exclude.is_empty() {
            // Only what the index holds can be unstaged: a path the worker never touched is
            // not in the diff and needs nothing.
            let staged = staged(&self.path).map_err(err)?;
            let unstage: Vec<&String> = exclude.iter().filter(|p| staged.contains(p)).collect();
            if !unstage.is_empty() {
                process::run_ok(
                    &literal(git(&self.path).args(["reset", "--quiet", "--"])).args(unstage),
                )
                .map_err(err)?;
            }
        }
        let files = staged(&self.path).map_err(err)?;
        if files.is_empty() && !merge {
            return Ok(None);
        }
        let mut commit = git(&self.path).args([
            "commit",
            "--quiet",
            "--no-verify",
            "--cleanup=verbatim",
            "-m",
            &message(note),
        ]);
        if !identity_configured(&self.path) {
            for (k, v) in [
                ("GIT_AUTHOR_NAME", FALLBACK_NAME),
                ("GIT_AUTHOR_EMAIL", FALLBACK_EMAIL),
                ("GIT_COMMITTER_NAME", FALLBACK_NAME),
                ("GIT_COMMITTER_EMAIL", FALLBACK_EMAIL),
            ] {
                commit = commit.env(k, v);
            }
        }
        process::run_ok(&commit).map_err(err)?;
        let id = process::run_ok(&git(&self.path).args(["rev-parse", "HEAD"])).map_err(err)?;
        Ok(Some(VnxCommit {
            commit: id.trim().to_owned(),
            files_total: files.len() as u64,
            files: files.into_iter().take(MAX_LISTED).collect(),
        }))
    }
}

impl Worktree {
    /// Whether a merge is under way in the worktree that vnx may conclude: one of `merging`'s
    /// commit (and of nothing else), every conflicted path resolved. A merge of anything
    /// else, or one with a conflict marker left, is refused.
    fn merge_under_way(
        &self,
        repo: &mut git2::Repository,
        merging: Option<&crate::receipts::Rebase>,
    ) -> Result<bool, WorktreeError> {
        let mut heads = Vec::new();
        if repo
            .mergehead_foreach(|oid| {
                heads.push(oid.to_string());
                true
            })
            .is_err()
            || heads.is_empty()
        {
            return Ok(false);
        }
        let refused = |why: String| WorktreeError::MergeUnfinished {
            path: self.path.clone(),
            why,
        };
        let rebase = match merging {
            Some(r) if heads.len() == 1 && heads[0] == r.base_commit.as_str() => r,
            Some(r) => {
                return Err(refused(format!(
                    "the merge under way is of {}, not of {}, the commit vnx merged in",
                    heads.join(", "),
                    r.base_commit
                )));
            }
            None => {
                return Err(refused(format!(
                    "a merge of {} is under way, which vnx did not start",
                    heads.join(", ")
                )));
            }
        };
        let unresolved = self.conflicts_left(repo, &rebase.conflicts);
        if !unresolved.is_empty() {
            let more = unresolved.len().saturating_sub(MAX_LISTED);
            let mut named: Vec<String> = unresolved.into_iter().take(MAX_LISTED).collect();
            if more > 0 {
                named.push(format!("and {more} more"));
            }
            return Err(refused(format!(
                "conflicts are left in {}",
                named.join(", ")
            )));
        }
        Ok(true)
    }

    /// The paths the merge left conflicted (`left`, and those the index still holds
    /// unmerged) whose file still holds a conflict marker (a line starting `<<<<<<<` or
    /// `>>>>>>>`), or cannot be read to tell: a link, a FIFO, one over 64 MiB. A path gone
    /// from the worktree was resolved by its removal.
    fn conflicts_left(&self, repo: &git2::Repository, left: &[String]) -> Vec<String> {
        const MAX_BYTES: u64 = 64 << 20;
        let Ok(index) = repo.index() else {
            return vec!["(the index could not be read)".into()];
        };
        let Ok(conflicts) = index.conflicts() else {
            return vec!["(the index's conflicts could not be read)".into()];
        };
        let mut paths: Vec<String> = conflicts
            .filter_map(Result::ok)
            .filter_map(|c| c.our.or(c.their).or(c.ancestor))
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .chain(left.iter().cloned())
            .collect();
        paths.sort();
        paths.dedup();
        paths
            .into_iter()
            .filter(|p| {
                let file = self.path.join(p);
                match crate::files::read_bounded(&file, MAX_BYTES) {
                    Ok(bytes) => bytes
                        .split(|b| *b == b'\n')
                        .any(|line| line.starts_with(b"<<<<<<<") || line.starts_with(b">>>>>>>")),
                    Err(e) => e.kind() != std::io::ErrorKind::NotFound,
                }
            })
            .collect()
    }
}

/// The paths staged in a worktree's index, as git names them.
fn staged(dir: &std::path::Path) -> Result<Vec<String>, process::ProcessError> {
    let out =
        process::run_ok(&git(dir).args(["diff", "--cached", "--name-only", "--no-renames", "-z"]))?;
    Ok(out
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Whether git has both a name and an e-mail address to commit with in `dir`.
fn identity_configured(dir: &std::path::Path) -> bool {
    ["user.name", "user.email"].iter().all(|key| {
        process::run_ok(&git(dir).args(["config", "--get", key]))
            .is_ok_and(|v| !v.trim().is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_has_one_line_per_trailer_whatever_the_summary_holds() {
        let m = message(&CommitNote {
            dispatch_id: "D-1",
            provider: "beta",
            model: None,
            session_id: Some("019a-x"),
            summary: Some("# fix\nthe\tparser\u{1b}[31m"),
            accepted_by: None,
        });
        assert!(m.starts_with("# fix the parser [31m\n\n"), "{m}");
        assert!(m.contains("\nVNX-Dispatch: D-1\nVNX-Provider: beta\nVNX-Model: default\n"));
        assert!(m.contains("VNX-Session: 019a-x\n"));
        assert!(m.ends_with("VNX-Summary: # fix the parser [31m\n"));
        let long = message(&CommitNote {
            dispatch_id: "D-2",
            provider: "alpha",
            summary: Some(&"word ".repeat(40)),
            ..Default::default()
        });
        assert_eq!(long.lines().next().unwrap().chars().count(), 72);
        let none = message(&CommitNote {
            dispatch_id: "D-3",
            provider: "demo",
            ..Default::default()
        });
        assert!(none.starts_with("vnx dispatch D-3\n"));
        assert!(!none.contains("VNX-Summary"));
        assert!(none.contains("reported done"));
        let accepted = message(&CommitNote {
            dispatch_id: "D-4",
            provider: "demo",
            accepted_by: Some("ana\nVNX-Dispatch: D-9"),
            ..Default::default()
        });
        assert!(accepted.contains("ended without reporting"), "{accepted}");
        assert!(
            accepted.ends_with("VNX-Accepted-By: ana VNX-Dispatch: D-9\n"),
            "{accepted}"
        );
        assert_eq!(accepted.matches("\nVNX-Dispatch:").count(), 1, "{accepted}");
    }
}
