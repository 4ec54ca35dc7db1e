//! Claude Code `--output-format stream-json` events: `system/init`, `assistant`, `result`,
//! and its background tasks (`system/task_started`, `task_updated`, `task_notification`).
//!
//! Background work, seen on claude 2.1.197 (ADR 0096): a `Bash` call with
//! `run_in_background` and a `Task` call with `run_in_background` each start a task
//! (`task_type` `local_bash`, `local_agent`). After its turn's `result`, `claude -p` waits
//! for running sub-agents (their end starts another turn, with a second `result`), but
//! stops running shells about 5 s later (`task_updated` `killed`, `task_notification`
//! `stopped`) and exits; `CLAUDE_CODE_PRINT_BG_WAIT_CEILING_MS=0` does not keep them. A task
//! that ran when a `result` came and ended stopped, or never ended, is one the CLI stopped
//! unfinished: `StreamSummary::background_stopped`. What its events cannot tell: a command
//! the shell sends to the background (its `Bash` refuses `… &` and `setsid -f …` unasked,
//! but a script it is allowed to run may background its work), which runs on after the CLI
//! exits; the supervisor finds it by the worker's environment and waits for it (ADR 0099).

use serde_json::Value;

use crate::receipts::BackgroundTask;

use crate::provider::cli::stream::{
    HeadlessStream, MAX_FOLLOWED, StreamEvents, StreamSummary, array, f64_field, keep_first, kept,
    last_text, nonblank_field, result_usage, result_verdict, started, str_field, subagent,
    task_text, truncate_message, u64_field,
};

/// Claude Code's headless stream: only its background tasks are kept between events.
#[derive(Debug, Default)]
pub(super) struct ClaudeEvents {
    tasks: Vec<Task>,
}

/// One background task its events named.
#[derive(Debug)]
struct Task {
    task: BackgroundTask,
    /// Its end's status, once it ended.
    ended: Option<String>,
    /// Whether it still ran when a turn's `result` came.
    outlived_turn: bool,
}

impl ClaudeEvents {
    fn task(&mut self, event: &Value) {
        let text = |key: &str| task_text(str_field(event, key));
        let id = text("task_id");
        match str_field(event, "subtype") {
            Some("task_started") if self.tasks.len() < MAX_FOLLOWED => {
                let kind = match str_field(event, "task_type") {
                    Some("local_bash") => "shell".to_owned(),
                    Some("local_agent") => "subagent".to_owned(),
                    _ => text("task_type"),
                };
                let task = BackgroundTask {
                    id,
                    kind,
                    what: text("description"),
                };
                self.tasks.push(Task {
                    task,
                    ended: None,
                    outlived_turn: false,
                });
            }
            Some(subtype @ ("task_updated" | "task_notification")) => {
                let status = if subtype == "task_updated" {
                    event.get("patch").and_then(|p| str_field(p, "status"))
                } else {
                    str_field(event, "status")
                };
                let Some(status) = status.filter(|s| *s != "running" && *s != "pending") else {
                    return;
                };
                if let Some(t) = self.tasks.iter_mut().find(|t| t.task.id == id) {
                    t.ended.get_or_insert_with(|| status.to_owned());
                }
            }
            _ => {}
        }
    }
}

impl StreamEvents for ClaudeEvents {
    fn event(&mut self, kind: &str, event: &Value, summary: &mut StreamSummary) {
        match kind {
            "system" if str_field(event, "subtype") == Some("init") => started(event, summary),
            "system" => self.task(event),
            "assistant" => assistant(event, summary),
            "result" => {
                for t in self.tasks.iter_mut().filter(|t| t.ended.is_none()) {
                    t.outlived_turn = true;
                }
                result(event, summary);
            }
            _ => {}
        }
        keep_first(&mut summary.session_id, event, "session_id");
    }

    /// A task started and not ended: the CLI waits for it before it exits (a sub-agent to
    /// its end, a shell about 5 s after the turn). From its start, not the turn's end: the
    /// stream holds the turn's `result` back until a sub-agent ended.
    fn waiting_on(&self) -> Vec<BackgroundTask> {
        kept(
            self.tasks
                .iter()
                .filter(|t| t.ended.is_none())
                .map(|t| &t.task),
        )
    }

