//! Codex `exec --json` events: `thread.started`, `item.*`, `turn.completed`, `turn.failed`,
//! and non-fatal `error`s.
//!
//! Background work, seen on codex 0.169.0 (ADR 0096): a command still running when
//! `exec_command` stops waiting for it (`yield_time_ms`) goes on in a "unified exec" session
//! (the model is told "Process running with session ID N"): its `item.started` comes, and its
//! `item.completed` only once it ends. One that ends before the turn does is `completed`
//! then; one that outlives the turn never is: `codex exec` ends the turn (`turn.completed`)
//! without waiting for it and stops it as it exits. Each command whose `item.started` was
//! still unmatched when its turn completed, and never completed after, is work the CLI left
//! unfinished: `StreamSummary::background_stopped`. Its sub-agents: 0.169.0 offers the model
//! no sub-agent tool in vnx's configuration (`spawn_agent` is an "unsupported call"; the
//! `collaboration` tool comes only with the `multi_agent_v2` feature, which vnx leaves off).
//! What its events cannot tell: a command its shell sends to the background (`… &`), which
//! runs on after the CLI exits; the supervisor finds it by the worker's environment and
//! waits for it (ADR 0099).
//!
//! A usage limit, seen on codex 0.169.0 (ADR 0117): an HTTP 429 is an `error`,
//! `Reconnecting... 1/5 (exceeded retry limit, last status: 429 Too Many Requests, …)`, after
//! which it waits (no reset said): waited out, the turn completes; an hour away, it waits
//! silently until it is stopped. A 429 with no completed turn after it is the run's
//! `StreamSummary::usage_limit`.

use serde_json::Value;

use crate::receipts::BackgroundTask;

use crate::provider::cli::limit::said;
use crate::provider::cli::stream::{
    HeadlessStream, LAST_MESSAGE_MAX_CHARS, MAX_FOLLOWED, StreamEvents, StreamSummary, Usage,
    Verdict, add, error_verdict, kept, nonblank_field, remember_error, set_capped, str_field,
    task_text, truncate, u64_field,
};

/// Codex's headless stream.
#[derive(Debug, Default)]
pub(super) struct CodexEvents {
    /// The message of the last top-level `error` event, used when the turn fails without a
    /// message of its own.
    remembered_error: Option<String>,
    /// Commands started and not (yet) completed, and whether a turn completed while each
    /// ran (at most [`MAX_FOLLOWED`]).
    running: Vec<(BackgroundTask, bool)>,
}

