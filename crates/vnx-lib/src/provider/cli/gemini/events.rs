//! Gemini CLI `--output-format stream-json` events: `init`, `message` (assistant deltas
//! joined), `tool_use`, `tool_result`, `error`, `result`.
//!
//! Background work, seen on gemini 0.61.0 (ADR 0096): `run_shell_command` with
//! `is_background: true` answers "Command moved to background (PID: N)" and the command runs
//! on, in a session of its own, after gemini exits; nothing says when it ends. Each one the
//! CLI moved to the background is work it left running: `StreamSummary::background_left`.
//! The command keeps the worker's environment, so the supervisor finds it among the
//! processes the worker left running (ADR 0099) and waits for it, bounded: seen to end, it
//! counts for nothing; stopped at the bound, or never found (it ended before gemini exited,
//! or ran where vnx cannot see it: in the sandbox its PID namespace ends with gemini), it
//! is unfinished work (`background_stopped`), and the dispatch needs a person.
//!
//! A usage limit, seen on gemini 0.61.0 (ADR 0117): a per-minute quota's 429 it waits out
//! silently; a per-day quota's it gives up on at once (exit 173), and only then says it: a
//! `result` with `status: "error"` whose `error.message` says the quota was exhausted, with
//! no reset: `StreamSummary::usage_limit`.

use serde_json::Value;

use crate::receipts::BackgroundTask;

use crate::provider::cli::limit::said;
use crate::provider::cli::stream::{
    CappedText, HeadlessStream, LAST_MESSAGE_MAX_CHARS, MAX_FOLLOWED, StreamEvents, StreamSummary,
    Usage, Verdict, error_verdict, kept, nonblank_field, remember_error, started, str_field,
    task_text, truncate, u64_field,
};

/// Gemini's headless stream (`gemini -p --output-format stream-json`,
/// packages/core/src/output/types.ts).
#[derive(Debug, Default)]
pub(super) struct GeminiEvents {
    /// The message of the last top-level `error` event, used when the result is an error
    /// without a message of its own.
    remembered_error: Option<String>,
    /// The assistant message being streamed (deltas are appended to it).
    gemini_current: Option<CappedText>,
    /// Shell commands asked to run in the background, and whether the CLI said it moved
    /// each there (at most [`MAX_FOLLOWED`]).
    background: Vec<(BackgroundTask, bool)>,
}

impl StreamEvents for GeminiEvents {
    fn event(&mut self, kind: &str, event: &Value, summary: &mut StreamSummary) {
        match kind {
            "init" => started(event, summary),
            "message" => {
                let role = event.get("role");
                if role.is_some_and(|r| r.as_str() != Some("assistant")) {
                    self.gemini_close_message(summary);
                    return;
                }
                let content = str_field(event, "content").unwrap_or("");
                let delta = event.get("delta").and_then(Value::as_bool) == Some(true);
                match &mut self.gemini_current {
                    Some(current) if delta => current.push(content),
                    _ => {
                        self.gemini_close_message(summary);
                        let current = self.gemini_current.insert(CappedText::default());
                        current.push(content);
                    }
                }
            }
            "tool_use" => {
                self.gemini_close_message(summary);
                summary.tool_calls += 1;
                self.background_asked(event);
            }
            "tool_result" => {
                self.gemini_close_message(summary);
                if str_field(event, "status") == Some("success")
                    && let Some(id) = str_field(event, "tool_id")
                    && let Some(task) = self.background.iter_mut().find(|(t, _)| t.id == id)
                {
                    task.1 = true;
                }
                if str_field(event, "status") == Some("error")
                    && let Some(error) = event.get("error")
                    && [str_field(error, "type"), str_field(error, "message")]
                        .into_iter()
                        .flatten()
                        .any(mentions_denial)
                {
                    summary.permission_denials += 1;
                }
            }
            "error" => remember_error(&mut self.remembered_error, event),
            "result" => self.gemini_result(event, summary),
            _ => {}
        }
    }

    fn finish(&mut self, summary: &mut StreamSummary) {
        self.gemini_close_message(summary);
        let moved = self.background.iter().filter(|(_, moved)| *moved);
        summary.background_left = kept(moved.map(|(t, _)| t));
    }
}

