//! The commit vnx makes for a worker: when a worker reports done and leaves changes
//! uncommitted (its sandbox or its permissions may forbid `git commit`), or a person accepts
//! the work of one that ended without reporting, everything it changed in the worktree,
//! except the paths vnx put there, goes into one commit on the dispatch branch, with trailers
//! naming the dispatch. Commits the worker made stay as they are.

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
    pub fn commit_all(
        &self,
        note: &CommitNote<'_>,
        exclude: &[String],
    ) -> Result<Option<VnxCommit>, WorktreeError> {
        let err = |source| WorktreeError::Git {
            path: self.path.clone(),
            source,
        };
        let repo = self.open()?;
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
        if files.is_empty() {
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
