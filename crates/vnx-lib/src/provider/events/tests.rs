//! The parser on realistic transcripts of each CLI, in every chunking, and on garbage.
use super::*;
use proptest::prelude::*;

fn parse(format: OutputFormat, bytes: &[u8]) -> StreamSummary {
    let mut parser = EventParser::new(format);
    parser.feed(bytes);
    parser.finish()
}

fn parse_chunks<'a>(
    format: OutputFormat,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> StreamSummary {
    let mut parser = EventParser::new(format);
    for chunk in chunks {
        parser.feed(chunk);
    }
    parser.finish()
}

/// Parses `bytes` whole, byte by byte, and split in two at every position; all must agree.
fn parse_every_split(format: OutputFormat, bytes: &[u8]) -> StreamSummary {
    let whole = parse(format.clone(), bytes);
    assert_eq!(
        parse_chunks(format.clone(), bytes.chunks(1)),
        whole,
        "byte by byte"
    );
    for at in 0..=bytes.len() {
        let (a, b) = bytes.split_at(at);
        assert_eq!(parse_chunks(format.clone(), [a, b]), whole, "split at {at}");
    }
    for size in [2, 3, 7, 64, 4096] {
        assert_eq!(
            parse_chunks(format.clone(), bytes.chunks(size)),
            whole,
            "chunks of {size}"
        );
    }
    whole
}

