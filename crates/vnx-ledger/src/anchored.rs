//! One anchored checkpoint as read back from `refs/vnx/checkpoints`: what it states about the
//! ledger and whether its signature holds. `verify` checks a ledger against these; making,
//! signing and anchoring them is `checkpoint`'s.

use crate::line::Hash;

/// One anchored checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Checkpoint {
    /// The commit holding it (abbreviated).
    pub id: String,
    /// The ledger it is about: its path relative to the repository root.
    pub ledger: String,
    /// How many ledger lines it covers.
    pub lines: u64,
    /// SHA-256 of line `lines`.
    #[serde(serialize_with = "ser_hex")]
    pub head: Hash,
    /// SHA-256 over the SHA-256 of lines 1..`lines` in order: covers every line, whatever
    /// its links (legacy lines, foreign markers and blank lines have no byte link).
    #[serde(serialize_with = "ser_hex")]
    pub history: Hash,
    /// When it was made (RFC 3339, UTC).
    pub time: String,
    /// The key that signed it.
    #[serde(serialize_with = "ser_hex")]
    pub public_key: [u8; 32],
    /// Whether the signature verifies under `public_key`.
    pub signature_ok: bool,
}

fn ser_hex<S: serde::Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(h))
}
