//! The registry of place kinds (issue 70), as jj's `StoreFactories` is of its backends: each
//! kind of place is one module below — an ssh host the user set up (`ssh`), a container per
//! dispatch (`container`), a pod per dispatch (`kubernetes`) — that registers under its name
//! its factory and its orphan listing (a `place::Kind`); its config section is
//! `config/hosts/NAME.rs` (the config sits on a floor below). What is shared — launching,
//! catching up, the orphan listing, doctor — asks this registry ([`per_dispatch`],
//! [`name_for`], [`for_dispatch`], [`open`]) and names no kind. A new kind: CONTRIBUTING.md,
//! "A new place kind".

pub mod container;
pub mod kubernetes;
pub mod ssh;

use std::collections::BTreeMap;

use super::RemoteError;
use super::place::{Here, Kind, Place};
use crate::config::HostConfig;
use crate::ids::DispatchId;
use crate::place_name::PlaceName;

/// Every kind of place, by its module's registration.
static KINDS: [&Kind; 3] = [&ssh::KIND, &container::KIND, &kubernetes::KIND];

/// The names the kinds are registered under, in the registry's order.
pub fn names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|k| k.name)
}

/// The kind `host` is of.
pub(super) fn of(host: &HostConfig) -> Option<&'static Kind> {
    let name = host.kind.name();
    KINDS.iter().copied().find(|k| k.name == name)
}

/// Whether dispatches on `host` each get a place of their own.
pub fn per_dispatch(host: &HostConfig) -> bool {
    of(host).is_some_and(|k| k.per_dispatch)
}

/// The place dispatch `id` runs in on `host`, by name (see [`Place::name`]).
pub fn name_for(host: &HostConfig, id: &DispatchId) -> PlaceName {
    if per_dispatch(host) {
        PlaceName::made(&host.name, id)
    } else {
        PlaceName::host_itself(&host.name)
    }
}

/// The place dispatch `id` runs in on `host`.
pub fn for_dispatch(
    host: &HostConfig,
    id: &DispatchId,
    here: Here<'_>,
) -> Result<Box<dyn Place>, RemoteError> {
    let unknown = || RemoteError::UnknownHost {
        host: host.name.clone(),
    };
    let kind = of(host).ok_or_else(unknown)?;
    (kind.place)(host, Some(id), here)?.ok_or_else(unknown)
}

/// The place named `place` (a host itself, or a place made on it for a dispatch) among
/// `hosts`.
pub fn open(
    hosts: &BTreeMap<String, HostConfig>,
    place: &PlaceName,
    here: Here<'_>,
) -> Result<Box<dyn Place>, RemoteError> {
    let unknown = || RemoteError::UnknownHost {
        host: place.to_string(),
    };
    let host = super::host_of(hosts, place)?;
    let kind = of(host).ok_or_else(unknown)?;
    if place.made_for().is_some() != kind.per_dispatch {
        return Err(unknown());
    }
    (kind.place)(host, place.made_for(), here)?.ok_or_else(unknown)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_kind_of_host_the_config_reads_is_registered_once() {
        let names: Vec<&str> = super::names().collect();
        for name in crate::config::HostKind::NAMES {
            assert_eq!(names.iter().filter(|n| **n == name).count(), 1, "{name}");
        }
        assert_eq!(names.len(), crate::config::HostKind::NAMES.len());
    }
}
