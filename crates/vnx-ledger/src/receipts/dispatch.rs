//! `dispatch_started`, and the dispatch status and the completion signal as enums (the end's
//! receipts are in `completed.rs`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ids::{CommitId, DispatchId};

use super::kinds::{self, HookKind, Lane, Permission, PromptTransport};
use super::{ConstraintVerdict, Extra, RemoteOrigin};

/// How a dispatch ended.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DispatchStatus {
    /// The worker reported done (or, for a provider whose completion is its exit, exited 0).
    Done,
    /// The worker, its CLI, or vnx around it failed.
    Failed,
    /// The worker ended its turn or exited without reporting: a person must look.
    NeedsInput,
    /// The deadline passed.
    Timeout,
    /// The supervisor was told to stop.
    Cancelled,
    /// A status a later version writes.
    #[default]
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

impl DispatchStatus {
    /// The status as receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            DispatchStatus::Done => "done",
            DispatchStatus::Failed => "failed",
            DispatchStatus::NeedsInput => "needs_input",
            DispatchStatus::Timeout => "timeout",
            DispatchStatus::Cancelled => "cancelled",
            DispatchStatus::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for DispatchStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a completion was decided from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum CompletionSignal {
    /// The worker's `vnx report`.
    Report,
    /// The worker's exit status.
    Exit,
    /// A CLI's end-of-turn hook, spelled as its module names it, ending in `_hook`
    /// (`tool_stop_hook`).
    TurnEnded(Cow<'static, str>),
    /// The dispatch's deadline.
    Deadline,
    /// A signal to the supervisor (cancel).
    SupervisorSignal,
    /// The worker could not be started.
    SpawnFailed,
    /// The dispatch's tmux session could not be started.
    LaunchFailed,
    /// A person closed a dispatch whose supervisor was lost (`vnx cancel`).
    ClosedLost,
    /// A completion that names none.
    #[default]
    Unknown,
    /// A signal a later version writes, kept as it was written.
    Other(String),
}

/// The signals the ledger knows, as receipts spell them.
const KNOWN: [(&str, CompletionSignal); 8] = [
    ("report", CompletionSignal::Report),
    ("exit", CompletionSignal::Exit),
    ("deadline", CompletionSignal::Deadline),
    ("supervisor_signal", CompletionSignal::SupervisorSignal),
    ("spawn_failed", CompletionSignal::SpawnFailed),
    ("launch_failed", CompletionSignal::LaunchFailed),
    ("closed_lost", CompletionSignal::ClosedLost),
    ("unknown", CompletionSignal::Unknown),
];

impl CompletionSignal {
    /// The signal as receipts spell it.
    pub fn name(&self) -> &str {
        match self {
            CompletionSignal::TurnEnded(name) => return name,
            CompletionSignal::Other(name) => return name,
            _ => {}
        }
        KNOWN
            .iter()
            .find(|(_, s)| s == self)
            .map_or("unknown", |(name, _)| name)
    }

    /// The signal a receipt spells `name`.
    pub fn parse(name: &str) -> CompletionSignal {
        KNOWN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| {
                if name.ends_with("_hook") {
                    CompletionSignal::TurnEnded(name.to_owned().into())
                } else {
                    CompletionSignal::Other(name.to_owned())
                }
            })
    }

    /// The signal in a person's words: a CLI's own end-of-turn hook is `turn ended`, whichever
    /// CLI's it is (the receipt keeps which); the others as receipts spell them, in words.
    pub fn for_people(&self) -> &str {
        match self {
            CompletionSignal::TurnEnded(_) => "turn ended",
            CompletionSignal::SupervisorSignal => "supervisor signal",
            CompletionSignal::SpawnFailed => "spawn failed",
            CompletionSignal::LaunchFailed => "launch failed",
            CompletionSignal::ClosedLost => "closed lost",
            other => other.name(),
        }
    }
}

impl Serialize for CompletionSignal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for CompletionSignal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CompletionSignal, D::Error> {
        Ok(CompletionSignal::parse(&String::deserialize(d)?))
    }
}

