//! The recorded head pushed to the forge: `git push REMOTE <sha>:refs/heads/<branch>` from
//! the main checkout, exactly that commit (never what the branch or worktree holds now) and
//! never forced. A rejection is told apart from git's words: a branch with commits vnx never
//! saw (non-fast-forward, fetch first), or one the forge protects (GitHub's GH006, a
//! `pre-receive` hook that declined).

use std::path::Path;
use std::time::Duration;

use super::{ForgeError, Rejection, text};
use crate::ids::CommitId;
use crate::process::{self, Cmd};

/// Pushes `head` to `branch` on `remote`, from the repository at `root`.
pub fn push(
    root: &Path,
    remote: &str,
    head: &CommitId,
    branch: &str,
    timeout: Duration,
) -> Result<(), ForgeError> {
    push_refspec(
        root,
        remote,
        &format!("{head}:refs/heads/{branch}"),
        (head, branch),
        timeout,
    )
}

/// Pushes `refspec` to `remote`; `(head, branch)` name what it pushes in an error.
pub(super) fn push_refspec(
    root: &Path,
    remote: &str,
    refspec: &str,
    (head, branch): (&CommitId, &str),
    timeout: Duration,
) -> Result<(), ForgeError> {
    let cmd = Cmd::git()
        .arg("-C")
        .arg(root)
        .args(["push", "--quiet", "--", remote, refspec])
        .timeout(timeout)
        .max_output(super::gh::MAX_OUTPUT);
    let out = process::run(&cmd).map_err(|e| ForgeError::PushFailed {
        remote: remote.to_owned(),
        branch: branch.to_owned(),
        head: head.to_string(),
        detail: text::line(&e.to_string(), 600),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let detail = text::line(
        &stderr
            .lines()
            .filter(|l| !l.starts_with("hint:"))
            .collect::<Vec<_>>()
            .join(" "),
        600,
    );
    let why = if stderr.contains("(non-fast-forward)") || stderr.contains("(fetch first)") {
        Some(Rejection::NonFastForward)
    } else if stderr.contains("GH006")
        || stderr.contains("protected branch")
        || stderr.contains("pre-receive hook declined")
    {
        Some(Rejection::Protected)
    } else {
        None
    };
    Err(match why {
        Some(why) => ForgeError::PushRejected {
            remote: remote.to_owned(),
            branch: branch.to_owned(),
            head: head.to_string(),
            why,
            detail,
        },
        None => ForgeError::PushFailed {
            remote: remote.to_owned(),
            branch: branch.to_owned(),
            head: head.to_string(),
            detail,
        },
    })
}
