//! Gates: `vnx gate-check` runs the gates a dispatch's role requires (`.vnx/config.yaml`) on
//! the head its completion recorded — command gates in a fresh detached checkout, review gates
//! through a CLI run headless and read-only — and records each gate's request, result and
//! report as receipts tied by a contract hash (`evidence`), then the run's verdict, GO or
//! HOLD, as a `gate_report`. A gate that could not run, timed out, stalled or gave no verdict
//! is never a pass; a role without gates is a HOLD unless it says `gates: []`.

pub mod evidence;
mod exec;
pub mod review;
pub mod run;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Config, ConfigError};
use crate::ledger::attest::Attestor;
use crate::ledger::receipt::is_dispatch_id;
use crate::ledger::{Ledger, LedgerError, now_utc};
use crate::receipts::{self, GateReport, GateReportEntry, GateReportStatus};
use crate::worktree::{Repo, WorktreeError};
use evidence::Evidence;

/// Where gate runs keep their files, under the data directory: `gates/<id>/<run>/`.
pub const GATES_DIR: &str = "gates";

/// What `check` needs from its caller.
pub struct Context<'a> {
    /// The main checkout's root.
    pub root: &'a Path,
    pub ledger: &'a Path,
    /// vnx's own binary (a reviewer's invocation names it, as a worker's does).
    pub vnx: &'a Path,
    /// Finds a program on PATH.
    pub find_program: &'a (dyn Fn(&str) -> Option<PathBuf> + Sync),
    /// Told when each gate starts and ends.
    pub on_event: &'a (dyn Fn(Event<'_>) + Sync),
    /// Signs the gate receipts.
    pub attestor: &'a Attestor,
    /// The keys whose attestations count (see [`crate::ledger::attest::trusted_keys`]).
    pub trusted_keys: &'a [[u8; 32]],
}

/// Progress of a gate-check.
pub enum Event<'a> {
    Started { gate: &'a str, kind: &'static str },
    Finished { outcome: &'a GateOutcome },
}

/// A gate-check's verdict.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
#[schemars(rename = "GateDecision")]
pub enum Decision {
    Go,
    Hold,
}

