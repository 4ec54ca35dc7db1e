//! Pull requests on a forge, through the user's own `gh` and its login (ADR 0064): the
//! runner (`gh`: argv only, in the main checkout, a timeout, bounded output, failures
//! classified from gh's exit code and stderr), a pull request as vnx reads it (`view`), the
//! recorded head pushed to the forge's branch (`push`), `vnx pr open` (`open`: push, open or
//! update, `pr_opened`), `vnx pr merge` (`merge`: vnx's own conditions, then the forge's
//! merge, `pr_merged`), what the ledger holds of a branch's pull requests (`history`), one
//! read of a pull request and the forge cache readers share (`watch`), forge text bounded
//! and made safe to show (`text`), issues read, listed, labelled and commented on (`issue`)
//! and what the ledger holds of the issues taken as work (`intake`).
//!
//! Everything read from the forge is untrusted: it is bounded, its control characters
//! replaced, and it is only ever passed on as data (a body goes through a file vnx writes,
//! never through an argv a program could read as an option).

pub mod auto;
pub mod comment;
pub mod fix;
pub mod gh;
pub mod history;
pub mod intake;
pub mod issue;
pub mod merge;
pub mod open;
pub mod push;
pub mod react;
pub mod shots;
pub mod stack;
pub mod text;
pub mod view;
pub mod watch;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use gh::Gh;
pub use history::History;
pub use view::{CheckState, PrState, PullRequest};

pub use crate::config::github_repo;
use crate::config::{ConfigError, ForgeConfig};
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::ledger::attest::Attestor;
use crate::merge::{Condition, MergeError, Reading};
use crate::process::{self, Cmd};

/// What a `vnx pr` operation needs from its caller.
pub struct Context<'a> {
    /// What checking the ledger reads (its `root`: where git and `gh` run; its ledger: where
    /// the evidence is read from and the receipts go to).
    pub reading: Reading<'a>,
    /// Signs the receipts.
    pub attestor: &'a Attestor,
    /// The project's data directory (`.vnx-data/`): where the body files vnx hands `gh` are
    /// written.
    pub data_dir: &'a Path,
    /// Who asks, when not the user at the terminal (an agent through `vnx mcp --act`), as
    /// the pull-request receipts record it.
    pub by: Option<&'a str>,
}

impl Context<'_> {
    /// Signs `receipt` and appends it to the ledger.
    pub fn record<K: crate::receipts::Kind>(&self, receipt: &K) -> Result<(), LedgerError> {
        self.attestor.record(self.reading.ledger, receipt)?;
        Ok(())
    }
}

/// The forge of a project: its configuration, the repository its remote names, and the `gh`
/// that reaches it.
#[derive(Clone, Debug)]
pub struct Forge {
    /// The `forge:` section.
    pub config: ForgeConfig,
    /// The repository, `owner/name`.
    pub repo: String,
    /// The runner.
    pub gh: Gh,
}

impl Forge {
    /// The forge of the main checkout at `root`: the repository from `forge.repo`, else from
    /// the URL of `forge.remote`; `gh` is `program` (a name on `PATH`, or a path).
    pub fn resolve(
        root: &Path,
        config: &ForgeConfig,
        program: impl Into<PathBuf>,
    ) -> Result<Forge, ForgeError> {
        let url = remote_url(root, &config.remote)?;
        let repo = match &config.repo {
            Some(r) => r.clone(),
            None => github_repo(&url).ok_or_else(|| ForgeError::NotGitHub {
                remote: config.remote.clone(),
                url: text::clean(&url, 300),
            })?,
        };
        let gh = Gh::new(
            program.into(),
            root,
            &repo,
            Duration::from_secs(config.timeout_seconds),
        );
        Ok(Forge {
            config: config.clone(),
            repo,
            gh,
        })
    }
}

/// The URL of `remote` in the repository at `root`.
pub fn remote_url(root: &Path, remote: &str) -> Result<String, ForgeError> {
    let out = process::run(
        &Cmd::git()
            .arg("-C")
            .arg(root)
            .args(["remote", "get-url", "--", remote])
            .timeout(Duration::from_secs(30)),
    )
    .map_err(|e| ForgeError::Git {
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(ForgeError::NoRemote {
            remote: remote.to_owned(),
        });
    }
    Ok(out.text())
}

/// How a push was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// The forge's branch has commits the pushed head does not contain.
    NonFastForward,
    /// The forge protects the branch (GitHub's GH006, a `pre-receive` hook).
    Protected,
}

