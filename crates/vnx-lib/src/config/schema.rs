//! The data types of `.vnx/config.yaml`: the validated configuration the rest of vnx reads
//! (`Config` and its parts), and the raw, span-carrying serde types the file is parsed into
//! before `validation` checks them.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::Entries;
use super::gates::{self, GateDef};
use crate::provider::DeclaredProvider;
use crate::provider::kinds::{Lane, OutputFormat, PromptTransport, ProviderCompletion};

pub use super::checked::MAX_DEADLINE_SECS;

/// The parsed, validated configuration. A project without a config file gets the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// The project's id (`vnx init` derives it from the directory name).
    pub project_id: Option<String>,
    /// Providers the project declares, by name.
    pub providers: BTreeMap<String, DeclaredProvider>,
    /// Concurrency slots per provider (built-in or declared), each in `1..=256`.
    pub concurrency: BTreeMap<String, u32>,
    /// Defaults per role, by role name.
    pub roles: BTreeMap<String, RoleConfig>,
    /// Gates roles may require before a merge (run by `vnx gate-check`).
    pub gates: BTreeMap<String, GateDef>,
    /// A command run on every change of a dispatch's state (an argv; `{id}`, `{state}` and
    /// `{hash}` are replaced). Empty: none.
    pub notify: Vec<String>,
    /// Seconds without a sign of life after which a running worker is reported stalled.
    pub stall_after_seconds: Option<u64>,
    /// The most seconds the processes a worker left running are waited for before they are
    /// stopped (ADR 0099); `None`: 600.
    pub background_wait_seconds: Option<u64>,
    /// How long a worker stopped by a usage limit whose reset nobody said waits before vnx
    /// continues it (ADR 0117); `None`: 300.
    pub limit_wait_seconds: Option<u64>,
    /// Commands run in each dispatch's worktree, and the ports dispatches get.
    pub worktree: WorktreeConfig,
    /// What a dispatch meets when its provider's slots are all taken (`queue:`).
    pub queue: super::queue::QueueConfig,
    /// Whether and how workers run in a bubblewrap sandbox (`sandbox:`).
    pub sandbox: super::sandbox::SandboxConfig,
    /// Remote hosts dispatches can run on (`hosts:`), by name.
    pub hosts: BTreeMap<String, super::hosts::HostConfig>,
    /// The forge dispatches' pull requests go to (`forge:`); `None`: no pull requests.
    pub forge: Option<super::forge::ForgeConfig>,
    /// The role, provider, model and lane of a dispatch that names none (`defaults:`).
    pub defaults: super::defaults::Defaults,
    /// The web page's address for links, and where notices are posted (`serve:`).
    pub serve: super::serve::ServeConfig,
    /// The acting tools `vnx mcp --act` offers (`mcp:`).
    pub mcp: super::mcp::McpConfig,
    /// The project's budgets (`budget:`, ADR 0094).
    pub budget: super::budget::BudgetConfig,
    /// What each model's tokens cost (`prices:`, ADR 0098).
    pub prices: super::budget::Prices,
    /// Dispatches started at set times (`schedules:`), by name.
    pub schedules: BTreeMap<String, super::schedules::Schedule>,
    /// What this machine must have free for a local dispatch to start, and each local
    /// worker's limits (`admission:`).
    pub admission: super::admission::AdmissionConfig,
}

/// `worktree:` in the config: setup and teardown commands (each an argv, run in the worktree
/// in order) and a port range each dispatch gets a port of its own from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorktreeConfig {
    /// Run before the worker starts; the first that fails fails the dispatch.
    pub setup: Vec<Vec<String>>,
    /// Run after the worker ends, before the worktree is classified; all run.
    pub teardown: Vec<Vec<String>>,
    /// The inclusive range ports are given from, when ports are wanted.
    pub ports: Option<(u16, u16)>,
    /// Prepared worktrees kept for dispatches and gates to take.
    pub pool: PoolConfig,
    /// Ignored directories of the main checkout (build caches: `target`, `node_modules`)
    /// copied into each new worktree by reflink (copy-on-write) only, never by a full copy:
    /// on a filesystem without reflinks they are skipped.
    pub copy_ignored: Vec<String>,
}

/// The most idle worktrees a pool may keep.
pub const MAX_POOL_SIZE: u32 = 64;

/// A cache directory as the config names it, normalised (`./target/` → `target`), if it is a
/// plain relative path inside the worktree: no `..`, no root, not `.git` or inside it.
pub fn cache_dir(raw: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in Path::new(raw.trim()).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_owned()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    let bad = parts.is_empty()
        || parts[0] == ".git"
        || parts
            .iter()
            .any(|p| p.contains(['*', '?', '[', '\\', '\n']));
    (!bad).then(|| parts.join("/"))
}

/// `worktree.pool:` in the config: how many prepared worktrees to keep idle, and which
/// build-cache directories survive from one user of a pooled worktree to the next.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolConfig {
    /// Idle worktrees kept at most; 0 (the default) turns pooling off.
    pub size: u32,
    /// Directories (relative to the worktree root, e.g. `target`, `node_modules`) kept when
    /// a worktree goes back to the pool; everything else untracked or ignored is removed.
    pub keep: Vec<String>,
}

impl PoolConfig {
    /// Whether dispatches and gates take pooled worktrees.
    pub fn enabled(&self) -> bool {
        self.size > 0
    }
}

