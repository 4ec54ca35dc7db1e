//! Replaying a recorded dispatch and comparing two dispatches. A replay is a new dispatch with
//! the original's instruction (read from its dispatch directory and checked against the hash
//! its signed `dispatch_started` recorded), skills, role and base commit, on the same or
//! another provider or model; its own `dispatch_started.replay_of` links it to the original
//! and says whether the original prompt still rebuilds byte for byte (a skill changed since
//! makes it not, and both hashes are kept). A comparison puts two dispatches side by side from
//! their signed receipts and their branches: status, gates, diff size and overlap, tokens and
//! duration.

use crate::ids::{CommitId, DispatchId};
use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::evidence::{Evidence, is_commit_id};
use crate::ledger::LedgerError;
use crate::process::{self, Cmd};
use crate::receipts::{DispatchStarted, ReplayOf};

/// Why a dispatch cannot be replayed or compared.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The ledger holds no attested `dispatch_started` for the id.
    #[error("no dispatch {id} (attested) on the ledger")]
    Unknown {
        /// The id given.
        id: String,
    },
    /// A follow-up's instruction only makes sense after its chain.
    #[error("dispatch {id} is a follow-up of {first}; replay the first dispatch of its chain")]
    FollowUp {
        /// The follow-up.
        id: String,
        /// Its chain's first dispatch.
        first: String,
    },
    /// The instruction on disk is gone or not the one the receipt recorded.
    #[error("the instruction of {id} in {path} {problem}")]
    Instruction {
        /// The dispatch.
        id: String,
        /// `instruction.md` in its dispatch directory.
        path: std::path::PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// git could not say what a branch changed.
    #[error("could not read the change of {id}")]
    Git {
        /// The dispatch.
        id: String,
        /// What git said.
        #[source]
        source: process::ProcessError,
    },
}

impl ReplayError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ReplayError::Unknown { .. } => Some("`vnx status` lists the dispatches".into()),
            ReplayError::Instruction { .. } => Some(
                "the dispatch directory is gone or was changed: dispatch the instruction again \
                 with `vnx dispatch-agent`"
                    .into(),
            ),
            ReplayError::Ledger(e) => e.hint(),
            _ => None,
        }
    }
}

/// A recorded dispatch, as a replay starts from it.
#[derive(Clone, Debug)]
pub struct Original {
    /// Its attested `dispatch_started`.
    pub started: DispatchStarted,
    /// The SHA-256 of that ledger line.
    pub started_line_sha256: String,
    /// Its instruction, byte for byte as it was given (checked against the receipt).
    pub instruction: String,
}

/// Reads dispatch `id`'s start and instruction; `trusted` are the keys whose attestations
/// count.
pub fn original(
    root: &Path,
    ledger: &Path,
    id: &DispatchId,
    trusted: &[[u8; 32]],
) -> Result<Original, ReplayError> {
    let evidence = Evidence::read(ledger, id, trusted)?;
    let started = evidence
        .started
        .ok_or_else(|| ReplayError::Unknown { id: id.to_string() })?;
    if let Some(c) = &started.receipt.continues {
        return Err(ReplayError::FollowUp {
            id: id.to_string(),
            first: c.first.to_string(),
        });
    }
    let path = crate::dispatch::dir_of(root, id).join("instruction.md");
    let problem = |problem: &str| ReplayError::Instruction {
        id: id.to_string(),
        path: path.clone(),
        problem: problem.into(),
    };
    let bytes = crate::files::read_bounded(&path, 4 << 20)
        .map_err(|_| problem("cannot be read (pruned?)"))?;
    if hex::encode(Sha256::digest(&bytes)) != started.receipt.instruction_sha256 {
        return Err(problem(
            "is not the one its dispatch_started recorded (its SHA-256 differs)",
        ));
    }
    let instruction = String::from_utf8(bytes).map_err(|_| problem("is not UTF-8"))?;
    Ok(Original {
        started: started.receipt,
        started_line_sha256: started.line.line_sha256,
        instruction,
    })
}

/// The link a replay records: whether the original's prompt rebuilds byte for byte from its
/// instruction and today's skills, and which skills changed since.
pub fn link(root: &Path, original: &Original) -> ReplayOf {
    let s = &original.started;
    let mut changed_skills = Vec::new();
    let mut skills = Vec::new();
    for recorded in &s.skills {
        match crate::skills::load(root, &recorded.name) {
            Ok(now) => {
                if now.sha256 != recorded.sha256 {
                    changed_skills.push(recorded.name.clone());
                }
                skills.push(now);
            }
            Err(_) => changed_skills.push(recorded.name.clone()),
        }
    }
    let rebuilt = (changed_skills.is_empty() || skills.len() == s.skills.len()).then(|| {
        let prompt = crate::dispatch::start::compose::compose(
            &s.dispatch_id,
            &s.role,
            &original.instruction,
            s.completion,
            &skills,
        );
        hex::encode(Sha256::digest(prompt.as_bytes()))
    });
    ReplayOf {
        dispatch_id: s.dispatch_id.clone(),
        started_line_sha256: original.started_line_sha256.clone(),
        prompt_sha256: s.prompt_sha256.clone(),
        identical: rebuilt.as_deref() == Some(s.prompt_sha256.as_str()),
        rebuilt_prompt_sha256: rebuilt,
        changed_skills,
    }
}

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// How it ended (`running` while it runs), the phantom guard's correction applied.
    pub status: String,
    /// Its provider and model.
    pub provider: String,
    /// `null` for the CLI's default.
    pub model: Option<String>,
    /// The latest signed result of each gate at its head: `(gate, status)`.
    pub gates: Vec<(String, String)>,
    /// Files its branch changed against its base.
    pub files: Vec<String>,
    /// Lines added and removed.
    pub insertions: u64,
    /// Lines removed.
    pub deletions: u64,
    /// Tokens its CLI reported; `null` when it reported none.
    pub tokens: Option<u64>,
    /// Seconds it ran.
    pub duration_seconds: Option<f64>,
    /// The SHA-256 of the ledger lines this side was read from: start, then completion.
    pub evidence: Vec<String>,
    /// What it replays, when it is a replay.
    pub replay_of: Option<DispatchId>,
}