impl GeminiEvents {
    /// A shell command asked to run in the background.
    fn background_asked(&mut self, event: &Value) {
        let Some(params) = event.get("parameters") else {
            return;
        };
        if params.get("is_background").and_then(Value::as_bool) != Some(true)
            || self.background.len() >= MAX_FOLLOWED
        {
            return;
        }
        let mut what = task_text(str_field(params, "description"));
        if what.is_empty() {
            what = task_text(str_field(params, "command"));
        }
        let task = BackgroundTask {
            id: task_text(str_field(event, "tool_id")),
            kind: "shell".to_owned(),
            what,
        };
        self.background.push((task, false));
    }

    fn gemini_result(&mut self, event: &Value, summary: &mut StreamSummary) {
        self.gemini_close_message(summary);
        let error = event.get("error").filter(|e| e.is_object());
        match str_field(event, "status") {
            Some("success") => {
                summary.verdict = Some(Verdict::Success);
                summary.usage_limit = None;
            }
            status if status == Some("error") || error.is_some() => {
                let message = error
                    .and_then(|e| nonblank_field(e, "message"))
                    .or(self.remembered_error.as_deref())
                    .unwrap_or("status error");
                summary.verdict = Some(error_verdict(message));
                summary.usage_limit = quota_exhausted(message).then(|| said(message));
            }
            _ => {}
        }
        let Some(stats) = event.get("stats").filter(|s| s.is_object()) else {
            return;
        };
        let cached = u64_field(stats, "cached");
        // `input` is the uncached part of `input_tokens` in current versions.
        let input = u64_field(stats, "input_tokens").or_else(|| {
            u64_field(stats, "input").map(|uncached| uncached.saturating_add(cached.unwrap_or(0)))
        });
        let output = u64_field(stats, "output_tokens").or(u64_field(stats, "output"));
        let total = u64_field(stats, "total_tokens");
        if input.is_some() || output.is_some() || total.is_some() {
            summary.usage = Some(Usage {
                input_tokens: input.unwrap_or(0),
                output_tokens: output.unwrap_or(0),
                cached_input_tokens: cached,
                cache_creation_input_tokens: None,
                total_tokens: total,
            });
        }
        if let Some(calls) = u64_field(stats, "tool_calls") {
            summary.tool_calls = summary.tool_calls.max(calls);
        }
    }

    /// Ends the gemini assistant message being streamed; a non-blank one becomes the last
    /// message.
    fn gemini_close_message(&mut self, summary: &mut StreamSummary) {
        if let Some(current) = self.gemini_current.take()
            && !current.text.trim().is_empty()
        {
            summary.last_message = Some(truncate(&current.text, LAST_MESSAGE_MAX_CHARS));
        }
    }
}

/// Whether a result's error says a quota was used up: its words, seen on gemini 0.61.0,
/// `[API Error: You have exhausted your daily quota on this model.]`.
fn quota_exhausted(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("exhausted your") && message.contains("quota")
}

/// Whether a tool error type or message reads as a refused permission or approval.
pub(super) fn mentions_denial(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["permission", "approval", "denied", "policy"]
        .iter()
        .any(|word| text.contains(word))
}

/// Its headless event stream (see the module's documentation).
pub(super) static HEADLESS: HeadlessStream = HeadlessStream {
    format: super::STREAM,
    parser: || Box::new(GeminiEvents::default()),
    // A `result` with a `subtype` is claimed by a CLI asked before; any other is gemini's.
    claims: |kind, _| {
        matches!(
            kind,
            "result" | "init" | "message" | "tool_use" | "tool_result"
        )
    },
    claims_narrowly: false,
    transcript: Some(|| Box::new(super::transcript::GeminiTranscript::default())),
    #[cfg(test)]
    sample: tests::SAMPLE,
};

#[cfg(test)]
pub(crate) mod tests {
    use super::super::STREAM;
    use crate::provider::events::testing::*;