fn lines(lines: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

fn error(message: &str) -> Option<Verdict> {
    Some(Verdict::Error {
        message: message.to_owned(),
    })
}

const CLAUDE_SUCCESS: &[&str] = &[
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
    let summary = parse_every_split(
        OutputFormat::named("claude-stream-json"),
        &lines(CLAUDE_SUCCESS),
    );
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
    let summary = parse_every_split(OutputFormat::named("claude-stream-json"), &transcript);
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
    let summary = parse_every_split(OutputFormat::named("claude-stream-json"), &transcript);
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
fn claude_error_subtypes() {
    let max_turns = lines(&[
        r#"{"type":"result","subtype":"error_max_turns","is_error":false,"num_turns":3,"session_id":"s"}"#,
    ]);
    let summary = parse(OutputFormat::named("claude-stream-json"), &max_turns);
    assert_eq!(summary.verdict, error("error_max_turns"));
    assert_eq!(summary.session_id.as_deref(), Some("s"));

    let with_errors = lines(&[
        r#"{"type":"result","subtype":"error_during_execution","is_error":true,"errors":["tool crashed",7,"again"]}"#,
    ]);
    let summary = parse(OutputFormat::named("claude-stream-json"), &with_errors);
    assert_eq!(summary.verdict, error("tool crashed; again"));

    let bare = lines(&[r#"{"type":"result","is_error":true,"result":"  "}"#]);
    assert_eq!(
        parse(OutputFormat::named("claude-stream-json"), &bare).verdict,
        error("error")
    );
}

#[test]
fn claude_subagent_text_is_not_the_answer() {
    let transcript = lines(&[
        r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Main answer"}]}}"#,
        r#"{"type":"assistant","parent_tool_use_id":"toolu_task","message":{"role":"assistant","content":[{"type":"text","text":"subagent chatter"},{"type":"tool_use","id":"t","name":"Grep","input":{}}]}}"#,
    ]);
    let summary = parse(OutputFormat::named("claude-stream-json"), &transcript);
    assert_eq!(summary.last_message.as_deref(), Some("Main answer"));
    assert_eq!(summary.tool_calls, 1);
    assert_eq!(summary.verdict, None);
}

const CODEX_MULTI_TURN: &[&str] = &[
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
    let summary = parse_every_split(OutputFormat::named("codex-json"), &lines(CODEX_MULTI_TURN));
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
        }
    );
}

#[test]
fn codex_turn_failed() {
    let transcript = lines(&[
        r#"{"type":"thread.started","thread_id":"t-1"}"#,
        r#"{"type":"turn.started"}"#,
        r#"{"type":"error","message":"stream disconnected before completion: Reconnecting... 1/5"}"#,
        r#"{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: Missing bearer authentication in header"}}"#,
    ]);
    let summary = parse_every_split(OutputFormat::named("codex-json"), &transcript);
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
        parse(OutputFormat::named("codex-json"), &transcript).verdict,
        error("exceeded retry limit, last status: 429 Too Many Requests")
    );
    let transcript = lines(&[r#"{"type":"turn.failed"}"#]);
    assert_eq!(
        parse(OutputFormat::named("codex-json"), &transcript).verdict,
        error("turn failed")
    );
}

#[test]
fn codex_error_alone_is_not_a_verdict_and_last_verdict_wins() {
    let transcript = lines(&[r#"{"type":"error","message":"Model metadata not found"}"#]);
    assert_eq!(
        parse(OutputFormat::named("codex-json"), &transcript).verdict,
        None
    );

    let transcript = lines(&[
        r#"{"type":"turn.failed","error":{"message":"boom"}}"#,
        r#"{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":2}}"#,
    ]);
    assert_eq!(
        parse(OutputFormat::named("codex-json"), &transcript).verdict,
        Some(Verdict::Success)
    );
    let transcript = lines(&[
        r#"{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":2}}"#,
        r#"{"type":"turn.failed","error":{"message":"boom"}}"#,
    ]);
    assert_eq!(
        parse(OutputFormat::named("codex-json"), &transcript).verdict,
        error("boom")
    );
}

const GEMINI_SUCCESS: &[&str] = &[
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
    let summary = parse_every_split(
        OutputFormat::named("gemini-stream-json"),
        &lines(GEMINI_SUCCESS),
    );
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
    let summary = parse_every_split(OutputFormat::named("gemini-stream-json"), &transcript);
    assert_eq!(summary.last_message.as_deref(), Some("Second message"));
    assert_eq!(summary.verdict, None);

    // A user message ends the assistant's; a blank one does not replace it.
    let transcript = lines(&[
        r#"{"type":"message","role":"assistant","content":"Answer","delta":true}"#,
        r#"{"type":"message","role":"user","content":"more?"}"#,
        r#"{"type":"message","role":"assistant","content":"  ","delta":true}"#,
    ]);
    let summary = parse(OutputFormat::named("gemini-stream-json"), &transcript);
    assert_eq!(summary.last_message.as_deref(), Some("Answer"));
}

#[test]
fn gemini_errors() {
    let transcript = lines(&[
        r#"{"type":"init","session_id":"g-1","model":"gemini-2.5-flash"}"#,
        r#"{"type":"error","timestamp":"2025-10-10T12:00:00.000Z","severity":"warning","message":"Loop detected, stopping execution"}"#,
        r#"{"type":"result","status":"error","stats":{"total_tokens":100,"input_tokens":50,"output_tokens":50,"duration_ms":1200,"tool_calls":0}}"#,
    ]);
    let summary = parse_every_split(OutputFormat::named("gemini-stream-json"), &transcript);
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
    let summary = parse(OutputFormat::named("gemini-stream-json"), &transcript);
    assert_eq!(summary.verdict, error("Maximum session turns exceeded"));
    assert_eq!(summary.usage, None);

    let transcript = lines(&[r#"{"type":"result","status":"error"}"#]);
    assert_eq!(
        parse(OutputFormat::named("gemini-stream-json"), &transcript).verdict,
        error("status error")
    );
}

#[test]
fn gemini_alternative_stats_keys() {
    let transcript = lines(&[
        r#"{"type":"result","status":"success","stats":{"input":20,"cached":30,"output":7}}"#,
    ]);
    let usage = parse(OutputFormat::named("gemini-stream-json"), &transcript)
        .usage
        .unwrap();
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
fn bom_crlf_blank_and_final_line_without_newline() {
    let mut transcript = b"\xEF\xBB\xBF".to_vec();
    transcript
        .extend_from_slice(b"{\"type\":\"thread.started\",\"thread_id\":\"t\"}\r\n\r\n   \n\t\r\n");
    transcript.extend_from_slice(
        br#"{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"hi"}}"#,
    );
    let summary = parse_every_split(OutputFormat::named("codex-json"), &transcript);
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
    let summary = parse_every_split(OutputFormat::named("codex-json"), &transcript);
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
fn every_format_survives_every_transcript() {
    let all: Vec<u8> = [CLAUDE_SUCCESS, CODEX_MULTI_TURN, GEMINI_SUCCESS]
        .iter()
        .flat_map(|t| lines(t))
        .collect();
    for format in [
        OutputFormat::named("claude-stream-json"),
        OutputFormat::named("codex-json"),
        OutputFormat::named("gemini-stream-json"),
    ] {
        let summary = parse(format.clone(), &all);
        assert_eq!(summary.events, 39, "{format:?}");
        assert_eq!(summary.unparsed_lines, 0, "{format:?}");
    }
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

    let whole = parse(OutputFormat::named("codex-json"), &transcript);
    assert_eq!(whole.unparsed_lines, 2);
    assert_eq!(whole.events, 2);
    assert_eq!(whole.last_message.as_deref(), Some("after"));
    for size in [1000, 65536, MAX_LINE_BYTES - 1, MAX_LINE_BYTES + 7] {
        assert_eq!(
            parse_chunks(OutputFormat::named("codex-json"), transcript.chunks(size)),
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
    let summary = parse_chunks(
        OutputFormat::named("codex-json"),
        at_cap.as_bytes().chunks(4096).chain([&b"\n"[..]]),
    );
    assert_eq!((summary.events, summary.unparsed_lines), (1, 0));
    assert_eq!(summary.session_id.as_deref(), Some("t"));
}

#[test]
fn truncation_keeps_char_boundaries() {
    assert_eq!(truncate("abc", 3), "abc");
    assert_eq!(truncate("abcd", 3), "ab…");
    assert_eq!(truncate("héllo wörld", 5), "héll…");
    assert_eq!(truncate("🦀🦀🦀🦀", 2), "🦀…");
    assert_eq!(truncate("", 1), "");
    assert_eq!(truncate("ab", 0), "");

    let long = "é".repeat(LAST_MESSAGE_MAX_CHARS + 10);
    let transcript = lines(&[&format!(
        r#"{{"type":"item.completed","item":{{"type":"agent_message","text":"{long}"}}}}"#
    )]);
    let message = parse(OutputFormat::named("codex-json"), &transcript)
        .last_message
        .unwrap();
    assert_eq!(message.chars().count(), LAST_MESSAGE_MAX_CHARS);
    assert!(message.ends_with("é…"));

    let exact = "ü".repeat(LAST_MESSAGE_MAX_CHARS);
    let transcript = lines(&[&format!(
        r#"{{"type":"item.completed","item":{{"type":"agent_message","text":"{exact}"}}}}"#
    )]);
    assert_eq!(
        parse(OutputFormat::named("codex-json"), &transcript).last_message,
        Some(exact)
    );

    let long_error = "ß".repeat(ERROR_MESSAGE_MAX_CHARS * 2);
    let transcript = lines(&[&format!(
        r#"{{"type":"turn.failed","error":{{"message":"{long_error}"}}}}"#
    )]);
    let Some(Verdict::Error { message }) =
        parse(OutputFormat::named("codex-json"), &transcript).verdict
    else {
        panic!("expected an error verdict");
    };
    assert_eq!(message.chars().count(), ERROR_MESSAGE_MAX_CHARS);
    assert!(message.ends_with('…'));
}

#[test]
fn gemini_deltas_are_capped() {
    let mut transcript = Vec::new();
    for _ in 0..(LAST_MESSAGE_MAX_CHARS / 3 + 5) {
        transcript.extend_from_slice(&lines(&[
            r#"{"type":"message","role":"assistant","content":"ab€","delta":true}"#,
        ]));
    }
    let message = parse(OutputFormat::named("gemini-stream-json"), &transcript)
        .last_message
        .unwrap();
    assert_eq!(message.chars().count(), LAST_MESSAGE_MAX_CHARS);
    assert!(message.ends_with('…'));
    assert!(message.starts_with("ab€ab€"));

    let mut exact = CappedText::default();
    exact.push(&"y".repeat(LAST_MESSAGE_MAX_CHARS - 1));
    exact.push("z");
    assert_eq!(
        truncate(&exact.text, LAST_MESSAGE_MAX_CHARS),
        format!("{}z", "y".repeat(LAST_MESSAGE_MAX_CHARS - 1))
    );
}

#[test]
fn text_format_is_not_parsed() {
    let mut bytes = lines(CLAUDE_SUCCESS);
    bytes.extend_from_slice(b"plain text output\n\xff\xfe garbage");
    let summary = parse(OutputFormat::TEXT, &bytes);
    assert_eq!(summary, StreamSummary::default());
    assert!(summary.is_empty());
    assert!(parse(OutputFormat::named("claude-stream-json"), b"").is_empty());
    assert!(!parse(OutputFormat::named("claude-stream-json"), b"junk").is_empty());
}

#[test]
fn serializes_without_absent_fields() {
    let summary = StreamSummary {
        session_id: Some("s".into()),
        usage: Some(Usage {
            input_tokens: 1,
            output_tokens: 2,
            ..Usage::default()
        }),
        verdict: Some(Verdict::Error {
            message: "boom".into(),
        }),
        events: 3,
        ..StreamSummary::default()
    };
    assert_eq!(
        serde_json::to_string(&summary).unwrap(),
        r#"{"session_id":"s","usage":{"input_tokens":1,"output_tokens":2},"verdict":{"status":"error","message":"boom"},"tool_calls":0,"permission_denials":0,"events":3,"unparsed_lines":0}"#
    );
    assert_eq!(
        serde_json::to_string(&Verdict::Success).unwrap(),
        r#"{"status":"success"}"#
    );
}

fn any_format() -> impl Strategy<Value = OutputFormat> {
    prop_oneof![
        Just(OutputFormat::TEXT),
        Just(OutputFormat::named("claude-stream-json")),
        Just(OutputFormat::named("codex-json")),
        Just(OutputFormat::named("gemini-stream-json")),
    ]
}

/// Transcript lines mixed with garbage, as bytes.
fn any_stream() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        proptest::sample::select(
            [CLAUDE_SUCCESS, CODEX_MULTI_TURN, GEMINI_SUCCESS]
                .iter()
                .flat_map(|t| t.iter().copied())
                .collect::<Vec<_>>()
        )
        .prop_map(|l| l.as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
        Just(b"\r".to_vec()),
        Just(b"\xEF\xBB\xBF{\"type\":\"init\",\"session_id\":\"\xe2\x82\xac\"}".to_vec()),
    ];
    proptest::collection::vec(line, 0..24).prop_map(|lines| lines.join(&b'\n'))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        format in any_format(),
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16),
    ) {
        let summary = parse_chunks(format.clone(), chunks.iter().map(Vec::as_slice));
        if format == OutputFormat::TEXT {
            prop_assert!(summary.is_empty());
        }
        let _ = serde_json::to_string(&summary).unwrap();
    }

    #[test]
    fn chunking_never_changes_the_summary(
        format in any_format(),
        stream in any_stream(),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..12),
    ) {
        let whole = parse(format.clone(), &stream);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for cut in at {
            chunks.push(&stream[start..cut]);
            start = cut;
        }
        chunks.push(&stream[start..]);
        prop_assert_eq!(parse_chunks(format, chunks), whole);
    }
}
