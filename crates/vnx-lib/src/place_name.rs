//! Where a dispatch runs, named (issue 70): this machine (`here`), or a place reached through a
//! host of the config — the host itself (`box`), or the place vnx made on it for one dispatch
//! (`box.D-1a2b3c4d5e6f`). A name is parsed here once into a [`Where`]; nothing else splits it.
//! Which kind of place a host is, and what it does, is the registry's (`remote::kinds`).

use std::fmt;

use crate::ids::DispatchId;

/// The name of this machine as a place: a pause's scope, `--host here`, never a host's name.
pub const HERE: &str = "here";

/// What a dispatch for a host names to run on whichever host has room.
pub const ANY: &str = "any";

/// The names no host may take: [`ANY`] and [`HERE`].
pub const RESERVED: [&str; 2] = [ANY, HERE];

/// Where a dispatch runs.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    borsh::BorshSerialize,
    borsh::BorshDeserialize,
)]
pub enum Where {
    /// This machine: its worktree, tmux pane and supervisor are here.
    #[default]
    Here,
    /// A place reached through one of the config's hosts, which runs its own vnx.
    There(PlaceName),
}

/// A place other than this machine, by name.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    borsh::BorshSerialize,
    borsh::BorshDeserialize,
)]
pub struct PlaceName {
    host: String,
    made_for: Option<DispatchId>,
}

/// A name that names no place: empty, `here`, or a dispatch's part that is no dispatch id.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` names no place (a host's name, or a host's and a dispatch's: `box.D-…`)")]
pub struct BadPlace(pub String);

impl PlaceName {
    /// The place that is host `host` itself (a host the user keeps).
    pub fn host_itself(host: &str) -> PlaceName {
        PlaceName {
            host: host.to_owned(),
            made_for: None,
        }
    }

    /// The place vnx made on `host` for dispatch `id`.
    pub fn made(host: &str, id: &DispatchId) -> PlaceName {
        PlaceName {
            host: host.to_owned(),
            made_for: Some(id.clone()),
        }
    }

    /// The place `text` names: `box` or `box.D-…`.
    pub fn parse(text: &str) -> Result<PlaceName, BadPlace> {
        let bad = || BadPlace(text.to_owned());
        let (host, made_for) = match text.split_once('.') {
            None => (text, None),
            Some((host, id)) => (host, Some(DispatchId::parse(id).map_err(|_| bad())?)),
        };
        if host.is_empty() || host == HERE || host.contains(['/', '\\']) {
            return Err(bad());
        }
        Ok(PlaceName {
            host: host.to_owned(),
            made_for,
        })
    }

    /// The host it is reached through (its config key).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The dispatch vnx made it for, when it was made for one.
    pub fn made_for(&self) -> Option<&DispatchId> {
        self.made_for.as_ref()
    }
}

impl fmt::Display for PlaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.made_for {
            None => f.write_str(&self.host),
            Some(id) => write!(f, "{}.{id}", self.host),
        }
    }
}

impl Where {
    /// Where `text` says: `here`, or a place's name.
    pub fn parse(text: &str) -> Result<Where, BadPlace> {
        match text {
            HERE => Ok(Where::Here),
            _ => PlaceName::parse(text).map(Where::There),
        }
    }

    /// Where a record names as its host (`None`: here). A name that is no place's is kept
    /// as a host's, so that what the ledger says is never lost in the reading.
    pub fn recorded(host: Option<&str>) -> Where {
        match host {
            None => Where::Here,
            Some(text) => Where::There(
                PlaceName::parse(text).unwrap_or_else(|_| PlaceName::host_itself(text)),
            ),
        }
    }

    /// Whether it is this machine.
    pub fn is_here(&self) -> bool {
        matches!(self, Where::Here)
    }

    /// The place, when not this machine.
    pub fn place(&self) -> Option<&PlaceName> {
        match self {
            Where::Here => None,
            Where::There(place) => Some(place),
        }
    }

    /// Its name as a record keeps it: `None` here, else the place's.
    pub fn recorded_name(&self) -> Option<String> {
        self.place().map(PlaceName::to_string)
    }

    /// Whether a pause of place `name` covers it (`here`, a host's name or a place's).
    pub fn is_named(&self, name: &str) -> bool {
        match self {
            Where::Here => name == HERE,
            Where::There(place) => place.host == name || place.to_string() == name,
        }
    }
}

impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Where::Here => f.write_str(HERE),
            Where::There(place) => place.fmt(f),
        }
    }
}

impl serde::Serialize for PlaceName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl serde::Serialize for Where {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Where::Here => s.serialize_none(),
            Where::There(place) => s.collect_str(place),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_name_is_here_a_host_or_a_place_made_for_a_dispatch() {
        assert_eq!(Where::parse("here").unwrap(), Where::Here);
        let host = Where::parse("box").unwrap();
        assert_eq!(host.place().unwrap().host(), "box");
        assert_eq!(host.place().unwrap().made_for(), None);
        let made = Where::parse("pods.D-1a2b3c4d5e6f").unwrap();
        assert_eq!(made.place().unwrap().host(), "pods");
        assert_eq!(made.place().unwrap().made_for().unwrap(), "D-1a2b3c4d5e6f");
        assert_eq!(made.to_string(), "pods.D-1a2b3c4d5e6f");
        for bad in [
            "",
            ".D-1",
            "box./x",
            "here.D-1a2b3c4d5e6f",
            "../x",
            "box.D-1.x",
        ] {
            assert!(Where::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_pause_of_a_host_covers_the_places_made_on_it() {
        let made = Where::parse("pods.D-1a2b3c4d5e6f").unwrap();
        assert!(made.is_named("pods") && made.is_named("pods.D-1a2b3c4d5e6f"));
        assert!(!made.is_named("here") && !made.is_named("pod"));
        assert!(Where::Here.is_named("here") && !Where::Here.is_named("pods"));
    }

    #[test]
    fn what_a_record_names_is_kept_whatever_it_is() {
        assert_eq!(Where::recorded(None), Where::Here);
        let odd = Where::recorded(Some("a.b.c"));
        assert_eq!(odd.recorded_name().as_deref(), Some("a.b.c"));
    }

    proptest! {
        #[test]
        fn a_parsed_name_prints_as_it_was_written(text in "[a-z][a-z0-9_-]{0,8}(\\.D-[0-9a-f]{12})?") {
            prop_assume!(!text.starts_with("here."));
            let place = Where::parse(&text).unwrap();
            prop_assert_eq!(place.to_string(), text);
        }
    }
}
