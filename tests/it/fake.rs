//! The built-in claude, codex and gemini providers driven end to end against `vnx-fake-cli`,
//! the project's stand-in for the real CLIs (same flags, output events, hooks and pitfalls,
//! scripted by `@fake` lines in the prompt): both lanes, the completion protocol and hooks,
//! session ids and token usage from the stream events, the CLI's own errors, questions that
//! are not success, deadlines that take the CLI's children too, and the flags and prompt the
//! CLI actually received.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Fakes, Repo, Run, completion, run};

fn dispatch(repo: &Repo, fakes: &Fakes, args: &[&str], instruction: &str) -> Run {
    dispatch_with(repo.vnx(), fakes, args, instruction)
}

fn dispatch_with(mut cmd: Command, fakes: &Fakes, args: &[&str], instruction: &str) -> Run {
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--deadline", "60"])
        .args(args)
        .args(["--instruction", instruction]);
    run(cmd)
}

fn prompt_of(repo: &Repo, id: &str) -> String {
    std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/prompt.md")),
    )
    .unwrap()
}

fn worktree(repo: &Repo, id: &str) -> PathBuf {
    repo.env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}"))
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// `needle` appears in `hay` as a contiguous run.
fn contains_run(hay: &[String], needle: &[String]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn headless_clis_report_and_their_events_reach_the_receipt() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    for cli in ["claude", "codex", "gemini"] {
        let marker = format!("hello from {cli}");
        // What a model that follows the completion protocol literally does: write, try to
        // commit, report.
        let instruction = format!(
            "@fake write hello.txt {marker}\n@fake commit add hello\n\
             @fake run vnx report --status done --summary wrote-it"
        );
        let r = dispatch(
            &repo,
            &fakes,
            &["--provider", cli, "--lane", "headless"],
            &instruction,
        );
        let c = completion(&r);
        assert_eq!(
            (r.code, c["status"].as_str()),
            (0, Some("done")),
            "{cli}: {} {}; stderr: {}",
            c["failure_reason"],
            c["cli_events"],
            r.stderr
        );
        assert_eq!(c["completion_signal"], "report", "{cli}");
        assert_eq!(c["report"]["summary"], "wrote-it", "{cli}");
        // No CLI may commit under the default posture; vnx commits for it.
        assert_eq!(c["teardown_class"], "committed", "{cli}: {c}");
        assert_eq!(
            c["vnx_commit"]["files"],
            serde_json::json!(["hello.txt"]),
            "{cli}"
        );
        let id = c["dispatch_id"].as_str().unwrap();
        // The file landed on the dispatch's branch and nowhere else.
        assert_eq!(repo.on_branch(id, "hello.txt"), format!("{marker}\n"));
        assert!(!repo.env.path().join("hello.txt").exists(), "{cli}");
        assert_eq!(c["main_checkout_changed"], false, "{cli}");

        // What the CLI received: the prompt byte for byte, stdin closed (codex reads its
        // prompt there: given one as an argument it reads stdin as well, and says so), the
        // posture's flags.
        let prompt = prompt_of(&repo, id);
        let seen = fakes.invocation_of(cli, &marker);
        assert_eq!(seen["prompt"].as_str().unwrap(), prompt, "{cli}");
        let stdin = if cli == "codex" { "file" } else { "null" };
        assert_eq!(seen["stdin"], stdin, "{cli}: stdin must be closed");
        assert_eq!(seen["mode"], "headless", "{cli}");
        let started = &repo.receipts(id)[0];
        let flags = strings(&started["permission_flags"]);
        assert!(!flags.is_empty(), "{cli}: edits maps to flags");
        assert!(
            contains_run(&strings(&seen["argv"]), &flags),
            "{cli}: {seen}"
        );
        assert_eq!(
            started["binary_version"].as_str().unwrap(),
            match cli {
                "claude" => "2.1.197 (Claude Code)",
                "codex" => "codex-cli 0.169.0",
                _ => "0.61.0",
            }
        );

        // From the CLI's stream events: its session id and token usage.
        assert_eq!(c["session_id"], seen["session_id"], "{cli}");
        let usage = &c["token_usage"];
        assert_eq!(
            usage["input_tokens"].as_u64().unwrap(),
            prompt.len() as u64 / 4 + 100,
            "{cli}: {usage}"
        );
        assert_eq!(usage["output_tokens"], 50, "{cli}: three tool calls");
        let calls = &seen["turns"][0]["tool_calls"];
        let commit = &calls[1];
        assert_eq!(
            commit["status"],
            if cli == "codex" { "failed" } else { "denied" },
            "{cli}: the commit is refused as the real CLI refuses it: {calls}"
        );
        assert_eq!(
            calls[2]["status"], "ok",
            "{cli}: vnx report works first time: {calls}"
        );
        assert_eq!(c["cli_events"]["verdict"]["status"], "success", "{cli}");
    }
    repo.verify_ok();
}

