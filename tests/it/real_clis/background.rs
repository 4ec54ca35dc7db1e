//! Not done while background work runs (ADR 0096), on the real claude against the scripted
//! model: in its TUI a turn that starts a background shell (`Bash` with `run_in_background`)
//! and ends is not the dispatch's end: the dispatch runs on, "waiting on 1 background task",
//! until the shell ended and claude's own turn after it ended with none; `claude -p`, which
//! stops a background shell 5 s after its turn, ends the dispatch needing a person, and so
//! does `codex exec`, which stops a command it stopped waiting for as it exits. Headless
//! gemini leaves its background command running (in a session of its own) as it exits, and
//! `claude -p` what a script its shell ran backgrounded: vnx finds those processes by the
//! worker's environment and waits for them (ADR 0099), their file in the commit. codex's TUI names such a command only in its rollout file, where vnx reads it:
//! the dispatch waits until the rollout records the command's end. opencode's sub-agent
//! (`task`) runs to its end within its call, so the dispatch cannot conclude before the
//! sub-agent's work ended.
//! The others were not looked at (tests/support/README.md, "Background work").

use super::{Rig, explain, step, within};
use crate::common::{completion, configure, run};

/// The role lets the worker run `sleep` unasked, so the background shell needs no dialog.
const CONFIG: &str = "roles:\n  implementer: {allow: ['sleep']}\n";

/// The role lets the worker run `sh` unasked.
const LEFT_CONFIG: &str = "roles:\n  implementer: {allow: ['sh']}\n";

/// What `slow.sh` does: 8 s, then `bg.txt`.
const SLOW: &str = "sleep 8; echo finished > bg.txt";

/// The model's script: a change and the report first, then a background shell of `secs`, then
/// its answer.
fn script(secs: u32) -> String {
    around(&format!(
        "Bash {{\"command\":\"sleep {secs}\",\"description\":\"slow tests\",\"run_in_background\":true}}"
    ))
}

/// A script that makes a change and reports first, then calls `tool` (its name and
/// arguments), then answers.
fn around(tool: &str) -> String {
    format!(
        "Start the slow tests in the background.\n\
         \\@model write notes.txt started\n\
         \\@model run vnx report --status done --summary started\n\
         \\@model tool {tool}\n\
         \\@model say Started the tests."
    )
}

/// A script that writes `slow.sh` (`body`), makes a change and reports, then calls `tool`
/// (which runs `sh slow.sh`), then answers.
fn left_behind(body: &str, tool: &str) -> String {
    format!(
        "Start the slow tests in the background.\n\
         \\@model write slow.sh {body}\n\
         \\@model run vnx report --status done --summary started\n\
         \\@model tool {tool}\n\
         \\@model say Started the tests."
    )
}

/// A headless dispatch of `cli` given `script` that ended needing a person, its reason
/// containing each of `says`: its completion.
fn needs_you(rig: &Rig, cli: &str, script: &str, at: &str, says: &[&str]) -> serde_json::Value {
    let r = rig.dispatch(cli, "headless", script);
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    let reason = c["failure_reason"].as_str().unwrap_or_default();
    assert!(says.iter().all(|s| reason.contains(s)), "{at} {reason}");
    c
}

/// Dispatch `id`, whose worker's turn ends while background work (`what`) runs: it says it
/// waits, is still running meanwhile, and ends `done` after a `dispatch_background` and a
/// `dispatch_resumed` (`after: background`), in that order. Its receipts, and where the
/// `dispatch_background` is among them.
fn waited_then_done(rig: &Rig, id: &str, at: &str, what: &str) -> (Vec<serde_json::Value>, usize) {
    assert!(
        within(60, || !state_of(rig, id)["background"].is_null()),
        "{at} the dispatch never said it waits: {}",
        state_of(rig, id)
    );
    let state = state_of(rig, id);
    assert_eq!(state["status"], "running", "{at} {state}");
    let human = run(rig.vnx().arg("status"));
    assert!(
        human
            .stdout
            .contains(&format!("waiting on 1 background task: {what}")),
        "{at} {}",
        human.stdout
    );
    let r = run(rig.vnx().args(["wait", "--json", id]));
    assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);
    let receipts = rig.repo.receipts(id);
    let c = receipts
        .iter()
        .find(|r| r["event_type"] == "dispatch_completed")
        .unwrap();
    assert_eq!(c["status"], "done", "{at} {}", explain(c));
    let position = |kind: &str, after: Option<&str>| {
        receipts
            .iter()
            .position(|r| r["event_type"] == kind && after.is_none_or(|a| r["after"] == a))
    };
    let waited = position("dispatch_background", None);
    let resumed = position("dispatch_resumed", Some("background"));
    let ended = position("dispatch_completed", None);
    match (waited, resumed, ended) {
        (Some(w), Some(r), Some(e)) if w < r && r < e => (receipts, w),
        _ => panic!("{at} {receipts:#?}"),
    }
}

