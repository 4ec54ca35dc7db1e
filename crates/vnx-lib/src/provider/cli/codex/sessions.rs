//! codex's rollout files (seen on codex 0.169): `<home>/sessions/YYYY/MM/DD/rollout-<local
//! time>-<session>.jsonl`, whose first line (`session_meta`) records `cwd` and `id`; only the
//! day directories from the day before the start on are looked through. The usage they
//! record: the last `token_count` event's `total_token_usage`, less the last one recorded
//! before the start (a resumed session's file holds the earlier dispatch's turns too).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::provider::cli::session::{Sought, dirs, files, first_line, newest, same_dir};
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

/// The rollouts of the working directory written since the start (the one of the session
/// id, when known).
pub(super) fn find(sessions: &Path, w: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
    // The day directories are in local time: from the day before the start (UTC) on.
    let day = |t: SystemTime| {
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        jiff::Timestamp::from_second(secs as i64)
            .map(|t| t.strftime("%Y%m%d").to_string())
            .unwrap_or_default()
    };
    let since = w.since;
    let first = day(since
        .checked_sub(Duration::from_secs(86_400))
        .unwrap_or(since));
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
    newest(candidates)
        .into_iter()
        .filter(|(p, _)| {
            let Some(meta) = first_line::<Head>(p) else {
                return false;
            };
            let payload = meta.payload.unwrap_or_default();
            meta.kind.as_deref() == Some("session_meta")
                && payload.cwd.as_deref().is_some_and(|c| same_dir(c, w.cwd))
                && w.session_id
                    .is_none_or(|id| payload.id.as_deref() == Some(id))
        })
        .collect()
}

/// Counts a rollout's usage (see the module's documentation).
#[derive(Default)]
pub(super) struct CodexUsage {
    /// The last totals before the start, and the last since.
    earlier: Option<Usage>,
    last: Option<Usage>,
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
        if before(&line.timestamp, since) {
            self.earlier = Some(total);
        } else {
            self.last = Some(total);
        }
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
