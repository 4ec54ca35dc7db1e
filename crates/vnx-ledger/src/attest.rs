//! Attestations: vnx's Ed25519 signature on the receipts it writes itself (dispatches, gates,
//! merges, releases, constraint decisions), so that evidence that decides a merge cannot be
//! written by anyone without the signing key — a worker appending through `vnx receipts
//! append`, or writing the ledger file directly, produces receipts that do not count.
//!
//! The signature covers the receipt as it is written, less the chain fields the ledger adds
//! (`seq`, `prev_hash`, `prev_line_sha256`): [`Attestor::attest`] stamps `timestamp` and
//! `schema_version` first, so nothing the ledger adds later is left unsigned.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use std::path::Path;

use super::checkpoint::{self, Anchor, CheckpointError, CheckpointKey};
use super::json::{self, Object, Value};
use super::line::{PREV_HASH, PREV_LINE};
use super::receipt::{Receipt, SCHEMA_VERSION};

/// The member that carries an attestation: `{"key": <hex public key>, "sig": <hex>}`.
pub const FIELD: &str = "vnx_attestation";
const DOMAIN: &[u8] = b"vnx-receipt-attestation v1\n";

/// Event types vnx writes itself, by prefix or whole name, with the command that writes them.
const OWNED: &[(&str, &str)] = &[
    ("dispatch_accepted", "vnx accept"),
    ("dispatch_dismissed", "vnx dismiss"),
    ("dispatch_cancel_requested", "vnx cancel"),
    ("pr_", "vnx pr open, vnx pr merge and vnx pr watch"),
    ("review_comment", "vnx review"),
    ("review_sent", "vnx review --send"),
    ("schedule_", "vnx schedule run (and vnx serve)"),
    ("issue_", "vnx run --issue and vnx pr watch"),
    ("plan_", "vnx approve and vnx deny"),
    ("memory_", "vnx memory promote and vnx memory drop"),
    ("budget_", "vnx dispatch-agent (and vnx approve --budget)"),
    (
        "dispatch_",
        "vnx dispatch-agent (a worker reports with `vnx report`)",
    ),
    ("constraint_", "vnx dispatch-agent"),
    (
        "queue_",
        "vnx dispatch-agent (and whichever vnx command starts a queued dispatch)",
    ),
    ("gate_", "vnx gate-check"),
    ("group_", "vnx best-of (and vnx group decide)"),
    ("merge", "vnx merge"),
    ("worktree_", "vnx worktree-release"),
    ("release", "vnx worktree-release"),
    ("checkpoint", "vnx audit-chain checkpoint"),
    (
        "ledger_",
        "vnx receipts append (the ledger writes these itself)",
    ),
    ("chain_", "vnx audit-chain seal"),
    (
        "remote_",
        "vnx dispatch-agent --host (and the commands that catch up with a host)",
    ),
];

/// Whether `event` is a kind vnx signs: those it owns, less the ledger's own records (repair
/// records and epoch markers, which the ledger writes unsigned).
pub fn is_attested_kind(event: &str) -> bool {
    owner_command(event).is_some() && !event.starts_with("ledger_") && !event.starts_with("chain_")
}

/// Whether `event` is a kind only vnx itself writes; if so, the command that writes it.
pub fn owner_command(event: &str) -> Option<&'static str> {
    OWNED
        .iter()
        .find(|(prefix, _)| event.starts_with(prefix))
        .map(|(_, command)| *command)
}

/// Signs the receipts vnx writes, with the local key (the checkpoint key).
pub struct Attestor {
    key: SigningKey,
}