impl schemars::JsonSchema for CompletionSignal {
    fn schema_name() -> Cow<'static, str> {
        "CompletionSignal".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "What a completion was decided from: `report` (the worker's `vnx \
                report`), `exit` (its exit status), `deadline`, `supervisor_signal` (cancel), \
                `spawn_failed`, `launch_failed`, `closed_lost` (closed by a person after its \
                supervisor was lost), or a CLI's end-of-turn hook, its name ending in `_hook`.",
        })
    }
}

impl std::fmt::Display for CompletionSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A file `.worktreeinclude` copied into the worktree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncludedFile {
    /// Its path relative to the repository root.
    pub path: String,
    /// SHA-256 of the contents copied (lowercase hex); the contents are never recorded.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A file vnx put in a worktree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Placed {
    /// The file, in the worktree.
    pub path: PathBuf,
    /// SHA-256 of what vnx wrote (a changed file is left alone).
    pub sha256: String,
    /// The directory vnx created for it (removed too when left empty).
    pub made_dir: Option<PathBuf>,
}

/// A skill the prompt was composed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SkillRef {
    /// The skill directory's name under `skills/`.
    pub name: String,
    /// SHA-256 of its `SKILL.md`.
    pub sha256: String,
}

/// A constraint's decision, as `dispatch_started` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DecisionRef {
    /// The constraint's `id` in provider_constraints.yaml.
    pub id: String,
    /// What it decided about this dispatch.
    pub decision: ConstraintVerdict,
}

/// What a worker could do to the evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reach {
    /// The sandbox workers run in; `None`: none, as the dispatching user.
    pub sandbox: Option<String>,
    /// The user id workers run as.
    pub worker_uid: u32,
    /// The signing key can be read: a worker could sign forged receipts and checkpoints.
    pub signing_key_readable: bool,
    /// The ledger (or, before it exists, its directory) can be written: a worker could append
    /// unattested receipts, or cut and rewrite lines (which checkpoints detect).
    pub ledger_writable: bool,
    /// The repository's refs can be written: a worker could move `refs/vnx/checkpoints`
    /// (which the checkpoint witness detects).
    pub checkpoint_refs_writable: bool,
}

impl Reach {
    /// Whether nothing here is within the worker's reach.
    pub fn out_of_reach(&self) -> bool {
        !self.signing_key_readable && !self.ledger_writable && !self.checkpoint_refs_writable
    }

    /// One sentence on what a worker could do.
    pub fn describe(&self) -> String {
        if self.out_of_reach() {
            return "workers can neither read the signing key nor write the ledger or the \
                    checkpoint ref"
                .into();
        }
        let mut can = Vec::new();
        if self.signing_key_readable {
            can.push("read the signing key (and so sign forged receipts)");
        }
        if self.ledger_writable {
            can.push("write the ledger");
        }
        if self.checkpoint_refs_writable {
            can.push("move refs/vnx/checkpoints");
        }
        let sandbox = match &self.sandbox {
            Some(s) => format!("in sandbox {s}"),
            None => "without a sandbox".into(),
        };
        format!(
            "workers run as uid {} {sandbox}: they can {}",
            self.worker_uid,
            join(&can)
        )
    }
}

