//! The committed project configuration, `.vnx/config.yaml`: its schema, loading, and the
//! validation of user-declared providers, concurrency slots, gates (in `gates`), the queue (in `queue`) and roles,
//! with every error pointing at a line and column of the file.
//!
//! Strings in a lane's `argv` and in `model_args` are *templates*: `{prompt}`,
//! `{prompt_file}` and `{model}` are placeholders (each allowed only where the schema says),
//! and a literal brace is written `{{` or `}}`; [`expand`] substitutes them. Permission flags
//! are written the same way but take no placeholders, so they are stored already unescaped.
//!
//! This file holds the loader (`load`, `parse`, `parse_yaml`); the types are in `schema`, the
//! checks and `ConfigError` in `validation`, the template syntax in `template`, and the
//! `gates:` section in `gates`.

use std::io::Read;
use std::path::Path;

mod gates;
mod hosts;
mod queue;
mod sandbox;
mod schema;
mod template;
#[cfg(test)]
mod tests;
mod validation;

pub use crate::provider::declared::{DeclaredLane, DeclaredPermissions, DeclaredProvider};
pub use crate::provider::template::expand;
pub use gates::{GateDef, GateKind};
pub use hosts::HostConfig;
pub use queue::{QueueConfig, QueuePolicy, QueueRule};
pub use sandbox::SandboxConfig;
pub use schema::{
    BUILTIN_PROVIDERS, Config, MAX_POOL_SIZE, PoolConfig, RoleConfig, WorktreeConfig, cache_dir,
};
pub use validation::ConfigError;

use schema::RawConfig;

/// The longest deadline a dispatch takes: 30 days.
pub const MAX_DEADLINE_SECS: u64 = 30 * 24 * 3600;
use validation::{Checked, Validator, invalid, line_col, shown, yaml_message};

/// A config file larger than this is refused before parsing.
const MAX_BYTES: usize = 1024 * 1024;

/// Reads and validates the config at `path`; a missing file is the default config.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    let file = match crate::files::open_untrusted(path, 2) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    check_size(bytes.len(), path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let last = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[last..]).chars().count() + 1;
        invalid(path, line, column, "the file is not valid UTF-8".into())
    })?;
    parse(&text, path)
}

/// Parses and validates config text; `path` is only used in errors.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = parse_yaml(text, path)?;
    Validator { path }.config(raw)
}

/// Parses YAML text (at most 1 MiB, bounded nesting and aliases) into `T`, with a syntax or
/// type error located by line and column; `path` is only used in errors. Shared with the other
/// YAML files vnx reads (`provider_constraints.yaml`, skill front matter).
pub fn parse_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    check_size(text.len(), path)?;
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 32,
            max_nodes: 100_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
        },
        alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: 100_000 },
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| line_col(&l));
        invalid(path, line, column, shown(&yaml_message(&e), 300))
    })
}

fn check_size(len: usize, path: &Path) -> Checked<()> {
    if len > MAX_BYTES {
        return Err(invalid(
            path,
            0,
            0,
            "the file is larger than 1 MiB, the most vnx reads".into(),
        ));
    }
    Ok(())
}
