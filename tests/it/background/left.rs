//! Processes a worker left running (ADR 0099), on the stand-ins: a command its shell
//! backgrounded (`sh -c '…' &`), which no CLI tells of, carries the dispatch's id in its
//! environment, so vnx finds it. Headless, after the CLI exited, and in a TUI, at a turn end
//! (reparented away from the CLI), the dispatch waits on it ("waiting on 1 background task:
//! …", `source: process`) and concludes once it ended, its file in the commit; one that never
//! ends is stopped at the deadline (or after the wait's bound, `background_wait_seconds`) and the dispatch needs a
//! person, naming it, with no process of it left. In the sandbox what the worker left ends
//! with its CLI (its PID namespace does): unfinished, so the dispatch needs a person.

use super::{headless, state_of};
use crate::common::{Fakes, Repo, completion, configure, run, wait_for};

/// The role lets the worker run `sh` unasked.
const CONFIG: &str = "roles:\n  implementer: {allow: ['sh']}\n";

/// A command left running by the worker's shell: it writes `f` after 3 s.
const LEFT: &str = "sh -c 'sleep 3; echo x > f' > /dev/null 2>&1 &";

/// One that never ends.
/// What the sandboxed CLI leaves: it runs past the CLI's end by seconds, so it is left.
const LEFT_LONG: &str = "sh -c 'sleep 8; echo x > f' > /dev/null 2>&1 &";

const FOREVER: &str = "sh -c 'sleep 3141; echo x > g' > /dev/null 2>&1 &";

/// The processes still running that carry dispatch `id`'s worker's environment (its id and
/// its report seal; vnx's supervisor has the id alone).
fn carrying(id: &str) -> Vec<String> {
    let mark = format!("VNX_DISPATCH_ID={id}");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(environ) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let mut vars = environ.split(|b| *b == 0);
        let sealed = vars.clone().any(|v| v.starts_with(b"VNX_REPORT_SEAL="));
        if sealed && vars.any(|v| v == mark.as_bytes()) {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            found.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    found
}

/// Dispatch `id`'s receipts show a wait on left processes (`source: process`) that ended
/// before its completion, which is `done`, with `f` in its commit.
fn waited_then_done(repo: &Repo, id: &str) {
    let receipts = repo.receipts(id);
    let at = |kind: &str, after: Option<&str>| {
        (receipts.iter())
            .position(|r| r["event_type"] == kind && after.is_none_or(|a| r["after"] == a))
    };
    let waited = at("dispatch_background", None);
    let resumed = at("dispatch_resumed", Some("background"));
    let ended = at("dispatch_completed", None);
    assert!(
        matches!((waited, resumed, ended), (Some(w), Some(r), Some(e)) if w < r && r < e),
        "{receipts:#?}"
    );
    let (waited, resumed) = (&receipts[waited.unwrap()], &receipts[resumed.unwrap()]);
    assert_eq!(waited["source"], "process", "{waited}");
    assert_eq!(resumed["source"], "process", "{resumed}");
    assert_eq!(waited["tasks"][0]["kind"], "process", "{waited}");
    let what = waited["tasks"][0]["what"].as_str().unwrap();
    assert!(what.contains("sleep 3; echo x > f"), "{waited}");
    let c = &receipts[ended.unwrap()];
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(repo.on_branch(id, "f"), "x\n");
    repo.verify_ok();
}

#[test]
fn a_headless_worker_waits_for_what_its_shell_left_running() {
    let repo = Repo::new();
    configure(&repo, CONFIG);
    let fakes = Fakes::new();
    let r = headless(
        &repo,
        &fakes,
        "claude",
        &format!(
            "@fake write a.txt hi\n@fake run {LEFT}\n\
             @fake run vnx report --status done --summary started"
        ),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let c = completion(&r);
    waited_then_done(&repo, c["dispatch_id"].as_str().unwrap());
}

/// The wait's bound is the config's `background_wait_seconds` (here 3 s, well within the
/// deadline).
#[test]
fn a_headless_worker_whose_left_process_never_ends_needs_you_and_leaves_nothing() {
    let repo = Repo::new();
    configure(&repo, &format!("{CONFIG}background_wait_seconds: 3\n"));
    let fakes = Fakes::new();
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--provider",
            "codex",
            "--lane",
            "headless",
            "--deadline",
            "90",
        ])
        .args([
            "--instruction",
            &format!(
                "@fake write a.txt hi\n@fake run {FOREVER}\n\
                 @fake run vnx report --status done --summary started"
            ),
        ]);
    let r = run(cmd);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{c}");
    let reason = c["failure_reason"].as_str().unwrap();
    assert!(
        reason.contains("sleep 3141") && reason.contains("vnx stopped"),
        "{reason}"
    );
    assert!(reason.contains("background_wait_seconds"), "{reason}");
    // Stopped at the wait's bound, not at the deadline.
    assert!(c["duration_seconds"].as_f64().unwrap() < 45.0, "{c}");
    let task = &c["cli_events"]["background_stopped"][0];
    assert_eq!(task["kind"], "process", "{c}");
    let id = c["dispatch_id"].as_str().unwrap();
    assert!(carrying(id).is_empty(), "{:?}", carrying(id));
    // It waited on it meanwhile, and said so.
    let receipts = repo.receipts(id);
    assert!(
        (receipts.iter())
            .any(|r| r["event_type"] == "dispatch_background" && r["source"] == "process"),
        "{receipts:#?}"
    );
    repo.verify_ok();
}

