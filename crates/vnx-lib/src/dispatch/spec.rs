//! What a dispatch is asked to be ([`Request`]) and what its supervisor is told
//! ([`Spec`], written to `dispatches/<id>/spec.json`).

use crate::ids::{CommitId, DispatchId};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{DispatchError, io_err, start::include, start::workspace};
use crate::provider::invocation;
use crate::provider::{Invocation, Lane, Permission};

pub use crate::config::MAX_DEADLINE_SECS;

/// What a dispatcher asks for. A queued dispatch keeps it in its queue entry, less its id,
/// provider and base, which the entry keeps apart, and what it continues (a follow-up is never
/// queued): the times in whole seconds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    /// The dispatch id to use; a fresh random one when `None`.
    #[serde(skip)]
    pub id: Option<DispatchId>,
    /// The role the worker plays (`--agent`).
    pub role: String,
    /// The provider; inferred from the model, else `Provider::DEFAULT`, when `None`.
    #[serde(skip)]
    pub provider: Option<String>,
    /// The model; the CLI's default (or a constraint's pin) when `None`.
    pub model: Option<String>,
    /// What the worker is asked to do, as given.
    pub instruction: String,
    /// What the worktree starts from (`HEAD` by default).
    #[serde(skip)]
    pub base_ref: String,
    /// How long the worker may run.
    #[serde(rename = "deadline_secs", serialize_with = "secs")]
    #[serde(deserialize_with = "from_secs")]
    pub deadline: Duration,
    /// The permission posture asked for.
    pub permission: Permission,
    /// The provider's default lane when `None`.
    pub lane: Option<Lane>,
    /// Skills to compose into the prompt, in order; empty: the role's defaults from
    /// `.vnx/config.yaml`.
    pub skills: Vec<String>,
    /// Constraint overrides: the `<KEY>` of each `VNX_OVERRIDE_<KEY>=1` (the id uppercased,
    /// `-` → `_`; see [`crate::constraints::override_key`]).
    pub overrides: BTreeSet<String>,
    /// Reasons for overrides, from `VNX_OVERRIDE_<KEY>_REASON`, by `<KEY>`.
    pub override_reasons: BTreeMap<String, String>,
    /// How long the supervisor retries appending the completion before leaving it pending.
    #[serde(rename = "completion_retry_secs", serialize_with = "secs")]
    #[serde(deserialize_with = "from_secs")]
    pub completion_retry: Duration,
    /// How long a quiet worker runs before it is reported stalled [default: the config's
    /// `stall_after_seconds`, else [`DEFAULT_STALL_AFTER_SECS`]].
    #[serde(rename = "stall_after_secs", serialize_with = "opt_secs")]
    #[serde(default, deserialize_with = "from_opt_secs")]
    pub stall_after: Option<Duration>,
    /// For a follow-up: the dispatch it continues (see [`crate::dispatch::start::follow_up::find`]); the
    /// provider must be its provider, and the base, worktree and branch are its.
    #[serde(skip)]
    pub continues: Option<Continued>,
    /// Run the worker in a bubblewrap sandbox; `None`: as the config's `sandbox.enabled` says.
    #[serde(default)]
    pub sandbox: Option<bool>,
    /// The sandbox's network; `None`: as the config says for the provider.
    #[serde(default)]
    pub network: Option<crate::sandbox::Network>,
    /// For a replay: what it replays (see [`crate::dispatch::start::replay`]).
    #[serde(default)]
    pub replay_of: Option<crate::receipts::ReplayOf>,
    /// A short title for lists (`--title`); `None`: a follow-up's is the one it continues,
    /// else the instruction's first non-empty line (see [`title_of`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A dispatch of `--plan` (ADR 0092): planning, or carrying out an approved plan;
    /// `None`: as the role's `plan:` says for a new dispatch, as the continued one for a
    /// follow-up (see [`crate::dispatch::planned::shape`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<crate::receipts::PlanStep>,
    /// The budget asked for (`--budget`, ADR 0094); `None`: the role's and the project's,
    /// and for a follow-up the one of the dispatch it continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::receipts::Budget>,
    /// The dispatches it waits for (`--after`): it is queued until each has ended done (or
    /// merged), then starts from a base that holds their work (`dispatch::queue::after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<crate::receipts::Awaited>,
    /// Gates the task asks for beside its role's (`--gate`), each one the config declares;
    /// its merge requires them as it requires the role's. A follow-up keeps its chain's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<String>,
}

