//! The dispatches an MCP client is told about when their state changes: those it subscribed
//! to (`resources/subscribe` of `vnx://dispatch/<id>`) and those it started through the
//! acting tools. What changed since the client was last told is decided here, over the
//! states the library reads (`vnx status`'s words: running, blocked, done, merged, …), read
//! again only when the ledger changed (its length, modification time or file) or a while
//! passed; the protocol side only looks now and then and sends what this says.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::read::{self, check_id};
use super::resources::DISPATCH;
use super::{McpError, Settings};
use crate::dispatch::fold;
use crate::ids::DispatchId;

/// How long the states of live dispatches are trusted while the ledger does not change: a
/// worker whose session ended without a receipt reads `lost` only when read again.
pub const REREAD: Duration = Duration::from_secs(15);

/// The states in which a dispatch can change with nothing written to the ledger (its session
/// ending unrecorded): those [`REREAD`] is for.
const LIVE: [&str; 4] = ["queued", "running", "blocked", "stalled"];

/// The most dispatches one client may watch.
pub const MAX_WATCHED: usize = 1000;

/// The ledger file as last looked at: it differs once a line was appended or the file was
/// replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Mark {
    /// The ledger at `path` now (`None` while there is none); a link is not followed.
    pub fn of(path: &Path) -> Option<Mark> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::symlink_metadata(path).ok()?;
        Some(Mark {
            len: m.len(),
            modified: m.modified().ok(),
            inode: m.ino(),
        })
    }
}

/// A watched dispatch whose state changed since the client was last told: its resource's
/// URI and its state now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    /// The dispatch.
    pub id: DispatchId,
    /// Its resource, `vnx://dispatch/<id>`.
    pub uri: String,
    /// Its state now, as `vnx status` words it.
    pub status: &'static str,
}

/// What one client watches: each dispatch with the state it was last told (or found in
/// when it began to watch it), and when the states were last read.
#[derive(Debug, Default)]
pub struct Watch {
    told: BTreeMap<DispatchId, &'static str>,
    mark: Option<Mark>,
    read_at: Option<Instant>,
}

impl Watch {
    /// Watches `id`, known to be in state `status` now (what changes after this is told).
    pub fn watch(&mut self, id: DispatchId, status: &'static str) -> Result<(), McpError> {
        if self.told.len() >= MAX_WATCHED && !self.told.contains_key(&id) {
            return Err(McpError::bad(format!(
                "this session watches {MAX_WATCHED} dispatches already: unsubscribe from some"
            )));
        }
        self.told.insert(id, status);
        Ok(())
    }

    /// Stops watching `id`; whether it was watched.
    pub fn unwatch(&mut self, id: &DispatchId) -> bool {
        self.told.remove(id).is_some()
    }

    /// The dispatches watched.
    pub fn ids(&self) -> Vec<DispatchId> {
        self.told.keys().cloned().collect()
    }

    /// Whether the states are to be read again, the ledger being as `mark` says at `now`:
    /// something is watched, and they were never read, or the ledger changed since, or
    /// [`REREAD`] passed while a watched dispatch is live.
    pub fn due(&self, mark: Option<Mark>, now: Instant) -> bool {
        let Some(at) = self.read_at else {
            return !self.told.is_empty();
        };
        let live = || self.told.values().any(|s| LIVE.contains(s));
        !self.told.is_empty()
            && (mark != self.mark || (now.saturating_duration_since(at) >= REREAD && live()))
    }

    /// The states read at `now` from the ledger as `mark` says: those of the watched
    /// dispatches that changed since last told, in id order, each now told. A dispatch not
    /// read (no longer listed) changes nothing.
    pub fn saw(
        &mut self,
        mark: Option<Mark>,
        now: Instant,
        states: &BTreeMap<DispatchId, &'static str>,
    ) -> Vec<Changed> {
        self.mark = mark;
        self.read_at = Some(now);
        changed(&mut self.told, states)
    }
}

/// Those of `told` whose state in `now` differs from the one told, each recorded as told
/// now: what the client is to hear.
pub fn changed(
    told: &mut BTreeMap<DispatchId, &'static str>,
    now: &BTreeMap<DispatchId, &'static str>,
) -> Vec<Changed> {
    let mut out = Vec::new();
    for (id, was) in told.iter_mut() {
        match now.get(id) {
            Some(is) if is != was => {
                *was = is;
                out.push(Changed {
                    id: id.clone(),
                    uri: uri_of(id),
                    status: is,
                });
            }
            _ => {}
        }
    }
    out
}

/// The resource URI of dispatch `id`.
pub fn uri_of(id: &DispatchId) -> String {
    format!("{DISPATCH}{id}")
}

/// The dispatch a subscribable resource URI names; other URIs are refused.
pub fn dispatch_of(uri: &str) -> Result<DispatchId, McpError> {
    match uri.strip_prefix(DISPATCH) {
        Some(id) => check_id(id),
        None => Err(McpError::bad(format!(
            "{:?} cannot be subscribed to: only a dispatch's resource, {DISPATCH}<id>, can",
            uri.chars().take(200).collect::<String>()
        ))),
    }
}

/// The states of `ids` now, as `vnx status` words them (those the ledger lists).
fn states_of(
    s: &Settings,
    ids: &[DispatchId],
) -> Result<BTreeMap<DispatchId, &'static str>, McpError> {
    let read = read::states(s, fold::Want::Ids(ids))?;
    Ok(read
        .states
        .into_iter()
        .filter(|d| ids.contains(&d.id))
        .map(|d| (d.id, d.status))
        .collect())
}