impl std::fmt::Debug for Attestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attestor")
            .field("public_key", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

/// The bytes a signature covers: a domain tag and the canonical receipt without its chain
/// fields and its attestation.
fn message(object: &Object<'_>) -> Vec<u8> {
    let mut o = object.clone();
    for field in [PREV_HASH, PREV_LINE, "seq", FIELD] {
        o.remove(field);
    }
    let mut out = DOMAIN.to_vec();
    json::write_object(&o, None, &mut out);
    out
}

impl Attestor {
    /// Signs with the machine's checkpoint key.
    pub fn new(key: &CheckpointKey) -> Attestor {
        Attestor {
            key: key.signing_key().clone(),
        }
    }

    /// The key itself, for the DSSE envelopes of in-toto attestations (`intoto`).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The public half of the key, as attestations carry it.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// A secret for `purpose` that only a holder of this key can make again: HMAC-SHA-256
    /// keyed by the signing key, over a domain tag and `purpose`. The same key and purpose
    /// give the same secret in any later process (e.g. a dispatch's report seal, checked
    /// again after its supervisor is gone).
    pub fn derive_secret(&self, purpose: &str) -> [u8; 32] {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key.to_bytes())
            .expect("HMAC takes any key");
        mac.update(b"vnx derived secret v1\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The receipt with `timestamp` (from `now`, when absent), `schema_version` and its
    /// attestation. An attestation already there is replaced.
    pub fn attest(&self, receipt: &Receipt, now: &dyn Fn() -> String) -> Receipt {
        let mut o = receipt.object().clone();
        o.remove(FIELD);
        if !o.contains_key("schema_version") {
            o.insert("schema_version", Value::int(SCHEMA_VERSION));
        }
        if !o.contains_key("timestamp") {
            o.insert("timestamp", Value::string(now()));
        }
        let sig: Signature = self.key.sign(&message(&o));
        let mut a = Object::default();
        a.insert("key", Value::string(hex::encode(self.public_key())));
        a.insert("sig", Value::string(hex::encode(sig.to_bytes())));
        o.insert(FIELD, Value::Object(a));
        Receipt::internal(o)
    }
}

/// What a receipt's attestation says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attestation {
    /// Signed by a trusted key.
    Valid {
        /// The trusted key that signed.
        key: [u8; 32],
    },
    /// No attestation.
    Missing,
    /// Not of the form `{"key": hex, "sig": hex}`.
    Malformed,
    /// The signature does not verify: the receipt was changed after signing, or forged.
    BadSignature {
        /// The key the attestation names.
        key: [u8; 32],
    },
    /// A correct signature by a key this repository does not trust.
    Untrusted {
        /// The key that signed.
        key: [u8; 32],
    },
}

impl Attestation {
    /// Whether a trusted key signed it.
    pub fn is_valid(&self) -> bool {
        matches!(self, Attestation::Valid { .. })
    }

    /// A short description, for reports ("no vnx attestation", …).
    pub fn describe(&self) -> String {
        match self {
            Attestation::Valid { key } => format!("attested by key {}", fingerprint(key)),
            Attestation::Missing => "carries no vnx attestation".into(),
            Attestation::Malformed => "carries a malformed vnx attestation".into(),
            Attestation::BadSignature { key } => format!(
                "carries a signature by key {} that does not verify",
                fingerprint(key)
            ),
            Attestation::Untrusted { key } => {
                format!(
                    "is signed by key {}, which is not trusted",
                    fingerprint(key)
                )
            }
        }
    }
}

/// The keys whose attestations count for the ledger at `ledger`: the local attestor's and
/// those listed in the repository's `.vnx/checkpoint-keys` (so a CI runner can merge what a
/// laptop dispatched). Unlike checkpoints, no list never means "any key": a worker can make
/// a key of its own.
pub fn trusted_keys(ledger: &Path, local: &Attestor) -> Result<Vec<[u8; 32]>, CheckpointError> {
    let mut keys = match Anchor::find(ledger)? {
        Some(anchor) => checkpoint::trusted_keys(&anchor, None)?,
        None => Vec::new(),
    };
    keys.push(local.public_key());
    Ok(keys)
}

/// A receipt of a kind vnx signs that no trusted key attests.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Unattested {
    /// Its line number (`None` on lines without one).
    pub seq: Option<u64>,
    /// Its `event_type`.
    pub event_type: String,
    /// The dispatch it claims to be about.
    pub dispatch_id: Option<String>,
    /// What its attestation says.
    #[serde(skip)]
    pub attestation: Attestation,
    /// What is wrong with its attestation.
    pub problem: String,
}