/// Defaults for one role.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoleConfig {
    /// The skills composed into its prompts when a dispatch names none.
    pub skills: Vec<String>,
    /// The gates a dispatch of this role must pass before it is merged. `None` (no `gates:`
    /// key) is not the same as `Some([])`: only an explicit empty list lets a role merge
    /// without gates.
    pub gates: Option<Vec<String>>,
    /// Whether the role is expected to change files (the phantom guard); `None` leaves it to
    /// the built-in list (`dispatch::supervise::phantom`).
    pub writes: Option<bool>,
    /// The command prefixes its workers run without asking (`allow:`); `None`: its command
    /// gates and read-only git (see `Config::allowed_commands`).
    pub allow: Option<Vec<String>>,
    /// Whether a dispatch of this role opens its pull request by itself when it ends done
    /// and its gates pass (`open_pr:`, as `dispatch-agent --open-pr`; needs `forge:`).
    pub open_pr: bool,
    /// Whether its dispatches plan first (`plan:`, as `dispatch-agent --plan`): read-only,
    /// their plan approved before any edit (ADR 0092).
    pub plan: bool,
    /// Its pull-request reactions (`reactions:`), each set rule in place of the project's.
    pub reactions: Option<super::reactions::Reactions>,
    /// The budget each of its dispatches (with its follow-ups) is held to while it runs
    /// (`budget:`, ADR 0094); `None`: none of its own.
    pub budget: Option<crate::receipts::Budget>,
    /// The providers, in order, a new or queued dispatch of this role moves to while its
    /// own is held by a usage limit (`on_limit:`, ADR 0120); empty: it waits.
    pub on_limit: Vec<String>,
    /// Whether a merge of its dispatch promotes what its worker wrote to its CLI's memory to
    /// the project's (`promote_memory:`, ADR 0126), a rule in place of a person.
    pub promote_memory: bool,
}

// ---- raw, span-carrying schema ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) version: Option<Spanned<String>>,
    pub(super) project_id: Option<Spanned<String>>,
    pub(super) providers: Option<Entries<RawProvider>>,
    pub(super) concurrency: Option<Entries<Spanned<i64>>>,
    pub(super) roles: Option<Entries<RawRole>>,
    pub(super) gates: Option<Entries<gates::RawGate>>,
    pub(super) notify: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) stall_after_seconds: Option<Spanned<i64>>,
    pub(super) background_wait_seconds: Option<Spanned<i64>>,
    pub(super) limit_wait_seconds: Option<Spanned<i64>>,
    pub(super) worktree: Option<RawWorktree>,
    pub(super) queue: Option<super::queue::RawQueue>,
    pub(super) sandbox: Option<super::sandbox::RawSandbox>,
    pub(super) hosts: Option<Entries<super::hosts::RawHost>>,
    pub(super) forge: Option<super::forge::RawForge>,
    pub(super) defaults: Option<super::defaults::RawDefaults>,
    pub(super) serve: Option<super::serve::RawServe>,
    pub(super) mcp: Option<super::mcp::RawMcp>,
    pub(super) budget: Option<super::budget::RawBudgetConfig>,
    pub(super) prices: Option<Entries<Spanned<super::budget::RawPrice>>>,
    pub(super) schedules: Option<Entries<super::schedules::RawSchedule>>,
    pub(super) admission: Option<super::admission::RawAdmission>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorktree {
    pub(super) setup: Option<Vec<Spanned<Vec<String>>>>,
    pub(super) teardown: Option<Vec<Spanned<Vec<String>>>>,
    pub(super) ports: Option<Spanned<String>>,
    pub(super) pool: Option<RawPool>,
    pub(super) copy_ignored: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    pub(super) size: Option<Spanned<i64>>,
    pub(super) keep: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    pub(super) binary: Spanned<String>,
    pub(super) headless: Option<RawLane>,
    pub(super) interactive: Option<RawLane>,
    pub(super) model_args: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) resume_args: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) permissions: Option<RawPermissions>,
    pub(super) default_lane: Option<Spanned<Lane>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLane {
    pub(super) argv: Spanned<Vec<Spanned<String>>>,
    pub(super) prompt: Option<Spanned<PromptTransport>>,
    pub(super) output: Option<Spanned<OutputFormat>>,
    pub(super) completion: Option<ProviderCompletion>,
    pub(super) dialog: Option<Spanned<super::tui::RawDialog>>,
    pub(super) session: Option<Spanned<super::tui::RawSession>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPermissions {
    pub(super) ask: Option<Vec<Spanned<String>>>,
    pub(super) edits: Option<Vec<Spanned<String>>>,
    pub(super) full: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRole {
    pub(super) skills: Option<Vec<Spanned<String>>>,
    pub(super) gates: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) writes: Option<bool>,
    pub(super) allow: Option<Vec<Spanned<String>>>,
    pub(super) open_pr: Option<bool>,
    pub(super) plan: Option<bool>,
    pub(super) reactions: Option<super::reactions::RawReactions>,
    pub(super) budget: Option<Spanned<super::budget::RawBudget>>,
    pub(super) on_limit: Option<Vec<Spanned<String>>>,
    pub(super) promote_memory: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::cache_dir;

    #[test]
    fn cache_dirs_are_plain_relative_paths() {
        assert_eq!(cache_dir("target").as_deref(), Some("target"));
        assert_eq!(
            cache_dir("./web/node_modules/").as_deref(),
            Some("web/node_modules")
        );
        for bad in [
            "",
            "/etc",
            "../x",
            "a/../b",
            ".git",
            ".git/hooks",
            "t*",
            ".",
        ] {
            assert_eq!(cache_dir(bad), None, "{bad:?}");
        }
    }
}
