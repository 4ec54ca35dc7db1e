//! A dispatch, from plan to teardown, in four parts: planning and launch (`start`: [`plan`]
//! validates everything before disk is touched and lets the provider constraints judge the
//! route; [`launch`] makes the worktree and the dispatch directory, appends
//! `dispatch_started` and starts a tmux pane running vnx's own supervisor), the in-pane
//! supervisor (`supervise`: the worker run, its live state, its completion), the queue
//! (`queue`: admission under concurrency limits), and dispatch state as readers see it
//! (`fold`, `view`, `settled`, `detail`, `liveness`, `cancel`). What the launcher hands the
//! supervisor is here: the request and the spec (`spec`), the setup and teardown commands
//! both run (`setup`); the dispatching command's environment goes through `env_file`.

pub mod accept;
pub mod answer;
pub mod answering;
pub mod budget;
pub mod cancel;
pub mod detail;
pub mod dismiss;
pub mod fold;
pub mod liveness;
pub mod planned;
pub mod queue;
pub mod refusal;
pub mod resume;
pub mod settled;
pub mod setup;
mod spec;
pub mod start;
pub mod state;
pub mod supervise;
pub mod view;

pub use crate::worktree::id_in_use;
pub use refusal::Reasons;
pub use spec::{
    DEFAULT_STALL_AFTER_SECS, MAX_DEADLINE_SECS, MAX_TITLE_CHARS, Request, Spec, read_spec,
    title_of,
};
pub use start::launch::{Launched, launch};
pub use start::plan::{Plan, plan};
pub use supervise::{GRACE, Outcome, Pane, Surroundings, after_completion, supervise};

use std::path::{Path, PathBuf};

use crate::config::ConfigError;
use crate::constraints::{Decision, LoadError};
use crate::ids::DispatchId;
use crate::ledger::attest::Attestor;
use crate::ledger::{LedgerError, Receipt, now_utc};
use crate::project::Project;
use crate::provider::ProviderError;
use crate::skills::SkillError;
use crate::tmux::{Tmux, TmuxError};
use crate::worktree::WorktreeError;

/// A dispatch's directory (`.vnx-data/dispatches/ID`), under the main checkout `root`.
pub fn dir_of(root: &Path, id: &DispatchId) -> PathBuf {
    root.join(crate::project::DATA_DIR)
        .join("dispatches")
        .join(id)
}

/// Where a dispatch's worker log is: its dispatch directory, under the main checkout `root`.
/// Readers take the log from here, never from a path a receipt names (a forged receipt could
/// name a FIFO or a terminal).
pub fn worker_log(root: &Path, id: &DispatchId) -> PathBuf {
    dir_of(root, id).join("worker.log")
}

/// Whether the file `name` is in the dispatch directory `dispatch_dir` (a file itself, never
/// a link): how a request to its supervisor, or its worker's report, is left there.
pub(crate) fn has_file(dispatch_dir: &Path, name: &str) -> bool {
    (dispatch_dir.join(name).symlink_metadata()).is_ok_and(|m| m.is_file())
}

