//! Gates: `vnx gate-check` runs the gates a dispatch's role requires (`.vnx/config.yaml`) on
//! the head its completion recorded — command gates in a fresh detached checkout, review gates
//! through a CLI run headless and read-only — and records each gate's request, result and
//! report as receipts tied by a contract hash (`evidence`), then the run's verdict, GO or
//! HOLD, as a `gate_report`. A gate that could not run, timed out, stalled or gave no verdict
//! is never a pass; a role without gates is a HOLD unless it says `gates: []`. Each run holds
//! its run directory's lock while its checkouts exist (`run_lock`), so one that was killed
//! can be told from one that runs.

pub use crate::evidence;
mod exec;
pub mod on_merge;
pub mod review;
pub mod run;
pub mod run_lock;
pub mod shots;

use crate::ids::{CommitId, DispatchId};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Config, ConfigError};
use crate::ledger::LedgerError;
use crate::ledger::attest::Attestor;
use crate::receipts::{GateReport, GateReportEntry, GateReportStatus};
use crate::worktree::{Repo, WorktreeError};
use evidence::Evidence;

pub use crate::receipts::{GateDecision as Decision, GateExit as Exit, GateStatus as Status};

/// Where gate runs keep their files, under the data directory: `gates/<id>/<run>/`.
pub const GATES_DIR: &str = "gates";

/// What `check` needs from its caller.
pub struct Context<'a> {
    /// The main checkout's root.
    pub root: &'a Path,
    /// The ledger the evidence is read from and written to.
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
    /// A gate started.
    Started {
        /// Its name.
        gate: &'a str,
        /// `command`, `review` or `screenshots`.
        kind: &'static str,
    },
    /// A gate ended.
    Finished {
        /// What it left.
        outcome: &'a GateOutcome,
    },
}

/// Everything one gate left.
#[derive(Clone, Debug, Serialize)]
pub struct GateOutcome {
    /// The gate's name.
    pub gate: String,
    /// `command`, `review` or `screenshots`.
    pub kind: &'static str,
    /// What it found.
    pub status: Status,
    /// Why, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The contract its request and result share.
    pub contract_hash: String,
    /// The commit it checked.
    pub head_commit: CommitId,
    /// SHA-256 of its definition.
    pub definition_sha256: String,
    /// SHA-256 of its request.
    pub request_sha256: String,
    /// How long it ran, in seconds.
    pub duration_seconds: f64,
    /// What ran: the command's argv, or the reviewer's with the request replaced by its hash.
    pub argv: Vec<String>,
    /// How its process ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<Exit>,
    /// The reviewer's provider (review gates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The reviewer's model (review gates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The reviewer CLI's session (review gates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The reviewer's verdict (review gates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<review::Verdict>,
    /// The reviewer's findings by weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding_counts: Option<review::Counts>,
    /// The reviewer's findings.
    pub findings: Vec<review::Finding>,
    /// The gate's directory: `request.*`, `output.log`, `result.json`, `report.md`.
    pub dir: PathBuf,
    /// The request it was given.
    pub request_path: PathBuf,
    /// Its output log.
    pub output_path: PathBuf,
    /// Its `result.json`.
    pub result_path: PathBuf,
    /// Its `report.md`.
    pub report_path: PathBuf,
    /// Whether the throwaway checkout was removed afterwards (or scrubbed back into the
    /// gates' pool).
    pub worktree_removed: bool,
    /// The gates' pool entry the gate ran in, when it ran in one.
    pub pooled_worktree: Option<String>,
    /// The bubblewrap sandbox its command ran in (a sandboxed dispatch's command gates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<crate::sandbox::Shape>,
    /// The images a screenshots gate took (ADR 0125).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub screenshots: Vec<crate::receipts::Screenshot>,
}

/// What a gate-check found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The dispatch checked.
    pub dispatch_id: DispatchId,
    /// This run's id: its UTC time and two random bytes.
    pub run: String,
    /// GO or HOLD.
    pub decision: Decision,
    /// Why the decision is HOLD (empty for GO).
    pub reasons: Vec<String>,
    /// What a GO rests on besides passing gates (e.g. a role that requires none).
    pub notes: Vec<String>,
    /// The dispatch's role.
    pub role: Option<String>,
    /// The commit checked.
    pub head_commit: Option<CommitId>,
    /// The gates the role requires, then those the task asked for (`--gate`); `None` when
    /// the role names none.
    pub required: Option<Vec<String>>,
    /// What each gate left.
    pub gates: Vec<GateOutcome>,
    /// Where this report is written, `gate-report.json`.
    pub report_path: PathBuf,
}

/// Why a gate-check could not run.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The repository has no `.vnx/config.yaml`.
    #[error("{path} is not initialised for vnx")]
    NotInitialised {
        /// The repository's root.
        path: PathBuf,
    },
    /// No attested `dispatch_started` for the id.
    #[error("dispatch {id} is not on the ledger {ledger}")]
    UnknownDispatch {
        /// The dispatch asked about.
        id: String,
        /// The ledger read.
        ledger: PathBuf,
    },
    /// `.vnx/config.yaml` is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The ledger could not be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The gate's throwaway checkout could not be made.
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    /// A gate's file could not be written.
    #[error("could not write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

impl GateError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            GateError::NotInitialised { .. } => Some("run `vnx init` first".into()),
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