/// The receipts of kinds vnx signs that no trusted key attests, from the first attested
/// receipt on (receipts written before vnx signed its receipts are not held against it).
pub fn unattested(
    ledger: &Path,
    trusted: &[[u8; 32]],
) -> Result<Vec<Unattested>, super::LedgerError> {
    let patterns: Vec<Vec<u8>> = OWNED
        .iter()
        .map(|(prefix, _)| format!("\"event_type\":\"{prefix}").into_bytes())
        .collect();
    let (lines, _) = super::tail::last_lines(ledger, usize::MAX, |l| {
        patterns
            .iter()
            .any(|p| memchr::memmem::find(l, p).is_some())
    })?;
    let mut found = Vec::new();
    let mut signing = false;
    for raw in lines {
        let Some(o) = json::object_of_line(&raw) else {
            continue;
        };
        let event = o
            .get("event_type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !is_attested_kind(event) {
            continue;
        }
        let attestation = check(&o, trusted);
        signing |= o.contains_key(FIELD);
        if signing && !attestation.is_valid() {
            found.push(Unattested {
                seq: o.get("seq").and_then(Value::as_u64),
                event_type: event.to_owned(),
                dispatch_id: o
                    .get("dispatch_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                problem: attestation.describe(),
                attestation,
            });
        }
    }
    Ok(found)
}

/// The first 16 hex digits of a public key.
pub fn fingerprint(key: &[u8; 32]) -> String {
    hex::encode(&key[..8])
}

/// Checks a receipt (as read back from the ledger) against the trusted keys.
pub fn check(object: &Object<'_>, trusted: &[[u8; 32]]) -> Attestation {
    let Some(a) = object.get(FIELD) else {
        return Attestation::Missing;
    };
    let decode = |name: &str, out: &mut [u8]| {
        a.as_object()
            .and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .and_then(|h| hex::decode_to_slice(h, out).ok())
    };
    let (mut key, mut sig) = ([0u8; 32], [0u8; 64]);
    if decode("key", &mut key).is_none() || decode("sig", &mut sig).is_none() {
        return Attestation::Malformed;
    }
    let Ok(verifying) = VerifyingKey::from_bytes(&key) else {
        return Attestation::Malformed;
    };
    let sig = Signature::from_bytes(&sig);
    if verifying.verify(&message(object), &sig).is_err() {
        return Attestation::BadSignature { key };
    }
    if trusted.contains(&key) {
        Attestation::Valid { key }
    } else {
        Attestation::Untrusted { key }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Mode;

    fn attestor() -> (tempfile::TempDir, Attestor) {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = CheckpointKey::load_or_create(&dir.path().join("k/key")).unwrap();
        (dir, Attestor::new(&key))
    }

    fn parse(text: &[u8]) -> Object<'static> {
        match json::parse(std::str::from_utf8(text).unwrap(), Mode::Python).unwrap() {
            Value::Object(o) => o.into_owned(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn an_attested_receipt_verifies_after_the_ledger_stamps_it() {
        let (dir, a) = attestor();
        let r = Receipt::from_json(
            br#"{"event_type":"gate_result","dispatch_id":"D-1","verdict":"pass","n":1.5}"#,
        )
        .unwrap();
        let signed = a.attest(&r, &|| "2026-01-01T00:00:00Z".into());
        let ledger = crate::Ledger::new(dir.path().join("l.ndjson"));
        ledger.append(&signed).unwrap();
        ledger.append(&signed).unwrap();
        let text = std::fs::read(dir.path().join("l.ndjson")).unwrap();
        let trusted = [a.public_key()];
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let o = parse(line);
            assert_eq!(
                check(&o, &trusted),
                Attestation::Valid {
                    key: a.public_key()
                }
            );
            assert!(matches!(check(&o, &[]), Attestation::Untrusted { .. }));
        }
    }

    #[test]
    fn changes_forgeries_and_strangers_do_not_count() {
        let (_d1, a) = attestor();
        let (_d2, stranger) = attestor();
        let trusted = [a.public_key()];
        let r = Receipt::from_json(br#"{"event_type":"gate_result","verdict":"pass"}"#).unwrap();
        let now = || "2026-01-01T00:00:00Z".to_owned();
        let signed = a.attest(&r, &now).object().clone();
        assert!(check(&signed, &trusted).is_valid());

        let mut changed = signed.clone();
        changed.insert("verdict", Value::string("fail"));
        assert!(matches!(
            check(&changed, &trusted),
            Attestation::BadSignature { .. }
        ));
        assert_eq!(check(r.object(), &trusted), Attestation::Missing);
        let mut junk = signed.clone();
        junk.insert(FIELD, Value::string("x"));
        assert_eq!(check(&junk, &trusted), Attestation::Malformed);
        let by_stranger = stranger.attest(&r, &now).object().clone();
        assert_eq!(
            check(&by_stranger, &trusted),
            Attestation::Untrusted {
                key: stranger.public_key()
            }
        );
    }

    #[test]
    fn owned_kinds() {
        for e in [
            "dispatch_started",
            "dispatch_completed",
            "dispatch_accepted",
            "dispatch_dismissed",
            "dispatch_cancel_requested",
            "pr_opened",
            "review_comment",
            "review_sent",
            "plan_approved",
            "plan_denied",
            "budget_warning",
            "budget_reached",
            "budget_raised",
            "schedule_fired",
            "schedule_skipped",
            "issue_taken",
            "issue_released",
            "gate_result",
            "merge_completed",
            "merge",
            "worktree_released",
            "constraint_decision",
            "checkpoint",
            "ledger_repair",
            "chain_epoch_start",
        ] {
            assert!(owner_command(e).is_some(), "{e}");
        }
        for e in ["task_complete", "note", "progress", "review_note"] {
            assert_eq!(owner_command(e), None, "{e}");
        }
    }
}
