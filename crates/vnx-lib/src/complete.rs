//! What a shell completes where vnx takes a dispatch id, a provider, a model or a role: the
//! candidates, each with a few words saying what it is, read from the ledger and the
//! project's configuration (never from a worker's files).

use std::path::Path;

use crate::config::Config;
use crate::dispatch::fold::{self, Records};
use crate::ledger::attest::Attestor;
use crate::provider::{DemoBehaviour, Provider, cli};

/// The most dispatch ids offered, newest first.
pub const MAX_IDS: usize = 200;

/// What can be completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Dispatch ids on the ledger.
    Ids,
    /// Built-in and declared providers.
    Providers,
    /// Models: the demo's behaviours, the aliases the CLIs suggest, and every model a route or a
    /// dispatch on the ledger named.
    Models,
    /// Roles: those the configuration names, those dispatches on the ledger played, and the
    /// roles of the skills vnx ships.
    Roles,
}

/// One candidate: the value and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// What the shell inserts.
    pub value: String,
    /// A few words about it (may be empty).
    pub description: String,
}

impl Candidate {
    fn new(value: impl Into<String>, description: impl Into<String>) -> Candidate {
        Candidate {
            value: value.into(),
            description: description.into(),
        }
    }
}

/// The candidates of `kind` for the project whose ledger is `ledger` and whose configuration
/// is `config` (`None`: outside a project, or one without a readable configuration); ids
/// are read from the read index at `index` (authenticated with its key) while it is
/// current, else from the ledger.
pub fn candidates(
    kind: Kind,
    ledger: &Path,
    config: Option<&Config>,
    index: Option<(&Path, &Attestor)>,
) -> Vec<Candidate> {
    match kind {
        Kind::Ids => ids(ledger, index),
        Kind::Providers => {
            let mut out: Vec<Candidate> = Provider::ALL
                .iter()
                .map(|p| Candidate::new(p.name(), "built-in"))
                .collect();
            if let Some(c) = config {
                out.extend(
                    c.providers
                        .keys()
                        .map(|name| Candidate::new(name.clone(), "declared in .vnx/config.yaml")),
                );
            }
            out
        }
        Kind::Models => models(ledger),
        Kind::Roles => roles(ledger, config),
    }
}

/// The newest dispatches first: id, state, title (else role) and provider/model.
fn ids(ledger: &Path, index: Option<(&Path, &Attestor)>) -> Vec<Candidate> {
    let newest = index
        .and_then(|(path, attestor)| fold::index::current(path, attestor, ledger))
        .and_then(|opened| {
            let from = opened.listed().saturating_sub(MAX_IDS) as u64;
            opened
                .entries()
                .filter(|e| e.order.is_some_and(|o| o >= from))
                .map(|e| opened.record(e).map(|(r, _)| r))
                .collect::<Option<Vec<_>>>()
        });
    let records = match newest {
        Some(records) => records,
        None => match Records::read(ledger) {
            Ok(all) => all.by_id.into_values().collect(),
            Err(_) => return Vec::new(),
        },
    };
    let mut listed: Vec<&fold::Listed> = records.iter().filter_map(|r| r.listed.as_ref()).collect();
    listed.sort_by_key(|l| std::cmp::Reverse(l.order));
    listed
        .into_iter()
        .take(MAX_IDS)
        .map(|l| {
            let s = &l.state;
            let runs = match (&s.provider, &s.model) {
                (Some(p), Some(m)) => format!("{p}/{m}"),
                (Some(p), None) => p.clone(),
                _ => String::new(),
            };
            let what = s.title.as_deref().or(s.role.as_deref()).unwrap_or("");
            let words = [s.state.name(), what, &runs];
            Candidate::new(
                s.id.to_string(),
                words
                    .iter()
                    .filter(|w| !w.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
        .collect()
}

/// The configuration's roles, then the ledger's, then the shipped skills' (each once).
fn roles(ledger: &Path, config: Option<&Config>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = config
        .map(|c| {
            c.roles
                .keys()
                .map(|r| Candidate::new(r.clone(), "role in .vnx/config.yaml"))
                .collect()
        })
        .unwrap_or_default();
    let mut add = |role: &str, what: &str| {
        if !out.iter().any(|c| c.value == role) {
            out.push(Candidate::new(role, what));
        }
    };
    if let Ok(records) = Records::read(ledger) {
        for l in records.listed().iter().filter_map(|r| r.listed.as_ref()) {
            if let Some(role) = &l.state.role {
                add(role, "played on this ledger");
            }
        }
    }
    for file in crate::defaults::FILES {
        if let Some(role) = file
            .path
            .strip_prefix("skills/")
            .and_then(|p| p.strip_suffix("/SKILL.md"))
        {
            add(role, "a skill vnx ships");
        }
    }
    out
}

/// The demo's behaviours, the aliases the built-in CLIs suggest (each CLI's module's
/// `suggested_models`, in the registry's order), then every other model the ledger's
/// dispatches named (most used first).
fn models(ledger: &Path) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = DemoBehaviour::ALL
        .iter()
        .map(|b| Candidate::new(b.name(), "demo"))
        .chain(cli::CLIS.iter().flat_map(|c| {
            let provider = c.provider().name();
            c.suggested_models()
                .iter()
                .map(move |m| Candidate::new(*m, provider))
        }))
        .collect();
    if let Ok(records) = Records::read(ledger) {
        let mut used: std::collections::BTreeMap<(String, String), usize> = Default::default();
        for l in records.listed().iter().filter_map(|r| r.listed.as_ref()) {
            if let (Some(p), Some(m)) = (&l.state.provider, &l.state.model) {
                *used.entry((m.clone(), p.clone())).or_default() += 1;
            }
        }
        let mut used: Vec<((String, String), usize)> = used.into_iter().collect();
        used.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for ((model, provider), _) in used {
            if !out.iter().any(|c| c.value == model) {
                out.push(Candidate::new(model, provider));
            }
        }
    }
    out
}
