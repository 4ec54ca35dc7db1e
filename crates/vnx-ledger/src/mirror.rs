//! Hosts' ledger lines as this ledger mirrors them (`remote_receipt`), the receipts
//! re-attested from them (those with a `remote` member), and the offline check
//! `audit-chain verify` makes of each host's mirrored segment: every line's hash recomputed,
//! each line linked to the one before it (`prev_line_sha256`), no line mirrored twice with
//! different bytes, no line skipped, every re-attested receipt backed by a mirrored line, and
//! every fetched host checkpoint agreeing with the mirrored line it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sha2::Digest;

use crate::LedgerError;
use crate::json::{self, Mode, Object, Value};
use crate::receipts::{self, RemoteReceipt};
use crate::tail;
use crate::verify::{Violation, ViolationKind};

/// Bytes every mirrored line and every re-attested receipt holds (the start of the key
/// `remote_receipt` or `remote`): the lines [`Mirrors::from_lines`] needs.
pub const NEEDLE: &[u8] = b"\"remote";

/// One mirrored host line, as this ledger holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Mirrored {
    /// Its line number in this ledger.
    pub local_line: u64,
    /// The receipt.
    pub receipt: RemoteReceipt,
}

/// A receipt re-attested here from a mirrored line: what its `remote` member names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Its line number in this ledger.
    pub local_line: u64,
    /// The host.
    pub host: String,
    /// The host line it was made from.
    pub remote_seq: u64,
    /// That line's SHA-256.
    pub line_sha256: String,
}

/// What this ledger holds about remote hosts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mirrors {
    /// Every mirrored line, in ledger order.
    pub lines: Vec<Mirrored>,
    /// Every re-attested receipt, in ledger order.
    pub origins: Vec<Origin>,
}

impl Mirrors {
    /// Reads them from `ledger` (none when it does not exist).
    pub fn read(ledger: &Path) -> Result<Mirrors, LedgerError> {
        if !ledger.exists() {
            return Ok(Mirrors::default());
        }
        Ok(Mirrors::from_lines(tail::numbered_lines_containing(
            ledger, NEEDLE,
        )?))
    }

    /// Reads them from the ledger's complete lines that hold [`NEEDLE`], numbered, in order
    /// (other lines may be among them).
    pub fn from_lines(lines: impl IntoIterator<Item = (u64, Vec<u8>)>) -> Mirrors {
        let mut out = Mirrors::default();
        for (n, line) in lines {
            let Ok(text) = std::str::from_utf8(&line) else {
                continue;
            };
            let Ok(Value::Object(o)) = json::parse(text, Mode::Python) else {
                continue;
            };
            if let Some(r) = receipts::read::<RemoteReceipt>(&o) {
                out.lines.push(Mirrored {
                    local_line: n,
                    receipt: r.receipt,
                });
            } else if let Some(origin) = origin_of(&o) {
                out.origins.push(Origin {
                    local_line: n,
                    ..origin
                });
            }
        }
        out
    }

    /// The last line mirrored from `host`: its number there and its hash.
    pub fn last(&self, host: &str) -> Option<(u64, String)> {
        self.lines
            .iter()
            .rev()
            .find(|m| m.receipt.host == host)
            .map(|m| (m.receipt.remote_seq, m.receipt.line_sha256.clone()))
    }

    /// The host lines of `host` already re-attested here.
    pub fn translated(&self, host: &str) -> BTreeSet<u64> {
        self.origins
            .iter()
            .filter(|o| o.host == host)
            .map(|o| o.remote_seq)
            .collect()
    }
}

/// The `remote` member of a re-attested receipt.
fn origin_of(o: &Object<'_>) -> Option<Origin> {
    let Value::Object(r) = o.get("remote")? else {
        return None;
    };
    Some(Origin {
        local_line: 0,
        host: r.get("host")?.as_str()?.to_owned(),
        remote_seq: r.get("remote_seq")?.as_u64()?,
        line_sha256: r.get("line_sha256")?.as_str()?.to_owned(),
    })
}

/// SHA-256 of a line's bytes, in hex.
pub fn line_sha256(line: &str) -> String {
    hex::encode(sha2::Sha256::digest(line.as_bytes()))
}

