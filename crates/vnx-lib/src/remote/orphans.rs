//! The places vnx made per dispatch found again by their labels (re-adoption, issue 52): each
//! container, volume, pod, claim, `Sandbox` or `SandboxClaim` carries its dispatch's id and
//! the project's key, so a host's places of this project are listed from the engine itself, and those with no
//! dispatch record here (a launch killed between making the place and writing the record; a
//! `.vnx-data` restored from a backup) are orphans. What the engine lists is hostile: read
//! bounded, and taken for nothing but the ids whose places vnx then names itself. So is a
//! place whose dispatches all ended given up or landed (a cancelled dispatch's volume). Either is removed as a place is (its runner; its storage only when nothing
//! there is work this repository lacks).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::RemoteError;
use super::kinds;
use super::made::{self, Made, project_key};
use super::place::Here;
use crate::config::{HostConfig, MADE_CLONE};
use crate::ids::DispatchId;
use crate::place_name::PlaceName;

/// How long the check of an orphan's work may take.
const CHECK_LIMIT: Duration = Duration::from_secs(60);

/// The most of that check's answer read.
const MAX_CHECK: usize = 1 << 20;

/// `.vnx-data/remote/launching/<id>.lock`: held while dispatch `id`'s place is made and
/// until its record is kept, so that a place being launched is never taken for an orphan.
pub fn launching_lock(data_dir: &Path, id: &DispatchId) -> std::path::PathBuf {
    super::remote_dir(data_dir)
        .join("launching")
        .join(format!("{id}.lock"))
}

/// Whether a launch holds dispatch `id`'s [`launching_lock`] now.
fn launching(data_dir: &Path, id: &DispatchId) -> bool {
    let path = launching_lock(data_dir, id);
    path.exists() && matches!(crate::files::lock_file(&path, false), Ok(None))
}

/// A place of a host found by its labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The dispatch it was made for.
    pub dispatch_id: DispatchId,
    /// The place's name (`HOST.ID`).
    pub host: PlaceName,
    /// Its engine objects, in words.
    pub objects: Vec<String>,
    /// Whether something of it runs.
    pub running: bool,
    /// When its dispatch has a record here: the status of the last dispatch that ran there,
    /// every one of which ended given up or landed; `None` for a place with no record here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<&'static str>,
}

/// The places of `host` (one made per dispatch) this project made, by their labels: one
/// bounded engine call per kind of object.
pub fn list(host: &HostConfig, here: Here<'_>) -> Result<Vec<Found>, RemoteError> {
    let seen = match kinds::of(host) {
        Some(kind) => (kind.listed)(host, &project_key(here.data_dir))?,
        None => Vec::new(),
    };
    let mut found: BTreeMap<DispatchId, Found> = BTreeMap::new();
    for s in seen {
        let entry = found.entry(s.id.clone()).or_insert_with(|| Found {
            host: kinds::name_for(host, &s.id),
            dispatch_id: s.id,
            objects: Vec::new(),
            running: false,
            ended: None,
        });
        entry.running |= s.running;
        if !entry.objects.contains(&s.object) {
            entry.objects.push(s.object);
        }
    }
    Ok(found.into_values().collect())
}

/// The places of `hosts` this project made that no dispatch needs: those with no dispatch
/// record in `here`'s data directory that no launch is making now, and those with one whose
/// dispatches all ended given up or landed, as `ended` judges a place by its name (the
/// status of the last of them; `None` while the place is needed: a cancelled dispatch's
/// volume is not); each host whose engine could not list them, with why.
pub fn orphans(
    hosts: &BTreeMap<String, HostConfig>,
    here: Here<'_>,
    ended: impl Fn(&PlaceName) -> Option<&'static str>,
) -> (Vec<Found>, Vec<(String, RemoteError)>) {
    let (mut found, mut failed) = (Vec::new(), Vec::new());
    for host in hosts.values().filter(|h| kinds::per_dispatch(h)) {
        match list(host, here) {
            Ok(places) => found.extend(places.into_iter().filter_map(|mut f| {
                if launching(here.data_dir, &f.dispatch_id) {
                    return None;
                }
                if !super::sync::record_path(here.data_dir, &f.dispatch_id).exists() {
                    return Some(f);
                }
                f.ended = Some(ended(&f.host)?);
                Some(f)
            })),
            Err(e) => failed.push((host.name.clone(), e)),
        }
    }
    (found, failed)
}