fn join(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

/// `dispatch_started`: what was launched, how, from what, and what a worker could reach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchStarted {
    /// The dispatch this receipt starts.
    pub dispatch_id: DispatchId,
    /// The role the worker plays (`--agent`), e.g. implementer.
    pub role: String,
    /// The provider: a built-in CLI or a declared one.
    pub provider: String,
    /// The model asked for, or filled in by a constraint's pin; `null` for the CLI's default.
    pub model: Option<String>,
    /// Whether the worker runs headless or as a TUI in the pane.
    pub lane: Lane,
    /// The permission posture asked for.
    pub permission: Permission,
    /// The CLI flags that posture became.
    pub permission_flags: Vec<String>,
    /// The worker's argv, the prompt replaced by its hash.
    pub argv: Vec<String>,
    /// The worker binary's resolved path (vnx itself for the demo).
    pub binary: String,
    /// What the binary's `--version` printed; `null` when it was not probed (declared providers).
    pub binary_version: Option<String>,
    /// How the prompt reached the worker: as an argument, on stdin, or in a file.
    pub prompt_transport: PromptTransport,
    /// What ends the dispatch successfully, as the provider declares it.
    pub completion: kinds::ProviderCompletion,
    /// The end-of-turn hook vnx installed for the worker, if any.
    pub hooks: HookKind,
    /// Files vnx put into the worktree for the worker (removed before classification).
    pub vnx_files_placed: Vec<Placed>,
    /// SHA-256 of the composed prompt (`dispatches/<id>/prompt.md`).
    pub prompt_sha256: String,
    /// SHA-256 of the dispatcher's instruction as given.
    pub instruction_sha256: String,
    /// The composed prompt's length in bytes.
    pub prompt_bytes: u64,
    /// Seconds the worker may run before it is stopped.
    pub deadline_seconds: u64,
    /// The commit the worktree was created at.
    pub base_commit: CommitId,
    /// The base as recorded: the branch it names (refs/heads/...), else the ref as given.
    pub base_ref: String,
    /// Whether the role is expected to change files (the phantom guard).
    pub writes: bool,
    /// The dispatch branch, `dispatch/<id>`.
    pub branch: String,
    /// The worktree's absolute path.
    pub worktree: String,
    /// Files `.worktreeinclude` copied into the worktree: paths and hashes only.
    pub worktree_include: Vec<IncludedFile>,
    /// `socket:session`.
    pub tmux: String,
    /// The skills composed into the prompt, in order.
    pub skills: Vec<SkillRef>,
    /// Every constraint that matched the dispatch and what it decided.
    pub constraint_decisions: Vec<DecisionRef>,
    /// SHA-256 of provider_constraints.yaml as it was judged.
    pub constraints_sha256: String,
    /// What a worker started now could do to the evidence (measured, not asserted).
    pub evidence_reach: Reach,
    /// For a follow-up: the dispatch it continues, in the same worktree, branch and session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continues: Option<Continues>,
    /// For a dispatch of `--after`: what it waited for, and the commits of their work its
    /// base holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<super::Dependencies>,
    /// Who asked for it, when not the person at the dispatching terminal: a device paired
    /// with `vnx serve`, as `PERSON via DEVICE (dev-…) (vnx serve)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// The dispatch whose worker asked for it (through `vnx mcp --act` run from inside that
    /// dispatch): it may never approve or merge this one (ADR 0095).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by_dispatch: Option<DispatchId>,
    /// The port the config's `worktree.ports` gave it (in `VNX_PORT` for its setup commands
    /// and worker); unique among the dispatches that hold one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The pool entry its worktree was taken from, when it came from the pool (moved into
    /// place and checked out at the base) rather than made fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled_worktree: Option<String>,
    /// For a best-of-N candidate: the group it belongs to (see `vnx best-of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<super::GroupMember>,
    /// The names (never values) of the variables the worker was given: the dispatching
    /// command's, minus git-redirecting and vnx-private ones. Absent: an older vnx's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Vec<String>>,
    /// The bubblewrap sandbox the worker runs in: what it can write and read, what is hidden
    /// from it, its network, and how its commits reach the repository. Absent: no sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<super::Shape>,
    /// For a replay (`vnx replay`): the dispatch it replays, and whether that dispatch's
    /// prompt still rebuilds byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<ReplayOf>,
    /// Set when the receipt was written on a remote host and re-attested here: which line of
    /// the host's ledger it came from (see [`RemoteOrigin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteOrigin>,
    /// A short title for people (`--title`, else the instruction's first non-empty line,
    /// shortened), as lists show it; one line, no control characters. Absent: recorded by
    /// a vnx from before titles (readers fall back to the id and role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A dispatch of `--plan` (ADR 0092): planning read-only, or carrying out the plan a
    /// person approved. Absent on every other dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<super::PlanStep>,
    /// Where the CLIs keep their state, as the dispatching command's environment said (the
    /// worker ran in it): where `vnx show --log` looks for an interactive worker's session
    /// file. Absent: recorded by a vnx from before (the reader's own environment is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_homes: Option<CliHomes>,
    /// The CLI session the worker was told to use (a TUI's `--session-id`, or the one a
    /// follow-up resumes): the only session file read for its usage and transcript
    /// (ADR 0052). Absent: the CLI chose it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Variables vnx set for the worker's CLI, name to value: configuration its module gives
    /// rather than flags (a posture's permissions, a model's provider). Absent: none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cli_env: BTreeMap<String, String>,
    /// The budget held while the worker runs (ADR 0094). Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<super::Budget>,
    /// The project's day budget held beside it (ADR 0100): the day's limit when it started
    /// and what the day's other dispatches had used (`spent_before`, `cost_before_usd`).
    /// Absent: the project has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_day: Option<super::Budget>,
    /// The memory and process limits the local worker ran under. Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<super::WorkerLimits>,
    /// Gates the task asked for beside its role's (`--gate`; a follow-up keeps its chain's),
    /// which its merge requires as it requires the role's. Absent: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Where the CLIs keep their state (see [`DispatchStarted::cli_homes`]); absolute paths.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CliHomes {
    /// A sandboxed dispatch's own place for its CLI's sessions, shown to its worker where the
    /// CLI keeps them, so no other dispatch's worker can write them. Absent: the sessions are
    /// in the CLI's home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<String>,
    /// Each CLI's home (its config or state directory, as the variables its module reads
    /// say), by the CLI's name.
    #[serde(flatten)]
    pub homes: BTreeMap<String, String>,
}

