//! A dispatch, from plan to launch. [`plan`] validates everything before disk is touched
//! (role, id, provider and lane, model, instruction, skills, base, configuration) and lets the
//! provider constraints judge the route; a refusal is the plan's only write (its decisions go
//! on the ledger). [`launch`] makes the worktree and the dispatch directory (the composed
//! prompt and hook settings), appends `dispatch_started` with the constraint decisions, and
//! starts a tmux pane running vnx's own supervisor. The request and the supervisor's spec
//! are in `spec`, the supervisor's work in `supervise`, its verdict in `outcome`.

pub mod compose;
mod govern;
pub mod include;
mod launch;
pub mod liveness;
pub mod outcome;
pub mod pending;
pub mod phantom;
mod plan;
pub mod signals;
pub mod slots;
mod spec;
pub mod supervise;
pub mod view;
pub mod workspace;

pub use govern::Reasons;
pub use launch::{Launched, launch};
pub use plan::{Plan, new_id, plan};
pub use spec::{MAX_DEADLINE_SECS, Request, Spec, read_spec};
pub use supervise::{GRACE, Outcome, Pane, Surroundings, supervise};

use std::path::{Path, PathBuf};

use crate::config::ConfigError;
use crate::constraints::{Decision, LoadError};
use crate::ledger::attest::Attestor;
use crate::ledger::{LedgerError, Receipt, now_utc};
use crate::project::Project;
use crate::provider::ProviderError;
use crate::skills::SkillError;
use crate::tmux::{Tmux, TmuxError};
use crate::worktree::WorktreeError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    #[error("{path} is not initialised for vnx")]
    NotInitialised { path: PathBuf },
    #[error("role {role:?} does not match ^[a-z][a-z0-9_-]{{0,31}}$")]
    BadRole { role: String },
    #[error(".worktreeinclude line {line}: {reason}")]
    BadInclude { line: usize, reason: String },
    #[error("the instruction is empty")]
    EmptyInstruction,
    #[error("dispatch id {id} is in use: {what} exists")]
    IdInUse { id: String, what: PathBuf },
    #[error("a deadline of {secs} s is outside 1..={MAX_DEADLINE_SECS} s")]
    BadDeadline { secs: u64 },
    #[error("the instruction contains a NUL byte, which no argument can carry")]
    NulInInstruction,
    #[error(
        "the main checkout has uncommitted changes to {count} tracked file(s), which a worker started from HEAD would not see"
    )]
    DirtyBase { count: usize },
    #[error("the main checkout's HEAD is detached, so HEAD names no branch to build on")]
    DetachedBase,
    #[error("worker CLI `{program}` was not found on PATH")]
    MissingCli { program: String },
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Constraints(#[from] LoadError),
    #[error(transparent)]
    Skill(#[from] SkillError),
    #[error("{}", govern::refusal_message(.id, .refusals))]
    Refused {
        id: String,
        refusals: Vec<Decision>,
        #[source]
        reasons: govern::Reasons,
    },
    #[error("constraint `{constraint}` pinned model {model:?}, which the provider does not take")]
    PinnedModel {
        constraint: String,
        model: String,
        #[source]
        source: ProviderError,
    },
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    #[error(transparent)]
    Tmux(#[from] TmuxError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("could not write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("dispatch spec {path} is unreadable")]
    BadSpec {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl DispatchError {
    pub fn hint(&self) -> Option<String> {
        match self {
            DispatchError::NotInitialised { .. } => Some("run `vnx init` first".into()),
            DispatchError::BadRole { .. } => Some("e.g. --agent implementer".into()),
            DispatchError::DirtyBase { .. } => Some(
                "commit or stash them first, or pass --base-ref REF to start from a commit \
                 on purpose"
                    .into(),
            ),
            DispatchError::BadInclude { .. } => Some(
                "list paths relative to the repository root, one per line (`*` within a name, \
                 a trailing `/` for a directory)"
                    .into(),
            ),
            DispatchError::DetachedBase => {
                Some("check out a branch, or pass --base-ref REF explicitly".into())
            }
            DispatchError::IdInUse { .. } => {
                Some("leave out --id to get a fresh one; `vnx status` lists the ids in use".into())
            }
            DispatchError::EmptyInstruction => {
                Some("pass --instruction TEXT or --instruction-file FILE".into())
            }
            DispatchError::MissingCli { program } => Some(format!(
                "install {program}, or try the offline provider: --provider demo --model commit"
            )),
            DispatchError::Provider(e) => e.hint(),
            DispatchError::Config(e) => e.hint(),
            DispatchError::Constraints(e) => e.hint(),
            DispatchError::Skill(e) => e.hint(),
            DispatchError::Refused { refusals, .. } => Some(govern::refusal_hint(refusals)),
            DispatchError::PinnedModel { .. } => Some(
                "pass --model, or narrow the constraint's required_route with `provider:`".into(),
            ),
            DispatchError::Worktree(e) => e.hint(),
            DispatchError::Tmux(e) => e.hint(),
            DispatchError::Ledger(e) => e.hint(),
            _ => None,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DispatchError + use<> {
    let path = path.to_owned();
    move |source| DispatchError::Io { path, source }
}

/// Where the pieces of a plan come from that the library does not look up itself.
pub struct Context<'a> {
    pub project: &'a Project,
    pub ledger: &'a Path,
    pub tmux: &'a Tmux,
    /// vnx's own binary (the supervisor, the hooks, and the demo worker).
    pub vnx: &'a Path,
    /// Finds a program on PATH.
    pub find_program: &'a dyn Fn(&str) -> Option<PathBuf>,
    /// `program --version` (cached by the caller as it likes).
    pub probe_version: &'a dyn Fn(&Path) -> Option<String>,
    /// Signs the receipts the dispatch writes.
    pub attestor: &'a Attestor,
    /// The signing key's path, handed to the supervisor (which signs the completion).
    pub key_path: &'a Path,
}

/// Signs receipts (see [`Attestor::attest`]).
fn attest_all(attestor: &Attestor, receipts: Vec<Receipt>) -> Vec<Receipt> {
    receipts
        .iter()
        .map(|r| attestor.attest(r, &now_utc))
        .collect()
}