/// A duration as a queue entry keeps it: whole seconds.
fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

fn from_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    serde::Deserialize::deserialize(d).map(Duration::from_secs)
}

/// An optional duration as a queue entry keeps it: whole seconds, or `null`.
fn opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&d.map(|d| d.as_secs()), s)
}

fn from_opt_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let secs: Option<u64> = serde::Deserialize::deserialize(d)?;
    Ok(secs.map(Duration::from_secs))
}

impl Request {
    /// A new dispatch of `instruction` as a front end asks for one before the config's
    /// defaults fill it in (`actions::start::asked`): no role, provider or model yet, from
    /// `HEAD`, an hour's deadline, edits allowed, the completion retried for 30 s, and
    /// nothing else asked.
    pub fn of(instruction: String) -> Request {
        Request {
            id: None,
            role: String::new(),
            provider: None,
            model: None,
            instruction,
            base_ref: "HEAD".to_owned(),
            deadline: std::time::Duration::from_secs(3600),
            completion_retry: std::time::Duration::from_secs(30),
            stall_after: None,
            permission: Permission::Edits,
            lane: None,
            skills: Vec::new(),
            overrides: Default::default(),
            override_reasons: Default::default(),
            continues: None,
            sandbox: None,
            network: None,
            replay_of: None,
            title: None,
            plan: None,
            budget: None,
            after: None,
            gates: Vec::new(),
        }
    }
}

/// The longest title kept, in characters (a longer one ends in `…`).
pub const MAX_TITLE_CHARS: usize = 72;

/// A title made from `text`: its first non-empty line, trimmed, each control character
/// (and each character that reorders text) written as an escape, and at most
/// [`MAX_TITLE_CHARS`] characters, the last an `…` when it was cut.
pub fn title_of(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let mut out = String::new();
    for c in line.chars() {
        if c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if out.chars().count() > MAX_TITLE_CHARS {
        out = out
            .chars()
            .take(MAX_TITLE_CHARS - 1)
            .collect::<String>()
            .trim_end()
            .to_owned();
        out.push('…');
    }
    out
}

impl Spec {
    /// Where a sandbox without a network finds its relayed loopback ports (a directory the
    /// worker can only read).
    pub(crate) fn relay_dir(&self) -> PathBuf {
        crate::sandbox::relay::dir(
            &self.repo_root.join(crate::project::DATA_DIR),
            Path::new(self.id.as_str()),
        )
    }

    /// The project's data directory, which its dispatch directory (`<data>/dispatches/<id>`)
    /// is in.
    pub fn data_dir(&self) -> &Path {
        (self.dispatch_dir.parent())
            .and_then(Path::parent)
            .unwrap_or(&self.dispatch_dir)
    }

    /// Its built-in CLI's module; `None` for a declared provider.
    pub fn cli(&self) -> Option<&'static dyn crate::provider::cli::CodingCli> {
        self.provider.cli()
    }
}

