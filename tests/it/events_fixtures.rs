//! The stream-event parser against output recorded from the real CLIs
//! (`tests/support/fixtures/`, made by `tests/support/verify-clis.sh --fixtures`): session id,
//! token usage, verdict and last message for success, a shell command, a question and an API
//! error, for claude, codex and gemini; the background work claude and codex stopped or
//! claude's hooks named.

use vnx::provider::OutputFormat;
use vnx::provider::events::{EventParser, StreamSummary, Verdict};

use crate::common::repo_dir;

fn parse(name: &str) -> (StreamSummary, serde_json::Value) {
    let path = repo_dir().join("tests/support/fixtures").join(name);
    let data = std::fs::read(&path).unwrap();
    let format = match name.split('-').next().unwrap() {
        "claude" => OutputFormat::named("claude-stream-json"),
        "codex" => OutputFormat::named("codex-json"),
        _ => OutputFormat::named("gemini-stream-json"),
    };
    let mut parser = EventParser::new(format);
    parser.feed(&data);
    let first: serde_json::Value =
        serde_json::from_slice(data.split(|b| *b == b'\n').next().unwrap()).unwrap();
    (parser.finish(), first)
}

/// The session id as the CLI's first event states it.
fn session_of(first: &serde_json::Value) -> &str {
    first["session_id"]
        .as_str()
        .or_else(|| first["thread_id"].as_str())
        .unwrap()
}

#[test]
fn real_successes_yield_session_usage_and_the_answer() {
    for cli in ["claude", "codex", "gemini"] {
        for case in ["headless-success", "headless-shell"] {
            let name = format!("{cli}-{case}.jsonl");
            let (s, first) = parse(&name);
            assert_eq!(s.session_id.as_deref(), Some(session_of(&first)), "{name}");
            assert_eq!(s.verdict, Some(Verdict::Success), "{name}");
            let usage = s
                .usage
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: no usage"));
            assert!(
                usage.input_tokens > 0 && usage.output_tokens > 0,
                "{name}: {usage:?}"
            );
            assert_eq!(s.tool_calls, 1, "{name}");
            assert!(s.last_message.is_some(), "{name}");
            assert_eq!(s.unparsed_lines, 0, "{name}");
        }
    }
}

#[test]
fn real_questions_are_answers_that_ask() {
    for cli in ["claude", "codex", "gemini"] {
        let name = format!("{cli}-question.jsonl");
        let (s, _) = parse(&name);
        assert_eq!(s.verdict, Some(Verdict::Success), "{name}");
        assert!(
            s.last_message.as_deref().unwrap().ends_with('?'),
            "{name}: {s:?}"
        );
        assert_eq!(s.tool_calls, 0, "{name}");
    }
}

#[test]
fn real_api_errors_are_error_verdicts_with_the_cli_message() {
    for cli in ["claude", "codex", "gemini"] {
        let name = format!("{cli}-api-error.jsonl");
        let (s, _) = parse(&name);
        match &s.verdict {
            Some(Verdict::Error { message }) => assert!(
                message.contains("scripted failure") || message.contains("400"),
                "{name}: {message}"
            ),
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// Background work, as claude 2.1.197, gemini 0.61.0 and codex 0.169.0 told it (ADR 0096):
/// `claude -p` stopped a background shell that outlived its turn by 5 s, gemini left one
/// running as it exited (recorded as left running), `codex exec` stopped a command that outlived its turn (each recorded
/// as unfinished); claude waited for a background sub-agent and for a shell that ended
/// within those 5 s, and codex's command ended within its turn (nothing recorded).
#[test]
fn real_background_work_the_cli_stopped_is_recorded() {
    let (s, _) = parse("claude-headless-background-shell.jsonl");
    assert_eq!(s.verdict, Some(Verdict::Success));
    let [task] = s.background_stopped.as_slice() else {
        panic!("{:?}", s.background_stopped)
    };
    assert_eq!(
        (task.kind.as_str(), task.what.as_str()),
        ("shell", "slow tests")
    );
    // gemini moved its command to the background and exited, the command still running:
    // left running, which the supervisor looks for among the processes left (ADR 0099).
    let (s, _) = parse("gemini-headless-background-shell.jsonl");
    assert!(s.background_stopped.is_empty(), "{s:?}");
    let [task] = s.background_left.as_slice() else {
        panic!("{:?}", s.background_left)
    };
    assert_eq!(
        (task.kind.as_str(), task.what.as_str()),
        ("shell", "slow tests")
    );
    // `codex exec` ended its turn while a command `exec_command` stopped waiting for ran,
    // and stopped it as it exited: started, never completed.
    let (s, _) = parse("codex-headless-background-shell.jsonl");
    assert_eq!(s.verdict, Some(Verdict::Success));
    let [task] = s.background_stopped.as_slice() else {
        panic!("{:?}", s.background_stopped)
    };
    assert_eq!(
        (task.kind.as_str(), task.what.as_str()),
        ("shell", "sleep 15; echo finished > bg.txt")
    );
    for waited in [
        "claude-headless-background-agent.jsonl",
        "claude-headless-background-quick.jsonl",
        "codex-headless-background-quick.jsonl",
    ] {
        let (s, _) = parse(waited);
        assert!(s.background_stopped.is_empty(), "{waited}: {s:?}");
        assert_eq!(s.unparsed_lines, 0, "{waited}");
    }
}

/// claude 2.1.197's `Stop` hook names the background shells and sub-agents still running as
/// its turn ends (its TUI then starts a turn of its own when each ends, and `Stop` again).
#[test]
fn real_stop_hooks_name_the_background_work_still_running() {
    let hooks = vnx::provider::cli::hooks_of_event("claude-stop").unwrap();
    for (name, kind, what) in [
        (
            "claude-hook-stop-background-shell.json",
            "shell",
            "slow tests",
        ),
        (
            "claude-hook-stop-background-agent.json",
            "subagent",
            "check the docs",
        ),
    ] {
        let path = repo_dir().join("tests/support/fixtures").join(name);
        let payload: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let (tasks, more) = hooks.background("claude-stop", &payload).unwrap();
        assert_eq!(more, 0, "{name}");
        let [task] = tasks.as_slice() else {
            panic!("{name}: {tasks:?}")
        };
        assert_eq!(
            (task.kind.as_str(), task.what.as_str()),
            (kind, what),
            "{name}"
        );
    }
    // A turn that ended with nothing in the background names an empty list.
    let plain = repo_dir().join("tests/support/fixtures/claude-hook-payload.json");
    let plain: serde_json::Value = serde_json::from_slice(&std::fs::read(plain).unwrap()).unwrap();
    assert_eq!(
        hooks.background("claude-stop", &plain),
        Some((Vec::new(), 0))
    );
}
