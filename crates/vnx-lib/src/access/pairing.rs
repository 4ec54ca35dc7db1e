//! The one-time code that pairs a device with `vnx serve`: eight characters a person can read
//! off a terminal (no 0/O, 1/I), good for one pairing within ten minutes. Wrong codes are
//! counted per client (its address; an IPv6 address's /64 as one): five from one client close
//! pairing for that client only, until the terminal makes a new code, so no outsider's
//! guesses burn the code the person was shown. Past [`CLIENTS`] addresses every other one
//! shares one count, so a code meets at most about twenty thousand wrong tries in all
//! (against 2^40 codes) however many addresses try. It lives in the server's memory only.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::{AccessError, random, same_secret};

/// How long a code pairs.
pub const LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Wrong codes one client may try before pairing is closed to it.
pub const TRIES: u32 = 5;
/// Clients whose wrong codes are counted one by one; beyond them, every other client shares
/// one count (memory stays bounded whatever the number of addresses that try).
pub const CLIENTS: usize = 4096;
/// The characters of a code.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Why a code did not pair.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    /// Not the code.
    #[error("that is not the pairing code ({left} tries left from this address)")]
    Wrong {
        /// Tries this client has left.
        left: u32,
    },
    /// This client tried too many wrong codes.
    #[error(
        "too many wrong codes from this address: pairing is closed to it until a new code is \
         made at the server (Enter in its terminal)"
    )]
    Locked,
    /// The code is too old.
    #[error("the pairing code expired: make a new one at the server")]
    Expired,
    /// The code paired a device already.
    #[error("the pairing code was used: make a new one at the server")]
    Used,
}

/// Who tried a code, as wrong tries are counted: an IPv4 address (an IPv4-mapped IPv6 one
/// too), an IPv6 address's /64 (one host's usual share), or, past [`CLIENTS`], everyone
/// else at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    /// One IPv4 address.
    V4([u8; 4]),
    /// An IPv6 /64.
    V6([u8; 8]),
    /// Every client past the ones counted one by one.
    Others,
}

impl Client {
    /// The client a request from `ip` counts as.
    pub fn of(ip: IpAddr) -> Client {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(v4) => Client::V4(v4.octets()),
            IpAddr::V6(v6) => {
                let mut prefix = [0u8; 8];
                prefix.copy_from_slice(&v6.octets()[..8]);
                Client::V6(prefix)
            }
        }
    }
}

/// One pairing code and what became of it.
#[derive(Debug)]
pub struct Pairing {
    code: String,
    expires: jiff::Timestamp,
    wrong: HashMap<Client, u32>,
    used: bool,
}

impl Pairing {
    /// A new code, good from `now` for [`LIFETIME`], with no wrong tries counted.
    pub fn new(now: jiff::Timestamp) -> Result<Pairing, AccessError> {
        let bytes = random::<8>()?;
        let code = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
            .collect();
        Ok(Pairing {
            code,
            expires: now + LIFETIME,
            wrong: HashMap::new(),
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

    /// Tries `given` (case, spaces and dashes ignored) from `from` at `now`; on success the
    /// code is used. A client that tried [`TRIES`] wrong codes is refused without its code
    /// being looked at; no other client's count changes.
    pub fn try_code(
        &mut self,
        given: &str,
        from: IpAddr,
        now: jiff::Timestamp,
    ) -> Result<(), PairError> {
        if self.used {
            return Err(PairError::Used);
        }
        let mut client = Client::of(from);
        if !self.wrong.contains_key(&client) && self.wrong.len() >= CLIENTS {
            client = Client::Others;
        }
        let wrong = self.wrong.get(&client).copied().unwrap_or(0);
        if wrong >= TRIES {
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
            self.wrong.insert(client, wrong + 1);
            return Err(match TRIES - (wrong + 1) {
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

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
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
        let phone = ip("192.0.2.7");
        assert_eq!(
            p.try_code(&shown.to_lowercase().replace('-', " "), phone, at(5)),
            Ok(())
        );
        assert_eq!(p.try_code(&shown, phone, at(6)), Err(PairError::Used));
        let mut late = Pairing::new(at(0)).unwrap();
        let code = late.shown();
        assert_eq!(
            late.try_code(&code, phone, at(LIFETIME.as_secs() as i64 + 1)),
            Err(PairError::Expired)
        );
    }

    #[test]
    fn five_wrong_codes_close_pairing_to_that_client_only() {
        let mut p = Pairing::new(at(0)).unwrap();
        let right = p.shown();
        let guesser = ip("198.51.100.9");
        for left in (1..TRIES).rev() {
            assert_eq!(
                p.try_code("AAAA-AAAA", guesser, at(1)),
                Err(PairError::Wrong { left })
            );
        }
        assert_eq!(
            p.try_code("AAAA-AAAA", guesser, at(1)),
            Err(PairError::Locked)
        );
        assert_eq!(p.try_code(&right, guesser, at(2)), Err(PairError::Locked));
        // Another client still pairs with the same code.
        assert_eq!(p.try_code(&right, ip("192.0.2.7"), at(3)), Ok(()));
    }

    #[test]
    fn a_v6_64_counts_as_one_client_and_past_the_bound_the_rest_share_one_count() {
        assert_ne!(Client::of(ip("127.0.0.1")), Client::of(ip("127.0.0.2")));
        assert_eq!(
            Client::of(ip("::ffff:192.0.2.7")),
            Client::of(ip("192.0.2.7"))
        );
        assert_eq!(
            Client::of(ip("2001:db8:1:2::1")),
            Client::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            Client::of(ip("2001:db8:1:2::1")),
            Client::of(ip("2001:db8:1:3::1"))
        );
        let mut p = Pairing::new(at(0)).unwrap();
        let right = p.shown();
        for n in 0..CLIENTS as u32 {
            let from = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            assert!(matches!(
                p.try_code("AAAA-AAAA", from, at(1)),
                Err(PairError::Wrong { .. })
            ));
        }
        let past = |n: u32| IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + n));
        for n in 0..TRIES {
            let _ = p.try_code("AAAA-AAAA", past(n), at(1));
        }
        assert_eq!(p.try_code(&right, past(99), at(2)), Err(PairError::Locked));
        // A client counted one by one still pairs.
        assert_eq!(p.try_code(&right, ip("10.0.0.3"), at(2)), Ok(()));
    }
}
