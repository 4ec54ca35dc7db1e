//! The committed project configuration, `.vnx/config.yaml`: its schema, loading, and the
//! validation of user-declared providers, concurrency slots, gates (in `gates`), the queue (in `queue`) and roles,
//! with every error pointing at a line and column of the file.
//!
//! Strings in a lane's `argv` and in `model_args` are *templates*: `{prompt}`,
//! `{prompt_file}` and `{model}` are placeholders (each allowed only where the schema says),
//! and a literal brace is written `{{` or `}}`; [`expand`] substitutes them. Permission flags
//! are written the same way but take no placeholders, so they are stored already unescaped.
//!
//! This file holds the loader (`load`, `parse`, reading and parsing through the strict YAML of
//! `crate::yaml`); the types are in `schema`, the checks and `ConfigError` in `validation`,
//! the template syntax in `template`, the `gates:` section in `gates`, the `forge:` section
//! in `forge` (its `reactions:` in `reactions`), the `defaults:` section in `defaults`, the `serve:` section in `serve`, the `mcp:` section in `mcp`, `budget:` in `budget`, `schedules:` in `schedules`, `admission:` in `admission`, a
//! role's allowlist in `allow`, and what vnx reads of a declared TUI in `tui`.

use std::path::Path;

mod admission;
mod allow;
mod budget;
mod checked;
mod defaults;
mod forge;
mod gates;
pub mod hosts;
pub mod issues;
mod mcp;
mod mounts;
mod queue;
mod reactions;
mod sandbox;
mod schedules;
mod schema;
mod serve;
mod template;
#[cfg(test)]
mod tests;
mod tui;
mod validation;

pub use crate::provider::declared::{
    DeclaredDialog, DeclaredLane, DeclaredPermissions, DeclaredProvider, DeclaredTui,
};
pub use crate::provider::template::expand;
pub use admission::{AdmissionConfig, DEFAULT_MIN_FREE_DISK_MB, DEFAULT_MIN_FREE_MEMORY_MB};
pub use allow::{READ_ONLY_GIT, allowable};
pub use budget::{BudgetConfig, Price, Prices, cost_of, dollars, to_millionth};
pub(crate) use checked::is_name;
pub use checked::{BUILTIN_PROVIDERS, ConfigError};
pub use checked::{is_project_id, is_variable};
pub use defaults::{Defaults, Named};
pub use forge::{ForgeConfig, ForgeKind, github_repo, is_repo_name};
pub use gates::{GateDef, GateKind};
pub use hosts::{HostConfig, HostKind, MADE_CLONE};
pub use issues::{IssueAuthors, IssuesConfig};
pub use mcp::{ActTool, McpConfig};
pub use mounts::{Mount, MountKind, is_user, owner_of, parse_mount};
pub use queue::{QueueConfig, QueuePolicy, QueueRule};
pub use reactions::{DEFAULT_RETRIES, FixRule, MergeRule, Reactions};
pub use sandbox::SandboxConfig;
pub use schedules::{CatchUp, MAX_COUNTED, Overlap, Schedule, When, parse_cron, parse_every};
pub use schema::{
    Config, MAX_DEADLINE_SECS, MAX_POOL_SIZE, PoolConfig, RoleConfig, WorktreeConfig, cache_dir,
};
pub use serve::{
    DEFAULT_LINK_TTL, Endpoint, EndpointKind, ServeConfig, ntfy_topic, parse_ttl, shown_url,
};

use checked::Validator;
use schema::RawConfig;

use crate::yaml;

/// Reads and validates the config at `path`; a missing file is the default config.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let open = |p: &Path| crate::files::open_untrusted(p, 2);
    match yaml::read(path, yaml::MAX_BYTES, open)? {
        Some(text) => parse(&text, path),
        None => Ok(Config::default()),
    }
}

/// Parses and validates config text; `path` is only used in errors.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = yaml::parse(text, path)?;
    Validator { path }.config(raw)
}