/// What became of an orphan `vnx clean` removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "removed", rename_all = "snake_case")]
pub enum Removed {
    /// Its runner and its storage: nothing there was work this repository lacks.
    All,
    /// Its runner only: its storage holds work, or could not be checked.
    RunnerOnly {
        /// Why the storage is kept, in words.
        kept: String,
    },
}

/// A place no dispatch needs, and what became of it once removal was tried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cleared {
    /// The place.
    #[serde(flatten)]
    pub found: Found,
    /// What was removed, once removal was tried and went through.
    #[serde(flatten)]
    pub removed: Option<Removed>,
    /// Why it could not be removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Cleared {
    /// `found`, not yet removed.
    pub fn found(found: Found) -> Cleared {
        Cleared {
            found,
            removed: None,
            error: None,
        }
    }

    /// Removes it (see [`remove`]) and records what became of it.
    pub fn remove(
        &mut self,
        hosts: &BTreeMap<String, HostConfig>,
        here: Here<'_>,
        project_root: &Path,
    ) {
        let f = &self.found;
        match super::host_of(hosts, &f.host)
            .and_then(|host| remove(host, &f.dispatch_id, here, project_root))
        {
            Ok(removed) => self.removed = Some(removed),
            Err(e) => self.error = Some(e.to_string()),
        }
    }
}

/// Removes orphan `id`'s place on `host`: its runner, and its storage once a runner on it (made
/// again when none runs) shows every branch tip of its clone is a commit of the repository at
/// `project_root` and no worktree of it holds changes.
pub fn remove(
    host: &HostConfig,
    id: &DispatchId,
    here: Here<'_>,
    project_root: &Path,
) -> Result<Removed, RemoteError> {
    let place = kinds::for_dispatch(host, id, here)?;
    let Some(m) = place.made() else {
        return Err(RemoteError::UnknownHost {
            host: kinds::name_for(host, id).to_string(),
        });
    };
    let storage = m.storage_exists()?;
    let kept = if storage {
        match unfetched(m, project_root) {
            Ok(None) => None,
            Ok(Some(why)) => Some(why),
            Err(e) => Some(format!("its work could not be checked ({e})")),
        }
    } else {
        None
    };
    m.stop()?;
    match kept {
        None => {
            if storage {
                m.drop_storage()?;
            }
            Ok(Removed::All)
        }
        Some(kept) => Ok(Removed::RunnerOnly { kept }),
    }
}

/// Prints the clone `$1`'s branch tips, and `dirty` for each of its other worktrees with
/// changes; nothing when there is no clone.
const CHECK: &str = "cd \"$1\" 2>/dev/null || exit 0; \
                     git for-each-ref --format='%(objectname)' refs/heads; \
                     git worktree list --porcelain | sed -n 's/^worktree //p' | tail -n +2 | \
                     while IFS= read -r w; do \
                     [ -z \"$(git -C \"$w\" status --porcelain 2>/dev/null | head -n 1)\" ] \
                     || echo dirty; done";

