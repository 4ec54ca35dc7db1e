//! The `sandbox:` section of `.vnx/config.yaml`: whether dispatches run their worker in a
//! bubblewrap sandbox by default, with or without a network (per provider too: off for local
//! models), which loopback ports a sandbox without a network still reaches, which more
//! paths it may read or write, whether the worker gets the forge's credentials, and whether
//! its CLI's API key reaches it or only the credential relay (`credentials`), validated with
//! line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::Entries;
use super::checked::{Checked, Validator, q};
use crate::provider::DeclaredProvider;
use crate::sandbox::Network;

/// `sandbox:`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Every dispatch is sandboxed unless it says `--no-sandbox`.
    pub enabled: bool,
    /// The network of a sandbox, for providers not named under `providers:`.
    pub network: Network,
    /// Loopback ports of this machine a sandbox without a network may reach (a local model
    /// server, say).
    pub loopback: Vec<u16>,
    /// More paths a sandboxed worker may read: absolute, or `~/…`.
    pub read_only: Vec<String>,
    /// More paths a sandboxed worker may write: absolute, or `~/…`.
    pub writable: Vec<String>,
    /// The network by provider.
    pub providers: BTreeMap<String, Network>,
    /// Whether a sandboxed worker keeps the forge's credentials (`GH_TOKEN`, …) from the
    /// dispatcher's environment; without, it cannot push or act on a pull request itself.
    pub forge_credentials: bool,
    /// `credentials: relay`: a sandboxed worker gets a placeholder for its CLI's API key,
    /// which the supervisor's credential relay replaces on the way to the provider (ADR
    /// 0124); `pass` (the default): the key as the dispatcher has it.
    pub relay_credentials: bool,
}

impl SandboxConfig {
    /// The network a sandboxed dispatch of `provider` gets.
    pub fn network(&self, provider: &str) -> Network {
        self.providers
            .get(provider)
            .copied()
            .unwrap_or(self.network)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSandbox {
    pub(super) enabled: Option<Spanned<bool>>,
    pub(super) network: Option<Spanned<String>>,
    pub(super) loopback: Option<Vec<Spanned<i64>>>,
    pub(super) read_only: Option<Vec<Spanned<String>>>,
    pub(super) writable: Option<Vec<Spanned<String>>>,
    pub(super) providers: Option<Entries<RawSandboxProvider>>,
    pub(super) forge_credentials: Option<Spanned<bool>>,
    pub(super) credentials: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSandboxProvider {
    pub(super) network: Spanned<String>,
}

impl Validator<'_> {
    /// `sandbox:`; `declared` are the providers the file declares.
    pub(super) fn sandbox(
        &self,
        raw: RawSandbox,
        declared: &BTreeMap<String, DeclaredProvider>,
    ) -> Checked<SandboxConfig> {
        let mut config = SandboxConfig {
            enabled: raw.enabled.is_some_and(|e| e.value),
            forge_credentials: raw.forge_credentials.is_some_and(|e| e.value),
            ..SandboxConfig::default()
        };
        if let Some(c) = raw.credentials {
            config.relay_credentials = match c.value.as_str() {
                "relay" => true,
                "pass" => false,
                other => {
                    let msg = format!(
                        "sandbox.credentials must be relay or pass, not {}",
                        q(other)
                    );
                    return self.err(&c.referenced, msg);
                }
            };
        }
        if let Some(n) = raw.network {
            config.network = self.network("sandbox.network", &n)?;
        }
        config.loopback = self.distinct(raw.loopback, |port| {
            (u16::try_from(port).ok().filter(|p| *p > 0))
                .ok_or_else(|| format!("sandbox.loopback: {port} is not a port (1 to 65535)"))
        })?;
        config.read_only = self.paths("read_only", raw.read_only)?;
        config.writable = self.paths("writable", raw.writable)?;
        for (name, rule) in raw.providers.map_or_else(Vec::new, |e| e.0) {
            self.known_provider("sandbox.providers", &name, declared)?;
            let at = format!("sandbox.providers.{}.network", name.value);
            let network = self.network(&at, &rule.network)?;
            config.providers.insert(name.value, network);
        }
        Ok(config)
    }

    fn network(&self, at: &str, raw: &Spanned<String>) -> Checked<Network> {
        match raw.value.as_str() {
            "on" | "true" => Ok(Network::On),
            "off" | "false" => Ok(Network::Off),
            other => {
                let msg = format!("{at} must be on or off, not {}", q(other));
                self.err(&raw.referenced, msg)
            }
        }
    }

    fn paths(&self, which: &str, raw: Option<Vec<Spanned<String>>>) -> Checked<Vec<String>> {
        self.distinct(raw, |p| {
            let ok = (p.starts_with('/') || p.starts_with("~/"))
                && !p.split('/').any(|c| c == "..")
                && !p.contains('\0');
            if ok {
                return Ok(p);
            }
            Err(format!(
                "sandbox.{which}: {} is not an absolute path or a path under ~/ (without `..`)",
                q(&p)
            ))
        })
    }
}