/// Everything the supervisor needs, written to `dispatches/<id>/spec.json`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Spec {
    /// The dispatch id.
    pub id: DispatchId,
    /// The role the worker plays.
    pub role: String,
    /// A built-in or declared provider, as the plan resolved it.
    pub provider: crate::provider::ProviderName,
    /// The model; the CLI's default when `None`.
    pub model: Option<String>,
    /// The permission posture.
    pub permission: Permission,
    /// Headless or interactive.
    pub lane: Lane,
    /// How the worker is started; `argv[0]` is resolved to a path.
    pub invocation: Invocation,
    /// The worker binary's `--version` (or vnx's own for the demo).
    pub binary_version: Option<String>,
    /// SHA-256 of `prompt.md`.
    pub prompt_sha256: String,
    /// Seconds the worker may run.
    pub deadline_secs: u64,
    /// The commit the worktree was made at.
    pub base_commit: CommitId,
    /// The worktree's path.
    pub worktree: PathBuf,
    /// The dispatch branch, `dispatch/<id>`.
    pub branch: String,
    /// The main checkout and the git common directory (so the supervisor need not ask git).
    pub repo_root: PathBuf,
    /// The repository's common git directory.
    pub git_common_dir: PathBuf,
    /// `.vnx-data/dispatches/<id>`: prompt, logs, report, signals.
    pub dispatch_dir: PathBuf,
    /// The ledger the completion goes to.
    pub ledger: PathBuf,
    /// The tmux socket the session runs on.
    pub tmux_socket: String,
    /// The tmux session, `vnx-<id>`.
    pub session: String,
    /// The remote teardown asks whether the branch is pushed (`origin`).
    pub remote: String,
    /// Git-ignored files copied in from `.worktreeinclude`: paths and hashes only.
    pub included: Vec<include::Included>,
    /// vnx's own binary (hooks, `bin/vnx` for the worker's `vnx report`).
    pub vnx: PathBuf,
    /// The provider's concurrency limit from `.vnx/config.yaml`, if any.
    pub slot_limit: Option<u32>,
    /// Files vnx put in the worktree for the worker, removed before classification.
    #[serde(default)]
    pub placed: Vec<workspace::Placed>,
    /// The CLI's file of trusted hooks, where vnx recorded its hooks as trusted for the
    /// worktree (removed at teardown; `CodingCli::hook_trust_file`); `None`: nothing
    /// recorded. Older specs named it after the CLI it was for (see `older_names`).
    #[serde(default)]
    pub hook_trust: Option<PathBuf>,
    /// Whether the role is expected to change files (the phantom guard, `phantom`).
    #[serde(default)]
    pub writes: bool,
    /// The main checkout as the launch read it (when it read it, for the default base), the
    /// "before" of the check that the worker left it alone; `None`: the supervisor reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_before: Option<crate::worktree::CheckoutState>,
    /// Seconds the supervisor retries appending the completion (see `pending`).
    #[serde(default = "default_completion_retry")]
    pub completion_retry_secs: u64,
    /// Seconds without a sign of life after which the worker is reported stalled (never
    /// stopped for it); `None`: never.
    #[serde(default)]
    pub stall_after_secs: Option<u64>,
    /// The command run on every change of state (see `notify`); empty: none.
    #[serde(default)]
    pub notify: Vec<String>,
    /// A dispatch of `--plan`: its plan step, as `dispatch_started` records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<crate::receipts::PlanStep>,
    /// The dispatch's title, as `dispatch_started` records it (for the notifications).
    #[serde(default)]
    pub title: String,
    /// For a follow-up: what it continues.
    #[serde(default)]
    pub continues: Option<crate::receipts::Continues>,
    /// The sandbox the worker runs in, if any.
    #[serde(default)]
    pub sandbox: Option<crate::sandbox::Shape>,
    /// For a replay: what it replays.
    #[serde(default)]
    pub replay_of: Option<crate::receipts::ReplayOf>,
    /// The most seconds the processes the worker left running are waited for (ADR 0099):
    /// the config's `background_wait_seconds`; `None`: 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_wait_secs: Option<u64>,
    /// The config's setup commands, run in the worktree before the worker.
    #[serde(default)]
    pub worktree_setup: Vec<Vec<String>>,
    /// The config's teardown commands, run in the worktree after the worker.
    #[serde(default)]
    pub worktree_teardown: Vec<Vec<String>>,
    /// The config's port range, when dispatches get ports.
    #[serde(default)]
    pub port_range: Option<(u16, u16)>,
    /// The port a follow-up's dispatch held, tried first.
    #[serde(default)]
    pub preferred_port: Option<u16>,
    /// The port claimed at launch (`VNX_PORT`).
    #[serde(default)]
    pub port: Option<u16>,
    /// The worktree pool's size (0: no pool) and the cache directories it keeps.
    #[serde(default)]
    pub pool_size: u32,
    /// The cache directories a pooled worktree keeps between users.
    #[serde(default)]
    pub pool_keep: Vec<String>,
    /// The pool entry the worktree was taken from, if it was.
    #[serde(default)]
    pub pool_entry: Option<String>,
    /// For a best-of-N candidate: its group (set between plan and launch by `vnx best-of`).
    #[serde(default)]
    pub group: Option<crate::receipts::GroupMember>,
    /// Where the CLIs keep their state as the dispatching command's environment says: where
    /// an interactive worker's own session file is ([`crate::provider::session`]); `None`
    /// for a dispatch launched before vnx recorded it.
    #[serde(default)]
    pub session_homes: Option<crate::provider::session::Homes>,
    /// The CLI session the worker is told to use: chosen by vnx for a new one (where its CLI
    /// lets vnx choose, `CodingCli::chooses_session_id`) or resumed by a follow-up; the only session whose file is read for the dispatch's
    /// usage (ADR 0052). `None`: the CLI chooses.
    #[serde(default)]
    pub session_id: Option<String>,
    /// How the worker is continued in its session after a usage limit (ADR 0117): its
    /// invocation with the session left as a hole and the continuing prompt's transport;
    /// `None` where its CLI cannot resume a session headless.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation: Option<Invocation>,
    /// How long a usage limit whose reset nobody said is waited out (the config's
    /// `limit_wait_seconds`); `None`: 300 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_wait_secs: Option<u64>,
    /// The budget held while the worker runs (ADR 0094), as `dispatch_started` records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::receipts::Budget>,
    /// The project's `budget.project_day` (ADR 0100): every dispatch of the day together,
    /// held beside [`Spec::budget`] with what the day's other dispatches use as they run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_day: Option<crate::receipts::Budget>,
    /// The project's `prices:` (ADR 0098): what its tokens cost
    /// where its CLI says none as it runs.
    #[serde(default, skip_serializing_if = "crate::config::Prices::is_empty")]
    pub prices: crate::config::Prices,
    /// The memory and process limits the worker runs under (`admission:`), with what holds
    /// it to them once the launch found that; `None`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::receipts::WorkerLimits>,
    /// Ignored directories of the main checkout a new worktree gets by reflink
    /// (`worktree.copy_ignored`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copy_ignored: Vec<String>,
    /// For a dispatch of `--after`: what it waited for and the commits of their work its
    /// base holds, as its `dispatch_started` records them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<crate::receipts::Dependencies>,
}