/// Two dispatches side by side.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The first dispatch.
    pub a: Side,
    /// The second.
    pub b: Side,
    /// Files both changed.
    pub common: Vec<String>,
    /// Of those, files whose content is the same at both heads.
    pub identical: Vec<String>,
    /// Files both changed over files either changed (0 to 1; 1 when neither changed any).
    pub overlap: f64,
}

/// Compares dispatches `a` and `b` from their attested receipts and their commits.
pub fn compare(
    root: &Path,
    ledger: &Path,
    a: &DispatchId,
    b: &DispatchId,
    trusted: &[[u8; 32]],
) -> Result<Comparison, ReplayError> {
    let (sa, heads_a) = side(root, ledger, a, trusted)?;
    let (sb, heads_b) = side(root, ledger, b, trusted)?;
    let fa: BTreeSet<&String> = sa.files.iter().collect();
    let fb: BTreeSet<&String> = sb.files.iter().collect();
    let common: Vec<String> = fa.intersection(&fb).map(|f| (*f).clone()).collect();
    let union = fa.union(&fb).count();
    let identical = match (heads_a, heads_b) {
        (Some(ha), Some(hb)) => common
            .iter()
            .filter(|f| {
                blob(root, ha.as_str(), f).is_some_and(|x| Some(x) == blob(root, hb.as_str(), f))
            })
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    let overlap = if union == 0 {
        1.0
    } else {
        common.len() as f64 / union as f64
    };
    Ok(Comparison {
        a: sa,
        b: sb,
        common,
        identical,
        overlap: (overlap * 1000.0).round() / 1000.0,
    })
}

/// One side, and its head commit when it has a recorded one.
fn side(
    root: &Path,
    ledger: &Path,
    id: &DispatchId,
    trusted: &[[u8; 32]],
) -> Result<(Side, Option<CommitId>), ReplayError> {
    let e = Evidence::read(ledger, id, trusted)?;
    let started = e
        .started
        .as_ref()
        .ok_or_else(|| ReplayError::Unknown { id: id.to_string() })?;
    let status = match (&e.completed, &e.corrected) {
        (_, Some(c)) => c.receipt.status.to_string(),
        (Some(c), None) => c.receipt.status.to_string(),
        (None, None) => "running".to_owned(),
    };
    let head = e.head().cloned();
    let base = e.base_commit().cloned();
    let mut gates: Vec<(String, String)> = Vec::new();
    if let Some(h) = &head {
        for r in e.results.iter().filter(|r| &r.receipt.head_commit == h) {
            gates.retain(|(g, _)| g != &r.receipt.gate);
            gates.push((r.receipt.gate.clone(), r.receipt.status.name().to_owned()));
        }
    }
    gates.sort();
    let (files, insertions, deletions) = match (&base, &head) {
        (Some(b), Some(h)) => numstat(root, id, b.as_str(), h.as_str())?,
        _ => (Vec::new(), 0, 0),
    };
    let completed = e.completed.as_ref();
    let mut evidence = vec![started.line.line_sha256.clone()];
    evidence.extend(completed.map(|c| c.line.line_sha256.clone()));
    Ok((
        Side {
            dispatch_id: id.clone(),
            status,
            provider: started.receipt.provider.clone(),
            model: started.receipt.model.clone(),
            gates,
            files,
            insertions,
            deletions,
            // The CLI's total, else input plus output (not every CLI gives a total).
            tokens: completed
                .and_then(|c| c.receipt.token_usage.as_ref())
                .map(crate::dispatch::budget::tokens_of),
            duration_seconds: completed.and_then(|c| c.receipt.duration_seconds),
            evidence,
            replay_of: started
                .receipt
                .replay_of
                .as_ref()
                .map(|r| r.dispatch_id.clone()),
        },
        head,
    ))
}

/// The files `base..head` changed, and the lines added and removed (binary files count none).
fn numstat(
    root: &Path,
    id: &DispatchId,
    base: &str,
    head: &str,
) -> Result<(Vec<String>, u64, u64), ReplayError> {
    let out = process::run_ok(&Cmd::git().arg("-C").arg(root).args([
        "diff",
        "--numstat",
        "-z",
        "--no-renames",
        base,
        head,
    ]))
    .map_err(|source| ReplayError::Git {
        id: id.to_string(),
        source,
    })?;
    let (mut files, mut ins, mut del) = (Vec::new(), 0, 0);
    for entry in out.split('\0').filter(|e| !e.is_empty()) {
        let mut parts = entry.splitn(3, '\t');
        let (a, d, path) = (parts.next(), parts.next(), parts.next());
        ins += a.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        del += d.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        files.extend(path.map(str::to_owned));
    }
    files.sort();
    Ok((files, ins, del))
}

/// The blob `path` has at `commit`, if any.
fn blob(root: &Path, commit: &str, path: &str) -> Option<String> {
    if !is_commit_id(commit) {
        return None;
    }
    process::run_ok(
        &Cmd::git()
            .arg("-C")
            .arg(root)
            .args(["rev-parse", "--verify", "--quiet"])
            .arg(format!("{commit}:{path}")),
    )
    .ok()
}
