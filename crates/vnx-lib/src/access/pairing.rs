//! The one-time code that pairs a device with `vnx serve`: eight characters a person can read
//! off a terminal (no 0/O, 1/I), good for one pairing within ten minutes, and refused for
//! good after five wrong tries (the server then makes a new one only when asked at its
//! terminal). It lives in the server's memory only.

use std::time::Duration;

use super::{AccessError, random, same_secret};

/// How long a code pairs.
pub const LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Wrong codes tried before a code is refused for good.
pub const TRIES: u32 = 5;
/// The characters of a code.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Why a code did not pair.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    /// Not the code.
    #[error("that is not the pairing code ({left} tries left)")]
    Wrong {
        /// Tries left before the code is refused for good.
        left: u32,
    },
    /// Too many wrong codes were tried.
    #[error("too many wrong codes: pairing is closed until a new code is made at the server")]
    Locked,
    /// The code is too old.
    #[error("the pairing code expired: make a new one at the server")]
    Expired,
    /// The code paired a device already.
    #[error("the pairing code was used: make a new one at the server")]
    Used,
}

/// One pairing code and what became of it.
#[derive(Debug)]
pub struct Pairing {
    code: String,
    expires: jiff::Timestamp,
    failures: u32,
    used: bool,
}

impl Pairing {
    /// A new code, good from `now` for [`LIFETIME`].
    pub fn new(now: jiff::Timestamp) -> Result<Pairing, AccessError> {
        let bytes = random::<8>()?;
        let code = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
            .collect();
        Ok(Pairing {
            code,
            expires: now + LIFETIME,
            failures: 0,
            used: false,
        })
    }

    /// The code as shown: `ABCD-EFGH`.
    pub fn shown(&self) -> String {
        format!("{}-{}", &self.code[..4], &self.code[4..])
    }

    /// When it stops pairing.
    pub fn expires(&self) -> jiff::Timestamp {
        self.expires
    }

    /// Tries `given` (case, spaces and dashes ignored) at `now`; on success the code is used.
    pub fn try_code(&mut self, given: &str, now: jiff::Timestamp) -> Result<(), PairError> {
        if self.used {
            return Err(PairError::Used);
        }
        if self.failures >= TRIES {
            return Err(PairError::Locked);
        }
        if now > self.expires {
            return Err(PairError::Expired);
        }
        let given: String = (given.chars())
            .filter(|c| !matches!(c, '-' | ' '))
            .flat_map(char::to_uppercase)
            .take(64)
            .collect();
        if !same_secret(given.as_bytes(), self.code.as_bytes()) {
            self.failures += 1;
            return Err(match TRIES - self.failures {
                0 => PairError::Locked,
                left => PairError::Wrong { left },
            });
        }
        self.used = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn a_code_pairs_once_in_its_lifetime() {
        let mut p = Pairing::new(at(0)).unwrap();
        let shown = p.shown();
        assert_eq!(shown.len(), 9);
        assert!(
            shown
                .chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
        );
        assert_eq!(
            p.try_code(&shown.to_lowercase().replace('-', " "), at(5)),
            Ok(())
        );
        assert_eq!(p.try_code(&shown, at(6)), Err(PairError::Used));
        let mut late = Pairing::new(at(0)).unwrap();
        let code = late.shown();
        assert_eq!(
            late.try_code(&code, at(LIFETIME.as_secs() as i64 + 1)),
            Err(PairError::Expired)
        );
    }

    #[test]
    fn five_wrong_codes_lock_it_even_for_the_right_one() {
        let mut p = Pairing::new(at(0)).unwrap();
        let right = p.shown();
        for left in (1..TRIES).rev() {
            assert_eq!(
                p.try_code("AAAA-AAAA", at(1)),
                Err(PairError::Wrong { left })
            );
        }
        assert_eq!(p.try_code("AAAA-AAAA", at(1)), Err(PairError::Locked));
        assert_eq!(p.try_code(&right, at(2)), Err(PairError::Locked));
    }
}
