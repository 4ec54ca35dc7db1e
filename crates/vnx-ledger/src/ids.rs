//! The ids receipts carry, as types checked when made and when read: dispatch ids, group
//! ids and git commit ids, and the times vnx records (RFC 3339, UTC). A value of one of these types is known to be well formed, so code
//! that holds one never checks it again, and the published schema states each form.

use std::borrow::Borrow;
use std::fmt;
use std::path::Path;

pub use vnx_core::ids::{is_dispatch_id, is_kebab, new_dispatch_id, norm};

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a {kind}: {form}")]
pub struct BadId {
    /// What was given.
    pub value: String,
    /// What kind of id was expected (`dispatch id`, `group id`, `commit id`).
    pub kind: &'static str,
    /// The form that kind takes, in words.
    pub form: &'static str,
}

/// `PartialEq` both ways between an id type and each text type, comparing the text.
macro_rules! text_eq {
    ($name:ident: $($text:ty),+) => {$(
        impl PartialEq<$text> for $name {
            fn eq(&self, other: &$text) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for $text {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    )+};
}

macro_rules! string_id {
    (
        $(#[$meta:meta])*
        $name:ident, kind = $kind:literal, form = $form:literal,
        pattern = $pattern:literal, max = $max:literal, check = $check:path
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The id `s`, if it has the id's form.
            pub fn parse(s: &str) -> Result<$name, BadId> {
                $name::try_from(s.to_owned())
            }

            /// Whether `s` has the id's form.
            pub fn is_valid(s: &str) -> bool {
                $check(s)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = BadId;
            fn try_from(s: String) -> Result<$name, BadId> {
                if $check(&s) {
                    Ok($name(s))
                } else {
                    Err(BadId {
                        value: s,
                        kind: $kind,
                        form: $form,
                    })
                }
            }
        }

        impl TryFrom<&str> for $name {
            type Error = BadId;
            fn try_from(s: &str) -> Result<$name, BadId> {
                $name::parse(s)
            }
        }

        impl std::str::FromStr for $name {
            type Err = BadId;
            fn from_str(s: &str) -> Result<$name, BadId> {
                $name::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // `pad`, so a width or precision (`{:<16}`) applies as it does to a `str`.
                f.pad(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }


        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<Path> for $name {
            fn as_ref(&self) -> &Path {
                Path::new(&self.0)
            }
        }

        impl AsRef<std::ffi::OsStr> for $name {
            fn as_ref(&self) -> &std::ffi::OsStr {
                std::ffi::OsStr::new(&self.0)
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        text_eq!($name: str, &str, String);

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let s = String::deserialize(d)?;
                $name::try_from(s).map_err(serde::de::Error::custom)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": concat!("A ", $kind, ": ", $form, "."),
                    "pattern": $pattern,
                    "maxLength": $max,
                })
            }
        }

        impl borsh::BorshSerialize for $name {
            fn serialize<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
                borsh::BorshSerialize::serialize(&self.0, w)
            }
        }

        impl borsh::BorshDeserialize for $name {
            fn deserialize_reader<R: std::io::Read>(r: &mut R) -> std::io::Result<$name> {
                let s = String::deserialize_reader(r)?;
                $name::try_from(s)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            }
        }
    };
}

string_id! {
    /// A dispatch's id: an ASCII letter or digit, then up to 63 letters, digits, `_` or `-`
    /// (vnx makes `D-` and twelve hex digits; ids of other tools in that form read too). It is
    /// also a branch name's last part and a directory's name, so nothing else gets in.
    DispatchId, kind = "dispatch id",
    form = "a letter or digit, then up to 63 letters, digits, `_` or `-` (vnx makes D-1a2b3c4d5e6f)",
    pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", max = 64,
    check = vnx_core::ids::is_dispatch_id
}

string_id! {
    /// A best-of group's id: `G-` and up to 62 letters, digits, `_` or `-` (vnx makes `G-`
    /// and twelve hex digits; groups made before 0.2 have eight).
    GroupId, kind = "group id",
    form = "G- and up to 62 letters, digits, `_` or `-` (vnx makes G-1a2b3c4d5e6f)",
    pattern = "^G-[A-Za-z0-9_-]{1,62}$", max = 64,
    check = is_group_id
}

string_id! {
    /// A git commit's full object id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
    CommitId, kind = "commit id",
    form = "40 or 64 lowercase hex digits",
    pattern = "^([0-9a-f]{40}|[0-9a-f]{64})$", max = 64,
    check = is_commit_id
}

string_id! {
    /// A time as vnx records it: RFC 3339 in UTC (`2026-11-25T06:38:06.123456Z`), kept as
    /// written (so a receipt reads back byte for byte) and checked to be a real time.
    Timestamp, kind = "time",
    form = "RFC 3339 in UTC, e.g. 2026-11-25T06:38:06.123456Z",
    pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z$", max = 40,
    check = is_timestamp
}

impl Timestamp {
    /// Now, to the microsecond.
    pub fn now() -> Timestamp {
        Timestamp::at(jiff::Timestamp::now())
    }

    /// The time `t`, to the microsecond.
    pub fn at(t: jiff::Timestamp) -> Timestamp {
        Timestamp(t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
    }

    /// The time it names.
    pub fn instant(&self) -> jiff::Timestamp {
        self.0
            .parse()
            .expect("a Timestamp is made only from text that parses")
    }
}

/// Whether `s` is a time as vnx records it: RFC 3339, UTC (`Z`), at most nine fractional
/// digits, and a real date and time.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && b.len() <= 40
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[b.len() - 1] == b'Z'
        && match &b[19..b.len() - 1] {
            [] => true,
            [b'.', frac @ ..] => {
                (1..=9).contains(&frac.len()) && frac.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        };
    shape && s.parse::<jiff::Timestamp>().is_ok()
}

impl DispatchId {
    /// A fresh dispatch id: `D-` and 12 random lowercase hex digits.
    pub fn fresh() -> DispatchId {
        DispatchId(vnx_core::ids::new_dispatch_id())
    }
}

impl GroupId {
    /// A fresh group id: `G-` and twelve random lowercase hex digits (a dispatch id's form,
    /// with the group's letter).
    pub fn fresh() -> GroupId {
        GroupId(format!("G-{}", &vnx_core::ids::new_dispatch_id()[2..]))
    }
}

impl From<git2::Oid> for CommitId {
    fn from(oid: git2::Oid) -> CommitId {
        CommitId(oid.to_string())
    }
}

/// Whether `s` is a group id (`G-` and 1 to 62 letters, digits, `_` or `-`).
pub fn is_group_id(s: &str) -> bool {
    s.len() <= 64
        && s.strip_prefix("G-").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Whether `s` is a full commit id: 40 or 64 lowercase hex digits.
pub fn is_commit_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn each_kind_takes_its_form_and_refuses_the_rest() {
        assert!(DispatchId::parse("D-1a2b3c4d5e6f").is_ok());
        assert!(DispatchId::parse("legacy_7").is_ok());
        for bad in ["", "-x", "D-../x", "D 1", &"a".repeat(65)] {
            let err = DispatchId::parse(bad).unwrap_err();
            assert_eq!(err.kind, "dispatch id", "{bad:?}");
        }
        assert!(GroupId::parse("G-1a2b3c4d").is_ok());
        assert!(GroupId::parse("G-").is_err());
        assert!(GroupId::parse("D-1a2b3c4d").is_err());
        assert!(CommitId::parse(&"a".repeat(40)).is_ok());
        assert!(CommitId::parse(&"0".repeat(64)).is_ok());
        assert!(CommitId::parse(&"A".repeat(40)).is_err());
        assert!(CommitId::parse(&"a".repeat(41)).is_err());
        assert!(CommitId::parse("HEAD").is_err());
    }

    #[test]
    fn serde_refuses_a_malformed_id_and_round_trips_a_good_one() {
        let id: DispatchId = serde_json::from_str("\"D-00ff\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"D-00ff\"");
        let err = serde_json::from_str::<DispatchId>("\"../etc\"").unwrap_err();
        assert!(err.to_string().contains("not a dispatch id"), "{err}");
        assert!(serde_json::from_str::<CommitId>("\"abc\"").is_err());
    }

    #[test]
    fn borsh_refuses_a_malformed_id() {
        let bytes = borsh::to_vec(&"x/y".to_owned()).unwrap();
        assert!(borsh::from_slice::<DispatchId>(&bytes).is_err());
        let good = DispatchId::parse("D-1").unwrap();
        let bytes = borsh::to_vec(&good).unwrap();
        assert_eq!(borsh::from_slice::<DispatchId>(&bytes).unwrap(), good);
    }

    #[test]
    fn display_takes_width_as_a_str_does() {
        let id = DispatchId::parse("D-1").unwrap();
        assert_eq!(format!("[{id:<5}]"), "[D-1  ]");
        assert_eq!(format!("[{id:>5}]"), "[  D-1]");
    }

    #[test]
    fn times_are_rfc3339_utc_and_real() {
        assert!(Timestamp::parse("2026-11-25T06:38:06.123456Z").is_ok());
        assert!(Timestamp::parse("2026-11-25T06:38:06Z").is_ok());
        for bad in [
            "2026-11-25T06:38:06+01:00",
            "2026-11-25 06:38:06Z",
            "2026-13-25T06:38:06Z",
            "2026-11-25T06:38:06.Z",
            "2026-11-25T06:38:06.1234567890Z",
            "yesterday",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        let now = Timestamp::now();
        assert!(Timestamp::is_valid(now.as_str()), "{now}");
        assert_eq!(Timestamp::at(now.instant()), now);
    }

    #[test]
    fn fresh_ids_have_their_form() {
        assert!(DispatchId::is_valid(DispatchId::fresh().as_str()));
        assert!(GroupId::is_valid(GroupId::fresh().as_str()));
        assert_eq!(GroupId::fresh().as_str().len(), 14);
    }

    proptest! {
        #[test]
        fn the_schema_pattern_and_the_check_agree(s in "[A-Za-z0-9_./ -]{0,70}") {
            let dispatch = regex_lite_match(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", &s);
            prop_assert_eq!(DispatchId::is_valid(&s), dispatch);
            let group = regex_lite_match(r"^G-[A-Za-z0-9_-]{1,62}$", &s);
            prop_assert_eq!(GroupId::is_valid(&s), group);
        }

        #[test]
        fn a_time_the_check_takes_matches_the_schema_pattern(
            s in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,10})?Z?"
        ) {
            let pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$";
            if Timestamp::is_valid(&s) {
                prop_assert!(regex_lite_match(pattern, &s));
            }
        }
    }

    /// The schema's patterns, matched the way a JSON Schema validator does.
    fn regex_lite_match(pattern: &str, s: &str) -> bool {
        regex::Regex::new(pattern).unwrap().is_match(s)
    }
}
