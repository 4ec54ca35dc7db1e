//! The one way vnx runs `gh`: an argv through `vnx::process::Cmd`, in the main checkout (never
//! in a worker's worktree), with the user's environment and so their login, prompts and the
//! update notifier off, a timeout, and at most [`MAX_OUTPUT`] bytes of each of its outputs
//! kept. A failure is classified from gh's exit code and stderr (gh 2.23 exits 0, 1 or 4 and
//! tells the rest in words): logged out, unreachable, rate-limited, or another failure whose
//! text the caller reads further.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ForgeError, text};
use crate::process::{self, Cmd, ProcessError};

/// The most of each of gh's outputs vnx keeps: 4 MiB.
pub const MAX_OUTPUT: usize = 4 << 20;

/// The most of gh's stderr an error carries.
const MAX_DETAIL: usize = 600;

/// `gh` for one repository.
#[derive(Clone, Debug)]
pub struct Gh {
    program: PathBuf,
    root: PathBuf,
    repo: String,
    timeout: Duration,
}

/// What gh printed when it succeeded.
#[derive(Clone, Debug)]
pub struct Answer {
    /// Its stdout (bounded; may be cut).
    pub stdout: String,
    /// Its stderr (bounded), for the notes some commands print there on success.
    pub stderr: String,
}

impl Answer {
    /// Its stdout as JSON, else [`ForgeError::Unreadable`] naming `command`.
    pub fn json(&self, command: &str) -> Result<serde_json::Value, ForgeError> {
        serde_json::from_str(self.stdout.trim())
            .map_err(|e| ForgeError::unreadable(command, e.to_string()))
    }
}

impl Gh {
    /// `program` run in `root` for `repo` (`owner/name`), each call killed after `timeout`.
    pub fn new(program: PathBuf, root: &Path, repo: &str, timeout: Duration) -> Gh {
        Gh {
            program,
            root: root.to_owned(),
            repo: repo.to_owned(),
            timeout,
        }
    }

    /// The repository, `owner/name`.
    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// The command for `args`, as vnx runs it.
    pub fn command<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Cmd::new(&self.program)
            .args(args.into_iter().map(Into::into))
            .cwd(&self.root)
            .env("GH_PROMPT_DISABLED", "1")
            .env("GH_NO_UPDATE_NOTIFIER", "1")
            .env("GH_SPINNER_DISABLED", "1")
            .env("NO_COLOR", "1")
            .env("GH_PAGER", "cat")
            .timeout(self.timeout)
            .max_output(MAX_OUTPUT)
    }

    /// Runs `gh ARGS…`; its answer, or its failure classified.
    pub fn run<I, S>(&self, args: I) -> Result<Answer, ForgeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let cmd = self.command(args);
        let out = process::run(&cmd).map_err(|e| match e {
            ProcessError::NotFound { program } => ForgeError::GhMissing { program },
            ProcessError::TimedOut { command, seconds } => {
                ForgeError::TimedOut { command, seconds }
            }
            other => ForgeError::Gh {
                command: cmd.display(),
                detail: other.to_string(),
            },
        })?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            return Err(classify(&cmd.display(), out.status.code(), &stderr));
        }
        Ok(Answer {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        })
    }
}

/// A failed gh call as a [`ForgeError`], from its exit code and stderr (the table in
/// `tests/support/README.md`, "Error cases").
pub fn classify(command: &str, code: Option<i32>, stderr: &str) -> ForgeError {
    let detail = text::line(stderr, MAX_DETAIL);
    let lower = stderr.to_ascii_lowercase();
    let unreachable = [
        "dial unix",
        "dial tcp",
        "proxyconnect",
        "no such host",
        "connection refused",
        "i/o timeout",
        "tls handshake",
        "connection reset",
        "unexpected eof",
    ];
    if lower.contains("rate limit") {
        return ForgeError::RateLimited { detail };
    }
    if unreachable.iter().any(|u| lower.contains(u)) || server_error(&lower) {
        return ForgeError::Unreachable { detail };
    }
    if code == Some(4)
        || lower.contains("gh auth login")
        || lower.contains("http 401")
        || lower.contains("bad credentials")
        || lower.contains("not logged in")
    {
        return ForgeError::LoggedOut { detail };
    }
    ForgeError::Gh {
        command: command.to_owned(),
        detail,
    }
}

/// Whether gh reports an HTTP 5xx (`HTTP 502: …` or `(HTTP 502)`).
fn server_error(lower: &str) -> bool {
    ["http 5", "(http 5"].iter().any(|p| {
        lower.match_indices(p).any(|(i, m)| {
            lower[i + m.len()..]
                .bytes()
                .take(2)
                .all(|b| b.is_ascii_digit())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: i32, stderr: &str) -> &'static str {
        match classify("gh", Some(code), stderr) {
            ForgeError::RateLimited { .. } => "rate",
            ForgeError::Unreachable { .. } => "unreachable",
            ForgeError::LoggedOut { .. } => "auth",
            ForgeError::Gh { .. } => "gh",
            _ => "other",
        }
    }

    #[test]
    fn gh_failures_are_told_apart_by_their_words() {
        assert_eq!(
            kind(
                1,
                "HTTP 403: API rate limit exceeded for user ID 1. (https://api.github.com/graphql)"
            ),
            "rate"
        );
        assert_eq!(
            kind(1, "GraphQL: API rate limit exceeded for user ID 1."),
            "rate"
        );
        assert_eq!(
            kind(
                1,
                "HTTP 502: 502 Bad Gateway (https://api.github.com/graphql)"
            ),
            "unreachable"
        );
        assert_eq!(kind(1, "gh: Server Error (HTTP 500)"), "unreachable");
        assert_eq!(
            kind(
                1,
                "Post \"https://api.github.com/graphql\": dial unix /tmp/x.sock: connect: no such file or directory"
            ),
            "unreachable"
        );
        assert_eq!(
            kind(
                4,
                "To get started with GitHub CLI, please run:  gh auth login"
            ),
            "auth"
        );
        assert_eq!(
            kind(
                1,
                "HTTP 401: This endpoint requires you to be authenticated. (https://api.github.com/graphql)\nTry authenticating with:  gh auth login"
            ),
            "auth"
        );
        assert_eq!(
            kind(
                1,
                "GraphQL: Could not resolve to a PullRequest with the number of 99."
            ),
            "gh"
        );
    }
}
