//! codex's rollout files (seen on codex 0.169): `<home>/sessions/YYYY/MM/DD/rollout-<local
//! time>-<session>.jsonl`, whose first line (`session_meta`) records `cwd` and `id` (a thread
//! id, a hyphenated UUID); only the day directories from the day before the start on are
//! looked through. The usage they
//! record: the last `token_count` event's `total_token_usage`, less the last one recorded
//! before the start (a resumed session's file holds the earlier dispatch's turns too). A
//! `token_count` whose totals no dispatch can have used is skipped (and counted): the last
//! plausible one stands.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::provider::cli::render::TranscriptEvents;
use crate::provider::cli::session::{
    BackgroundWork, SessionStore, Sought, dirs, files, newest_heads, same_dir,
};
use crate::provider::cli::usage::{Count, Lenient, SessionUsage, Text, before};
use crate::receipts::Usage;

/// What a rollout's first line says of it: `type`, `payload.id`, `payload.cwd`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Head {
    #[serde(rename = "type")]
    kind: Option<String>,
    payload: Option<HeadPayload>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct HeadPayload {
    id: Option<String>,
    cwd: Option<String>,
}

/// Counts a rollout's usage (see the module's documentation).
#[derive(Default)]
pub(super) struct CodexUsage {
    /// The last totals before the start, and the last since.
    earlier: Option<Usage>,
    last: Option<Usage>,
    /// `token_count` lines skipped for an implausible claim.
    skipped: u64,
}

impl SessionUsage for CodexUsage {
    fn line(&mut self, raw: &[u8], since: Option<jiff::Timestamp>) {
        let Ok(line) = serde_json::from_slice::<Line<'_>>(raw) else {
            return;
        };
        let Some(payload) = line.payload.0 else {
            return;
        };
        if line.kind.0.as_deref() != Some("event_msg")
            || payload.kind.0.as_deref() != Some("token_count")
        {
            return;
        }
        let Some(t) = payload.info.0.and_then(|i| i.total_token_usage.0) else {
            return;
        };
        let total = Usage {
            input_tokens: t.input_tokens.or0(),
            output_tokens: t.output_tokens.or0(),
            cached_input_tokens: Some(t.cached_input_tokens.or0()),
            cache_creation_input_tokens: None,
            total_tokens: t.total_tokens.0,
        };
        if total.implausible().is_some() {
            self.skipped = self.skipped.saturating_add(1);
            return;
        }
        if before(&line.timestamp, since) {
            self.earlier = Some(total);
        } else {
            self.last = Some(total);
        }
    }

    fn so_far(&self) -> Option<Usage> {
        Box::new(CodexUsage {
            earlier: self.earlier.clone(),
            last: self.last.clone(),
            skipped: 0,
        })
        .total()
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn total(self: Box<Self>) -> Option<Usage> {
        let (last, earlier) = (self.last?, self.earlier.unwrap_or_default());
        let less = |a: Option<u64>, b: Option<u64>| a.map(|a| a.saturating_sub(b.unwrap_or(0)));
        Some(Usage {
            input_tokens: last.input_tokens.saturating_sub(earlier.input_tokens),
            output_tokens: last.output_tokens.saturating_sub(earlier.output_tokens),
            cached_input_tokens: less(last.cached_input_tokens, earlier.cached_input_tokens),
            cache_creation_input_tokens: None,
            total_tokens: less(last.total_tokens, earlier.total_tokens),
        })
    }
}

