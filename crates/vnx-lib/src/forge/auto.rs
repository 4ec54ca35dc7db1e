//! A dispatch's pull request opened (or updated) by itself when the dispatch ends done and
//! its required gates pass (its role's and its task's): asked for one dispatch (`dispatch-agent --open-pr`, `follow-up
//! --open-pr`, and every `vnx pr fix`) by a request file vnx writes under
//! `.vnx-data/forge/open-when-done/` before the launch, for every dispatch of a role with
//! `open_pr: true`, or for every dispatch by `forge.open_on_done`. It runs in the supervisor once the completion is on the ledger, in
//! the environment of the command that dispatched (where the user's `gh` login is; ADR
//! 0064): those gates are run on the recorded head, and only when they all pass is the
//! pull request opened through [`super::open::open`], the path `vnx pr open` takes, with its
//! signed `pr_opened`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Context, Forge, ForgeError, open};
use crate::config::Config;
use crate::evidence::Evidence;
use crate::gate;
use crate::ids::DispatchId;
use crate::receipts::{DispatchStatus, PrOpened};

/// What a request to open the pull request when done asks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wanted {
    /// Open it as a draft (`Some(true)`), ready (`Some(false)`), or as `forge.draft` says.
    #[serde(default)]
    pub draft: Option<bool>,
}

/// Where the request for dispatch `id` is kept.
pub fn request_path(data_dir: &Path, id: &DispatchId) -> PathBuf {
    data_dir
        .join("forge")
        .join("open-when-done")
        .join(format!("{id}.json"))
}

/// Where the supervisor says, in one line, what became of the pull request it was to open
/// when dispatch `id` ended: beside the request, outside the dispatch directory (which the
/// worker may write), for the command waiting in the foreground.
pub fn outcome_path(data_dir: &Path, id: &DispatchId) -> PathBuf {
    request_path(data_dir, id).with_extension("outcome")
}

/// Asks that dispatch `id`'s pull request be opened when it ends done with its gates passed.
pub fn request(data_dir: &Path, id: &DispatchId, wanted: &Wanted) -> Result<(), ForgeError> {
    let path = request_path(data_dir, id);
    let io = |source| ForgeError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        crate::files::private_dir(dir).map_err(io)?;
    }
    let text = serde_json::to_vec(wanted).unwrap_or_default();
    crate::files::write_atomic_private(&path, &text, false).map_err(io)
}

/// The request for dispatch `id`, if one was made.
pub fn requested(data_dir: &Path, id: &DispatchId) -> Option<Wanted> {
    let text = std::fs::read(request_path(data_dir, id)).ok()?;
    Some(serde_json::from_slice(&text).unwrap_or_default())
}

/// What happened when the dispatch ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Nobody asked for it (no request, `forge.open_on_done` off).
    NotAsked,
    /// The dispatch did not end done.
    NotDone {
        /// How it ended, when it did.
        status: Option<DispatchStatus>,
    },
    /// A gate the role or task requires did not pass on the head.
    GatesHeld {
        /// Why, as the gate-check said.
        reasons: Vec<String>,
    },
    /// The pull request was opened or updated.
    Opened {
        /// Its receipt.
        receipt: Box<PrOpened>,
    },
}

/// Opens dispatch `id`'s pull request if it was asked for, the dispatch ended done and the
/// gates its role and task require pass on its head (run now through `gates`). The request is
/// removed once acted on, whatever the outcome, so a rerun does not open it twice.
pub fn when_done(
    ctx: &Context<'_>,
    forge: &Forge,
    config: &Config,
    gates: &gate::Context<'_>,
    id: &DispatchId,
) -> Result<Outcome, ForgeError> {
    let asked = requested(ctx.data_dir, id);
    let by_config = forge.config.open_on_done || role_asks(ctx, config, id);
    let Some(wanted) = asked.or_else(|| by_config.then(Wanted::default)) else {
        return Ok(Outcome::NotAsked);
    };
    let outcome = act(ctx, forge, config, gates, id, &wanted);
    let _ = std::fs::remove_file(request_path(ctx.data_dir, id));
    outcome
}

