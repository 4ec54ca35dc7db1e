//! The history digest a checkpoint signs (SHA-256 over the SHA-256 of every complete line,
//! in order), kept as a running state that can be stored and resumed: a reader that verified
//! a prefix once carries the state at its end, and checks a checkpoint anchored later at a
//! line after it by hashing only the lines between.

use sha2::digest::common::hazmat::{SerializableState, SerializedState};
use sha2::{Digest, Sha256};

use crate::line::Hash;

/// The running history digest through some line.
#[derive(Clone, Default)]
pub struct History(Sha256);

impl History {
    /// The digest of no line yet.
    pub fn new() -> History {
        History::default()
    }

    /// The state `sha` holds (the verifier's own running digest).
    pub(crate) fn of(sha: Sha256) -> History {
        History(sha)
    }

    /// Takes in the next line's SHA-256.
    pub fn update(&mut self, line_hash: &Hash) {
        self.0.update(line_hash);
    }

    /// The digest through the last line taken in (what a checkpoint at that line signs).
    pub fn digest(&self) -> Hash {
        self.0.clone().finalize().into()
    }

    /// The state as bytes, for [`History::from_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.serialize().to_vec()
    }

    /// The state [`History::to_bytes`] wrote; `None` for bytes that are not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<History> {
        let state = SerializedState::<Sha256>::try_from(bytes).ok()?;
        Sha256::deserialize(&state).ok().map(History)
    }
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "History({})", hex::encode(self.digest()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_state_resumes_where_it_stopped() {
        let lines: Vec<Hash> = (0u8..200).map(|i| Sha256::digest([i]).into()).collect();
        let mut whole = History::new();
        lines.iter().for_each(|h| whole.update(h));
        for cut in [0, 1, 2, 63, 64, 65, 199] {
            let mut first = History::new();
            lines[..cut].iter().for_each(|h| first.update(h));
            let mut resumed = History::from_bytes(&first.to_bytes()).unwrap();
            lines[cut..].iter().for_each(|h| resumed.update(h));
            assert_eq!(resumed.digest(), whole.digest(), "cut at {cut}");
        }
        let mut direct = Sha256::new();
        lines.iter().for_each(|h| direct.update(h));
        assert_eq!(whole.digest(), <Hash>::from(direct.finalize()));
        assert!(History::from_bytes(b"short").is_none());
    }
}