/// One gate's result: only `Pass` counts.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "GateStatus")]
pub enum Status {
    Pass,
    Fail,
    /// The gate could not run, timed out, stalled, or gave no verdict.
    Error,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

/// How a gate's process ended, as the receipt schema's `exit`: a code or a signal name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[schemars(rename = "GateExit")]
pub struct Exit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// Everything one gate left.
#[derive(Clone, Debug, Serialize)]
pub struct GateOutcome {
    pub gate: String,
    pub kind: &'static str,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub contract_hash: String,
    pub head_commit: String,
    pub definition_sha256: String,
    pub request_sha256: String,
    pub duration_seconds: f64,
    /// What ran: the command's argv, or the reviewer's with the request replaced by its hash.
    pub argv: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<Exit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<review::Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding_counts: Option<review::Counts>,
    pub findings: Vec<review::Finding>,
    /// The gate's directory: `request.*`, `output.log`, `result.json`, `report.md`.
    pub dir: PathBuf,
    pub request_path: PathBuf,
    pub output_path: PathBuf,
    pub result_path: PathBuf,
    pub report_path: PathBuf,
    /// Whether the throwaway checkout was removed afterwards.
    pub worktree_removed: bool,
}

/// What a gate-check found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub dispatch_id: String,
    pub run: String,
    pub decision: Decision,
    /// Why the decision is HOLD (empty for GO).
    pub reasons: Vec<String>,
    /// What a GO rests on besides passing gates (e.g. a role that requires none).
    pub notes: Vec<String>,
    pub role: Option<String>,
    pub head_commit: Option<String>,
    /// The gates the role requires; `None` when it names none.
    pub required: Option<Vec<String>>,
    pub gates: Vec<GateOutcome>,
    pub report_path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    #[error("{path} is not initialised for vnx")]
    NotInitialised { path: PathBuf },
    #[error("{id:?} is not a dispatch id")]
    BadId { id: String },
    #[error("dispatch {id} is not on the ledger {ledger}")]
    UnknownDispatch { id: String, ledger: PathBuf },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    #[error("could not write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl GateError {
    pub fn hint(&self) -> Option<String> {
        match self {
            GateError::NotInitialised { .. } => Some("run `vnx init` first".into()),
            GateError::BadId { .. } => Some("dispatch ids look like D-1a2b3c4d".into()),
            GateError::UnknownDispatch { .. } => {
                Some("`vnx status` lists the dispatches on the ledger".into())
            }
            GateError::Config(e) => e.hint(),
            GateError::Ledger(e) => e.hint(),
            GateError::Worktree(e) => e.hint(),
            GateError::Io { .. } => None,
        }
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> GateError + use<> {
    let path = path.to_owned();
    move |source| GateError::Io { path, source }
}

/// The gates a role requires: `Err` with the reason when it names none.
pub fn required_gates(config: &Config, role: Option<&str>) -> Result<Vec<String>, String> {
    let role = role.unwrap_or("(unknown)");
    match config.roles.get(role).and_then(|r| r.gates.clone()) {
        Some(gates) => Ok(gates),
        None => Err(format!(
            "role `{role}` names no gates; list them under `roles.{role}.gates` in \
             .vnx/config.yaml, or write `gates: []` there to let it merge without any"
        )),
    }
}

/// A fresh run id: the UTC time and two random bytes.
fn new_run_id() -> String {
    let mut bytes = [0u8; 2];
    let _ = getrandom::fill(&mut bytes);
    format!(
        "{}-{}",
        jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ"),
        hex::encode(bytes)
    )
}

/// Runs the gates dispatch `id` requires and records the evidence. See the module docs.
pub fn check(ctx: &Context<'_>, id: &str) -> Result<Report, GateError> {
    if !is_dispatch_id(id) {
        return Err(GateError::BadId { id: id.to_owned() });
    }
    let config_path = crate::project::Project::at(ctx.root).config_path();
    if config_path.symlink_metadata().is_err() {
        return Err(GateError::NotInitialised {
            path: ctx.root.to_owned(),
        });
    }
    let config = crate::config::load(&config_path)?;
    let ev = Evidence::read(ctx.ledger, id, ctx.trusted_keys)?;
    let Some(started) = &ev.started else {
        return Err(GateError::UnknownDispatch {
            id: id.to_owned(),
            ledger: ctx.ledger.to_owned(),
        });
    };
    let repo = Repo::discover(ctx.root)?;
    let run = new_run_id();
    let run_dir = ctx
        .root
        .join(crate::project::DATA_DIR)
        .join(GATES_DIR)
        .join(id)
        .join(&run);
    crate::project::private_dir(&run_dir).map_err(io_err(&run_dir))?;

    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    for line in ev.unattested_lines() {
        notes.push(format!("ignored a receipt vnx did not write: {line}"));
    }
    if let Err(why) = ev.verdict(id) {
        reasons.push(why);
    }
    let head = ev.head().map(str::to_owned);
    match &head {
        None if ev.completed.is_some() => {
            reasons.push("its completion receipt records no head commit".into())
        }
        Some(h) if repo.resolve(h).is_err() => {
            reasons.push(format!("its head commit {h} is not in the repository"))
        }
        _ => {}
    }
    let base = ev.base_commit().map(str::to_owned);
    if base.is_none() {
        reasons.push("its start receipt records no base commit".into());
    }
    let required = match required_gates(&config, ev.role()) {
        Ok(gates) => Some(gates),
        Err(why) => {
            reasons.push(why);
            None
        }
    };
    let mut gates = Vec::new();
    if let (true, Some(required), Some(head), Some(base)) =
        (reasons.is_empty(), &required, &head, &base)
    {
        if required.is_empty() {
            notes.push(format!(
                "role `{}` requires no gates (`gates: []` in .vnx/config.yaml)",
                ev.role().unwrap_or_default()
            ));
        }
        let shared = exec::Shared {
            ctx,
            config: &config,
            repo: &repo,
            id,
            run: &run,
            run_dir: &run_dir,
            head,
            base,
            branch: &started.receipt.branch,
            instruction_sha256: Some(&started.receipt.instruction_sha256),
        };
        let results: Vec<Result<GateOutcome, GateError>> = std::thread::scope(|s| {
            let handles: Vec<_> = required
                .iter()
                .map(|name| {
                    let shared = &shared;
                    let def = &config.gates[name];
                    s.spawn(move || exec::run_gate(shared, name, def))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a gate thread does not panic"))
                .collect()
        });
        for result in results {
            let outcome = result?;
            if outcome.status != Status::Pass {
                reasons.push(format!(
                    "gate `{}`: {}: {}",
                    outcome.gate,
                    outcome.status.name(),
                    outcome.reason.as_deref().unwrap_or("(no reason)")
                ));
            }
            gates.push(outcome);
        }
    }
    let decision = if reasons.is_empty() {
        Decision::Go
    } else {
        Decision::Hold
    };
    let report = Report {
        dispatch_id: id.to_owned(),
        run,
        decision,
        reasons,
        notes,
        role: ev.role().map(str::to_owned),
        head_commit: head,
        required,
        gates,
        report_path: run_dir.join("report.json"),
    };
    record_report(ctx, &report)?;
    Ok(report)
}

/// Writes `report.json` and appends the `gate_report` receipt.
fn record_report(ctx: &Context<'_>, r: &Report) -> Result<(), GateError> {
    let data = serde_json::to_vec_pretty(r).expect("reports serialize");
    std::fs::write(&r.report_path, &data).map_err(io_err(&r.report_path))?;
    let gates = r
        .gates
        .iter()
        .map(|g| GateReportEntry {
            gate: g.gate.clone(),
            kind: g.kind.to_owned(),
            status: g.status,
            contract_hash: g.contract_hash.clone(),
            head_commit: g.head_commit.clone(),
        })
        .collect();
    let receipt = receipts::write(&GateReport {
        dispatch_id: r.dispatch_id.clone(),
        run: r.run.clone(),
        status: match r.decision {
            Decision::Go => GateReportStatus::Go,
            Decision::Hold => GateReportStatus::Hold,
        },
        decision: r.decision,
        reasons: r.reasons.clone(),
        notes: r.notes.clone(),
        role: r.role.clone(),
        head_commit: r.head_commit.clone(),
        required: r.required.clone(),
        gates,
        report_path: r.report_path.to_string_lossy().into_owned(),
        report_sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data)),
        extra: Default::default(),
    });
    Ledger::new(ctx.ledger).append(&ctx.attestor.attest(&receipt, &now_utc))?;
    Ok(())
}