/// Why a forge operation did not happen. Nothing is recorded on the ledger for an operation
/// that fails before its receipt; a rerun repairs one interrupted after a durable step.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// The project's config has no `forge:` section.
    #[error("the project has no forge: {config} has no `forge:` section")]
    NotConfigured {
        /// The config file.
        config: PathBuf,
    },
    /// `gh` is not installed.
    #[error("`{program}` (GitHub's command-line client) was not found")]
    GhMissing {
        /// The program looked for.
        program: String,
    },
    /// `gh` has no login that the forge accepts.
    #[error("gh is not logged in to the forge: {detail}")]
    LoggedOut {
        /// What gh said, bounded.
        detail: String,
    },
    /// The configured remote does not exist.
    #[error("the repository has no git remote `{remote}`")]
    NoRemote {
        /// The remote's name.
        remote: String,
    },
    /// The remote's URL names no GitHub repository, and `forge.repo` names none either.
    #[error("remote `{remote}` ({url}) is not a GitHub repository")]
    NotGitHub {
        /// The remote's name.
        remote: String,
        /// Its URL, bounded.
        url: String,
    },
    /// The forge refused the push.
    #[error("the push of {head} to {remote} {branch} was rejected ({why:?}): {detail}")]
    PushRejected {
        /// The remote.
        remote: String,
        /// The branch pushed to.
        branch: String,
        /// The head pushed.
        head: String,
        /// Why.
        why: Rejection,
        /// What git said, bounded.
        detail: String,
    },
    /// The push failed otherwise.
    #[error("the push of {head} to {remote} {branch} failed: {detail}")]
    PushFailed {
        /// The remote.
        remote: String,
        /// The branch pushed to.
        branch: String,
        /// The head pushed.
        head: String,
        /// What git said, bounded.
        detail: String,
    },
    /// The forge could not be reached, or answered with a server error.
    #[error("the forge could not be reached: {detail}")]
    Unreachable {
        /// What gh said, bounded.
        detail: String,
    },
    /// The forge's rate limit is exhausted.
    #[error("the forge's rate limit is exhausted: {detail}")]
    RateLimited {
        /// What gh said, bounded.
        detail: String,
    },
    /// `gh` ran past its timeout and was killed.
    #[error("`{command}` did not finish within {seconds} s and was killed")]
    TimedOut {
        /// The command line.
        command: String,
        /// Its timeout.
        seconds: u64,
    },
    /// `gh` failed in another way.
    #[error("`{command}` failed: {detail}")]
    Gh {
        /// The command line.
        command: String,
        /// What gh said, bounded.
        detail: String,
    },
    /// git failed in the main checkout.
    #[error("git failed: {detail}")]
    Git {
        /// What failed.
        detail: String,
    },
    /// The ledger has no dispatch by that id.
    #[error("the ledger has no dispatch {id}")]
    UnknownDispatch {
        /// The dispatch.
        id: DispatchId,
    },
    /// vnx's own conditions do not hold: nothing was pushed or merged.
    #[error("{what} of dispatch {id} refused: {detail}")]
    Refused {
        /// The dispatch.
        id: DispatchId,
        /// `opening the pull request` or `merging the pull request`.
        what: &'static str,
        /// The first condition that failed, in words.
        detail: String,
        /// Every condition, in order.
        conditions: Vec<Condition>,
    },
    /// The pull request of a dispatch of `--after` would stack on more than one dependency
    /// that has not merged (a pull request has one base).
    #[error("the pull request of {id} would stack on {dependencies}, none merged yet")]
    StackedOnSeveral {
        /// The dispatch.
        id: DispatchId,
        /// The dependencies not merged, listed.
        dependencies: String,
    },
    /// No pull request was opened for the dispatch's branch.
    #[error("no pull request was opened for dispatch {id} (branch {branch})")]
    NoPullRequest {
        /// The dispatch.
        id: DispatchId,
        /// Its branch.
        branch: String,
    },
    /// The pull request was closed on the forge without a merge.
    #[error("pull request #{number} ({url}) was closed on the forge")]
    Closed {
        /// The dispatch.
        id: DispatchId,
        /// Its number.
        number: u64,
        /// Its address.
        url: String,
    },
    /// The pull request was merged already (by vnx or on the forge).
    #[error("pull request #{number} ({url}) is merged already, as {merge_commit}")]
    AlreadyMerged {
        /// The dispatch.
        id: DispatchId,
        /// Its number.
        number: u64,
        /// Its address.
        url: String,
        /// The merge commit.
        merge_commit: String,
    },
    /// The forge refused the merge (branch protection, a draft, a head that moved).
    #[error("the forge refused to merge pull request #{number}: {detail}")]
    MergeRefused {
        /// The dispatch.
        id: DispatchId,
        /// Its number.
        number: u64,
        /// What the forge said, bounded.
        detail: String,
    },
    /// gh answered with something vnx cannot read.
    #[error("`{command}` answered unreadably: {detail}")]
    Unreadable {
        /// The command line.
        command: String,
        /// What was wrong.
        detail: String,
    },
    /// The forge has no issue by that number (or it is a pull request).
    #[error("the forge has no issue #{number}")]
    NoIssue {
        /// The number named.
        number: u64,
    },
    /// The issue is not one vnx takes as work (closed, or its author is not one the
    /// project takes work from): nothing was started.
    #[error("issue #{number} is not taken: {why}")]
    IssueNotTaken {
        /// Its number.
        number: u64,
        /// Why, in words.
        why: String,
    },
    /// The config could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The ledger could not be read or appended to.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The merge conditions could not be checked.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// The gates run before a pull request is opened by itself could not be run.
    #[error(transparent)]
    Gate(#[from] crate::gate::GateError),
    /// A file vnx writes could not be written.
    #[error("could not write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

impl ForgeError {
    /// gh's answer to `command` is not what vnx reads: `detail` says how.
    pub fn unreadable(command: impl Into<String>, detail: impl Into<String>) -> ForgeError {
        ForgeError::Unreadable {
            command: command.into(),
            detail: detail.into(),
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ForgeError::NotConfigured { .. } => {
                "add a `forge:` section to .vnx/config.yaml (`forge: {kind: github, remote: \
                 origin}`; `vnx init` adds one when origin is on GitHub)"
                    .into()
            }
            ForgeError::GhMissing { .. } => {
                "install GitHub's CLI (Debian: `apt-get install gh`), then `gh auth login`".into()
            }
            ForgeError::LoggedOut { .. } => {
                "run `gh auth login` (or set GH_TOKEN), then `vnx doctor` to check".into()
            }
            ForgeError::NoRemote { remote } => format!(
                "add it (`git remote add {remote} https://github.com/OWNER/NAME.git`) or name \
                 another in forge.remote"
            ),
            ForgeError::NotGitHub { .. } => {
                "point the remote at github.com, or name the repository in forge.repo".into()
            }
            ForgeError::PushRejected {
                why: Rejection::NonFastForward,
                branch,
                ..
            } => format!(
                "the forge's {branch} has commits vnx did not record; look at them (`git fetch`), \
                 and follow up on the dispatch or delete the forge's branch; vnx never force-pushes"
            ),
            ForgeError::PushRejected {
                why: Rejection::Protected,
                branch,
                ..
            } => format!("the forge protects {branch}: allow pushes to dispatch/* branches"),
            ForgeError::PushFailed { .. } => {
                "check the remote (`git push` by hand shows the same), then run it again".into()
            }
            ForgeError::Unreachable { .. } => {
                "check the network and the forge's status, then run it again; nothing was \
                 recorded"
                    .into()
            }
            ForgeError::RateLimited { .. } => {
                "wait for the rate limit to reset (`gh api rate_limit`), then run it again".into()
            }
            ForgeError::TimedOut { .. } => {
                "the forge is slow: run it again, or raise forge.timeout_seconds".into()
            }
            ForgeError::Gh { .. } | ForgeError::Unreadable { .. } => {
                "run the gh command by hand to see more; `vnx doctor` checks gh".into()
            }
            ForgeError::Git { .. } => "check the main checkout with `git status`".into(),
            ForgeError::UnknownDispatch { .. } => "`vnx status` lists the dispatches".into(),
            ForgeError::Refused { id, .. } => {
                format!("`vnx show {id}` and `vnx gate-check {id}` show what is missing")
            }
            ForgeError::NoPullRequest { id, .. } => format!("`vnx pr open {id}` opens it"),
            ForgeError::StackedOnSeveral { dependencies, .. } => format!(
                "merge {dependencies} first (their pull requests, or `vnx merge`): a pull \
                 request stacks on one dependency at most"
            ),
            ForgeError::Closed { number, id, .. } => format!(
                "reopen it on the forge (`gh pr reopen {number}`) and run `vnx pr open {id}` \
                 again, or release the work"
            ),
            ForgeError::AlreadyMerged { .. } => {
                "nothing to do: `vnx worktree-release` knows the work landed".into()
            }
            ForgeError::MergeRefused { number, .. } => format!(
                "`gh pr view {number}` shows what the forge requires (reviews, checks); \
                 `vnx pr show` shows what vnx sees"
            ),
            ForgeError::NoIssue { .. } => {
                "name an open issue's number (`gh issue list` lists them)".into()
            }
            ForgeError::IssueNotTaken { .. } => {
                "only issues opened by the repository's owners, members and collaborators are \
                 taken unless forge.issues.authors is `any`; a closed issue never is"
                    .into()
            }
            ForgeError::Config(e) => return e.hint(),
            ForgeError::Merge(e) => return e.hint(),
            ForgeError::Gate(e) => return e.hint(),
            ForgeError::Ledger(_) | ForgeError::Io { .. } => return None,
        })
    }
}

/// The base branch a dispatch's pull request asks to merge into: `base` if given, else the
/// branch the dispatch started from (`refs/heads/` removed).
pub fn base_branch(base: Option<&str>, base_ref: &str) -> String {
    base.map_or_else(
        || {
            base_ref
                .strip_prefix("refs/heads/")
                .unwrap_or(base_ref)
                .to_owned()
        },
        str::to_owned,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_urls_name_their_repository() {
        for (url, want) in [
            ("https://github.com/o/r.git", Some("o/r")),
            ("https://github.com/o/r", Some("o/r")),
            ("git@github.com:o/r.git", Some("o/r")),
            ("ssh://git@github.com/o-1/r.x", Some("o-1/r.x")),
            ("https://gitlab.com/o/r.git", None),
            ("/srv/git/r.git", None),
            ("https://github.com/o/r/extra", None),
            ("https://github.com/-o/r", None),
        ] {
            assert_eq!(github_repo(url).as_deref(), want, "{url}");
        }
    }
}