/// Whether the supervisor of dispatch `id` (of `role`) has a pull request to see to once it
/// ended: a request for it, the project's `forge.open_on_done`, or its role's `open_pr`.
/// Read without the forge, so a project that asks for nothing resolves none. A request in a
/// project without a forge is dropped: nothing can act on it.
pub fn wanted_after(data_dir: &Path, config: &Config, role: &str, id: &DispatchId) -> bool {
    let asked = requested(data_dir, id).is_some();
    if config.forge.is_none() {
        if asked {
            let _ = std::fs::remove_file(request_path(data_dir, id));
        }
        return false;
    }
    asked || opens_when_done(config, role)
}

/// Whether the project opens the pull request of every dispatch of `role` by itself when it
/// is done (`forge.open_on_done`, or the role's `open_pr`, in a project with a forge), as its
/// supervisor decides ([`wanted_after`]): a front end waiting for such a dispatch waits for
/// that too ([`after_done`]).
pub fn opens_when_done(config: &Config, role: &str) -> bool {
    (config.forge.as_ref())
        .is_some_and(|f| f.open_on_done || config.roles.get(role).is_some_and(|r| r.open_pr))
}

/// What became of the pull request a dispatch's supervisor was to open once it was done
/// ([`after_done`]).
#[derive(Debug)]
pub enum AfterDone {
    /// Opened or updated: the newest `pr_opened` of the dispatch, signed by a trusted key.
    Opened(Box<PrOpened>),
    /// Not opened; what the supervisor said of it ([`told`]; the forge's and gates' text,
    /// unescaped).
    Said(String),
    /// Not opened or updated, and nothing said.
    Nothing,
}

/// Waits for the supervisor of dispatch `id` (of the project whose data directory is
/// `data_dir`) to finish what it does after the completion, its pull request opened or updated
/// when asked (it holds the dispatch's lock to its last chore: taking it waits for that), then
/// reads what became of the pull request: its `pr_opened` on `ledger` under the `trusted`
/// keys, else what the supervisor said.
pub fn after_done(
    data_dir: &Path,
    ledger: &Path,
    trusted: &[[u8; 32]],
    id: &DispatchId,
) -> AfterDone {
    let dir = data_dir.join("dispatches").join(id.as_str());
    if let Ok(lock) = crate::dispatch::liveness::hold(&dir) {
        drop(lock);
    }
    let opened = Evidence::read(ledger, id, trusted)
        .ok()
        .and_then(|ev| ev.started.map(|s| s.receipt.branch))
        .and_then(|branch| super::History::read(ledger, &branch, trusted).ok())
        .and_then(|h| h.opened.into_iter().rev().find(|o| &o.dispatch_id == id));
    match (opened, told(data_dir, id)) {
        (Some(o), _) => AfterDone::Opened(Box::new(o)),
        (None, Some(said)) => AfterDone::Said(said),
        (None, None) => AfterDone::Nothing,
    }
}

/// What the supervisor does once its dispatch's completion is on the ledger: opens its pull
/// request when asked, it ended done and its gates pass ([`when_done`]); once opened, anchors
/// the gate evidence in a checkpoint (when `ctx` has the key), as `vnx gate-check` does, so a
/// merge can rely on it.
pub fn after_completion(
    ctx: &Context<'_>,
    forge: &Forge,
    config: &Config,
    gates: &gate::Context<'_>,
    id: &DispatchId,
) -> Result<Outcome, ForgeError> {
    let outcome = when_done(ctx, forge, config, gates, id)?;
    let r = &ctx.reading;
    if let (Outcome::Opened { .. }, Some(key)) = (&outcome, r.key) {
        let _ = crate::merge::anchor(r.ledger, key, r.threads, r.witness_dir);
    }
    Ok(outcome)
}

