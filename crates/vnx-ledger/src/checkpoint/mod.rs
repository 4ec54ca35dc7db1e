//! Checkpoints: a signed statement "this ledger had N lines and line N hashed to H", kept as
//! a chain of commits under `refs/vnx/checkpoints` in the governed repository. A ledger that
//! no longer extends a checkpoint (cut, rewritten, or forked) fails `verify`.
//!
//! The checkpoint, its errors and the statement it signs are here, with anchoring a new
//! one; the local signing key's impl is in `key`, the repository's checkpoint ref (read,
//! extended, witnessed) in `anchor`.

mod anchor;
mod key;
mod since;
pub mod witness;

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use hex::FromHex;

use crate::LedgerError;
use crate::line::Hash;
use crate::verify::{VerifyOptions, VerifyReport, verify};

/// The committed allow-list of checkpoint public keys (one hex key per line, `#` comments),
/// relative to the repository root.
pub const TRUSTED_KEYS_FILE: &str = ".vnx/checkpoint-keys";

/// The ref whose history holds every checkpoint.
pub const CHECKPOINT_REF: &str = "refs/vnx/checkpoints";

/// The ref a remote host's checkpoints are fetched into.
pub fn host_checkpoint_ref(host: &str) -> String {
    format!("refs/vnx/hosts/{host}/checkpoint")
}
const BODY_HEADER: &str = "vnx-ledger-checkpoint v1";

pub use crate::anchored::Checkpoint;
pub use since::{AnchoringInputs, Since, anchored_since, anchoring_inputs};

/// Why a checkpoint could not be made, read or checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A git operation on the checkpoint ref failed.
    #[error("git {op} failed in {repo}")]
    Git {
        /// What was being done.
        op: &'static str,
        /// The repository.
        repo: PathBuf,
        /// What libgit2 said.
        #[source]
        source: git2::Error,
    },
    /// The ledger is not inside a git repository, so nothing can anchor it.
    #[error("{path} is not inside a git repository")]
    NotInRepo {
        /// The ledger.
        path: PathBuf,
    },
    /// The checkpoint ref points at a commit vnx did not make.
    #[error("{CHECKPOINT_REF} holds commit {commit}, which is not a vnx checkpoint")]
    NotACheckpoint {
        /// The commit it names.
        commit: String,
    },
    /// The signing key could not be read or written.
    #[error("could not read or write the signing key {path}")]
    KeyIo {
        /// The key file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The signing key is readable by other users.
    #[error("signing key {path} is readable by others (mode {mode:o})")]
    KeyInsecure {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file does not hold a vnx Ed25519 key.
    #[error("signing key {path} is not a vnx Ed25519 key")]
    KeyMalformed {
        /// The key file.
        path: PathBuf,
    },
    /// The signing key lies inside the repository, where a commit could publish it.
    #[error("signing key {path} lies inside the repository {repo}")]
    KeyInsideRepo {
        /// The key file.
        path: PathBuf,
        /// The repository.
        repo: PathBuf,
    },
    /// The ledger does not verify, so it is not checkpointed.
    #[error("ledger {path} does not verify ({violations} violation(s)); refusing to checkpoint")]
    LedgerBroken {
        /// The ledger.
        path: PathBuf,
        /// How many violations verify found.
        violations: u64,
    },
    /// The checkpoint witness could not be read or written.
    #[error("could not read or write the checkpoint witness {path}")]
    Witness {
        /// The witness file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The ledger has no lines to checkpoint.
    #[error("ledger {path} is empty; there is nothing to checkpoint")]
    EmptyLedger {
        /// The ledger.
        path: PathBuf,
    },
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl CheckpointError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            CheckpointError::NotInRepo { .. } => {
                "checkpoints live in the governed repository; run from inside it or pass --repo"
                    .into()
            }
            CheckpointError::NotACheckpoint { commit } => format!(
                "something other than vnx moved {CHECKPOINT_REF}: `git log {commit}` shows what; \
                 restore the ref from a copy (a remote, `git reflog`) of the checkpoints"
            ),
            CheckpointError::KeyInsecure { path, .. } => {
                format!("run `chmod 600 {}`", path.display())
            }
            CheckpointError::KeyInsideRepo { .. } => {
                "keep the key outside every worktree (XDG_CONFIG_HOME/vnx by default)".into()
            }
            CheckpointError::LedgerBroken { .. } => {
                "run `vnx audit-chain verify` to see the violations".into()
            }
            CheckpointError::Ledger(e) => return e.hint(),
            _ => return None,
        })
    }
}

/// The local Ed25519 key that signs checkpoints.
pub struct CheckpointKey {
    key: SigningKey,
    path: PathBuf,
}