/// What of the place's work this repository lacks, in words; `None` when nothing. A runner
/// is made on the storage first when none runs.
fn unfetched(m: &dyn Made, project_root: &Path) -> Result<Option<String>, RemoteError> {
    match m.state()? {
        Some(state) if m.is_running(&state) => {}
        _ => made::make(m, project_root, false)?,
    }
    let argv = ["/bin/sh", "-c", CHECK, "sh", MADE_CLONE].map(String::from);
    let cmd = m.exec(&argv).timeout(CHECK_LIMIT).max_output(MAX_CHECK);
    let answer = m.must(cmd, "exec git for-each-ref")?;
    let repo = git2::Repository::open(project_root).map_err(|e| RemoteError::BadBase {
        detail: e.to_string(),
    })?;
    Ok(judge(&answer, |oid| {
        git2::Oid::from_str(oid).is_ok_and(|oid| repo.find_commit(oid).is_ok())
    }))
}

/// The check's answer judged: `None` when every line is a commit `here` has; else why not.
fn judge(answer: &str, here: impl Fn(&str) -> bool) -> Option<String> {
    let mut missing = 0usize;
    let mut dirty = 0usize;
    for line in answer.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line == "dirty" {
            dirty += 1;
        } else if !(line.len() == 40 || line.len() == 64)
            || !line.bytes().all(|b| b.is_ascii_hexdigit())
            || !here(line)
        {
            missing += 1;
        }
    }
    match (missing, dirty) {
        (0, 0) => None,
        (0, _) => Some("a worktree there has changes not committed".into()),
        (n, _) => Some(format!(
            "its clone has {n} branch{} with commits not here",
            if n == 1 { "" } else { "es" }
        )),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{judge, project_key};
    use crate::ids::DispatchId;
    use crate::remote::kinds::container::parse_engine;
    use crate::remote::kinds::kubernetes::parse_kubectl;

    #[test]
    fn podman_and_docker_listings_give_the_places_vnx_named() {
        let podman = br#"[{"Names":["vnx-d-1a2b"],"Labels":{"io.vnx.dispatch":"D-1a2b","io.vnx.project":"k"},"State":"running"},
            {"Names":["vnx-d-9999"],"Labels":{"io.vnx.dispatch":"D-1a2b"},"State":"running"},
            {"Names":["other"],"Labels":{"x":"y"},"State":"running"},
            {"Names":["vnx-../x"],"Labels":{"io.vnx.dispatch":"../x"}}]"#;
        let seen = parse_engine(podman, true);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].id.as_str(), "D-1a2b");
        assert_eq!(seen[0].object, "container vnx-d-1a2b");
        assert!(seen[0].running);
        let docker = b"{\"Names\":\"vnx-d-1a2b\",\"Labels\":\"a=b,io.vnx.dispatch=D-1a2b\",\"State\":\"exited\"}\n{\"Name\":\"vnx-d-3c4d\",\"Labels\":\"io.vnx.dispatch=D-3c4d\"}\n";
        let seen = parse_engine(docker, true);
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(!seen[0].running);
        let volumes = br#"[{"Name":"vnx-d-1a2b","Labels":{"io.vnx.dispatch":"D-1a2b"}}]"#;
        assert_eq!(parse_engine(volumes, false)[0].object, "volume vnx-d-1a2b");
        assert!(parse_engine(b"[]", true).is_empty());
        assert!(parse_engine(b"Error: no such thing", true).is_empty());
    }

    #[test]
    fn kubectl_listings_give_the_places_vnx_named() {
        let list = br#"{"kind":"List","items":[
            {"kind":"Pod","metadata":{"name":"vnx-d-1a2b","labels":{"vnx.dev/dispatch":"vnx-d-1a2b"},"annotations":{"vnx.dev/dispatch-id":"D-1a2b"}},"status":{"phase":"Running"}},
            {"kind":"PersistentVolumeClaim","metadata":{"name":"vnx-d-1a2b","labels":{"vnx.dev/dispatch":"vnx-d-1a2b"},"annotations":{"vnx.dev/dispatch-id":"D-1a2b"}}},
            {"kind":"Pod","metadata":{"name":"vnx-d-ffff","labels":{"vnx.dev/dispatch":"vnx-d-ffff"},"annotations":{"vnx.dev/dispatch-id":"D-1a2b"}}},
            {"kind":"Secret","metadata":{"name":"vnx-d-1a2b","labels":{"vnx.dev/dispatch":"vnx-d-1a2b"},"annotations":{"vnx.dev/dispatch-id":"D-1a2b"}}},
            {"kind":"Sandbox","metadata":{"name":"vnx-d-3c4d","labels":{"vnx.dev/dispatch":"vnx-d-3c4d"},"annotations":{"vnx.dev/dispatch-id":"D-3c4d"}},"spec":{"operatingMode":"Suspended"}},
            {"kind":"SandboxClaim","metadata":{"name":"vnx-d-5e6f","labels":{"vnx.dev/dispatch":"vnx-d-5e6f"},"annotations":{"vnx.dev/dispatch-id":"D-5e6f"}},"spec":{"warmPoolRef":{"name":"p"}}}]}"#;
        let seen = parse_kubectl(list);
        let objects: Vec<&str> = seen.iter().map(|s| s.object.as_str()).collect();
        assert_eq!(
            objects,
            [
                "pod vnx-d-1a2b",
                "persistentvolumeclaim vnx-d-1a2b",
                "sandbox vnx-d-3c4d",
                "sandboxclaim vnx-d-5e6f"
            ]
        );
        assert_eq!(
            seen.iter().map(|s| s.running).collect::<Vec<_>>(),
            [true, false, false, true]
        );
        assert!(parse_kubectl(b"No resources found").is_empty());
    }

    #[test]
    fn the_check_keeps_what_is_not_here() {
        let here = |oid: &str| oid.starts_with('a');
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        assert_eq!(judge("", here), None);
        assert_eq!(judge(&format!("{a}\n{a}\n"), here), None);
        assert!(
            judge(&format!("{a}\n{b}\n"), here)
                .unwrap()
                .contains("1 branch")
        );
        assert!(
            judge(&format!("{a}\ndirty\n"), here)
                .unwrap()
                .contains("changes")
        );
        assert!(judge("not a commit", here).is_some());
        assert_ne!(
            project_key(std::path::Path::new("/a/.vnx-data")),
            project_key(std::path::Path::new("/b/.vnx-data"))
        );
    }

    #[test]
    fn a_place_being_launched_is_no_orphan() {
        let data = tempfile::tempdir().unwrap();
        let id = DispatchId::parse("D-1a2b").unwrap();
        assert!(!super::launching(data.path(), &id));
        let lock = super::launching_lock(data.path(), &id);
        std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
        let held = crate::files::lock_file(&lock, true).unwrap();
        assert!(super::launching(data.path(), &id));
        drop(held);
        assert!(
            !super::launching(data.path(), &id),
            "a killed launch holds nothing"
        );
    }

    proptest! {
        /// Whatever an engine prints, the parsers end, and name only places vnx names.
        #[test]
        fn hostile_listings_yield_only_vnx_names(
            text in proptest::collection::vec(any::<u8>(), 0..2048),
            label in "[ -~]{0,40}",
            name in "[ -~]{0,40}",
        ) {
            let crafted = format!(
                r#"[{{"Names":["{name}"],"Labels":{{"io.vnx.dispatch":"{label}"}}}}]"#
            );
            for bytes in [text.as_slice(), crafted.as_bytes()] {
                for s in parse_engine(bytes, true).into_iter().chain(parse_kubectl(bytes)) {
                    let id = DispatchId::parse(s.id.as_str()).unwrap();
                    let names = [
                        format!("vnx-{}", id.as_str().to_ascii_lowercase()),
                        crate::remote::kinds::kubernetes::object_name(&id),
                    ];
                    let named = s.object.split_once(' ').unwrap().1;
                    prop_assert!(names.iter().any(|n| n == named), "{s:?}");
                }
            }
        }
    }
}