    /// A real run of its headless stream, for every parser's tests.
    pub(crate) const SAMPLE: &[&str] = &[
        r#"{"type":"init","timestamp":"2025-10-10T12:00:00.000Z","session_id":"c2a5c1a4-4f2b-4f8e-9a53-1d2e3f4a5b6c","model":"gemini-2.5-pro"}"#,
        r#"{"type":"message","timestamp":"2025-10-10T12:00:00.100Z","role":"user","content":"Fix the failing test"}"#,
        r#"{"type":"message","timestamp":"2025-10-10T12:00:01.000Z","role":"assistant","content":"Let me ","delta":true}"#,
        r#"{"type":"message","timestamp":"2025-10-10T12:00:01.100Z","role":"assistant","content":"look.","delta":true}"#,
        r#"{"type":"tool_use","timestamp":"2025-10-10T12:00:02.000Z","tool_name":"read_file","tool_id":"read-1","parameters":{"file_path":"src/lib.rs"}}"#,
        r#"{"type":"tool_result","timestamp":"2025-10-10T12:00:02.100Z","tool_id":"read-1","status":"success","output":"fn main() {}"}"#,
        r#"{"type":"tool_use","timestamp":"2025-10-10T12:00:03.000Z","tool_name":"run_shell_command","tool_id":"shell-1","parameters":{"command":"git push"}}"#,
        r#"{"type":"tool_result","timestamp":"2025-10-10T12:00:03.100Z","tool_id":"shell-1","status":"error","error":{"type":"policy_violation","message":"Tool execution denied by policy."}}"#,
        r#"{"type":"tool_use","timestamp":"2025-10-10T12:00:04.000Z","tool_name":"read_file","tool_id":"read-2","parameters":{"file_path":"nope.rs"}}"#,
        r#"{"type":"tool_result","timestamp":"2025-10-10T12:00:04.100Z","tool_id":"read-2","status":"error","error":{"type":"file_not_found","message":"File not found: nope.rs"}}"#,
        r#"{"type":"message","timestamp":"2025-10-10T12:00:05.000Z","role":"assistant","content":"Fixed ","delta":true}"#,
        r#"{"type":"message","timestamp":"2025-10-10T12:00:05.100Z","role":"assistant","content":"the test; ","delta":true}"#,
        r#"{"type":"message","timestamp":"2025-10-10T12:00:05.200Z","role":"assistant","content":"pushing was denied.","delta":true}"#,
        r#"{"type":"result","timestamp":"2025-10-10T12:00:06.000Z","status":"success","stats":{"total_tokens":25113,"input_tokens":24939,"output_tokens":20,"cached":21263,"input":3676,"duration_ms":5053,"tool_calls":3}}"#,
    ];

    #[test]
    fn gemini_success_with_deltas() {
        let summary = parse_every_split(STREAM, &lines(SAMPLE));
        assert_eq!(
            summary,
            StreamSummary {
                session_id: Some("c2a5c1a4-4f2b-4f8e-9a53-1d2e3f4a5b6c".into()),
                model: Some("gemini-2.5-pro".into()),
                usage: Some(Usage {
                    input_tokens: 24939,
                    output_tokens: 20,
                    cached_input_tokens: Some(21263),
                    cache_creation_input_tokens: None,
                    total_tokens: Some(25113),
                }),
                verdict: Some(Verdict::Success),
                last_message: Some("Fixed the test; pushing was denied.".into()),
                tool_calls: 3,
                permission_denials: 1,
                num_turns: None,
                cost_usd: None,
                events: 14,
                unparsed_lines: 0,
                background_stopped: Vec::new(),
                background_left: Vec::new(),
                usage_limit: None,
            }
        );
    }

    #[test]
    fn gemini_message_boundaries() {
        // A non-delta assistant message starts a new message; deltas continue it.
        let transcript = lines(&[
            r#"{"type":"message","role":"assistant","content":"first","delta":true}"#,
            r#"{"type":"message","role":"assistant","content":"Second"}"#,
            r#"{"type":"message","role":"assistant","content":" message","delta":true}"#,
        ]);
        let summary = parse_every_split(STREAM, &transcript);
        assert_eq!(summary.last_message.as_deref(), Some("Second message"));
        assert_eq!(summary.verdict, None);

        // A user message ends the assistant's; a blank one does not replace it.
        let transcript = lines(&[
            r#"{"type":"message","role":"assistant","content":"Answer","delta":true}"#,
            r#"{"type":"message","role":"user","content":"more?"}"#,
            r#"{"type":"message","role":"assistant","content":"  ","delta":true}"#,
        ]);
        let summary = parse(STREAM, &transcript);
        assert_eq!(summary.last_message.as_deref(), Some("Answer"));
    }

