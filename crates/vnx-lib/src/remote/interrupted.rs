//! Launches in a place killed on the way (steps `place_launch:*`), found by the launching
//! files they left unlocked and finished by the next reading command: a dispatch its place
//! started is caught up with (its start comes here, and `status`, `show`, `wait` see it); one
//! its place never started is undone (its record, its pushed base, and the place made for it,
//! which holds nothing but the clone).

use std::path::Path;

use super::kinds;
use super::sync::{self, Link};
use crate::ids::DispatchId;
use crate::place_name::PlaceName;

/// What finishing one interrupted launch came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    /// Its place started it: its start is here now.
    Found(DispatchId),
    /// Nothing ran it: what the launch made was removed.
    Undone {
        /// The dispatch.
        id: DispatchId,
        /// Its place.
        place: String,
    },
    /// Its place could not be asked now (tried again by the next reading command).
    Left {
        /// The dispatch.
        id: DispatchId,
        /// Why.
        why: String,
    },
}

/// The launches killed on the way: the dispatch, and the place it was for (when the launch got
/// as far as naming it). A launch still under way holds its lock and is not listed.
pub fn interrupted(data_dir: &Path) -> Vec<(DispatchId, Option<PlaceName>)> {
    let dir = super::remote_dir(data_dir).join("launching");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in entries.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
        let Some(id) = name
            .strip_suffix(".lock")
            .and_then(|i| DispatchId::parse(i).ok())
        else {
            continue;
        };
        let lock = super::orphans::launching_lock(data_dir, &id);
        if !matches!(crate::files::lock_file(&lock, false), Ok(Some(_))) {
            continue;
        }
        let place = crate::files::read_named(&lock.with_extension("place"), 1024)
            .ok()
            .and_then(|b| PlaceName::parse(String::from_utf8_lossy(&b).trim()).ok());
        out.push((id, place));
    }
    out
}

/// The launching files of dispatch `id` go: its launch is finished (or, naming no place, made
/// nothing).
pub fn forget(data_dir: &Path, id: &DispatchId) {
    let lock = super::orphans::launching_lock(data_dir, id);
    let _ = std::fs::remove_file(lock.with_extension("place"));
    let _ = std::fs::remove_file(lock);
}

/// Finishes the launch of dispatch `id` killed on the way, in the place `link` reaches (its
/// place's name, as the launch wrote it): see the module's description.
pub fn finish(link: &Link<'_>, id: &DispatchId) -> Finished {
    let data = link.project.data_dir();
    let Ok(Some(_held)) =
        crate::files::lock_file(&super::orphans::launching_lock(&data, id), false)
    else {
        return Finished::Left {
            id: id.clone(),
            why: "its launch is under way".into(),
        };
    };
    let name = link.place.name().to_owned();
    let made_for_it = kinds::name_for(link.place.host(), id).to_string() == name
        && kinds::per_dispatch(link.place.host());
    let recorded = sync::read_record(&data, id).is_some();
    if recorded {
        // A place whose runner ended with the killed launch is made again on its storage.
        let asked = link
            .place
            .make(&link.project.root, false)
            .and_then(|()| sync::catch_up(link, std::slice::from_ref(id)));
        match asked {
            Ok(done) if !done.unknown.contains(id) => {
                forget(&data, id);
                return Finished::Found(id.clone());
            }
            Ok(_) => {}
            Err(e) => {
                return Finished::Left {
                    id: id.clone(),
                    why: e.to_string(),
                };
            }
        }
        // Its place never started it: the record and the base pushed for it go.
        sync::drop_base(link, id);
        let _ = std::fs::remove_file(sync::record_path(&data, id));
    }
    if made_for_it && let Err(e) = link.place.remove() {
        return Finished::Left {
            id: id.clone(),
            why: e.to_string(),
        };
    }
    forget(&data, id);
    Finished::Undone {
        id: id.clone(),
        place: name,
    }
}
