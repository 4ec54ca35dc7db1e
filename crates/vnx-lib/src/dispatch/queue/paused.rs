//! Launches a person paused (`vnx pause`, ADR 0119): a pause covers everything, a provider,
//! a role or a place (`here` is this machine), and while it stands nothing it covers
//! launches: new dispatches wait in the queue, the queue's drain passes them over, and a
//! worker a pause stopped waits in its supervisor. Each pause is a file,
//! `.vnx-data/pause/<kind>.<name>.json` (`all.json` for everything), written after its signed
//! `paused` receipt and removed by `vnx resume`; the receipts are the record, the files what
//! the queue and the supervisors read. Nothing here is followed through a link.

use std::path::{Path, PathBuf};

use crate::place_name::Where;

/// The directory of the pauses under `.vnx-data`.
pub const PAUSE_DIR: &str = "pause";

/// The most of a pause file read.
const MAX_PAUSE: u64 = 4096;

/// What a pause covers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Every dispatch of the project.
    All,
    /// Dispatches of one provider (a CLI).
    Provider(String),
    /// Dispatches of one role.
    Role(String),
    /// Dispatches in one place: a host's name, or `here`.
    Place(String),
}

/// A scope's name cannot be used: empty, or not letters, digits, `-`, `_` and `.`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a name a pause can cover (letters, digits, `-`, `_`, `.`)")]
pub struct BadScope(pub String);

impl Scope {
    /// The scope of `kind` (`provider`, `role`, `place`) and `name`, checked.
    pub fn of(kind: &str, name: &str) -> Result<Scope, BadScope> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !plain {
            return Err(BadScope(name.to_owned()));
        }
        let name = name.to_owned();
        match kind {
            "provider" => Ok(Scope::Provider(name)),
            "role" => Ok(Scope::Role(name)),
            "place" => Ok(Scope::Place(name)),
            _ => Err(BadScope(format!("{kind}:{name}"))),
        }
    }

    /// The scope of the first of a provider, a role and a place named, else everything.
    pub fn of_first(
        provider: Option<&str>,
        role: Option<&str>,
        place: Option<&str>,
    ) -> Result<Scope, BadScope> {
        let named = [("provider", provider), ("role", role), ("place", place)];
        match named.into_iter().find_map(|(kind, n)| Some((kind, n?))) {
            Some((kind, name)) => Scope::of(kind, name),
            None => Ok(Scope::All),
        }
    }

    /// As receipts write it: `all`, `provider:NAME`, `role:NAME`, `place:NAME`.
    pub fn name(&self) -> String {
        match self {
            Scope::All => "all".to_owned(),
            Scope::Provider(n) => format!("provider:{n}"),
            Scope::Role(n) => format!("role:{n}"),
            Scope::Place(n) => format!("place:{n}"),
        }
    }

    /// Reads [`Scope::name`] back.
    pub fn parse(text: &str) -> Result<Scope, BadScope> {
        match text.split_once(':') {
            None if text == "all" => Ok(Scope::All),
            Some((kind, name)) => Scope::of(kind, name),
            None => Err(BadScope(text.to_owned())),
        }
    }

    fn file(&self) -> String {
        match self {
            Scope::All => "all.json".to_owned(),
            other => format!("{}.json", other.name().replacen(':', ".", 1)),
        }
    }

    /// Whether it covers a dispatch of `subject`.
    pub fn covers(&self, subject: &Subject<'_>) -> bool {
        match self {
            Scope::All => true,
            Scope::Provider(n) => n == subject.provider,
            Scope::Role(n) => n == subject.role,
            Scope::Place(n) => subject.place.is_named(n),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// What a pause is judged against: a dispatch's provider, role and place (`here` for this
/// machine, else its host's name).
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// Its provider.
    pub provider: &'a str,
    /// Its role.
    pub role: &'a str,
    /// Where it runs.
    pub place: &'a Where,
}

/// A pause in effect, as its file keeps it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pause {
    /// Its scope ([`Scope::name`]).
    pub scope: String,
    /// When it began (RFC 3339, UTC).
    pub since: crate::ids::Timestamp,
    /// Who paused.
    pub by: String,
}

impl Pause {
    /// Its scope, when its file names a good one.
    pub fn scope(&self) -> Option<Scope> {
        Scope::parse(&self.scope).ok()
    }

    /// In words: `paused (all) since 14:05 UTC by ana`.
    pub fn describe(&self) -> String {
        format!(
            "paused ({}) since {} UTC by {}",
            self.scope,
            self.since.as_str().get(11..16).unwrap_or("?"),
            self.by
        )
    }
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join(PAUSE_DIR)
}

/// Puts `pause` in effect (one already there for its scope is replaced).
pub fn set(data_dir: &Path, scope: &Scope, pause: &Pause) -> std::io::Result<()> {
    crate::files::private_dir(&dir(data_dir))?;
    let bytes = serde_json::to_vec(pause).map_err(std::io::Error::other)?;
    crate::files::write_atomic_private(&dir(data_dir).join(scope.file()), &bytes, true)
}