/// Seconds a usage limit whose reset nobody said is waited out, unless configured.
pub(crate) const DEFAULT_LIMIT_WAIT_SECS: u64 = 300;

/// Seconds without a sign of life before a worker is reported stalled, unless configured.
pub const DEFAULT_STALL_AFTER_SECS: u64 = 300;

fn default_completion_retry() -> u64 {
    30
}

/// The argv as recorded: the prompt replaced by its hash.
pub(super) fn recorded_argv(spec: &Spec) -> Vec<String> {
    let hash = format!("<prompt sha256:{}>", spec.prompt_sha256);
    let file = spec.dispatch_dir.join("prompt.md");
    let mut argv: Vec<String> = spec.invocation.argv[1..]
        .iter()
        .map(|a| invocation::expand(a, &hash, &file.to_string_lossy()))
        .collect();
    argv.insert(0, spec.invocation.argv[0].clone());
    argv
}

/// Reads a dispatch spec, written by this vnx or an older one (see `older_names`).
pub fn read_spec(path: &Path) -> Result<Spec, DispatchError> {
    let data = std::fs::read(path).map_err(io_err(path))?;
    let bad = |source| DispatchError::BadSpec {
        path: path.to_owned(),
        source,
    };
    let mut spec: serde_json::Value = serde_json::from_slice(&data).map_err(bad)?;
    older_names(&mut spec);
    serde_json::from_value(spec).map_err(bad)
}

