//! Names vnx makes and checks: fresh dispatch ids, the kebab-case ids of constraints and
//! rules, and names as route matching compares them.

/// A fresh dispatch id: `D-` and 12 random lowercase hex digits. 48 bits keep ids from many
/// machines (remote hosts, merged ledgers) apart: even odds of one collision only near 16.7
/// million dispatches, where 32 bits reached them near 77,000. Ids of 8 digits, made before,
/// stay valid everywhere.
pub fn new_dispatch_id() -> String {
    let mut bytes = [0u8; 6];
    // An all-zero id on a failing RNG would collide; fall back to time and pid instead.
    if getrandom::fill(&mut bytes).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        bytes.copy_from_slice(&t.to_le_bytes()[..6]);
    }
    format!("D-{}", hex::encode(bytes))
}

/// Whether `s` is a valid dispatch id (`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`).
pub fn is_dispatch_id(s: &str) -> bool {
    let mut b = s.bytes();
    s.len() <= 64
        && b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// A value as route matching compares it.
pub fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Whether `id` is a kebab-case id (1 to 64 characters; lowercase ASCII letters and digits in
/// words joined by single hyphens), as constraint and rule ids are.
pub fn is_kebab(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_twelve_hex_digits_and_valid_ids() {
        let ids: std::collections::HashSet<String> = (0..64).map(|_| new_dispatch_id()).collect();
        assert_eq!(ids.len(), 64);
        for id in &ids {
            let hex = id.strip_prefix("D-").unwrap();
            assert_eq!(hex.len(), 12, "{id}");
            assert!(
                hex.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert!(is_dispatch_id(id));
        }
    }

    #[test]
    fn ids_are_kebab_case() {
        for ok in ["a", "no-skip-permissions", "t0-opus-only"] {
            assert!(is_kebab(ok), "{ok}");
        }
        for bad in ["", "A", "a--b", "-a", "a-", "a_b", &"a".repeat(65)] {
            assert!(!is_kebab(bad), "{bad}");
        }
    }
}