    #[test]
    fn gemini_errors() {
        let transcript = lines(&[
            r#"{"type":"init","session_id":"g-1","model":"gemini-2.5-flash"}"#,
            r#"{"type":"error","timestamp":"2025-10-10T12:00:00.000Z","severity":"warning","message":"Loop detected, stopping execution"}"#,
            r#"{"type":"result","status":"error","stats":{"total_tokens":100,"input_tokens":50,"output_tokens":50,"duration_ms":1200,"tool_calls":0}}"#,
        ]);
        let summary = parse_every_split(STREAM, &transcript);
        assert_eq!(summary.verdict, error("Loop detected, stopping execution"));
        assert_eq!(
            summary.usage,
            Some(Usage {
                input_tokens: 50,
                output_tokens: 50,
                cached_input_tokens: None,
                cache_creation_input_tokens: None,
                total_tokens: Some(100),
            })
        );

        let transcript = lines(&[
            r#"{"type":"error","severity":"error","message":"ignored: the result has its own"}"#,
            r#"{"type":"result","status":"error","error":{"type":"MaxSessionTurnsError","message":"Maximum session turns exceeded"}}"#,
        ]);
        let summary = parse(STREAM, &transcript);
        assert_eq!(summary.verdict, error("Maximum session turns exceeded"));
        assert_eq!(summary.usage, None);

        let transcript = lines(&[r#"{"type":"result","status":"error"}"#]);
        assert_eq!(parse(STREAM, &transcript).verdict, error("status error"));
    }

    #[test]
    fn gemini_tui_a_quota_dialog_is_a_limit_and_enter_keeps_trying() {
        use crate::provider::cli::coding_cli::CodingCli;
        let cli = super::super::Gemini;
        let read = cli.tui_limits().expect("its TUI draws limits");
        let far = read(&fixture("limits/far", "gemini-tui.screen"));
        assert_eq!(far.len(), 1, "{far:?}");
        assert!(
            far[0].said.starts_with("Usage limit reached for gemini-"),
            "{far:?}"
        );
        assert_eq!(cli.tui_limit_keys(), Some(&["Enter"][..]));
        // A per-minute quota: `Thinking…` while it waits by itself, no dialog.
        let minute = read(&fixture("limits/near-minute", "gemini-tui.screen"));
        assert!(minute.is_empty(), "{minute:?}");
    }

    #[test]
    fn gemini_a_quota_it_gave_up_on_is_said_one_it_waited_out_is_not() {
        // gemini 0.61.0 against a per-day quota, the reset an hour and 20 s away: no retry,
        // exit 173 (tests/support/fixtures/limits/).
        for dir in ["limits/far", "limits/near"] {
            let s = parse_every_split(STREAM, fixture(dir, "gemini.out").as_bytes());
            let limit = s.usage_limit.expect("a limit");
            assert!(
                limit.said.starts_with(
                    "[API Error: You have exhausted your daily quota on this model.]\nPlease wait"
                ),
                "{limit:?}"
            );
            assert_eq!(limit.resets_in_seconds, None, "its words name no reset");
            assert!(matches!(s.verdict, Some(Verdict::Error { .. })));
        }
        // A per-minute quota: it waits silently, then answers.
        let s = parse(
            STREAM,
            fixture("limits/near-minute", "gemini.out").as_bytes(),
        );
        assert_eq!(s.usage_limit, None);
        assert_eq!(s.verdict, Some(Verdict::Success));
        // Another error is no limit.
        let other = r#"{"type":"result","status":"error","error":{"message":"Maximum session turns exceeded"}}"#;
        assert_eq!(parse(STREAM, &lines(&[other])).usage_limit, None);
    }

    #[test]
    fn gemini_alternative_stats_keys() {
        let transcript = lines(&[
            r#"{"type":"result","status":"success","stats":{"input":20,"cached":30,"output":7}}"#,
        ]);
        let usage = parse(STREAM, &transcript).usage.unwrap();
        assert_eq!(
            (
                usage.input_tokens,
                usage.output_tokens,
                usage.cached_input_tokens
            ),
            (50, 7, Some(30))
        );
    }

    #[test]
    fn gemini_deltas_are_capped() {
        let mut transcript = Vec::new();
        for _ in 0..(LAST_MESSAGE_MAX_CHARS / 3 + 5) {
            transcript.extend_from_slice(&lines(&[
                r#"{"type":"message","role":"assistant","content":"ab€","delta":true}"#,
            ]));
        }
        let message = parse(STREAM, &transcript).last_message.unwrap();
        assert_eq!(message.chars().count(), LAST_MESSAGE_MAX_CHARS);
        assert!(message.ends_with('…'));
        assert!(message.starts_with("ab€ab€"));
    }
}