#[test]
fn commits_the_worker_made_stay_as_they_are() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    // Under full access codex's sandbox is off and its commit works.
    let mut cmd = repo.vnx();
    cmd.env("VNX_OVERRIDE_NO_SKIP_PERMISSIONS", "1").env(
        "VNX_OVERRIDE_NO_SKIP_PERMISSIONS_REASON",
        "the test's worktree is disposable",
    );
    let r = dispatch_with(
        cmd,
        &fakes,
        &["--provider", "codex", "--permission", "full"],
        "@fake write feature.txt done\n@fake commit add the feature\n\
         @fake write notes.txt later\n@fake run vnx report --status done --summary committed",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(c["teardown_class"], "committed", "{c}");
    assert_eq!(
        c["commits"], 2,
        "the worker's commit and vnx's for what it left: {c}"
    );
    assert_eq!(c["vnx_commit"]["files"], serde_json::json!(["notes.txt"]));
    let id = c["dispatch_id"].as_str().unwrap();
    assert!(
        !worktree(&repo, id).exists(),
        "committed: the worktree is removed"
    );
    let log = repo
        .env
        .git(&["log", "--format=%s", &format!("dispatch/{id}")]);
    assert!(log.starts_with("committed\nadd the feature\n"), "{log}");
}

#[test]
fn cli_errors_fail_and_questions_need_input() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    for cli in ["claude", "codex", "gemini"] {
        let r = dispatch(
            &repo,
            &fakes,
            &["--provider", cli, "--lane", "headless"],
            &format!("{cli} meets an API error\n@fake fail"),
        );
        assert_eq!(r.code, 1, "{cli}");
        let c = completion(&r);
        assert_eq!(c["status"], "failed", "{cli}: {c}");
        assert_eq!(c["exit_code"], 1, "{cli}");
        let reason = c["failure_reason"].as_str().unwrap();
        assert!(
            reason.contains("400") || reason.contains("scripted failure"),
            "{cli}: {reason}"
        );
        assert_eq!(c["cli_events"]["verdict"]["status"], "error", "{cli}");

        let r = dispatch(
            &repo,
            &fakes,
            &["--provider", cli, "--lane", "headless"],
            &format!("{cli} has a question\n@fake ask"),
        );
        assert_eq!(r.code, 1, "{cli}");
        let c = completion(&r);
        assert_eq!(c["status"], "needs_input", "{cli}: {c}");
        assert_eq!(c["completion_signal"], "exit", "{cli}");
        assert!(
            c["cli_events"]["last_message"]
                .as_str()
                .unwrap()
                .ends_with('?'),
            "{cli}: {c}"
        );
        assert_eq!(c["teardown_class"], "clean", "{cli}");
    }
}

#[test]
fn a_denied_write_is_not_done() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    // `ask` in the headless lane: claude denies the write and says so only in its events.
    let r = dispatch(
        &repo,
        &fakes,
        &[
            "--provider",
            "claude",
            "--lane",
            "headless",
            "--permission",
            "ask",
        ],
        "@fake write denied.txt x",
    );
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{c}");
    assert_eq!(c["cli_events"]["permission_denials"], 1);
    let id = c["dispatch_id"].as_str().unwrap();
    let s = run(repo.vnx().args(["status", id]));
    assert!(
        s.stdout.contains(&format!(
            "its CLI refused 1 tool use (vnx show {id} lists them)"
        )),
        "{}",
        s.stdout
    );
    assert!(
        c["failure_reason"]
            .as_str()
            .unwrap()
            .contains("denied permission")
    );
    assert_eq!(c["teardown_class"], "clean");
}

