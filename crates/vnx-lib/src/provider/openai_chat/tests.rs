//! The chat-completions parser and transcript on the shapes the tests' model server streams
//! (`tests/support/model_server.py`, `_chat_completions`): a reply in pieces, a tool call whose
//! arguments come in pieces, the usage in a last chunk without choices, and an API error.

use super::FORMAT;
use crate::provider::events::testing::{Usage, Verdict, error, lines, parse_every_split};
use crate::provider::transcript::render;

/// A streamed reply, as the model server sends it with `stream_options.include_usage`.
const REPLY: &[&str] = &[
    r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
    r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Which file should "},"logprobs":null,"finish_reason":null}]}"#,
    r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"I change?"},"logprobs":null,"finish_reason":null}]}"#,
    r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}"#,
    r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":7,"total_tokens":127,"prompt_tokens_details":{"cached_tokens":100},"completion_tokens_details":{"reasoning_tokens":0}}}"#,
];

/// A streamed tool call, its usage on the finishing chunk (no `include_usage`).
const TOOL: &[&str] = &[
    r#"{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
    r#"{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"bash","arguments":""}}]},"logprobs":null,"finish_reason":null}]}"#,
    r#"{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"command\": \"git"}}]},"logprobs":null,"finish_reason":null}]}"#,
    r#"{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":" status\"}"}}]},"logprobs":null,"finish_reason":null}]}"#,
    r#"{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":50,"completion_tokens":10,"total_tokens":60}}"#,
];

#[test]
fn a_streamed_reply_gives_its_text_usage_and_success() {
    let s = parse_every_split(FORMAT, &lines(REPLY));
    assert_eq!(
        s.last_message.as_deref(),
        Some("Which file should I change?")
    );
    assert_eq!(s.model.as_deref(), Some("gpt-4o"));
    assert_eq!(s.verdict, Some(Verdict::Success));
    assert_eq!(s.tool_calls, 0);
    assert_eq!(s.events, 5);
    assert_eq!(s.unparsed_lines, 0);
    assert_eq!(
        s.usage,
        Some(Usage {
            input_tokens: 120,
            output_tokens: 7,
            cached_input_tokens: Some(100),
            cache_creation_input_tokens: None,
            total_tokens: Some(127),
        })
    );
    assert_eq!(s.session_id, None, "a request's id is no session");
}

#[test]
fn a_tool_call_then_a_reply_count_once_and_their_usage_adds_up() {
    let mut all: Vec<&str> = TOOL.to_vec();
    all.extend(REPLY);
    let s = parse_every_split(FORMAT, &lines(&all));
    assert_eq!(s.tool_calls, 1);
    assert_eq!(
        s.last_message.as_deref(),
        Some("Which file should I change?")
    );
    let u = s.usage.unwrap();
    assert_eq!((u.input_tokens, u.output_tokens), (170, 17));
    assert_eq!(u.total_tokens, Some(187));
    assert_eq!(u.cached_input_tokens, Some(100));
}

#[test]
fn an_error_object_fails_and_a_cut_reply_is_an_error() {
    let s = parse_every_split(
        FORMAT,
        &lines(&[
            r#"{"error":{"message":"scripted failure","type":"invalid_request_error","param":null,"code":null}}"#,
        ]),
    );
    assert_eq!(s.verdict, error("scripted failure"));
    let cut = REPLY[3].replace("\"stop\"", "\"length\"");
    let s = parse_every_split(FORMAT, &lines(&[REPLY[0], REPLY[1], &cut]));
    assert_eq!(s.verdict, error("the reply was cut at the token limit"));
    assert_eq!(s.last_message.as_deref(), Some("Which file should"));
    // An error is not undone by a later finish.
    let s = parse_every_split(
        FORMAT,
        &lines(&[r#"{"error":{"message":"boom"}}"#, REPLY[1], REPLY[3]]),
    );
    assert_eq!(s.verdict, error("boom"));
}

#[test]
fn a_whole_completion_and_text_that_is_no_event() {
    let whole = r#"{"id":"chatcmpl-3","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"write","arguments":"{\"path\":\"a.txt\"}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#;
    let s = parse_every_split(FORMAT, &lines(&[whole, "not json", "[1]"]));
    assert_eq!(s.tool_calls, 1);
    assert_eq!(s.verdict, Some(Verdict::Success));
    assert_eq!(s.unparsed_lines, 2);
    assert_eq!(s.usage.unwrap().output_tokens, 4);
    // A stream cut before its finish keeps what was said.
    let s = parse_every_split(FORMAT, &lines(&REPLY[..3]));
    assert_eq!(
        s.last_message.as_deref(),
        Some("Which file should I change?")
    );
    assert_eq!(s.verdict, None);
}

#[test]
fn the_transcript_shows_messages_calls_usage_and_errors() {
    let mut all: Vec<&str> = TOOL.to_vec();
    all.extend(REPLY);
    all.push(r#"{"error":{"message":"rate limited"}}"#);
    let lines = render(&lines(&all));
    assert_eq!(
        lines,
        [
            "start   chat completions, model gpt-4o",
            "▸       bash git status",
            "end     request · 50 in, 10 out tokens",
            "says    Which file should I change?",
            "end     request · 120 in, 7 out tokens (100 cached)",
            "end     error: rate limited",
        ]
    );
}