/// Ends the pause of `scope` (every pause with `None`): the pauses it ended.
pub fn lift(data_dir: &Path, scope: Option<&Scope>) -> Vec<Pause> {
    let ended: Vec<Pause> = all(data_dir)
        .into_iter()
        .filter(|p| scope.is_none() || p.scope().as_ref() == scope)
        .collect();
    for p in &ended {
        if let Some(s) = p.scope() {
            let _ = std::fs::remove_file(dir(data_dir).join(s.file()));
        }
    }
    ended
}

/// Every pause in effect, everything's first, then by scope.
pub fn all(data_dir: &Path) -> Vec<Pause> {
    let Ok(entries) = std::fs::read_dir(dir(data_dir)) else {
        return Vec::new();
    };
    let mut pauses: Vec<(Scope, Pause)> = entries
        .flatten()
        .filter_map(|e| {
            let bytes = crate::files::read_bounded(&e.path(), MAX_PAUSE).ok()?;
            let pause = serde_json::from_slice::<Pause>(&bytes).ok()?;
            let scope = pause.scope()?;
            // A file under another scope's name counts for nothing.
            (e.file_name().to_str() == Some(scope.file().as_str())).then_some((scope, pause))
        })
        .collect();
    pauses.sort_by(|a, b| a.0.cmp(&b.0));
    pauses.into_iter().map(|(_, p)| p).collect()
}

/// The pause that covers a dispatch of `subject`, if one does.
pub fn covering(data_dir: &Path, subject: &Subject<'_>) -> Option<Pause> {
    covering_in(&all(data_dir), subject).cloned()
}

/// The pause that covers a dispatch of this machine planned as `spec`, if one does.
pub fn covering_here(spec: &crate::dispatch::Spec) -> Option<Pause> {
    let subject = Subject {
        provider: spec.provider.name(),
        role: &spec.role,
        place: &Where::Here,
    };
    covering(spec.data_dir(), &subject)
}

/// The pause of `pauses` (read once) that covers `subject`, if one does.
pub fn covering_in<'p>(pauses: &'p [Pause], subject: &Subject<'_>) -> Option<&'p Pause> {
    pauses
        .iter()
        .find(|p| p.scope().is_some_and(|s| s.covers(subject)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pause(scope: &Scope) -> Pause {
        Pause {
            scope: scope.name(),
            since: crate::ids::Timestamp::try_from("2026-11-30T01:00:00Z".to_owned()).unwrap(),
            by: "ana".into(),
        }
    }

    const PROV_A_HERE: Subject<'static> = Subject {
        provider: "prov-a",
        role: "implementer",
        place: &Where::Here,
    };

    #[test]
    fn a_pause_covers_its_scope_until_lifted() {
        let d = tempfile::tempdir().unwrap();
        let d = d.path();
        assert!(covering(d, &PROV_A_HERE).is_none());
        let role = Scope::of("role", "reviewer").unwrap();
        set(d, &role, &pause(&role)).unwrap();
        assert!(covering(d, &PROV_A_HERE).is_none());
        let provider = Scope::of("provider", "prov-a").unwrap();
        set(d, &provider, &pause(&provider)).unwrap();
        assert_eq!(covering(d, &PROV_A_HERE).unwrap().scope, "provider:prov-a");
        set(d, &Scope::All, &pause(&Scope::All)).unwrap();
        assert_eq!(all(d)[0].scope, "all");
        // Lifting one scope leaves the others.
        assert_eq!(lift(d, Some(&Scope::All)).len(), 1);
        assert!(covering(d, &PROV_A_HERE).is_some());
        assert_eq!(lift(d, None).len(), 2);
        assert!(covering(d, &PROV_A_HERE).is_none() && all(d).is_empty());
    }

    #[test]
    fn scopes_read_back_and_strange_names_are_refused() {
        for s in [
            "all",
            "provider:a-b",
            "role:x_y",
            "place:host.lan",
            "place:here",
        ] {
            assert_eq!(Scope::parse(s).unwrap().name(), s);
        }
        for s in [
            "",
            "provider:",
            "role:../x",
            "place:.hidden",
            "colour:red",
            "any",
        ] {
            assert!(Scope::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn a_planted_or_misnamed_file_pauses_nothing() {
        let d = tempfile::tempdir().unwrap();
        let d = d.path();
        std::fs::create_dir_all(dir(d)).unwrap();
        // A pause of everything under a provider's file name is no pause.
        std::fs::write(
            dir(d).join("provider.other.json"),
            serde_json::to_vec(&pause(&Scope::All)).unwrap(),
        )
        .unwrap();
        // A link is not followed.
        let elsewhere = d.join("elsewhere.json");
        std::fs::write(&elsewhere, serde_json::to_vec(&pause(&Scope::All)).unwrap()).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir(d).join("all.json")).unwrap();
        assert!(all(d).is_empty());
    }
}