#[test]
fn interactive_tuis_complete_through_their_hooks() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    for (cli, signal) in [
        ("claude", "claude_stop_hook"),
        ("codex", "codex_notify_hook"),
        ("gemini", "gemini_after_agent_hook"),
    ] {
        // A report, then the turn ends: done, from the report.
        let r = dispatch(
            &repo,
            &fakes,
            &["--provider", cli, "--lane", "interactive"],
            &format!(
                "{cli} tui\n@fake write tui.txt from the tui\n@fake run vnx report --status done --summary tui"
            ),
        );
        assert_eq!(r.code, 0, "{cli}: {}{}", r.stdout, r.stderr);
        let c = completion(&r);
        assert_eq!(c["status"], "done", "{cli}: {c}");
        assert_eq!(c["completion_signal"], "report", "{cli}");
        assert_eq!(c["lane"], "interactive");
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        assert_eq!(repo.on_branch(&id, "tui.txt"), "from the tui\n", "{cli}");
        let seen = fakes.invocation_of(cli, &format!("{cli} tui"));
        assert_eq!(seen["mode"], "interactive", "{cli}");
        assert_eq!(seen["stdin"], "tty", "{cli}");
        assert_eq!(c["session_id"], seen["session_id"], "{cli}: {c}");
        assert!(
            seen["pgid"] != serde_json::Value::Null && seen["pgid"] == seen["pid"],
            "{cli}: the TUI leads its own process group"
        );

        // The turn ends with a question and no report: needs input, from the hook.
        let r = dispatch(
            &repo,
            &fakes,
            &["--provider", cli, "--lane", "interactive"],
            &format!("{cli} asks\n@fake ask"),
        );
        assert_eq!(r.code, 1, "{cli}");
        let c = completion(&r);
        assert_eq!(c["status"], "needs_input", "{cli}: {c}");
        assert_eq!(c["completion_signal"], signal, "{cli}");
        let seen = fakes.invocation_of(cli, &format!("{cli} asks"));
        // For codex this is the main thread's id, not the title sub-thread's.
        assert_eq!(c["session_id"], seen["session_id"], "{cli}: {c}");
        // Nothing vnx passed to the TUI (hooks, settings) made the worktree dirty.
        assert_eq!(c["teardown_class"], "clean", "{cli}: {c}");
        let log = std::fs::read_to_string(c["worker_log"].as_str().unwrap()).unwrap();
        assert!(
            log.contains("documentation?"),
            "{cli}: the screen is logged: {log}"
        );
    }
    // codex ran without its daemon.
    let daemons = std::fs::read_dir(fakes.log_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("daemon-"))
        .count();
    assert_eq!(daemons, 0, "codex must be started with --no-daemon");
    assert!(repo.server.sessions_end());
    repo.verify_ok();
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn the_deadline_takes_the_cli_and_what_it_started() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    for lane in ["headless", "interactive"] {
        let mut cmd = repo.vnx();
        cmd.env("PATH", fakes.path())
            .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
            .args(["dispatch-agent", "--agent", "implementer", "--json"])
            .args(["--provider", "claude", "--lane", lane, "--deadline", "2"])
            .args([
                "--instruction",
                &format!("{lane} sleeper\n@fake ignore-term\n@fake spawn-child\n@fake sleep 60"),
            ]);
        let r = run(cmd);
        assert_eq!(r.code, 1, "{lane}");
        let c = completion(&r);
        assert_eq!(c["status"], "timeout", "{lane}: {c}");
        assert_eq!(c["exit_signal"], 9, "{lane}: it ignored SIGTERM");
        let seen = fakes.invocation_of("claude", &format!("{lane} sleeper"));
        let pid = seen["pid"].as_i64().unwrap() as i32;
        let children =
            std::fs::read_to_string(fakes.log_dir().join(format!("child-{pid}.pid"))).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!alive(pid), "{lane}: the CLI is gone");
        for child in children.lines() {
            let child: i32 = child.trim().parse().unwrap();
            assert!(!alive(child), "{lane}: its child {child} is gone");
        }
    }
    assert!(repo.server.sessions_end());
}

#[test]
fn gemini_hooks_live_in_the_worktree_only_while_it_runs() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let r = dispatch(
        &repo,
        &fakes,
        &["--provider", "gemini", "--lane", "interactive"],
        "gemini hooks\n@fake ask",
    );
    let c = completion(&r);
    assert_eq!(c["completion_signal"], "gemini_after_agent_hook", "{c}");
    let removed = strings(&c["vnx_files_removed"]);
    assert!(removed[0].ends_with(".gemini/settings.json"), "{removed:?}");
    assert_eq!(c["teardown_class"], "clean");

    // A repository with its own gemini settings keeps them: no hook, the report decides.
    // (The worker changes nothing; implementers are declared non-writing so that its done
    // stands.)
    std::fs::create_dir(repo.env.path().join(".gemini")).unwrap();
    std::fs::write(repo.env.path().join(".gemini/settings.json"), "{}\n").unwrap();
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("roles:\n  implementer: {writes: false}\n");
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["add", ".gemini", ".vnx/config.yaml"]);
    repo.env.git(&["commit", "-q", "-m", "gemini settings"]);
    let r = dispatch(
        &repo,
        &fakes,
        &["--provider", "gemini", "--lane", "interactive"],
        "gemini own settings\n@fake run vnx report --status done --summary ok",
    );
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(c["completion_signal"], "report");
    let id = c["dispatch_id"].as_str().unwrap();
    assert_eq!(repo.receipts(id)[0]["hooks"], "none");
    assert_eq!(
        c["teardown_class"], "clean",
        "the repository's file is untouched"
    );
}

/// Codex's TUI under the ask posture: its read-only sandbox takes no writable root (the
/// real one exits at once when given `--add-dir` there, as the stand-in does), so it starts
/// and its turn ends answered.
#[test]
fn a_codex_tui_starts_under_the_ask_posture() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let r = dispatch(
        &repo,
        &fakes,
        &[
            "--provider",
            "codex",
            "--lane",
            "interactive",
            "--permission",
            "ask",
        ],
        "codex asks\n@fake say Started.",
    );
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{c} {}", r.stderr);
    let seen = fakes.invocation_of("codex", "codex asks");
    assert_eq!(seen["sandbox"], "read-only", "{seen}");
    repo.verify_ok();
}