    fn finish(&mut self, summary: &mut StreamSummary) {
        let stopped = |t: &&Task| {
            t.outlived_turn && (t.ended.as_deref()).is_none_or(|s| s == "killed" || s == "stopped")
        };
        summary.background_stopped = kept(self.tasks.iter().filter(stopped).map(|t| &t.task));
    }
}

fn assistant(event: &Value, summary: &mut StreamSummary) {
    let Some(message) = event.get("message") else {
        return;
    };
    keep_first(&mut summary.model, message, "model");
    let said = match message.get("content") {
        Some(Value::Array(blocks)) => last_text(blocks, &["tool_use", "server_tool_use"], summary),
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text.as_str()),
        _ => None,
    };
    // A subagent's frames carry the id of the Task tool call that spawned it; its text is
    // not the worker's answer, but its tool calls are still tool calls.
    if let Some(text) = said
        && !subagent(event)
    {
        summary.last_message = Some(truncate_message(text));
    }
}

fn result(event: &Value, summary: &mut StreamSummary) {
    let errors: Vec<&str> = (array(event, "errors").iter())
        .filter_map(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .collect();
    let errors = errors.join("; ");
    let errors = Some(errors.as_str()).filter(|e| !e.is_empty());
    result_verdict(event, summary, |_| false, errors);
    if let Some(cost) = f64_field(event, "total_cost_usd").or(f64_field(event, "cost_usd")) {
        summary.cost_usd = Some(cost);
    }
    if let Some(usage) = result_usage(event, Some("cache_creation_input_tokens"), None) {
        summary.usage = Some(usage);
    }
    if let Some(denials) = event.get("permission_denials").and_then(Value::as_array) {
        summary.permission_denials = denials.len() as u64;
    }
    let limited = event.get("is_error").and_then(Value::as_bool) == Some(true)
        && u64_field(event, "api_error_status") == Some(429);
    summary.usage_limit = limited.then(|| {
        crate::provider::cli::limit::said(nonblank_field(event, "result").unwrap_or("HTTP 429"))
    });
}

/// Its headless event stream (see the module's documentation).
pub(super) static HEADLESS: HeadlessStream = HeadlessStream {
    format: super::STREAM,
    parser: || Box::<ClaudeEvents>::default(),
    claims: |kind, event| match kind {
        "system" | "assistant" | "user" | "stream_event" => true,
        "result" => event.get("subtype").is_some(),
        _ => false,
    },
    claims_narrowly: false,
    transcript: Some(|| Box::new(super::transcript::ClaudeTranscript)),
    #[cfg(test)]
    sample: tests::SAMPLE,
};

#[cfg(test)]
pub(crate) mod tests {
    use super::super::STREAM;
    use crate::provider::events::testing::*;
    use crate::receipts::BackgroundTask;

    /// A real run of its headless stream, for every parser's tests.
    pub(crate) const SAMPLE: &[&str] = &[
        r#"{"type":"system","subtype":"init","cwd":"/repo","session_id":"9f1c2d7e-5b8f-4261-99c4-dbbaa6ae0e24","tools":["Bash","Read","Edit"],"mcp_servers":[],"model":"claude-sonnet-4-5-20250929","permissionMode":"acceptEdits","apiKeySource":"none","uuid":"u1"}"#,
        r#"{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"I'll look at the failing test first."}],"stop_reason":null,"usage":{"input_tokens":4,"output_tokens":12}},"parent_tool_use_id":null,"session_id":"9f1c2d7e-5b8f-4261-99c4-dbbaa6ae0e24"}"#,
        r#"{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"cargo test"}}]},"parent_tool_use_id":null,"session_id":"9f1c2d7e-5b8f-4261-99c4-dbbaa6ae0e24"}"#,
        r#"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_1","type":"tool_result","content":"test result: FAILED. 1 passed; 1 failed","is_error":false}]},"parent_tool_use_id":null,"session_id":"9f1c2d7e-5b8f-4261-99c4-dbbaa6ae0e24"}"#,
        r#"{"type":"assistant","message":{"id":"msg_2","type":"message","role":"assistant","content":[{"type":"tool_use","id":"toolu_2","name":"Edit","input":{"file_path":"src/lib.rs","old_string":"a","new_string":"b"}},{"type":"tool_use","id":"toolu_3","name":"Bash","input":{"command":"cargo test"}}]},"parent_tool_use_id":null,"session_id":"9f1c2d7e-5b8f-4261-99c4-dbbaa6ae0e24"}"#,
        r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed","resetsAt":1790578200},"uuid":"u2","session_id":"9f1c2d7e-5b8f-4261-99c4-dbbaa6ae0e24"}"#,
        r#"{"type":"assistant","message":{"id":"msg_3","type":"message","role":"assistant","content":[{"type":"text","text":"Fixed the off-by-one in `parse`; all tests pass."}]},"parent_tool_use_id":null,"session_id":"9f1c2d7e-5b8f-4261-99c4-dbbaa6ae0e24"}"#,
        r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":16049,"duration_api_ms":15987,"num_turns":6,"result":"Fixed the off-by-one in `parse`; all tests pass.","session_id":"9f1c2d7e-5b8f-4261-99c4-dbbaa6ae0e24","total_cost_usd":0.0523,"usage":{"input_tokens":18,"cache_creation_input_tokens":1920,"cache_read_input_tokens":17004,"output_tokens":412,"server_tool_use":{"web_search_requests":0},"service_tier":"standard"},"permission_denials":[],"uuid":"u3"}"#,
    ];

    #[test]
    fn claude_success() {
        let summary = parse_every_split(STREAM, &lines(SAMPLE));
        assert_eq!(
            summary,
            StreamSummary {
                session_id: Some("9f1c2d7e-5b8f-4261-99c4-dbbaa6ae0e24".into()),
                model: Some("claude-sonnet-4-5-20250929".into()),
                usage: Some(Usage {
                    input_tokens: 18,
                    output_tokens: 412,
                    cached_input_tokens: Some(17004),
                    cache_creation_input_tokens: Some(1920),
                    total_tokens: None,
                }),
                verdict: Some(Verdict::Success),
                last_message: Some("Fixed the off-by-one in `parse`; all tests pass.".into()),
                tool_calls: 3,
                permission_denials: 0,
                num_turns: Some(6),
                cost_usd: Some(0.0523),
                events: 8,
                unparsed_lines: 0,
                background_stopped: Vec::new(),
                background_left: Vec::new(),
                usage_limit: None,
            }
        );
        assert!(!summary.is_empty());
    }

    #[test]
    fn claude_permission_denials() {
        let transcript = lines(&[
            r#"{"type":"system","subtype":"init","session_id":"f18f49de","model":"claude-opus-4-1","permissionMode":"default","tools":["Edit"]}"#,
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"Edit","input":{"file_path":"test-file.txt"}}]},"session_id":"f18f49de"}"#,
            r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"Claude requested permissions to write to test-file.txt, but you haven't granted it yet.","is_error":true,"tool_use_id":"toolu_01"}]},"session_id":"f18f49de"}"#,
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use","id":"toolu_02","name":"Bash","input":{"command":"rm -rf build"}}]},"session_id":"f18f49de"}"#,
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"I need permission to edit test-file.txt."}]},"session_id":"f18f49de"}"#,
            r#"{"type":"result","subtype":"success","is_error":false,"num_turns":8,"result":"I need permission to edit test-file.txt.","session_id":"f18f49de","total_cost_usd":0.3464,"usage":{"input_tokens":8,"cache_creation_input_tokens":192,"cache_read_input_tokens":17004,"output_tokens":32},"permission_denials":[{"tool_name":"Edit","tool_use_id":"toolu_01","tool_input":{"file_path":"test-file.txt"}},{"tool_name":"Bash","tool_use_id":"toolu_02","tool_input":{"command":"rm -rf build"}}]}"#,
        ]);
        let summary = parse_every_split(STREAM, &transcript);
        assert_eq!(summary.permission_denials, 2);
        assert_eq!(summary.tool_calls, 2);
        assert_eq!(summary.verdict, Some(Verdict::Success));
        assert_eq!(summary.model.as_deref(), Some("claude-opus-4-1"));
        assert_eq!(summary.num_turns, Some(8));
    }

    #[test]
    fn claude_api_error() {
        let transcript = lines(&[
            r#"{"type":"system","subtype":"init","session_id":"s-err","model":"claude-sonnet-4-5"}"#,
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Working on it."}]},"session_id":"s-err"}"#,
            r#"{"type":"result","subtype":"success","is_error":true,"duration_ms":2000,"num_turns":1,"result":"API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}","session_id":"s-err","total_cost_usd":0,"usage":{"input_tokens":3,"output_tokens":0}}"#,
        ]);
        let summary = parse_every_split(STREAM, &transcript);
        assert_eq!(
            summary.verdict,
            error(
                r#"API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            )
        );
        // The error text is not an answer: the last message stays the assistant's.
        assert_eq!(summary.last_message.as_deref(), Some("Working on it."));
        assert_eq!(summary.cost_usd, Some(0.0));
        let usage = summary.usage.unwrap();
        assert_eq!((usage.input_tokens, usage.cached_input_tokens), (3, None));
    }

    #[test]
    fn claude_tui_a_limit_it_gave_up_on_is_on_its_screen_one_it_retries_is_not() {
        use crate::provider::cli::coding_cli::CodingCli;
        let read = super::super::Claude
            .tui_limits()
            .expect("its TUI draws limits");
        let far = read(&fixture("limits/far", "claude-tui.screen"));
        assert_eq!(far.len(), 1, "{far:?}");
        assert!(
            far[0]
                .said
                .starts_with("API Error: Request rejected (429) · This request"),
            "{far:?}"
        );
        let near = read(&fixture("limits/near", "claude-tui.screen"));
        assert!(near.is_empty(), "retrying by itself: {near:?}");
    }

    #[test]
    fn claude_a_limit_it_gave_up_on_is_said_one_it_waited_out_is_not() {
        // claude 2.1.197 against a 429 an hour away: no retry, a `result` with
        // `api_error_status: 429` (tests/support/fixtures/limits/).
        let far = parse_every_split(STREAM, fixture("limits/far", "claude.out").as_bytes());
        let limit = far.usage_limit.expect("a limit");
        assert_eq!(
            limit.said,
            "API Error: Request rejected (429) · This request would exceed your account's rate limit. Please try again later."
        );
        assert_eq!(limit.resets_in_seconds, None, "its words name no reset");
        assert!(matches!(far.verdict, Some(Verdict::Error { .. })));
        // 20 s away: a `system/api_retry` (`error: "rate_limit"`), the wait, then the answer.
        let near = parse(STREAM, fixture("limits/near", "claude.out").as_bytes());
        assert_eq!(near.usage_limit, None);
        assert_eq!(near.verdict, Some(Verdict::Success));
        // Another error, or a later result that succeeded, is no limit.
        let other =
            r#"{"type":"result","is_error":true,"api_error_status":529,"result":"API Error: 529"}"#;
        assert_eq!(parse(STREAM, &lines(&[other])).usage_limit, None);
        let limited = r#"{"type":"result","is_error":true,"api_error_status":429,"result":" "}"#;
        let ok = r#"{"type":"result","subtype":"success","is_error":false,"result":"ok"}"#;
        let said = parse(STREAM, &lines(&[limited])).usage_limit.unwrap().said;
        assert_eq!(said, "HTTP 429");
        assert_eq!(parse(STREAM, &lines(&[limited, ok])).usage_limit, None);
    }

    #[test]
    fn claude_error_subtypes() {
        let max_turns = lines(&[
            r#"{"type":"result","subtype":"error_max_turns","is_error":false,"num_turns":3,"session_id":"s"}"#,
        ]);
        let summary = parse(STREAM, &max_turns);
        assert_eq!(summary.verdict, error("error_max_turns"));
        assert_eq!(summary.session_id.as_deref(), Some("s"));

        let with_errors = lines(&[
            r#"{"type":"result","subtype":"error_during_execution","is_error":true,"errors":["tool crashed",7,"again"]}"#,
        ]);
        let summary = parse(STREAM, &with_errors);
        assert_eq!(summary.verdict, error("tool crashed; again"));

        let bare = lines(&[r#"{"type":"result","is_error":true,"result":"  "}"#]);
        assert_eq!(parse(STREAM, &bare).verdict, error("error"));
    }

    #[test]
    fn claude_subagent_text_is_not_the_answer() {
        let transcript = lines(&[
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Main answer"}]}}"#,
            r#"{"type":"assistant","parent_tool_use_id":"toolu_task","message":{"role":"assistant","content":[{"type":"text","text":"subagent chatter"},{"type":"tool_use","id":"t","name":"Grep","input":{}}]}}"#,
        ]);
        let summary = parse(STREAM, &transcript);
        assert_eq!(summary.last_message.as_deref(), Some("Main answer"));
        assert_eq!(summary.tool_calls, 1);
        assert_eq!(summary.verdict, None);
    }

    #[test]
    fn claude_background_work_is_waited_on_from_its_start_to_its_end() {
        let mut p = crate::provider::events::EventParser::new(STREAM);
        let started = r#"{"type":"system","subtype":"task_started","task_id":"a0","task_type":"local_agent","description":"check the docs"}"#;
        let ended = r#"{"type":"system","subtype":"task_notification","task_id":"a0","status":"completed"}"#;
        assert!(p.waiting_on_so_far().is_empty());
        p.feed(format!("{started}\n").as_bytes());
        let [t] = p.waiting_on_so_far().try_into().unwrap();
        assert_eq!(
            (t.kind.as_str(), t.what.as_str()),
            ("subagent", "check the docs")
        );
        p.feed(format!("{ended}\n").as_bytes());
        assert!(p.waiting_on_so_far().is_empty());
    }

    #[test]
    fn claude_background_work_stopped_after_the_turn_is_kept_and_bounded() {
        let started = |id: &str, ty: &str, what: &str| {
            format!(
                r#"{{"type":"system","subtype":"task_started","task_id":"{id}","task_type":"{ty}","description":"{what}"}}"#
            )
        };
        let result = r#"{"type":"result","subtype":"success","is_error":false,"result":"ok"}"#;
        let killed = |id: &str| {
            format!(
                r#"{{"type":"system","subtype":"task_updated","task_id":"{id}","patch":{{"status":"killed"}}}}"#
            )
        };
        let stream = [
            started("b1", "local_bash", "slow tests"),
            started("b2", "local_bash", "ended before the turn"),
            r#"{"type":"system","subtype":"task_notification","task_id":"b2","status":"completed"}"#.to_owned(),
            started("a1", "local_agent", "check the docs"),
            result.to_owned(),
            r#"{"type":"system","subtype":"task_notification","task_id":"a1","status":"completed"}"#.to_owned(),
            killed("b1"),
        ];
        let refs: Vec<&str> = stream.iter().map(String::as_str).collect();
        let summary = parse_every_split(STREAM, &lines(&refs));
        let [t] = summary.background_stopped.as_slice() else {
            panic!("{:?}", summary.background_stopped)
        };
        assert_eq!(
            (t.id.as_str(), t.kind.as_str(), t.what.as_str()),
            ("b1", "shell", "slow tests")
        );

        // A hostile stream: thousands of tasks, each with a huge description, never ended.
        let long = "x".repeat(10_000);
        let mut many: Vec<String> = (0..5_000)
            .map(|i| started(&format!("t{i}"), "local_bash", &long))
            .collect();
        many.push(result.to_owned());
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let summary = parse(STREAM, &lines(&refs));
        assert_eq!(summary.background_stopped.len(), BackgroundTask::MAX_TASKS);
        assert!(summary.background_stopped[0].what.len() <= BackgroundTask::MAX_TEXT + 3);
        // Work that never outlived a turn's result is not counted.
        let refs = [started("b1", "local_bash", "x")];
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        assert!(parse(STREAM, &lines(&refs)).background_stopped.is_empty());
    }
}