/// What a checkpoint states, before signing.
struct Statement {
    ledger: String,
    lines: u64,
    head: Hash,
    history: Hash,
    time: String,
}

/// The text a checkpoint's signature covers.
pub(crate) fn statement_body(
    ledger: &str,
    lines: u64,
    head: &Hash,
    history: &Hash,
    time: &str,
) -> String {
    Statement {
        ledger: ledger.to_owned(),
        lines,
        head: *head,
        history: *history,
        time: time.to_owned(),
    }
    .body()
}

impl Statement {
    fn body(&self) -> String {
        format!(
            "{BODY_HEADER}\nledger {}\nlines {}\nhead {}\nhistory {}\ntime {}\n",
            self.ledger,
            self.lines,
            hex::encode(self.head),
            hex::encode(self.history),
            self.time
        )
    }

    fn parse(text: &str) -> Option<Statement> {
        let mut it = text.lines();
        if it.next()? != BODY_HEADER {
            return None;
        }
        let hash = |line: &str, key: &str| Hash::from_hex(line.strip_prefix(key)?).ok();
        Some(Statement {
            ledger: it.next()?.strip_prefix("ledger ")?.to_owned(),
            lines: it.next()?.strip_prefix("lines ")?.parse().ok()?,
            head: hash(it.next()?, "head ")?,
            history: hash(it.next()?, "history ")?,
            time: it.next()?.strip_prefix("time ")?.to_owned(),
        })
    }
}

/// The governed repository, where checkpoints are anchored.
pub struct Anchor {
    repo: git2::Repository,
    root: PathBuf,
}

/// The keys whose checkpoints count in this repository: those listed in
/// `.vnx/checkpoint-keys` plus the local key, if there is one. Empty means any correctly
/// signed checkpoint counts (a fresh clone with neither).
pub fn trusted_keys(
    anchor: &Anchor,
    local_key: Option<&Path>,
) -> Result<Vec<[u8; 32]>, CheckpointError> {
    let mut keys = Vec::new();
    let list = anchor.root().join(TRUSTED_KEYS_FILE);
    let read = vnx_core::files::open_untrusted(&list, 2).and_then(|f| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(f, 1 << 20), &mut text).map(|_| text)
    });
    match read {
        Ok(text) => {
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let key = <[u8; 32]>::from_hex(line.split_whitespace().next().unwrap_or(""))
                    .map_err(|_| CheckpointError::KeyMalformed { path: list.clone() })?;
                keys.push(key);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(CheckpointError::KeyIo { path: list, source }),
    }
    if let Some(path) = local_key
        && let Some(key) = CheckpointKey::load(path)?
    {
        keys.push(key.public_key());
    }
    Ok(keys)
}

/// What `verify` needs to check that a ledger extends its last checkpoint.
#[derive(Clone, Debug)]
pub struct Anchoring {
    /// The checkpoints anchored for the ledger, oldest first (and last, one the witness
    /// holds that the ref no longer does).
    pub checkpoints: Vec<Checkpoint>,
    /// The witnessed checkpoint the ref no longer holds: (its line, what happened).
    pub rolled_back: Option<(u64, String)>,
    /// The keys trusted to sign them (see [`trusted_keys`]).
    pub trusted_keys: Vec<[u8; 32]>,
}

/// The checkpoints anchored for the ledger at `path` and the keys trusted to sign them; `None`
/// when the ledger lies outside any git repository (nothing can be anchored there).
/// `audit-chain verify` and `doctor` both go through here.
pub fn anchoring(
    path: &Path,
    local_key: Option<&Path>,
    witness_dir: Option<&Path>,
) -> Result<Option<Anchoring>, CheckpointError> {
    let Some(anchor) = Anchor::find(path)? else {
        return Ok(None);
    };
    let name = anchor.ledger_name(path);
    // The witness before the ref: a checkpoint moves the ref first and then writes the
    // witness, so a witness read first names a checkpoint any later read of the ref holds.
    // Read the other way round, a checkpoint made between the two reads looks rolled back.
    let witnessed = match witness_dir {
        Some(dir) => witness::read(dir, &anchor, &name)?,
        None => None,
    };
    let mut checkpoints = anchor.list(&name)?;
    let mut rolled_back = None;
    if let Some((cp, w)) = witnessed.and_then(|w| Some((w.checkpoint()?, w))) {
        let held = checkpoints
            .iter()
            .any(|c| c.lines == cp.lines && c.head == cp.head && c.history == cp.history);
        if !held {
            rolled_back = Some((
                cp.lines,
                format!(
                    "{CHECKPOINT_REF} no longer holds checkpoint {} (line {}, made {}), \
                     which this machine witnessed: the ref was moved back or deleted",
                    &w.commit[..w.commit.len().min(12)],
                    cp.lines,
                    cp.time
                ),
            ));
            checkpoints.push(cp);
        }
    }
    Ok(Some(Anchoring {
        checkpoints,
        rolled_back,
        trusted_keys: trusted_keys(&anchor, local_key)?,
    }))
}