/// The members of one line usage reads.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Line<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow)]
    timestamp: Text<'a>,
    /// The event.
    #[serde(borrow)]
    payload: Lenient<Payload<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Payload<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    info: Lenient<Info>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Info {
    total_token_usage: Lenient<Totals>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Totals {
    input_tokens: Count,
    output_tokens: Count,
    cached_input_tokens: Count,
    total_tokens: Count,
}

/// Its rollout files (see the module's documentation).
pub(super) struct CodexSessions;

impl SessionStore for CodexSessions {
    /// `<home>/sessions`.
    fn dir(&self) -> &'static str {
        "sessions"
    }

    /// The rollouts of the working directory written since the start (the one of the session
    /// id, when known).
    fn find(&self, sessions: &Path, w: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
        // The day directories are in local time: from the day before the start (UTC) on.
        let since = w.since;
        let day_before = since.checked_sub(Duration::from_secs(86_400));
        let first = jiff::Timestamp::try_from(day_before.unwrap_or(since))
            .map(|t| t.strftime("%Y%m%d").to_string())
            .unwrap_or_default();
        let mut candidates = Vec::new();
        for (year, ydir) in dirs(sessions) {
            for (month, mdir) in dirs(&ydir) {
                for (dayname, ddir) in dirs(&mdir) {
                    if format!("{year}{month}{dayname}") >= first {
                        candidates.extend(files(
                            &ddir,
                            |n| n.starts_with("rollout-") && n.ends_with(".jsonl"),
                            since,
                        ));
                    }
                }
            }
        }
        newest_heads(candidates, |meta: Head| {
            let payload = meta.payload.unwrap_or_default();
            meta.kind.as_deref() == Some("session_meta")
                && payload.cwd.as_deref().is_some_and(|c| same_dir(c, w.cwd))
                && w.session_id
                    .is_none_or(|id| payload.id.as_deref() == Some(id))
        })
    }

    fn usage(&self) -> Box<dyn SessionUsage> {
        Box::<CodexUsage>::default()
    }

    /// Its rollout records a `token_count` after each model call, as it runs.
    fn live_usage(&self) -> bool {
        true
    }

    fn transcript(&self) -> Option<Box<dyn TranscriptEvents>> {
        Some(Box::new(super::rollout::RolloutTranscript::default()))
    }

    /// Its TUI's commands that outlived their turn, which only its rollout records
    /// (`background`).
    fn background(&self) -> Option<Box<dyn BackgroundWork>> {
        Some(Box::<super::background::RolloutBackground>::default())
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::provider::session::testing::{of_bytes, read_bytes};
    use crate::provider::session::{testing, valid_id};

    #[test]
    fn its_home_is_codex_home_else_dot_codex_in_the_home() {
        let h = testing::homes_of(&[("HOME", "/h")]);
        assert_eq!(h.get("codex"), Some(Path::new("/h/.codex")));
        let h = testing::homes_of(&[("HOME", "relative"), ("CODEX_HOME", "/x")]);
        assert_eq!(h.get("codex"), Some(Path::new("/x")));
        let h = testing::homes_of(&[]);
        assert_eq!(h.get("codex"), Some(Path::new("/machine/.codex")));
    }

    fn codex_rollout(cwd: &str, id: &str) -> String {
        let meta = serde_json::json!({
            "timestamp": "2026-11-25T08:41:10.803Z",
            "type": "session_meta",
            "payload": {"id": id, "cwd": cwd, "cli_version": "0.169.0"},
        });
        format!("{meta}\n")
    }

    #[test]
    fn a_codex_session_is_the_one_whose_meta_names_the_worktree() {
        let tmp = tempfile::tempdir().unwrap();
        let today = jiff::Timestamp::now().strftime("%Y/%m/%d").to_string();
        let day = tmp.path().join(".codex/sessions").join(today);
        fs::create_dir_all(&day).unwrap();
        fs::write(
            day.join("rollout-1-other.jsonl"),
            codex_rollout("/w/other", "s-0"),
        )
        .unwrap();
        let w = testing::wanted("codex", tmp.path(), Path::new("/w/t"));
        // The newest file is another worktree's: never taken for this one.
        assert_eq!(w.find(), None);
        fs::write(
            day.join("rollout-2-mine.jsonl"),
            codex_rollout("/w/t", "s-1"),
        )
        .unwrap();
        fs::write(
            day.join("rollout-3-other.jsonl"),
            codex_rollout("/w/other", "s-2"),
        )
        .unwrap();
        assert_eq!(w.find(), Some(day.join("rollout-2-mine.jsonl")));
        let mut by_id = w.clone();
        by_id.session_id = Some("s-9".into());
        assert_eq!(by_id.find(), None);
        // Days long before the dispatch started are not looked through.
        let old = tmp.path().join(".codex/sessions/2001/01/01");
        fs::create_dir_all(&old).unwrap();
        fs::rename(
            day.join("rollout-2-mine.jsonl"),
            old.join("rollout-2-mine.jsonl"),
        )
        .unwrap();
        assert_eq!(w.find(), None);
    }

    #[test]
    fn a_dispatchs_own_session_place_holds_codexs_days() {
        // Looked for in the place as in its home's `sessions`.
        let tmp = tempfile::tempdir().unwrap();
        let place = tmp.path().join("dispatch/sessions");
        let mut w = testing::wanted("codex", tmp.path(), Path::new("/w/t"));
        w.homes.sessions = Some(place.clone());
        assert_eq!(w.looked_in(), Some(place));
    }

    #[test]
    fn codex_usage_is_the_last_total() {
        let count = |input: u64| {
            let l = serde_json::json!({"type": "event_msg", "payload": {"type": "token_count",
                "info": {"total_token_usage": {"input_tokens": input, "output_tokens": 7,
                    "cached_input_tokens": 0, "total_tokens": input + 7}}}});
            format!("{l}\n")
        };
        let data = [count(10), count(30)].concat();
        let u = of_bytes("codex", data.as_bytes(), SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.total_tokens),
            (30, 7, Some(37))
        );
        // Totals no dispatch can have used are skipped: the last plausible ones stand.
        let data = [count(10), count(u64::MAX - 7), count(30)].concat();
        let read = read_bytes("codex", data.as_bytes(), SystemTime::UNIX_EPOCH);
        assert_eq!(read.usage.map(|u| u.input_tokens), Some(30));
        assert_eq!(read.skipped, 1);
        let data = [count(10), count(2_000_000_000_000)].concat();
        let read = read_bytes("codex", data.as_bytes(), SystemTime::UNIX_EPOCH);
        assert_eq!(read.usage.map(|u| u.input_tokens), Some(10));
    }

    #[test]
    fn only_what_codex_recorded_since_the_dispatch_started_counts() {
        // A follow-up resumes its session: the earlier dispatch's turns are in the file too.
        let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
        let since = SystemTime::from(at("2026-11-25T09:00:00Z"));
        let count = |time: &str, input: u64| {
            let l = serde_json::json!({"timestamp": time, "type": "event_msg", "payload": {
                "type": "token_count", "info": {"total_token_usage": {"input_tokens": input,
                "output_tokens": input / 10, "total_tokens": input + input / 10}}}});
            format!("{l}\n")
        };
        let data = [
            count("2026-11-25T08:00:00Z", 100),
            count("2026-11-25T09:00:01Z", 250),
        ]
        .concat();
        let u = of_bytes("codex", data.as_bytes(), since).unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.total_tokens),
            (150, 15, Some(165))
        );
    }

    #[test]
    fn codex_session_ids_are_its_thread_ids() {
        // As the real codex wrote one (tests/support/fixtures): a thread id.
        assert!(valid_id("codex", "01a211dd-af26-7800-a0f8-e1f232cf6a8a"));
    }
}