/// An error and its causes on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Why a dispatch could not be planned, launched or supervised.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// A done worker's changes could not be committed for want of space: nothing was
    /// recorded, and the work waits in the worktree until space returns.
    #[error(
        "dispatch {id} reported done, but its work could not be committed for want of space \
         (kept in {}): {why}",
        worktree.display()
    )]
    Uncommitted {
        /// The dispatch.
        id: crate::ids::DispatchId,
        /// Its worktree, which holds the work.
        worktree: PathBuf,
        /// What the commit said.
        why: String,
    },
    /// The supervisor was stopped by a signal no `vnx cancel` asked for (its tmux server died,
    /// the machine shuts down): the worker was stopped and nothing recorded, so the dispatch
    /// reads lost and `vnx resume` continues it.
    #[error("dispatch {id} was interrupted, and nothing recorded: {why}")]
    Interrupted {
        /// The dispatch.
        id: crate::ids::DispatchId,
        /// What stopped it.
        why: String,
    },
    /// The repository has no `.vnx/config.yaml`.
    #[error("{path} is not initialised for vnx")]
    NotInitialised {
        /// The repository's root.
        path: PathBuf,
    },
    /// A role that cannot name a skill or a config entry.
    #[error("role {role:?} does not match ^[a-z][a-z0-9_-]{{0,31}}$")]
    BadRole {
        /// The role given.
        role: String,
    },
    /// A role neither the config declares nor a skill names.
    #[error("unknown role {role:?}: known roles are {}", known.join(", "))]
    UnknownRole {
        /// The role given.
        role: String,
        /// The roles `.vnx/config.yaml` declares and the skills under `skills/`.
        known: Vec<String>,
    },
    /// A gate asked for (`--gate`) that the config does not declare.
    #[error("unknown gate {gate:?}: the config declares {}", if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    UnknownGate {
        /// The gate asked for.
        gate: String,
        /// The gates `.vnx/config.yaml` declares.
        known: Vec<String>,
    },
    /// A `.worktreeinclude` line that cannot be used.
    #[error(".worktreeinclude line {line}: {reason}")]
    BadInclude {
        /// Its 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The instruction is empty or only whitespace.
    #[error("the instruction is empty")]
    EmptyInstruction,
    /// The dispatch id is taken.
    #[error("dispatch id {id} is in use: {what} exists")]
    IdInUse {
        /// The id asked for.
        id: String,
        /// What already uses it: its directory, worktree or branch.
        what: PathBuf,
    },
    /// The ledger records a dispatch of that id (its files may be gone).
    #[error("dispatch id {id} was used before: the ledger records its start")]
    IdOnLedger {
        /// The id asked for.
        id: String,
    },
    /// A deadline outside 1 s..=30 days.
    #[error("a deadline of {secs} s is outside 1..={MAX_DEADLINE_SECS} s")]
    BadDeadline {
        /// The deadline given, in seconds.
        secs: u64,
    },
    /// The instruction holds a NUL byte.
    #[error("the instruction contains a NUL byte, which no argument can carry")]
    NulInInstruction,
    #[error(
        "the main checkout has uncommitted changes to {count} tracked file(s), which a worker started from HEAD would not see"
    )]
    /// Dispatching from `HEAD` while the main checkout has uncommitted changes.
    DirtyBase {
        /// How many tracked files changed.
        count: usize,
    },
    /// Dispatching from `HEAD` while it names no branch.
    #[error("the main checkout's HEAD is detached, so HEAD names no branch to build on")]
    DetachedBase,
    /// The worker CLI is not installed.
    #[error("worker CLI `{program}` was not found on PATH")]
    MissingCli {
        /// The program looked for.
        program: String,
    },
    /// The provider, model or lane does not fit.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// `.vnx/config.yaml` is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `provider_constraints.yaml` is invalid.
    #[error(transparent)]
    Constraints(#[from] LoadError),
    /// A skill could not be loaded.
    #[error(transparent)]
    Skill(#[from] SkillError),
    /// The provider constraints refused the route (their decisions are on the ledger).
    #[error("{}", refusal::refusal_message(.id, .refusals))]
    Refused {
        /// The dispatch refused.
        id: String,
        /// The decisions that refused it.
        refusals: Vec<Decision>,
        /// Their reasons, one per line.
        #[source]
        reasons: refusal::Reasons,
    },
    /// The egress policy refused what the provider would receive (its `egress_decision` is
    /// on the ledger): the findings under `refuse`, never the secrets.
    #[error("dispatch {id} refused by the egress policy: {}", refusal::list(.findings))]
    EgressRefused {
        /// The dispatch refused.
        id: String,
        /// The findings that refused it.
        findings: Vec<crate::egress::Finding>,
    },
    /// The worktree holds a link leading out of it, and the worker would run unsandboxed in
    /// a posture that lets it edit files: its CLI would write through the link (no CLI
    /// resolves links before an edit), outside the worktree.
    #[error(
        "dispatch {id} refused: its worktree holds {}, and an unsandboxed worker in `{permission}` would write through it",
        crate::worktree::links::describe(.walked)
    )]
    LinkLeadsOut {
        /// The dispatch refused.
        id: String,
        /// The posture it asked for.
        permission: &'static str,
        /// What the walk found.
        walked: crate::worktree::links::Walked,
    },
    /// A constraint pinned a model the provider does not take.
    #[error("constraint `{constraint}` pinned model {model:?}, which the provider does not take")]
    PinnedModel {
        /// The constraint that pinned it.
        constraint: String,
        /// The model pinned.
        model: String,
        /// Why the provider refuses it.
        #[source]
        source: ProviderError,
    },
    /// Its worktree could not be made.
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    /// A follow-up's base could not be brought into its branch (`--rebase`).
    #[error(transparent)]
    Rebase(#[from] crate::dispatch::start::rebase::RebaseError),
    /// Its tmux session could not be started.
    #[error(transparent)]
    Tmux(#[from] TmuxError),
    /// The ledger could not be written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A CLI's memory could not be read or seeded.
    #[error(transparent)]
    Memory(Box<crate::memory::MemoryError>),
    /// No port of the config's `worktree.ports` could be claimed.
    #[error(transparent)]
    Port(#[from] start::ports::PortError),
    /// The worker's sandbox could not be made, or its commits not brought in.
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    /// A file of the dispatch could not be written.
    #[error("could not write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Every slot of the provider is taken and the queue policy (or a full queue) refused
    /// the dispatch; its `queue_decision` is on the ledger, nothing else was made.
    #[error("dispatch {id} rejected: {reason}")]
    Rejected {
        /// The dispatch.
        id: String,
        /// Its provider.
        provider: String,
        /// Why, in words.
        reason: String,
    },
    /// A dispatch of `--after` names a dispatch neither queued nor on the ledger.
    #[error(
        "dispatch {id} cannot wait for {dependency}: no dispatch of that id is queued or on the ledger"
    )]
    UnknownDependency {
        /// The dispatch.
        id: String,
        /// The id it named.
        dependency: String,
    },
    /// A dispatch of `--after` would wait for itself.
    #[error("dispatch {id} would wait for itself: {cycle}")]
    DependencyCycle {
        /// The dispatch.
        id: String,
        /// The cycle, `D-a → D-b → D-a`.
        cycle: String,
    },
    /// The work of the dispatches a dispatch of `--after` waits for does not merge; its
    /// `queue_decision` (rejected) names the paths.
    #[error("dispatch {id} refused: the work of {dependencies} does not merge ({})", paths.join(", "))]
    DependenciesConflict {
        /// The dispatch.
        id: String,
        /// Its dependencies, listed.
        dependencies: String,
        /// The paths that conflict.
        paths: Vec<String>,
    },
    /// A dispatch for a remote host could not be started there.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    /// A dispatch's `spec.json` cannot be read as one.
    #[error("dispatch spec {path} is unreadable")]
    BadSpec {
        /// The file.
        path: PathBuf,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
}

impl DispatchError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            DispatchError::NotInitialised { .. } => Some("run `vnx init` first".into()),
            DispatchError::Uncommitted { id, .. } => Some(format!(
                "free space on the repository's filesystem: the next vnx command then commits \
                 the work and records the end (or `vnx recover {id}`)"
            )),
            DispatchError::Interrupted { id, .. } => Some(format!(
                "`vnx resume {id}` continues it in a follow-up in its worktree"
            )),
            DispatchError::Port(start::ports::PortError::Exhausted { .. }) => Some(
                "widen `worktree.ports` in .vnx/config.yaml, or wait for a dispatch to end".into(),
            ),
            DispatchError::BadRole { .. } => Some("e.g. --agent implementer".into()),
            DispatchError::UnknownRole { role, .. } => Some(format!(
                "check the spelling, or declare it under `roles:` in .vnx/config.yaml (`{role}: \
                 {{skills: [...], gates: [...]}}`) or add skills/{role}/SKILL.md"
            )),
            DispatchError::UnknownGate { gate, .. } => Some(format!(
                "check the spelling, or declare it under `gates:` in .vnx/config.yaml (`{gate}: \
                 {{kind: screenshots, ...}}`)"
            )),
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
            DispatchError::IdInUse { .. } | DispatchError::IdOnLedger { .. } => {
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
            DispatchError::Refused { refusals, .. } => Some(refusal::refusal_hint(refusals)),
            DispatchError::EgressRefused { .. } => Some(
                "take the secret out of the instruction, or the file out of .worktreeinclude \
                 (the egress_decision receipt records each finding's rule, place and SHA-256); \
                 what is refused is `egress:` in provider_constraints.yaml"
                    .into(),
            ),
            DispatchError::LinkLeadsOut { .. } => Some(
                "run it with --sandbox (outside the worktree nothing is writable there), or \
                 remove the link from the branch"
                    .into(),
            ),
            DispatchError::PinnedModel { .. } => Some(
                "pass --model, or narrow the constraint's required_route with `provider:`".into(),
            ),
            DispatchError::Rejected { provider, .. } => Some(format!(
                "try again when a {provider} slot is free (`vnx status --running`), or set \
                 `queue: {{policy: queue}}` in .vnx/config.yaml to wait in the queue"
            )),
            DispatchError::UnknownDependency { .. } => {
                Some("name dispatches `vnx status` lists (their ids, or a prefix of one)".into())
            }
            DispatchError::DependencyCycle { .. } => {
                Some("a dispatch cannot wait for itself or for one that waits for it".into())
            }
            DispatchError::DependenciesConflict { .. } => Some(
                "wait for them one at a time (a chain), or follow up one so their work merges"
                    .into(),
            ),
            DispatchError::Worktree(e) => e.hint(),
            DispatchError::Rebase(e) => e.hint(),
            DispatchError::Tmux(e) => e.hint(),
            DispatchError::Ledger(e) => e.hint(),
            DispatchError::Sandbox(e) => e.hint(),
            DispatchError::Remote(e) => e.hint(),
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
    /// The repository dispatched in.
    pub project: &'a Project,
    /// The ledger receipts go to.
    pub ledger: &'a Path,
    /// The tmux server (socket) sessions start on.
    pub tmux: &'a Tmux,
    /// vnx's own binary (the supervisor, the hooks, and the demo worker).
    pub vnx: &'a Path,
    /// Finds a program on PATH.
    pub find_program: &'a (dyn Fn(&str) -> Option<PathBuf> + Sync),
    /// `program --version` (cached by the caller as it likes); the launch runs it on a
    /// thread of its own, beside the worktree's creation.
    pub probe_version: &'a (dyn Fn(&Path) -> Option<String> + Sync),
    /// Signs the receipts the dispatch writes.
    pub attestor: &'a Attestor,
    /// The signing key's path, handed to the supervisor (which signs the completion).
    pub key_path: &'a Path,
    /// What this machine offers a sandboxed worker (bubblewrap, the home directory, …).
    pub machine: &'a crate::sandbox::Machine,
    /// The environment of the command that asked for the dispatch: the worker, its
    /// supervisor and their commands run in it (minus what vnx scrubs), whatever tmux server
    /// runs the pane. `None`: the pane's own.
    pub env: Option<&'a [(std::ffi::OsString, std::ffi::OsString)]>,
    /// Who asked for the dispatch when it is not the person at this terminal (a device
    /// paired with `vnx serve`): its `dispatch_started` names them.
    pub by: Option<&'a str>,
    /// The dispatch whose worker asked for it (through `vnx mcp --act` run inside that
    /// dispatch): its `dispatch_started` records it, so that worker can never approve or
    /// merge it (`mcp::act::may_govern`).
    pub by_worker: Option<&'a crate::ids::DispatchId>,
}

impl Context<'_> {
    /// What this machine gives the remote places it makes, their files under `data_dir`.
    pub fn here<'d>(&'d self, data_dir: &'d Path) -> crate::remote::place::Here<'d> {
        crate::remote::place::Here {
            data_dir,
            home: self.machine.home.as_deref(),
            key: Some(self.key_path),
        }
    }
}

/// Signs receipts (see [`Attestor::attest`]).
fn attest_all(attestor: &Attestor, receipts: Vec<Receipt>) -> Vec<Receipt> {
    receipts
        .iter()
        .map(|r| attestor.attest(r, &now_utc))
        .collect()
}