/// `vnx status --json`'s entry for `id`.
fn state_of(rig: &Rig, id: &str) -> serde_json::Value {
    let r = run(rig.vnx().args(["status", "--json"]));
    let all: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap_or_default();
    all.into_iter()
        .find(|s| s["dispatch_id"] == id)
        .unwrap_or_default()
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_tui_is_not_done_while_its_background_shell_runs() {
    let rig = Rig::new();
    configure(&rig.repo, CONFIG);
    let at = step("claude", "interactive", "background shell");
    let id = rig.detach("claude", "interactive", 120, &script(12));
    let (receipts, waited) = waited_then_done(&rig, &id, &at, "slow tests");
    assert_eq!(receipts[waited]["tasks"][0]["kind"], "shell", "{at}");
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_headless_stopping_its_background_shell_is_not_done() {
    let rig = Rig::new();
    configure(&rig.repo, CONFIG);
    let at = step("claude", "headless", "background shell");
    let says = ["1 background task: slow tests", "stopped it"];
    let c = needs_you(&rig, "claude", &script(60), &at, &says);
    assert_eq!(
        c["cli_events"]["background_stopped"][0]["kind"], "shell",
        "{at} {c}"
    );
}

/// `claude -p` waits for a sub-agent it started in the background before it ends (its
/// stream holds the turn's `result` back until then): meanwhile the dispatch runs on and
/// says what it waits on (from the stream's `task_started`), and it ends `done` once the
/// sub-agent ended.
#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_headless_says_it_waits_for_its_sub_agent() {
    let rig = Rig::new();
    configure(&rig.repo, CONFIG);
    let at = step("claude", "headless", "background sub-agent");
    let script = around(
        "Task {\"description\":\"check the docs\",\"prompt\":\"Check the docs.\\n@model sleep 10\\n@model say Sub done.\",\"subagent_type\":\"general-purpose\",\"run_in_background\":true}",
    );
    let id = rig.detach("claude", "headless", 120, &script);
    let (receipts, waited) = waited_then_done(&rig, &id, &at, "check the docs");
    assert_eq!(receipts[waited]["source"], "stream", "{at}");
    assert_eq!(receipts[waited]["tasks"][0]["kind"], "subagent", "{at}");
}

/// gemini leaves its background command running (in a session of its own) as it exits:
/// vnx finds it by the worker's environment and waits for it (ADR 0099), and the command's
/// file is in the dispatch's commit.
#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_gemini_headless_background_command_is_waited_for() {
    let rig = Rig::new();
    let at = step("gemini", "headless", "background command");
    configure(&rig.repo, LEFT_CONFIG);
    let script = left_behind(
        SLOW,
        "run_shell_command {\"command\":\"sh slow.sh\",\"description\":\"slow tests\",\"is_background\":true}",
    );
    let id = rig.detach("gemini", "headless", 120, &script);
    // gemini runs the command inside a wrapper of its own, which names the task.
    let (receipts, waited) = waited_then_done(&rig, &id, &at, "/usr/bin/bash -c shopt");
    assert_eq!(receipts[waited]["source"], "process", "{at}");
    assert_eq!(rig.repo.on_branch(&id, "bg.txt"), "finished\n", "{at}");
}