/// Subscribes to the dispatch `uri` names: watched from its state now on.
pub fn subscribe(s: &Settings, watch: &Mutex<Watch>, uri: &str) -> Result<DispatchId, McpError> {
    let id = dispatch_of(uri)?;
    let now = states_of(s, std::slice::from_ref(&id))?;
    let Some(status) = now.get(&id) else {
        return Err(McpError::UnknownDispatch { id: id.to_string() });
    };
    lock(watch).watch(id.clone(), status)?;
    Ok(id)
}

/// Stops watching the dispatch `uri` names (one not watched is no error).
pub fn unsubscribe(watch: &Mutex<Watch>, uri: &str) -> Result<(), McpError> {
    let id = dispatch_of(uri)?;
    lock(watch).unwatch(&id);
    Ok(())
}

/// Looks at the ledger and, when due, reads the watched dispatches' states: those that
/// changed since the client was last told.
pub fn look(s: &Settings, watch: &Mutex<Watch>) -> Result<Vec<Changed>, McpError> {
    // Marked before the read: a line appended during it makes the next look read again.
    let mark = Mark::of(&s.ledger);
    let ids = {
        let w = lock(watch);
        if !w.due(mark, Instant::now()) {
            return Ok(Vec::new());
        }
        w.ids()
    };
    let now = states_of(s, &ids)?;
    Ok(lock(watch).saw(mark, Instant::now(), &now))
}

/// The watch, even if a thread panicked holding it (what it holds stays whole).
fn lock(watch: &Mutex<Watch>) -> std::sync::MutexGuard<'_, Watch> {
    watch
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> DispatchId {
        DispatchId::parse(&format!("D-{n:012x}")).unwrap()
    }

    fn map(pairs: &[(u8, &'static str)]) -> BTreeMap<DispatchId, &'static str> {
        pairs.iter().map(|(n, s)| (id(*n), *s)).collect()
    }

    #[test]
    fn a_client_hears_each_change_once_and_only_of_what_it_watches() {
        let mut w = Watch::default();
        w.watch(id(1), "running").unwrap();
        w.watch(id(2), "queued").unwrap();
        let now = Instant::now();
        // Unchanged states (and a dispatch not watched) tell nothing.
        let quiet = map(&[(1, "running"), (2, "queued"), (3, "done")]);
        assert_eq!(w.saw(None, now, &quiet), []);
        let ended = map(&[(1, "done"), (2, "running"), (3, "failed")]);
        let heard: Vec<(DispatchId, &str)> = (w.saw(None, now, &ended).into_iter())
            .map(|c| (c.id, c.status))
            .collect();
        assert_eq!(heard, [(id(1), "done"), (id(2), "running")]);
        // Told once: the same states again tell nothing; the next change is told.
        assert_eq!(w.saw(None, now, &ended), []);
        let merged = w.saw(None, now, &map(&[(1, "merged"), (2, "running")]));
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].uri, format!("vnx://dispatch/{}", id(1)));
        // A dispatch not read changes nothing; one unwatched is not told.
        assert_eq!(w.saw(None, now, &map(&[(2, "running")])), []);
        assert!(w.unwatch(&id(2)));
        assert!(!w.unwatch(&id(2)));
        assert_eq!(w.saw(None, now, &map(&[(1, "merged"), (2, "done")])), []);
    }

    #[test]
    fn states_are_read_again_when_the_ledger_changed_or_a_while_passed() {
        let mut w = Watch::default();
        let now = Instant::now();
        let at = Mark {
            len: 10,
            modified: None,
            inode: 1,
        };
        let mark = Some(at);
        // Nothing watched: never due.
        assert!(!w.due(mark, now));
        w.watch(id(1), "running").unwrap();
        assert!(w.due(mark, now), "never read yet");
        w.saw(mark, now, &map(&[(1, "running")]));
        assert!(!w.due(mark, now + Duration::from_secs(1)));
        let grown = Some(Mark { len: 11, ..at });
        assert!(w.due(grown, now + Duration::from_secs(1)));
        let replaced = Some(Mark { inode: 2, ..at });
        assert!(w.due(replaced, now));
        assert!(w.due(None, now), "the ledger went away");
        assert!(w.due(mark, now + REREAD), "a running one may be lost");
        // Ended, it changes only with a line on the ledger.
        w.saw(mark, now, &map(&[(1, "done")]));
        assert!(!w.due(mark, now + REREAD * 10));
        assert!(w.due(grown, now));
    }

    #[test]
    fn only_a_dispatchs_resource_can_be_subscribed_to() {
        assert_eq!(
            dispatch_of(&format!("vnx://dispatch/{}", id(7))).unwrap(),
            id(7)
        );
        for uri in [
            "vnx://ledger",
            "vnx://dispatches",
            "vnx://dispatch/../x",
            "x",
        ] {
            assert!(dispatch_of(uri).unwrap_err().is_input(), "{uri}");
        }
    }

    #[test]
    fn a_client_watches_a_bounded_number() {
        let mut w = Watch::default();
        for n in 0..MAX_WATCHED {
            w.watch(
                DispatchId::parse(&format!("D-{n:012x}")).unwrap(),
                "running",
            )
            .unwrap();
        }
        assert!(w.watch(id(0), "done").is_ok(), "one watched already");
        assert!(
            w.watch(DispatchId::parse("D-ffffffffffff").unwrap(), "running")
                .is_err()
        );
    }
}