/// What became of the pull request, in one line (`None`: nobody asked for it). Forge and
/// gate text unescaped: a front end escapes it.
pub fn said(outcome: &Outcome) -> Option<String> {
    Some(match outcome {
        Outcome::NotAsked => return None,
        Outcome::NotDone { status } => format!(
            "not opening the pull request: the dispatch ended {}",
            status.map_or("unrecorded", |s| s.name())
        ),
        Outcome::GatesHeld { reasons } => format!(
            "not opening the pull request: its gates did not pass ({})",
            reasons.join("; ")
        ),
        Outcome::Opened { receipt } => format!(
            "pull request #{} {}: {} (head {})",
            receipt.number,
            match receipt.action {
                crate::receipts::PrAction::Created => "opened",
                crate::receipts::PrAction::Updated => "updated",
                crate::receipts::PrAction::Retargeted => "retargeted",
            },
            receipt.url,
            receipt
                .head_commit
                .as_str()
                .get(..12)
                .unwrap_or(receipt.head_commit.as_str())
        ),
    })
}

/// Leaves `said` (see [`said`]) where the command that dispatched `id` and waits in the
/// foreground reads it ([`told`]); best effort.
pub fn tell(data_dir: &Path, id: &DispatchId, said: &str) {
    let path = outcome_path(data_dir, id);
    if let Some(parent) = path.parent()
        && crate::files::private_dir(parent).is_ok()
    {
        let _ = crate::files::write_atomic_private(&path, format!("{said}\n").as_bytes(), false);
    }
}

/// What the supervisor of `id` said became of its pull request, when it said anything.
pub fn told(data_dir: &Path, id: &DispatchId) -> Option<String> {
    crate::files::read_bounded(&outcome_path(data_dir, id), 4096)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Whether the role dispatch `id` played says `open_pr: true`.
pub fn role_asks(ctx: &Context<'_>, config: &Config, id: &DispatchId) -> bool {
    Evidence::read(ctx.reading.ledger, id, ctx.reading.trusted_keys)
        .ok()
        .and_then(|ev| ev.role().map(str::to_owned))
        .and_then(|role| config.roles.get(&role).map(|r| r.open_pr))
        .unwrap_or(false)
}

fn act(
    ctx: &Context<'_>,
    forge: &Forge,
    config: &Config,
    gates: &gate::Context<'_>,
    id: &DispatchId,
    wanted: &Wanted,
) -> Result<Outcome, ForgeError> {
    let ev = Evidence::read(ctx.reading.ledger, id, ctx.reading.trusted_keys)?;
    let status = ev.completed.as_ref().map(|c| c.receipt.status);
    if status != Some(DispatchStatus::Done) {
        return Ok(Outcome::NotDone { status });
    }
    let report = gate::check(gates, id)?;
    if report.decision != gate::Decision::Go {
        return Ok(Outcome::GatesHeld {
            reasons: report.reasons,
        });
    }
    let request = open::Request {
        draft: wanted.draft,
        base: None,
    };
    let receipt = open::open(ctx, forge, config, id, &request)?;
    Ok(Outcome::Opened {
        receipt: Box::new(receipt),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        crate::config::parse(&format!("version: 1\n{text}"), Path::new("config.yaml"))
            .expect("a config")
    }

    #[test]
    fn a_project_opens_its_pull_requests_by_itself_only_with_a_forge() {
        let forge = "forge: {kind: github, remote: origin}\n";
        let role = "roles:\n  implementer: {open_pr: true}\n";
        let opens = |text: &str| opens_when_done(&config(text), "implementer");
        assert!(!opens(""));
        assert!(!opens(role));
        assert!(!opens(forge));
        assert!(opens(&format!("{forge}{role}")));
        assert!(opens(
            "forge: {kind: github, remote: origin, open_on_done: true}\n"
        ));
        // Another role's open_pr is not this one's.
        assert!(!opens_when_done(
            &config(&format!("{forge}{role}")),
            "reviewer"
        ));
    }

    #[test]
    fn after_done_is_what_the_supervisor_said_else_nothing() {
        let data = tempfile::tempdir().expect("a directory");
        let ledger = data.path().join("state/ledger.ndjson");
        let id = DispatchId::parse("d1").expect("an id");
        let read = || after_done(data.path(), &ledger, &[], &id);
        assert!(matches!(read(), AfterDone::Nothing), "{:?}", read());
        tell(data.path(), &id, "not opening the pull request: it failed");
        match read() {
            AfterDone::Said(said) => {
                assert_eq!(said, "not opening the pull request: it failed");
            }
            other => panic!("{other:?}"),
        }
    }
}