/// `claude -p` running a Bash command its shell sends to the background (`… &`): no event
/// names it; vnx finds it by the worker's environment after claude exits, waits for it, and
/// its file is in the dispatch's commit (ADR 0099).
#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_headless_waits_for_what_its_shell_backgrounded() {
    let rig = Rig::new();
    configure(&rig.repo, LEFT_CONFIG);
    let at = step("claude", "headless", "shell-backgrounded command");
    // claude 2.1.197 refuses `… &` ("uses the `&` background operator, which defers
    // execution past approval-time safety checks") and `setsid -f …` ("runs its argument
    // as a command — cannot be statically analyzed") unless a person approves; a script
    // the role allows backgrounds its work itself.
    let body = format!("({SLOW}) > /dev/null 2>&1 &");
    let script = left_behind(
        &body,
        "Bash {\"command\":\"sh slow.sh\",\"description\":\"slow tests\"}",
    );
    let id = rig.detach("claude", "headless", 120, &script);
    let (receipts, waited) = waited_then_done(&rig, &id, &at, "sh slow.sh");
    assert_eq!(receipts[waited]["source"], "process", "{at}");
    assert_eq!(rig.repo.on_branch(&id, "bg.txt"), "finished\n", "{at}");
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_codex_headless_stopping_its_background_command_is_not_done() {
    let rig = Rig::new();
    configure(&rig.repo, CONFIG);
    let at = step("codex", "headless", "background command");
    // `exec_command` stops waiting after half a second; the command runs on.
    let script = around("exec_command {\"cmd\":\"sleep 60\",\"yield_time_ms\":500}");
    let says = ["1 background task: sleep 60", "stopped it"];
    let c = needs_you(&rig, "codex", &script, &at, &says);
    assert_eq!(
        c["cli_events"]["background_stopped"][0]["kind"], "shell",
        "{at} {c}"
    );
}

/// codex's TUI keeps the command running after its turn ("1 background terminal running"),
/// and neither `notify` nor any hook names it, and its end starts no turn; only its rollout
/// file records the command that outlived its call and, later, its end. The dispatch waits
/// on it there and concludes only after the command ended (its file is in the commit).
#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_codex_tui_waits_for_its_background_command() {
    let rig = Rig::new();
    configure(&rig.repo, CONFIG);
    let at = step("codex", "interactive", "background command");
    let script =
        around("exec_command {\"cmd\":\"sleep 12; echo finished > bg.txt\",\"yield_time_ms\":500}");
    let id = rig.detach("codex", "interactive", 120, &script);
    let (receipts, waited) = waited_then_done(&rig, &id, &at, "sleep 12; echo finished");
    assert_eq!(receipts[waited]["source"], "session", "{at}");
    // It concluded after the command ended: the command's file is in the dispatch's commit.
    assert_eq!(rig.repo.on_branch(&id, "bg.txt"), "finished\n", "{at}");
}

/// opencode's `task` tool runs its sub-agent to the end inside the call, in both lanes: the
/// sub-agent's change (after a pause) is in the dispatch's commit, made before the report
/// that ended it, and nothing is recorded as unfinished.
#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_sub_agent_ends_within_the_dispatch() {
    for lane in ["headless", "interactive"] {
        let rig = Rig::new();
        let at = step("opencode", lane, "sub-agent");
        let script = "Check the docs with a helper.\n\
             \\@model tool task {\"description\":\"check the docs\",\"subagent_type\":\"general\",\
             \"prompt\":\"Check the docs.\\n@model sleep 3\\n@model write helper.txt from-the-helper\\n@model say The docs are fine.\"}\n\
             \\@model run vnx report --status done --summary checked\n\
             \\@model say The helper says the docs are fine.";
        let r = rig.dispatch("opencode", lane, script);
        let c = completion(&r);
        assert_eq!(c["status"], "done", "{at} {}", explain(&c));
        assert_eq!(c["completion_signal"], "report", "{at} {c}");
        let id = c["dispatch_id"].as_str().unwrap_or_default();
        assert_eq!(
            rig.repo.on_branch(id, "helper.txt"),
            "from-the-helper\n",
            "{at}"
        );
        assert!(
            c["cli_events"]["background_stopped"]
                .as_array()
                .is_none_or(Vec::is_empty),
            "{at} {c}"
        );
    }
}