#[test]
fn a_tui_turn_end_waits_for_what_its_shell_left_running() {
    let repo = Repo::new();
    configure(&repo, CONFIG);
    let fakes = Fakes::new();
    let id = repo.dispatched_tui(
        &fakes,
        "claude",
        &format!(
            "@fake write a.txt hi\n@fake run {LEFT}\n\
             @fake run vnx report --status done --summary started\n@fake say Started."
        ),
    );
    assert!(
        wait_for(|| !state_of(&repo, &id)["background"].is_null()),
        "the dispatch never said it waits: {}",
        state_of(&repo, &id)
    );
    let state = state_of(&repo, &id);
    assert_eq!(state["status"], "running", "{state}");
    let human = run(repo.vnx().arg("status"));
    assert!(
        human
            .stdout
            .contains("waiting on 1 background task: sh -c sleep 3; echo x > f"),
        "{}",
        human.stdout
    );
    let r = run(repo.vnx().args(["wait", "--json", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    waited_then_done(&repo, &id);
}

/// A declared headless CLI that leaves `left` running (from a shell of its own that exits at
/// once, as a CLI's shell tool does), works on for `secs` (a real CLI's turn takes seconds; a
/// sandboxed one is looked at once a second), reports done and exits, dispatched with
/// `sandbox` (`--sandbox` or `--no-sandbox`): its completion.
fn leaving_cli(repo: &Repo, sandbox: &str, (left, secs): (&str, u32)) -> serde_json::Value {
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("leaver");
    crate::sandbox::script(
        &bin,
        &format!(
            "echo hi > a.txt\nsh -c \"{left}\"\nsleep {secs}\nvnx report --status done --summary started"
        ),
    );
    crate::sandbox::declare(repo, "leaver", &bin, "");
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "leaver",
        sandbox,
        "--instruction",
        "leave",
        "--json",
    ]));
    completion(&r)
}

#[test]
fn in_the_sandbox_what_the_worker_left_ends_with_its_cli() {
    // Without the sandbox, the control: waited for, its file in the commit.
    let control = Repo::new();
    let c = leaving_cli(&control, "--no-sandbox", (LEFT, 1));
    waited_then_done(&control, c["dispatch_id"].as_str().unwrap());

    // In the sandbox (bwrap's `--unshare-pid`), its PID namespace ends with the CLI and the
    // kernel kills what is left in it: the file is never written, nothing runs on, and
    // the dispatch, whose worker left work that ended unfinished, needs a person.
    let repo = Repo::new();
    let c = leaving_cli(&repo, "--sandbox", (LEFT_LONG, 3));
    assert_eq!(c["status"], "needs_input", "{c}");
    let reason = c["failure_reason"].as_str().unwrap();
    assert!(
        reason.contains("sh -c sleep 8; echo x > f (sandboxed process)")
            && reason.contains("ends with its CLI"),
        "{reason}"
    );
    // Its work is kept for that person, without the file the stopped command never wrote.
    let id = c["dispatch_id"].as_str().unwrap();
    let receipts = repo.receipts(id);
    let worktree = std::path::PathBuf::from(receipts[0]["worktree"].as_str().unwrap());
    assert!(worktree.join("a.txt").exists(), "{}", worktree.display());
    assert!(!worktree.join("f").exists());
    assert!(carrying(id).is_empty(), "{:?}", carrying(id));
    repo.verify_ok();
}

#[test]
fn a_tui_turn_end_holding_a_process_that_never_ends_needs_you_at_the_deadline() {
    let repo = Repo::new();
    configure(&repo, CONFIG);
    let fakes = Fakes::new();
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["dispatch-agent", "--agent", "implementer", "--detach"])
        .args(["--provider", "claude", "--lane", "interactive"])
        .args(["--deadline", "8", "--instruction"])
        .arg(format!(
            "@fake write a.txt hi\n@fake run {FOREVER}\n\
             @fake run vnx report --status done --summary started\n@fake say Started."
        ));
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_owned();
    let r = run(repo.vnx().args(["wait", "--json", &id]));
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{c}");
    let reason = c["failure_reason"].as_str().unwrap();
    assert!(
        reason.contains("sleep 3141") && reason.contains("vnx stopped"),
        "{reason}"
    );
    assert!(carrying(&id).is_empty(), "{:?}", carrying(&id));
    repo.verify_ok();
}
