//! A sandboxed worker's credential relay (ADR 0124): started once per supervisor, before its
//! worker's first run, when its signed start relays its CLI's key; what the worker's
//! environment holds instead of the key and the provider's address (a placeholder and the
//! relay's), and the relay's port for a sandbox without a network to reach.

use std::fs;
use std::io::Write;
use std::sync::OnceLock;

use super::Surroundings;
use crate::dispatch::Spec;
use crate::provider::relay::{self, KeyVars, Route};

/// The variables whose values the command line hands the supervisor for the relay
/// ([`Surroundings::relay_env`]): the relayed key's and its base URL's; none when the
/// dispatch relays no key.
pub fn vars(spec: &Spec) -> Vec<&'static str> {
    relayed(spec).map_or_else(Vec::new, |v| [&[v.key], v.base_urls].concat())
}

/// The CLI's key variables, when the dispatch's sandbox relays its key.
fn relayed(spec: &Spec) -> Option<KeyVars> {
    let shape = spec.sandbox.as_ref()?;
    let vars = spec.provider.cli()?.relayed_key()?;
    shape
        .relayed_keys
        .iter()
        .any(|k| k == vars.key)
        .then_some(vars)
}

/// What the worker is given in place of its key.
pub(super) struct Relayed {
    /// Its key's variable set to the placeholder and the base URL's to the relay's.
    pub(super) env: Vec<(&'static str, String)>,
    /// The relay's port on this machine's loopback.
    pub(super) port: Option<u16>,
}

/// The relay, started on the first call when the dispatch relays its key. One that cannot
/// start (its key gone from the environment, the constraints unreadable) leaves the worker
/// with an empty key, never the real one; the log says why.
pub(super) fn started(
    spec: &Spec,
    around: &Surroundings<'_>,
    log: &mut fs::File,
) -> Option<&'static Relayed> {
    static STARTED: OnceLock<Option<Relayed>> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            let vars = relayed(spec)?;
            Some(start(spec, around, vars, log).unwrap_or_else(|why| {
                let _ = writeln!(
                    log,
                    "vnx: the credential relay did not start ({why}): the worker has no key"
                );
                Relayed {
                    env: vec![(vars.key, String::new())],
                    port: None,
                }
            }))
        })
        .as_ref()
}

fn start(
    spec: &Spec,
    around: &Surroundings<'_>,
    vars: KeyVars,
    log: &fs::File,
) -> Result<Relayed, String> {
    let value = |name: &str| {
        (around.relay_env.iter())
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let (key, placeholder, upstream) = relay::stand_in(vars, &value)?;
    let route = Route {
        placeholder: placeholder.clone(),
        key,
        upstream: upstream.clone(),
        scan: crate::constraints::relay_scan(&spec.repo_root, spec.provider.name())?,
        log: log.try_clone().ok().map(std::sync::Mutex::new),
    };
    let port = relay::serve(route).map_err(|e| format!("listen: {e}"))?;
    let url = relay::base_url(port, &upstream);
    Ok(Relayed {
        env: relay::worker_env(vars, &placeholder, &url),
        port: Some(port),
    })
}