/// A line's own `seq` and `prev_line_sha256`, as it holds them.
pub fn links_of(line: &str) -> (Option<u64>, Option<String>) {
    match json::parse(line, Mode::Python) {
        Ok(Value::Object(o)) => (
            o.get("seq").and_then(Value::as_u64),
            o.get(crate::line::PREV_LINE)
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        _ => (None, None),
    }
}

/// A host's checkpoint: (host, lines it covers, the hash of its last line).
pub type HostCheckpoint = (String, u64, String);

/// Checks every host's mirrored segment and every re-attested receipt in `mirrors`, and the
/// host checkpoints given: a violation (of a `Remote…` kind) for each problem.
pub fn check(mirrors: &Mirrors, checkpoints: &[HostCheckpoint]) -> Vec<Violation> {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<&str, BTreeMap<u64, String>> = BTreeMap::new();
    let mut last: BTreeMap<&str, (u64, String)> = BTreeMap::new();
    let mut origins = mirrors.origins.iter().peekable();
    let mut problem = |line: u64, kind: ViolationKind, detail: String| {
        problems.push(Violation::new(line, kind, detail));
    };
    for m in &mirrors.lines {
        // Re-attested receipts written before this mirrored line are checked against what was
        // mirrored before it.
        while let Some(o) = origins.next_if(|o| o.local_line < m.local_line) {
            check_origin(o, &seen, &mut problem);
        }
        let r = &m.receipt;
        let host = r.host.as_str();
        let hash = line_sha256(&r.line);
        if hash != r.line_sha256 {
            problem(
                m.local_line,
                ViolationKind::RemoteHashMismatch,
                format!(
                    "mirrored line {} of host `{host}` hashes to {hash}, not the recorded {}",
                    r.remote_seq, r.line_sha256
                ),
            );
        }
        let (seq, prev) = links_of(&r.line);
        if seq.is_some_and(|s| s != r.remote_seq) {
            problem(
                m.local_line,
                ViolationKind::RemoteSeqMismatch,
                format!(
                    "mirrored line {} of host `{host}` says it is line {}",
                    r.remote_seq,
                    seq.unwrap_or_default()
                ),
            );
        }
        let host_seen = seen.entry(host).or_default();
        if let Some(before) = host_seen.get(&r.remote_seq) {
            if *before != hash {
                problem(
                    m.local_line,
                    ViolationKind::RemoteRewritten,
                    format!(
                        "host `{host}` rewrote its line {}: mirrored as {before}, now {hash}",
                        r.remote_seq
                    ),
                );
            }
            continue;
        }
        if let Some((last_seq, last_hash)) = last.get(host) {
            if r.remote_seq != last_seq + 1 {
                problem(
                    m.local_line,
                    ViolationKind::RemoteMissingLines,
                    format!(
                        "host `{host}`'s lines {}..{} were never mirrored (line {} follows line {last_seq})",
                        last_seq + 1,
                        r.remote_seq.saturating_sub(1),
                        r.remote_seq
                    ),
                );
            } else if prev.as_deref() != Some(last_hash.as_str()) {
                problem(
                    m.local_line,
                    ViolationKind::RemoteLinkMismatch,
                    format!(
                        "host `{host}`'s line {} links to {}, but line {last_seq} hashed to {last_hash}",
                        r.remote_seq,
                        prev.as_deref().unwrap_or("nothing")
                    ),
                );
            }
        }
        host_seen.insert(r.remote_seq, hash.clone());
        last.insert(host, (r.remote_seq, hash));
    }
    for o in origins {
        check_origin(o, &seen, &mut problem);
    }
    for (host, lines, head) in checkpoints {
        if let Some(mirrored) = seen.get(host.as_str()).and_then(|s| s.get(lines))
            && mirrored != head
        {
            problem(
                mirrors.lines.last().map_or(0, |m| m.local_line),
                ViolationKind::RemoteCheckpointMismatch,
                format!(
                    "host `{host}`'s checkpoint of {lines} lines names head {head}, but its line \
                     {lines} was mirrored as {mirrored}"
                ),
            );
        }
    }
    problems
}

fn check_origin(
    o: &Origin,
    seen: &BTreeMap<&str, BTreeMap<u64, String>>,
    problem: &mut impl FnMut(u64, ViolationKind, String),
) {
    let mirrored = seen.get(o.host.as_str()).and_then(|s| s.get(&o.remote_seq));
    if mirrored != Some(&o.line_sha256) {
        problem(
            o.local_line,
            ViolationKind::RemoteUnmirrored,
            format!(
                "a receipt re-attested from host `{}`'s line {} ({}) has no such mirrored line \
                 before it",
                o.host, o.remote_seq, o.line_sha256
            ),
        );
    }
}
