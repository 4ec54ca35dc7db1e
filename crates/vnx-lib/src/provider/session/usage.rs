//! The token usage a session file records, counted as the headless lane counts the CLI's
//! own totals (seen on claude 2.1.197, codex 0.169, gemini 0.61):
//!
//! - claude: the sum over the session's assistant messages of their `usage` (input, output,
//!   cache reads and writes), each message counted once by its `message.id` (claude writes a
//!   message's usage again on each line of its content blocks);
//! - codex: the last `token_count` event's `total_token_usage`;
//! - gemini: the sum over its `gemini` messages of their `tokens` (input, output, cached,
//!   total), each message counted once by its `id` (it writes a message again as it grows).
//!
//! Only what was recorded since the dispatch started counts (a follow-up resumes its
//! session, whose file holds the earlier dispatch's turns too): lines whose `timestamp` is
//! older are left out, and codex's totals are counted from the last one before the start.
//!
//! Informational, like the headless lane's usage: a worker can write the file.

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use serde_json::Value;

use super::Cli;
use crate::receipts::Usage;

/// The usage the session file at `path` records since `since`; `None` when it records none
/// (or cannot be read).
pub fn usage(cli: Cli, path: &Path, since: SystemTime) -> Option<Usage> {
    let data = super::read(path).ok()?;
    of_bytes(cli, &data, since)
}

/// The usage recorded in a session file's bytes since `since`.
pub(super) fn of_bytes(cli: Cli, data: &[u8], since: SystemTime) -> Option<Usage> {
    let since = jiff::Timestamp::try_from(since).ok();
    let before = |l: &Value| {
        let at = l.get("timestamp").and_then(Value::as_str);
        match (at.and_then(|t| t.parse::<jiff::Timestamp>().ok()), since) {
            (Some(at), Some(since)) => at < since,
            _ => false,
        }
    };
    let all = data
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok());
    if cli == Cli::Codex {
        return codex(all, before);
    }
    let lines = all.filter(|l| !before(l));
    match cli {
        Cli::Claude => per_message(lines, "assistant", |l| {
            let message = l.get("message")?;
            let u = message.get("usage")?;
            let usage = Usage {
                input_tokens: int(u, "input_tokens"),
                output_tokens: int(u, "output_tokens"),
                cached_input_tokens: Some(int(u, "cache_read_input_tokens")),
                cache_creation_input_tokens: Some(int(u, "cache_creation_input_tokens")),
                total_tokens: None,
            };
            Some((message.get("id"), usage))
        }),
        Cli::Codex => None,
        Cli::Gemini => per_message(lines, "gemini", |l| {
            let t = l.get("tokens")?;
            let usage = Usage {
                input_tokens: int(t, "input"),
                output_tokens: int(t, "output"),
                cached_input_tokens: Some(int(t, "cached")),
                cache_creation_input_tokens: None,
                total_tokens: Some(int(t, "total")),
            };
            Some((l.get("id"), usage))
        }),
    }
}

/// The sum of the usage of the lines of `type` `kind`, each message counted once by the id
/// `usage_of` finds beside its usage (the last line of a message wins; a line without an
/// id is a message of its own).
fn per_message(
    lines: impl Iterator<Item = Value>,
    kind: &str,
    usage_of: impl for<'a> Fn(&'a Value) -> Option<(Option<&'a Value>, Usage)>,
) -> Option<Usage> {
    let mut by_id: HashMap<String, Usage> = HashMap::new();
    for (n, line) in lines.enumerate() {
        if line.get("type").and_then(Value::as_str) != Some(kind) {
            continue;
        }
        let Some((id, usage)) = usage_of(&line) else {
            continue;
        };
        let id = id
            .and_then(Value::as_str)
            .map_or_else(|| format!("line {n}"), str::to_owned);
        by_id.insert(id, usage);
    }
    sum(by_id.into_values())
}

/// codex's last `token_count` totals, less the last ones recorded before the start.
fn codex(lines: impl Iterator<Item = Value>, before: impl Fn(&Value) -> bool) -> Option<Usage> {
    let total = |t: &Value| Usage {
        input_tokens: int(t, "input_tokens"),
        output_tokens: int(t, "output_tokens"),
        cached_input_tokens: Some(int(t, "cached_input_tokens")),
        cache_creation_input_tokens: None,
        total_tokens: t.get("total_tokens").and_then(Value::as_u64),
    };
    let (mut earlier, mut last) = (None, None);
    for l in lines {
        if l.get("type").and_then(Value::as_str) != Some("event_msg")
            || l.pointer("/payload/type").and_then(Value::as_str) != Some("token_count")
        {
            continue;
        }
        let Some(t) = l.pointer("/payload/info/total_token_usage") else {
            continue;
        };
        if before(&l) {
            earlier = Some(total(t));
        } else {
            last = Some(total(t));
        }
    }
    let (last, earlier) = (last?, earlier.unwrap_or_default());
    let less = |a: Option<u64>, b: Option<u64>| a.map(|a| a.saturating_sub(b.unwrap_or(0)));
    Some(Usage {
        input_tokens: last.input_tokens.saturating_sub(earlier.input_tokens),
        output_tokens: last.output_tokens.saturating_sub(earlier.output_tokens),
        cached_input_tokens: less(last.cached_input_tokens, earlier.cached_input_tokens),
        cache_creation_input_tokens: None,
        total_tokens: less(last.total_tokens, earlier.total_tokens),
    })
}

fn int(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The sum of some usages (saturating: the numbers are a worker's); `None` for none.
fn sum(all: impl Iterator<Item = Usage>) -> Option<Usage> {
    let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    };
    all.reduce(|a, b| Usage {
        input_tokens: a.input_tokens.saturating_add(b.input_tokens),
        output_tokens: a.output_tokens.saturating_add(b.output_tokens),
        cached_input_tokens: add(a.cached_input_tokens, b.cached_input_tokens),
        cache_creation_input_tokens: add(
            a.cache_creation_input_tokens,
            b.cache_creation_input_tokens,
        ),
        total_tokens: add(a.total_tokens, b.total_tokens),
    })
}
