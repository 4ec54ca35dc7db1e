//! The files that log a CLI in, as a place vnx makes carries them (a container's or a pod's
//! `logins:`): each CLI's module names its own ([`super::CodingCli::login_files`]), the file
//! whole or only the parts of it that log in (the rest of a file that also keeps every
//! project's history, trust or sessions left here). Never a CLI's history, its sessions, or
//! what its state directories hold below their top.

/// A file that logs a CLI in.
#[derive(Clone, Copy, Debug)]
pub struct LoginFile {
    /// Where it is, relative to the home directory (here, and in the place).
    pub rel: &'static str,
    /// What of it a place gets.
    pub carry: Carry,
}

/// What of a login file a place gets.
#[derive(Clone, Copy, Debug)]
pub enum Carry {
    /// All of it.
    Whole,
    /// What this makes of its bytes, given the directory the CLI works in there (the place's
    /// clone): only what logs in; `None` when the file is not one it can read (then nothing
    /// of it is carried).
    Part(fn(&[u8], &str) -> Option<Vec<u8>>),
}

impl LoginFile {
    /// `rel`, whole.
    pub const fn whole(rel: &'static str) -> LoginFile {
        LoginFile {
            rel,
            carry: Carry::Whole,
        }
    }

    /// The part of `rel` that `part` keeps.
    pub const fn part(rel: &'static str, part: fn(&[u8], &str) -> Option<Vec<u8>>) -> LoginFile {
        LoginFile {
            rel,
            carry: Carry::Part(part),
        }
    }
}

/// The members of the JSON object `bytes` whose names `keep` lists; `None` when `bytes` is
/// not a JSON object.
pub fn json_members(
    bytes: &[u8],
    keep: &[&str],
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let serde_json::Value::Object(all) = serde_json::from_slice(bytes).ok()? else {
        return None;
    };
    Some(
        all.into_iter()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .collect(),
    )
}