/// Whether the repository around `path` (found from its nearest existing ancestor) holds any
/// checkpoint. A ledger missing from such a repository was deleted; one missing from a
/// repository without checkpoints has simply not been written yet.
pub fn repository_has_checkpoints(path: &Path) -> bool {
    let start = path
        .ancestors()
        .find(|p| p.is_dir())
        .unwrap_or(Path::new("."));
    git2::Repository::discover(start).is_ok_and(|r| r.find_reference(CHECKPOINT_REF).is_ok())
}

/// Why a ledger that does not exist at `path` must have existed, if it must: this machine
/// witnessed a checkpoint of it (in `witness_dir`), or its repository holds checkpoints. A
/// ledger missing for neither reason has simply not been written yet.
pub fn missing_ledger_was_deleted(path: &Path, witness_dir: Option<&Path>) -> Option<String> {
    let witnessed = witness_dir.is_some_and(|dir| {
        Anchor::discover(path).is_ok_and(|anchor| {
            witness::read(dir, &anchor, &anchor.ledger_name(path)).is_ok_and(|w| w.is_some())
        })
    });
    if witnessed {
        return Some(format!(
            "ledger {} does not exist, but this machine witnessed a checkpoint of it",
            path.display()
        ));
    }
    repository_has_checkpoints(path).then(|| {
        format!(
            "ledger {} does not exist, but the repository holds checkpoints",
            path.display()
        )
    })
}

/// What `checkpoint` did.
#[derive(Debug, serde::Serialize)]
pub struct CheckpointOutcome {
    /// The checkpoint that now anchors the ledger (new or existing).
    pub checkpoint: Checkpoint,
    /// False when the latest checkpoint already covered the ledger's head.
    pub created: bool,
    /// Whether the signing key was created for it.
    pub key_created: bool,
}

/// Verifies the ledger against its existing checkpoints, then anchors a new one at its head.
/// Holds the append lock throughout, so the head it signs is one no writer can still roll
/// back. `trusted_keys` are the keys whose earlier checkpoints count (empty: any valid one).
pub fn checkpoint(
    ledger: &Path,
    anchor: &Anchor,
    key_path: &Path,
    trusted_keys: &[[u8; 32]],
    threads: usize,
    time: &str,
    witness_dir: Option<&Path>,
) -> Result<CheckpointOutcome, CheckpointError> {
    let name = anchor.ledger_name(ledger);
    let existing = anchor.list(&name)?;
    let lock = crate::append_lock(ledger)?;
    let report: VerifyReport = verify(
        ledger,
        &VerifyOptions {
            threads,
            checkpoints: existing.clone(),
            trusted_keys: trusted_keys.to_vec(),
            history: true,
            ..VerifyOptions::default()
        },
    )?;
    if !report.status.is_ok() {
        return Err(CheckpointError::LedgerBroken {
            path: ledger.to_owned(),
            violations: report.violations_total,
        });
    }
    let empty = || CheckpointError::EmptyLedger {
        path: ledger.to_owned(),
    };
    let head = report.head.as_ref().ok_or_else(empty)?;
    let decode = |text: Option<&str>| Hash::from_hex(text?).ok();
    let head_hash = decode(Some(&head.line_sha256)).ok_or_else(empty)?;
    let history = decode(report.history_sha256.as_deref()).ok_or_else(empty)?;
    let (key, key_created) = CheckpointKey::load_or_create(key_path)?;
    let (checkpoint, created) = match existing.last() {
        Some(last)
            if last.lines == head.line
                && last.head == head_hash
                && last.history == history
                && last.public_key == key.public_key() =>
        {
            (last.clone(), false)
        }
        _ => {
            let statement = Statement {
                ledger: name,
                lines: head.line,
                head: head_hash,
                history,
                time: time.to_owned(),
            };
            (anchor.record(&key, &statement)?, true)
        }
    };
    drop(lock);
    // The witness follows the ref; a rolled-back ref fails the verification above first.
    if let (Some(dir), Some(w)) = (witness_dir, anchor.tip_witness()) {
        witness::write(dir, anchor, &w)?;
    }
    Ok(CheckpointOutcome {
        checkpoint,
        created,
        key_created,
    })
}

#[cfg(test)]
mod race_tests;