/// One setup or teardown command of the project's config, as it ran in the worktree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorktreeCommand {
    /// `setup` (before the worker) or `teardown` (after it, before classification).
    pub phase: String,
    /// The command.
    pub argv: Vec<String>,
    /// Its exit status; `null` when it could not start, was killed at the deadline, or a
    /// signal ended it.
    pub exit_code: Option<i32>,
    /// Seconds it ran, to the millisecond.
    pub seconds: f64,
    /// Why it did not run to an exit status, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a follow-up continues: the dispatch before it, and the worktree, branch and CLI
/// session it takes over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Continues {
    /// The dispatch continued (the last one before this follow-up).
    pub dispatch_id: DispatchId,
    /// The first dispatch of the chain: the branch `dispatch/<first>` and its worktree are
    /// the ones every follow-up works in.
    pub first: DispatchId,
    /// How the dispatch continued ended.
    pub status: DispatchStatus,
    /// The CLI session resumed; `null` when none was recorded or the provider cannot resume
    /// one (the follow-up then starts a new session, told what came before).
    pub session_id: Option<String>,
    /// The branch's commit when the follow-up started.
    pub head_commit: CommitId,
    /// The base brought into the branch before the worker started (`vnx follow-up
    /// --rebase`): what was merged in and which paths the worker was left to resolve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebase: Option<Rebase>,
}

/// A base merged into a follow-up's branch by vnx before its worker started, the conflicts
/// left in its worktree for the worker to resolve, and the conflict it answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rebase {
    /// The branch merged in (`refs/heads/…`).
    pub base_ref: String,
    /// Its head, the commit merged in.
    pub base_commit: CommitId,
    /// The merge base of the branch and that commit.
    pub merge_base: CommitId,
    /// The paths the merge left conflicted, with conflict markers (empty: it merged cleanly
    /// and only its commit is left to the worker).
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// The line of the chain's `merge_dequeued` for a conflict this answers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dequeued_seq: Option<u64>,
}

/// What a replay replays: the original dispatch, its signed start, and whether its prompt
/// rebuilds byte for byte from its instruction and today's skills.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplayOf {
    /// The dispatch replayed.
    pub dispatch_id: DispatchId,
    /// The SHA-256 of its `dispatch_started` line.
    pub started_line_sha256: String,
    /// The SHA-256 of its prompt, as it recorded it.
    pub prompt_sha256: String,
    /// The SHA-256 of its prompt rebuilt now (its id, role, instruction and completion
    /// protocol, today's skills); `null` when a skill is gone.
    pub rebuilt_prompt_sha256: Option<String>,
    /// Whether the two are the same: the original prompt rebuilds byte for byte.
    pub identical: bool,
    /// Skills whose `SKILL.md` changed (or went) since the original.
    pub changed_skills: Vec<String>,
}

impl DispatchStarted {
    /// The tmux session the dispatch runs in.
    pub fn session(&self) -> Option<&str> {
        self.tmux.split_once(':').map(|(_, s)| s)
    }
}
