//! A provider held by a usage limit (ADR 0117): after a worker's CLI said its account is
//! limited, nothing new launches on that provider until the limit resets. The hold is a
//! file per provider, `.vnx-data/limits/<provider>.json` (when it ends and which dispatch met
//! the limit), written by that dispatch's supervisor; the queue reads it to hold launches,
//! and `status` to show each provider's state. An ended hold counts for nothing, so a
//! supervisor killed during its wait leaves nothing that blocks for longer than the limit.

use std::path::{Path, PathBuf};

use crate::ids::DispatchId;

/// The directory of the holds under `.vnx-data`.
pub const LIMITS_DIR: &str = "limits";

/// The furthest ahead a hold may end, in seconds: two days (a CLI's words set at most a day,
/// `provider::cli::limit::MAX_RESET_SECONDS`, and `limit_wait_seconds` less).
pub const MAX_HOLD_AHEAD: i64 = 2 * 24 * 3600;

/// The most of a hold file read.
const MAX_HOLD: u64 = 4096;

/// A provider held until its limit resets.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hold {
    /// The provider.
    pub provider: String,
    /// When launches on it may start again (RFC 3339, UTC).
    pub until: crate::ids::Timestamp,
    /// The dispatch whose worker met the limit.
    pub dispatch_id: DispatchId,
}

impl Hold {
    /// In words: `PROVIDER is limited until 14:05 UTC (dispatch D-… met its usage limit)`.
    pub fn describe(&self) -> String {
        format!(
            "{} is limited until {} UTC (dispatch {} met its usage limit)",
            self.provider,
            self.until.as_str().get(11..16).unwrap_or("?"),
            self.dispatch_id
        )
    }

    /// Whether it still holds at `now`. A hold further away than any a supervisor writes
    /// (more than [`MAX_HOLD_AHEAD`]) is none: the data directory may be a worker's to write,
    /// and a planted hold must not stop a provider for good.
    pub fn holds(&self, now: jiff::Timestamp) -> bool {
        let latest = now + jiff::SignedDuration::from_secs(MAX_HOLD_AHEAD);
        self.until
            .as_str()
            .parse::<jiff::Timestamp>()
            .is_ok_and(|until| until > now && until <= latest)
    }
}

fn path_of(data_dir: &Path, provider: &str) -> Option<PathBuf> {
    // A provider's name is a config key; one that could leave the directory holds nothing.
    let plain = !provider.is_empty()
        && provider
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    plain.then(|| data_dir.join(LIMITS_DIR).join(format!("{provider}.json")))
}

/// Holds `provider` until `until`, for dispatch `id`'s limit (a later reset than a hold
/// already there wins; an earlier one does not shorten it).
pub fn hold(data_dir: &Path, hold: &Hold) -> std::io::Result<()> {
    let Some(path) = path_of(data_dir, &hold.provider) else {
        return Ok(());
    };
    if let Some(there) = read(data_dir, &hold.provider)
        && there.until.as_str() > hold.until.as_str()
    {
        return Ok(());
    }
    crate::files::private_dir(&data_dir.join(LIMITS_DIR))?;
    let bytes = serde_json::to_vec(hold).map_err(std::io::Error::other)?;
    crate::files::write_atomic_private(&path, &bytes, false)
}

/// Ends `provider`'s hold early when it is dispatch `id`'s (its limit reset sooner, or a
/// person continued it).
pub fn release(data_dir: &Path, provider: &str, id: &DispatchId) {
    if let (Some(path), Some(there)) = (path_of(data_dir, provider), read(data_dir, provider))
        && there.dispatch_id == *id
    {
        let _ = std::fs::remove_file(path);
    }
}

/// `provider`'s hold as its file says, ended or not; `None` without one (or one unreadable).
pub fn read(data_dir: &Path, provider: &str) -> Option<Hold> {
    let bytes = crate::files::read_bounded(&path_of(data_dir, provider)?, MAX_HOLD).ok()?;
    serde_json::from_slice::<Hold>(&bytes)
        .ok()
        .filter(|h| h.provider == provider)
}

/// `provider`'s hold, when it holds now.
pub fn holding(data_dir: &Path, provider: &str) -> Option<Hold> {
    read(data_dir, provider).filter(|h| h.holds(jiff::Timestamp::now()))
}

/// Every provider held now, by name.
pub fn all(data_dir: &Path) -> Vec<Hold> {
    let Ok(entries) = std::fs::read_dir(data_dir.join(LIMITS_DIR)) else {
        return Vec::new();
    };
    let mut holds: Vec<Hold> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let provider = name.to_str()?.strip_suffix(".json")?;
            holding(data_dir, provider)
        })
        .collect();
    holds.sort_by(|a, b| a.provider.cmp(&b.provider));
    holds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs_from_now: i64) -> crate::ids::Timestamp {
        let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(secs_from_now);
        crate::ids::Timestamp::try_from(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap()
    }

    fn hold_of(provider: &str, until: crate::ids::Timestamp, id: &str) -> Hold {
        Hold {
            provider: provider.into(),
            until,
            dispatch_id: DispatchId::parse(id).unwrap(),
        }
    }

    #[test]
    fn a_hold_holds_until_it_ends_and_its_dispatch_may_end_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        hold(d, &hold_of("prov-a", at(60), "D-1")).unwrap();
        assert!(holding(d, "prov-a").is_some());
        assert!(holding(d, "prov-b").is_none());
        // A sooner reset does not shorten it; a later one lengthens it.
        hold(d, &hold_of("prov-a", at(10), "D-2")).unwrap();
        assert_eq!(read(d, "prov-a").unwrap().dispatch_id.as_str(), "D-1");
        hold(d, &hold_of("prov-a", at(120), "D-2")).unwrap();
        assert_eq!(all(d).len(), 1);
        // Only the dispatch that holds it releases it.
        release(d, "prov-a", &DispatchId::parse("D-1").unwrap());
        assert!(holding(d, "prov-a").is_some());
        release(d, "prov-a", &DispatchId::parse("D-2").unwrap());
        assert!(holding(d, "prov-a").is_none());
    }

    #[test]
    fn an_ended_hold_or_a_strange_name_holds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        hold(d, &hold_of("prov-c", at(-5), "D-1")).unwrap();
        assert!(read(d, "prov-c").is_some() && holding(d, "prov-c").is_none());
        hold(d, &hold_of("../x", at(60), "D-1")).unwrap();
        assert!(all(d).is_empty());
        // A hold no supervisor would write (a year away) holds nothing.
        hold(d, &hold_of("prov-e", at(365 * 24 * 3600), "D-1")).unwrap();
        assert!(holding(d, "prov-e").is_none());
        // A link planted in its place is not followed.
        std::fs::create_dir_all(d.join(LIMITS_DIR)).unwrap();
        let elsewhere = d.join("elsewhere.json");
        std::fs::write(
            &elsewhere,
            serde_json::to_vec(&hold_of("prov-d", at(60), "D-1")).unwrap(),
        )
        .unwrap();
        std::os::unix::fs::symlink(&elsewhere, d.join(LIMITS_DIR).join("prov-d.json")).unwrap();
        assert!(holding(d, "prov-d").is_none());
    }
}