/// Renames what an older spec names differently: the trust file's field was named after the
/// CLI whose hooks it trusted, `<cli>_trust` for a CLI of the registry, before every CLI's
/// became `hook_trust`. A supervisor of an older start must still find it, to take the trust
/// out again at its end.
fn older_names(spec: &mut serde_json::Value) {
    let Some(map) = spec.as_object_mut() else {
        return;
    };
    if map.contains_key("hook_trust") {
        return;
    }
    for c in crate::provider::cli::CLIS {
        if let Some(file) = map.remove(&format!("{}_trust", c.provider().name())) {
            map.insert("hook_trust".into(), file);
            return;
        }
    }
}

/// An ended dispatch a follow-up can continue.
#[derive(Clone, Debug, PartialEq)]
pub struct Continued {
    /// Its `dispatch_started`.
    pub started: crate::receipts::DispatchStarted,
    /// How it ended (a correction's status when it has one).
    pub status: crate::receipts::DispatchStatus,
    /// The first dispatch of its chain (itself unless it is a follow-up).
    pub first: DispatchId,
    /// The CLI session it recorded, if any.
    pub session_id: Option<String>,
    /// The commit its branch is at now (its base when teardown removed a clean branch).
    pub head_commit: CommitId,
    /// Its instruction, as given (for a follow-up that cannot resume its session).
    pub instruction: String,
    /// The line of the chain's latest `merge_dequeued` for a conflict, with no merge after
    /// it, and its base.
    pub conflict: Option<(Option<u64>, String)>,
    /// The base vnx merges into the branch before the worker starts (`--rebase`).
    pub rebase: Option<crate::receipts::Rebase>,
}

impl Continued {
    /// The dispatch continued.
    pub fn id(&self) -> &DispatchId {
        &self.started.dispatch_id
    }

    /// What the follow-up's `dispatch_started` records of it (with the session it recorded;
    /// the plan clears that when the follow-up cannot resume it).
    pub fn record(&self) -> crate::receipts::Continues {
        crate::receipts::Continues {
            dispatch_id: self.id().clone(),
            first: self.first.clone(),
            status: self.status,
            session_id: self.session_id.clone(),
            head_commit: self.head_commit.clone(),
            rebase: self.rebase.clone(),
        }
    }

    /// [`Continued::record`], naming the session the follow-up resumes (`None`: it starts
    /// a new one).
    pub fn record_resuming(&self, resume: Option<&str>) -> crate::receipts::Continues {
        crate::receipts::Continues {
            session_id: resume.map(str::to_owned),
            ..self.record()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_the_first_line_escaped_and_shortened() {
        assert_eq!(title_of("\n  \n  Fix the parser  \nmore"), "Fix the parser");
        assert_eq!(title_of("a\u{1b}[31mred\tb"), "a\\u{1b}[31mred\\tb");
        assert_eq!(title_of("abc\u{202e}fed"), "abc\\u{202e}fed");
        let long = "word ".repeat(40);
        let t = title_of(&long);
        assert_eq!(t, format!("{}w…", "word ".repeat(14)));
        assert_eq!(t.chars().count(), MAX_TITLE_CHARS);
        assert_eq!(title_of("   "), "");
    }

    #[test]
    fn an_older_specs_trust_file_named_for_its_cli_is_read_as_hook_trust() {
        for c in crate::provider::cli::CLIS {
            let older = format!("{}_trust", c.provider().name());
            let mut spec = serde_json::json!({"writes": true, older.clone(): "/h/trusted.json"});
            older_names(&mut spec);
            assert_eq!(
                spec,
                serde_json::json!({"writes": true, "hook_trust": "/h/trusted.json"}),
                "{older}"
            );
            // The current name wins; an older one beside it is left alone.
            let mut both = serde_json::json!({"hook_trust": null, older.clone(): "/h/t.json"});
            older_names(&mut both);
            assert_eq!(both["hook_trust"], serde_json::Value::Null, "{older}");
        }
        // A field of another name is not taken for it.
        let mut other = serde_json::json!({"trust": "/h/t.json", "mine_trust": "/h/t.json"});
        older_names(&mut other);
        assert_eq!(other.get("hook_trust"), None);
    }
}