impl StreamEvents for CodexEvents {
    fn event(&mut self, kind: &str, event: &Value, summary: &mut StreamSummary) {
        match kind {
            "thread.started" => set_capped(&mut summary.session_id, event, "thread_id"),
            "item.started" => self.command_started(event),
            "item.completed" => {
                let Some(item) = event.get("item") else {
                    return;
                };
                if let Some(id) = str_field(item, "id") {
                    self.running.retain(|(t, _)| t.id != id);
                }
                match str_field(item, "type") {
                    Some("agent_message") => {
                        if let Some(text) = nonblank_field(item, "text") {
                            summary.last_message = Some(truncate(text, LAST_MESSAGE_MAX_CHARS));
                        }
                    }
                    Some("command_execution") => {
                        summary.tool_calls += 1;
                        if str_field(item, "status") == Some("declined") {
                            summary.permission_denials += 1;
                        }
                    }
                    Some("file_change" | "mcp_tool_call" | "web_search" | "collab_tool_call") => {
                        summary.tool_calls += 1;
                    }
                    _ => {}
                }
            }
            "turn.completed" => {
                if let Some(turn) = event.get("usage").filter(|u| u.is_object()) {
                    let usage = summary.usage.get_or_insert_with(Usage::default);
                    add(&mut usage.input_tokens, u64_field(turn, "input_tokens"));
                    add(&mut usage.output_tokens, u64_field(turn, "output_tokens"));
                    if let Some(cached) = u64_field(turn, "cached_input_tokens") {
                        let total = usage.cached_input_tokens.get_or_insert(0);
                        *total = total.saturating_add(cached);
                    }
                }
                let turns = summary.num_turns.get_or_insert(0);
                *turns = turns.saturating_add(1);
                summary.verdict = Some(Verdict::Success);
                summary.usage_limit = None;
                for (_, outlived) in &mut self.running {
                    *outlived = true;
                }
            }
            "turn.failed" => {
                let own = event
                    .get("error")
                    .and_then(|e| nonblank_field(e, "message"));
                let message = own
                    .or(self.remembered_error.as_deref())
                    .unwrap_or("turn failed");
                summary.verdict = Some(error_verdict(message));
            }
            // Not fatal by itself: codex reports retries and missing model metadata this way
            // and carries on. A fatal one is followed by `turn.failed` or a failing exit.
            "error" => {
                remember_error(&mut self.remembered_error, event);
                // A 429 it retries: a limit unless a turn completes after it (ADR 0117).
                if let Some(message) = str_field(event, "message")
                    && message.contains("429 Too Many Requests")
                {
                    summary.usage_limit = Some(said(message));
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, summary: &mut StreamSummary) {
        let outlived = self.running.iter().filter(|(_, outlived)| *outlived);
        summary.background_stopped = kept(outlived.map(|(t, _)| t));
    }
}

impl CodexEvents {
    /// A command started (`item.started`, `command_execution`): followed until it completes.
    fn command_started(&mut self, event: &Value) {
        let Some(item) = event.get("item") else {
            return;
        };
        if str_field(item, "type") != Some("command_execution")
            || self.running.len() >= MAX_FOLLOWED
        {
            return;
        }
        let id = task_text(str_field(item, "id"));
        if self.running.iter().any(|(t, _)| t.id == id) {
            return;
        }
        let task = BackgroundTask {
            id,
            kind: "shell".to_owned(),
            what: task_text(Some(&super::transcript::codex_command(item))),
        };
        self.running.push((task, false));
    }
}

/// Its headless event stream (see the module's documentation).
pub(super) static HEADLESS: HeadlessStream = HeadlessStream {
    format: super::STREAM,
    parser: || Box::new(CodexEvents::default()),
    claims: |kind, _| {
        kind.starts_with("thread.") || kind.starts_with("turn.") || kind.starts_with("item.")
    },
    claims_narrowly: false,
    transcript: Some(|| Box::new(super::transcript::CodexTranscript)),
    #[cfg(test)]
    sample: tests::SAMPLE,
};

#[cfg(test)]
pub(crate) mod tests {
    use super::super::STREAM;
    use super::{BackgroundTask, MAX_FOLLOWED, Verdict};
    use crate::provider::events::testing::*;

    /// A real run of its headless stream, for every parser's tests.
    pub(crate) const SAMPLE: &[&str] = &[
        r#"{"type":"thread.started","thread_id":"0199a213-81c0-7800-8aa1-bbab2a035a53"}"#,
        r#"{"type":"error","message":"Model metadata for `gpt-5.1-codex-max` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}"#,
        r#"{"type":"turn.started"}"#,
        r#"{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Inspecting the repository**"}}"#,
        r#"{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#,
        r#"{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"Cargo.toml\nsrc\n","exit_code":0,"status":"completed"}}"#,
        r#"{"type":"item.completed","item":{"id":"item_2","type":"file_change","changes":[{"path":"src/lib.rs","kind":"update"}],"status":"completed"}}"#,
        r#"{"type":"item.updated","item":{"id":"item_3","type":"todo_list","items":[{"text":"fix","completed":true}]}}"#,
        r#"{"type":"item.completed","item":{"id":"item_4","type":"agent_message","text":"Patched src/lib.rs."}}"#,
        r#"{"type":"turn.completed","usage":{"input_tokens":24763,"cached_input_tokens":24448,"output_tokens":122}}"#,
        r#"{"type":"turn.started"}"#,
        r#"{"type":"item.completed","item":{"id":"item_5","type":"mcp_tool_call","server":"docs","tool":"search","arguments":{},"result":null,"error":null,"status":"completed"}}"#,
        r#"{"type":"item.completed","item":{"id":"item_6","type":"web_search","query":"rust char boundary"}}"#,
        r#"{"type":"item.completed","item":{"id":"item_7","type":"command_execution","command":"git push","aggregated_output":"","exit_code":null,"status":"declined"}}"#,
        r#"{"type":"item.completed","item":{"id":"item_8","type":"error","message":"command declined by policy"}}"#,
        r#"{"type":"item.completed","item":{"id":"item_9","type":"agent_message","text":"Done: tests pass, push was declined."}}"#,
        r#"{"type":"turn.completed","usage":{"input_tokens":1000,"cached_input_tokens":500,"output_tokens":78}}"#,
    ];

    #[test]
    fn codex_multi_turn_sums_usage() {
        let summary = parse_every_split(STREAM, &lines(SAMPLE));
        assert_eq!(
            summary,
            StreamSummary {
                session_id: Some("0199a213-81c0-7800-8aa1-bbab2a035a53".into()),
                model: None,
                usage: Some(Usage {
                    input_tokens: 25763,
                    output_tokens: 200,
                    cached_input_tokens: Some(24948),
                    cache_creation_input_tokens: None,
                    total_tokens: None,
                }),
                verdict: Some(Verdict::Success),
                last_message: Some("Done: tests pass, push was declined.".into()),
                tool_calls: 5,
                permission_denials: 1,
                num_turns: Some(2),
                cost_usd: None,
                events: 17,
                unparsed_lines: 0,
                background_stopped: Vec::new(),
                background_left: Vec::new(),
                usage_limit: None,
            }
        );
    }

    #[test]
    fn a_command_that_outlived_its_turn_was_stopped_unfinished() {
        // codex 0.169.0 (tests/support/fixtures/codex-headless-background-*.jsonl): a
        // command still running when the turn completed, never completed after.
        let shell = r#"{"type":"item.started","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'sleep 15; echo finished > bg.txt'","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#;
        let answer = r#"{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"Started the tests."}}"#;
        let turn = r#"{"type":"turn.completed","usage":{"input_tokens":19786,"cached_input_tokens":0,"output_tokens":53}}"#;
        let summary = parse_every_split(STREAM, &lines(&[shell, answer, turn]));
        assert_eq!(summary.verdict, Some(Verdict::Success));
        let [task] = summary.background_stopped.as_slice() else {
            panic!("{:?}", summary.background_stopped)
        };
        assert_eq!(
            (task.id.as_str(), task.kind.as_str(), task.what.as_str()),
            ("item_0", "shell", "sleep 15; echo finished > bg.txt")
        );
        // One that ended within the turn completed before it: nothing unfinished.
        let ended = r#"{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'sleep 15; echo finished > bg.txt'","aggregated_output":"","exit_code":0,"status":"completed"}}"#;
        let summary = parse(STREAM, &lines(&[shell, ended, answer, turn]));
        assert!(summary.background_stopped.is_empty(), "{summary:?}");
        // As vnx starts it, codex runs commands in no login shell.
        let plain = shell.replace("-lc", "-c");
        let summary = parse(STREAM, &lines(&[&plain, answer, turn]));
        assert_eq!(
            summary.background_stopped[0].what,
            "sleep 15; echo finished > bg.txt"
        );
        // A stream cut while a command runs (vnx stopped the CLI mid-turn) has no turn it
        // outlived.
        let summary = parse(STREAM, &lines(&[shell]));
        assert!(summary.background_stopped.is_empty(), "{summary:?}");
    }

    #[test]
    fn unfinished_commands_are_bounded() {
        let mut events: Vec<String> = (0..MAX_FOLLOWED + 10)
            .map(|i| {
                format!(
                    r#"{{"type":"item.started","item":{{"id":"i{i}","type":"command_execution","command":"{}"}}}}"#,
                    "x".repeat(BackgroundTask::MAX_TEXT * 2)
                )
            })
            .collect();
        events.push(r#"{"type":"turn.completed"}"#.to_owned());
        let refs: Vec<&str> = events.iter().map(String::as_str).collect();
        let summary = parse(STREAM, &lines(&refs));
        assert_eq!(summary.background_stopped.len(), BackgroundTask::MAX_TASKS);
        assert!(summary.background_stopped[0].what.chars().count() <= BackgroundTask::MAX_TEXT + 1);
    }

    #[test]
    fn codex_turn_failed() {
        let transcript = lines(&[
            r#"{"type":"thread.started","thread_id":"t-1"}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"error","message":"stream disconnected before completion: Reconnecting... 1/5"}"#,
            r#"{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: Missing bearer authentication in header"}}"#,
        ]);
        let summary = parse_every_split(STREAM, &transcript);
        assert_eq!(
            summary.verdict,
            error("unexpected status 401 Unauthorized: Missing bearer authentication in header")
        );
        assert_eq!(summary.num_turns, None);
        assert_eq!(summary.usage, None);

        // A failed turn without a message of its own takes the last top-level error's.
        let transcript = lines(&[
            r#"{"type":"error","message":"exceeded retry limit, last status: 429 Too Many Requests"}"#,
            r#"{"type":"turn.failed","error":{}}"#,
        ]);
        assert_eq!(
            parse(STREAM, &transcript).verdict,
            error("exceeded retry limit, last status: 429 Too Many Requests")
        );
        let transcript = lines(&[r#"{"type":"turn.failed"}"#]);
        assert_eq!(parse(STREAM, &transcript).verdict, error("turn failed"));
    }

    #[test]
    fn codex_error_alone_is_not_a_verdict_and_last_verdict_wins() {
        let transcript = lines(&[r#"{"type":"error","message":"Model metadata not found"}"#]);
        assert_eq!(parse(STREAM, &transcript).verdict, None);

        let transcript = lines(&[
            r#"{"type":"turn.failed","error":{"message":"boom"}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":2}}"#,
        ]);
        assert_eq!(parse(STREAM, &transcript).verdict, Some(Verdict::Success));
        let transcript = lines(&[
            r#"{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":2}}"#,
            r#"{"type":"turn.failed","error":{"message":"boom"}}"#,
        ]);
        assert_eq!(parse(STREAM, &transcript).verdict, error("boom"));
    }

    #[test]
    fn codex_a_429_is_a_limit_unless_a_turn_completes_after_it() {
        // codex 0.169.0 against a 429 an hour away: the `error`, then it waits silently
        // until it is stopped (tests/support/fixtures/limits/).
        let far = parse_every_split(STREAM, fixture("limits/far", "codex.out").as_bytes());
        let limit = far.usage_limit.expect("a limit");
        assert!(
            limit.said.starts_with(
                "Reconnecting... 1/5 (exceeded retry limit, last status: 429 Too Many Requests"
            ),
            "{limit:?}"
        );
        assert_eq!(limit.resets_in_seconds, None, "its words name no reset");
        assert_eq!(far.verdict, None);
        // 20 s away: the same `error`, the wait, then the answer and a completed turn.
        let near = parse_every_split(STREAM, fixture("limits/near", "codex.out").as_bytes());
        assert_eq!(near.usage_limit, None);
        assert_eq!(near.verdict, Some(Verdict::Success));
        // Another error is no limit.
        let other = r#"{"type":"error","message":"Reconnecting... 1/5 (last status: 500)"}"#;
        assert_eq!(parse(STREAM, &lines(&[other])).usage_limit, None);
    }

    #[test]
    fn bom_crlf_blank_and_final_line_without_newline() {
        let mut transcript = b"\xEF\xBB\xBF".to_vec();
        transcript.extend_from_slice(
            b"{\"type\":\"thread.started\",\"thread_id\":\"t\"}\r\n\r\n   \n\t\r\n",
        );
        transcript.extend_from_slice(
            br#"{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"hi"}}"#,
        );
        let summary = parse_every_split(STREAM, &transcript);
        assert_eq!(summary.session_id.as_deref(), Some("t"));
        assert_eq!(summary.last_message.as_deref(), Some("hi"));
        assert_eq!((summary.events, summary.unparsed_lines), (2, 0));
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let mut transcript = lines(&[
            "Loaded cached credentials.",
            "[1, 2, 3]",
            "\"a string\"",
            "42",
            "null",
            "{\"type\":\"thread.started\",\"thread_id\":",
            r#"{"type":"thread.started","thread_id":42}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":"many","cached_input_tokens":-3,"output_tokens":5.0}}"#,
            r#"{"type":"item.completed","item":"not an object"}"#,
            r#"{"type":"item.completed","item":{"type":"agent_message","text":null}}"#,
            r#"{"type":{"nested":true}}"#,
            r#"{"no_type":1}"#,
            r#"{"type":"something.new","payload":[1,2,3]}"#,
            r#"{"type":"turn.failed","error":"not an object"}"#,
        ]);
        transcript.extend_from_slice(b"\xff\xfe{\"type\":\"x\"}\n");
        transcript.extend_from_slice(b"{\"type\":\"error\",\"message\":\"\xc3\x28\"}\n");
        let summary = parse_every_split(STREAM, &transcript);
        assert_eq!(summary.unparsed_lines, 8);
        assert_eq!(summary.events, 8);
        assert_eq!(summary.session_id, None);
        assert_eq!(summary.last_message, None);
        assert_eq!(summary.verdict, error("turn failed"));
        assert_eq!(
            summary.usage,
            Some(Usage {
                input_tokens: 0,
                output_tokens: 5,
                cached_input_tokens: None,
                cache_creation_input_tokens: None,
                total_tokens: None,
            })
        );
        assert_eq!(summary.num_turns, Some(1));
    }

    #[test]
    fn oversize_lines_are_dropped_and_counted() {
        let huge = format!(
            r#"{{"type":"item.completed","item":{{"type":"agent_message","text":"{}"}}}}"#,
            "x".repeat(MAX_LINE_BYTES)
        );
        assert!(huge.len() > MAX_LINE_BYTES);
        let mut transcript = lines(&[r#"{"type":"thread.started","thread_id":"t"}"#]);
        transcript.extend_from_slice(huge.as_bytes());
        transcript.push(b'\n');
        transcript.extend_from_slice(&lines(&[
            r#"{"type":"item.completed","item":{"type":"agent_message","text":"after"}}"#,
        ]));
        // The oversize line once more, unterminated, at the end of the stream.
        transcript.extend_from_slice(huge.as_bytes());

        let whole = parse(STREAM, &transcript);
        assert_eq!(whole.unparsed_lines, 2);
        assert_eq!(whole.events, 2);
        assert_eq!(whole.last_message.as_deref(), Some("after"));
        for size in [1000, 65536, MAX_LINE_BYTES - 1, MAX_LINE_BYTES + 7] {
            assert_eq!(
                parse_chunks(STREAM, transcript.chunks(size)),
                whole,
                "chunks of {size}"
            );
        }

        // Exactly at the cap is still a line.
        let pad = MAX_LINE_BYTES - r#"{"type":"thread.started","thread_id":"t","pad":""}"#.len();
        let at_cap = format!(
            r#"{{"type":"thread.started","thread_id":"t","pad":"{}"}}"#,
            " ".repeat(pad)
        );
        assert_eq!(at_cap.len(), MAX_LINE_BYTES);
        let summary = parse_chunks(STREAM, at_cap.as_bytes().chunks(4096).chain([&b"\n"[..]]));
        assert_eq!((summary.events, summary.unparsed_lines), (1, 0));
        assert_eq!(summary.session_id.as_deref(), Some("t"));
    }

    #[test]
    fn long_messages_are_cut_at_char_boundaries() {
        let long = "é".repeat(LAST_MESSAGE_MAX_CHARS + 10);
        let transcript = lines(&[&format!(
            r#"{{"type":"item.completed","item":{{"type":"agent_message","text":"{long}"}}}}"#
        )]);
        let message = parse(STREAM, &transcript).last_message.unwrap();
        assert_eq!(message.chars().count(), LAST_MESSAGE_MAX_CHARS);
        assert!(message.ends_with("é…"));

        let exact = "ü".repeat(LAST_MESSAGE_MAX_CHARS);
        let transcript = lines(&[&format!(
            r#"{{"type":"item.completed","item":{{"type":"agent_message","text":"{exact}"}}}}"#
        )]);
        assert_eq!(parse(STREAM, &transcript).last_message, Some(exact));

        let long_error = "ß".repeat(ERROR_MESSAGE_MAX_CHARS * 2);
        let transcript = lines(&[&format!(
            r#"{{"type":"turn.failed","error":{{"message":"{long_error}"}}}}"#
        )]);
        let Some(Verdict::Error { message }) = parse(STREAM, &transcript).verdict else {
            panic!("expected an error verdict");
        };
        assert_eq!(message.chars().count(), ERROR_MESSAGE_MAX_CHARS);
        assert!(message.ends_with('…'));
    }
}