/// The gates a dispatch's merge requires: of its [listed gates](listed_gates), those whose
/// definition is `required` (the default). `Err` with the reason when the role names none.
pub fn required_gates(
    config: &Config,
    role: Option<&str>,
    asked: &[String],
) -> Result<Vec<String>, String> {
    let mut gates = listed_gates(config, role, asked)?;
    gates.retain(|g| config.gates.get(g).is_none_or(|d| d.required));
    Ok(gates)
}

/// The gates a dispatch runs: its role's, then those its task `asked` for (`--gate`) that
/// the role does not list, required or only wanted. `Err` with the reason when the role
/// names none.
pub fn listed_gates(
    config: &Config,
    role: Option<&str>,
    asked: &[String],
) -> Result<Vec<String>, String> {
    let role = role.unwrap_or("(unknown)");
    match config.roles.get(role).and_then(|r| r.gates.clone()) {
        Some(mut gates) => {
            for gate in asked {
                if !gates.contains(gate) {
                    gates.push(gate.clone());
                }
            }
            Ok(gates)
        }
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

/// Runs the gates dispatch `id` lists (required and wanted) and records the evidence; only a
/// required one's failure holds. See the module docs.
pub fn check(ctx: &Context<'_>, id: &DispatchId) -> Result<Report, GateError> {
    check_selected(ctx, id, None)
}

/// As [`check`], but runs only the listed gates named in `only` (`None`: all of them), as
/// `vnx merge` does for the gates that have no current pass; the report says which ran.
pub fn check_selected(
    ctx: &Context<'_>,
    id: &DispatchId,
    only: Option<&[String]>,
) -> Result<Report, GateError> {
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
            id: id.to_string(),
            ledger: ctx.ledger.to_owned(),
        });
    };
    let repo = Repo::discover(ctx.root)?;
    let run = new_run_id();
    let run_dir = make_run_dir(ctx.root, id, &run)?;

    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    for line in ev.unattested_lines() {
        notes.push(format!("ignored a receipt vnx did not write: {line}"));
    }
    if let Err(why) = ev.verdict(id) {
        reasons.push(why);
    }
    let head = ev.head().cloned();
    match &head {
        None if ev.completed.is_some() => {
            reasons.push("its completion receipt records no head commit".into())
        }
        Some(h) if repo.resolve(h.as_str()).is_err() => {
            reasons.push(format!("its head commit {h} is not in the repository"))
        }
        _ => {}
    }
    let base = ev.base_commit().cloned();
    if base.is_none() {
        reasons.push("its start receipt records no base commit".into());
    }
    let listed = match listed_gates(&config, ev.role(), ev.asked_gates()) {
        Ok(gates) => Some(gates),
        Err(why) => {
            reasons.push(why);
            None
        }
    };
    let required = required_gates(&config, ev.role(), ev.asked_gates()).ok();
    let mut gates = Vec::new();
    if let (true, Some(listed), Some(head), Some(base)) =
        (reasons.is_empty(), &listed, &head, &base)
    {
        if listed.is_empty() {
            notes.push(format!(
                "role `{}` requires no gates (`gates: []` in .vnx/config.yaml)",
                ev.role().unwrap_or_default()
            ));
        }
        let selected: Vec<&String> = listed
            .iter()
            .filter(|name| only.is_none_or(|o| o.contains(name)))
            .collect();
        if selected.len() < listed.len() {
            let names: Vec<&str> = selected.iter().map(|n| n.as_str()).collect();
            notes.push(format!(
                "ran only the gates without a current pass: {}",
                names.join(", ")
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
            on_merge: None,
            sandbox: started.receipt.sandbox.as_ref(),
            port: started.receipt.port,
        };
        let results: Vec<Result<GateOutcome, GateError>> = std::thread::scope(|s| {
            let handles: Vec<_> = selected
                .iter()
                .map(|&name| {
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
                let said = format!(
                    "gate `{}`: {}: {}",
                    outcome.gate,
                    outcome.status.name(),
                    outcome.reason.as_deref().unwrap_or("(no reason)")
                );
                // A wanted gate is said, and holds nothing.
                match config.gates[&outcome.gate].required {
                    true => reasons.push(said),
                    false => notes.push(format!("{said} (wanted, not required)")),
                }
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
        dispatch_id: id.clone(),
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
    ctx.attestor.record(
        ctx.ledger,
        &GateReport {
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
        },
    )?;
    crate::steps::reached(crate::steps::gate::REPORT_APPENDED);
    Ok(())
}

/// A gate run's directory, `.vnx-data/gates/<id>/<run>/`, and the run's lock on it
/// ([`run_lock`]): held from before its first checkout is made until this is dropped, after
/// its last is removed.
pub(crate) struct RunDir {
    path: PathBuf,
    _lock: std::fs::File,
}

impl std::ops::Deref for RunDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

/// Makes `.vnx-data/gates/<id>/<run>/` (private), where one run's requests, outputs and
/// reports go, and takes the run's lock in it.
pub(crate) fn make_run_dir(root: &Path, id: &DispatchId, run: &str) -> Result<RunDir, GateError> {
    let dir = root
        .join(crate::project::DATA_DIR)
        .join(GATES_DIR)
        .join(id)
        .join(run);
    crate::files::private_dir(&dir).map_err(io_err(&dir))?;
    let lock = run_lock::hold(&dir).map_err(io_err(&dir.join(run_lock::LOCK_FILE)))?;
    Ok(RunDir {
        path: dir,
        _lock: lock,
    })
}
