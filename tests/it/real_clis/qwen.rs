//! The real qwen (Qwen Code 0.15.10) driven by `vnx dispatch-agent --provider qwen`, offline
//! against the scripted model server, in vnx's default posture (`edits`, qwen's
//! `auto-edit`). Headless: its work done and reported, the command the role allows run,
//! `git commit` declined, vnx committing; an HTTP 500, after which qwen exits 0, a failure;
//! a question followed up in the same session. Its TUI: done by its report with the usage
//! and the transcript of its session file; blocked on `git commit`, naming it, and approved
//! or denied through its `PermissionRequest` hook; a question shown by `vnx status`;
//! sandboxed, its session kept in the dispatch's own place and resumed there.

use super::{Rig, committed_by_vnx, compliant, explain, files_under, step};
use crate::common::{completion, configure, run};

#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_headless_writes_runs_reports_and_vnx_commits() {
    let rig = Rig::new();
    configure(
        &rig.repo,
        "roles:\n  implementer:\n    allow: [\"python3 -c\"]\n",
    );
    let at = step("qwen", "headless", "write, run, try to commit, report");
    let marker = "real qwen headless";
    let file = "qwen-headless.txt";
    // The role's command runs unasked; its output reaches the model.
    let instruction = compliant(marker, file, "wrote-it").replacen(
        "\n\\@model run git add",
        "\n\\@model run python3 -c \"print('RAN-' + 'BY-QWEN')\"\n\\@model run git add",
        1,
    );
    let r = rig.dispatch("qwen", "headless", &instruction);
    let c = completion(&r);
    assert_eq!(r.code, 0, "{at} {}", explain(&c));
    let id = committed_by_vnx(&rig.repo, &c, &at, ("qwen", "headless"), marker, file);
    assert_eq!(c["exit_code"], 0, "{at} {c}");
    let events = &c["cli_events"];
    assert_eq!(events["verdict"]["status"], "success", "{at} {events}");
    // write, python3, git commit (declined), vnx report.
    assert_eq!(events["tool_calls"], 4, "{at} {events}");
    assert_eq!(events["permission_denials"], 1, "{at} {events}");
    assert_eq!(events["last_message"], "Wrote it.", "{at} {events}");
    assert_eq!(events["session_id"], c["session_id"], "{at} {events}");
    let seen: String = rig
        .server
        .requests()
        .iter()
        .map(|r| r.to_string())
        .filter(|r| r.contains(marker))
        .collect();
    assert!(
        seen.contains("RAN-BY-QWEN"),
        "{at} the allowed command did not run"
    );
    // The started receipt names qwen's own posture and allow rule.
    let started = &rig.repo.receipts(&id)[0];
    assert_eq!(started["permission"], "edits", "{at} {started}");
    // Its log is drawn as qwen's transcript: its start, the declined commit, the end.
    let log = run(rig.repo.vnx().args(["show", &id, "--log"]));
    assert_eq!(log.code, 0, "{at} {}", log.stderr);
    assert!(
        log.stdout
            .contains("qwen 0.15.10, model mock-model, approval mode auto-edit"),
        "{at} {}",
        log.stdout
    );
    assert!(
        log.stdout.contains("denied  run_shell_command git add -A"),
        "{at} {}",
        log.stdout
    );
    assert!(
        log.stdout.contains("success · 5 turn(s)"),
        "{at} {}",
        log.stdout
    );
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_http_500_fails_though_it_exits_0() {
    let rig = Rig::new();
    let at = step("qwen", "headless", "HTTP 500");
    // qwen retries a 500 for about 100 s before it gives up.
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--provider",
            "qwen",
            "--lane",
            "headless",
            "--deadline",
            "400",
        ])
        .args(["--instruction", "qwen fails\n\\@model fail 500"]);
    let r = run(cmd);
    let c = completion(&r);
    assert_eq!(c["status"], "failed", "{at} {}", explain(&c));
    assert_eq!(r.code, 1, "{at}");
    // qwen exited 0: the verdict is its events'.
    assert_eq!(c["exit_code"], 0, "{at} {c}");
    let reason = c["failure_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("500") && reason.contains("scripted failure"),
        "{at} {reason}"
    );
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_question_then_a_follow_up_in_the_same_session() {
    let rig = Rig::new();
    let asked = "first turn of qwen headless";
    let r = rig.dispatch("qwen", "headless", &format!("{asked}\n\\@model ask"));
    let at = step("qwen", "headless", "question");
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    assert_eq!(
        c["cli_events"]["last_message"], "Should I also update the documentation?",
        "{at} {c}"
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let session = c["session_id"].as_str().unwrap_or_default().to_owned();
    assert!(!session.is_empty(), "{at} no session id: {c}");

    let marker = "follow-up of qwen headless";
    let file = "qwen-followed.txt";
    let r = rig.follow_up(&id, &compliant(marker, file, "answered"));
    let at = step("qwen", "headless", "follow-up");
    let f = completion(&r);
    assert_eq!(f["status"], "done", "{at} {}", explain(&f));
    assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{at} {f}");
    let next = f["dispatch_id"].as_str().unwrap();
    let started = rig
        .repo
        .receipts(next)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    assert_eq!(started["continues"]["session_id"], session.as_str(), "{at}");
    // The model server saw the earlier turn in the follow-up's requests.
    let saw_both = rig.server.requests().iter().any(|req| {
        let body = req["body"].to_string();
        body.contains(marker) && body.contains(asked)
    });
    assert!(saw_both, "{at} no request held both turns");
    rig.repo.verify_ok();
}

/// Sandboxed with the full posture (qwen's `yolo`, which the shipped constraints allow only
/// sandboxed): qwen starts with its state (`~/.qwen`) writable, writes, commits and reports;
/// writing the main checkout and reading `~/.ssh` fail.
#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_runs_sandboxed_with_the_full_posture() {
    let rig = Rig::new();
    let ssh = rig.repo.env.home().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("id_ed25519"), "SANDBOX-SECRET-KEY\n").unwrap();
    let main = rig.repo.env.path().canonicalize().unwrap();
    let at = step("qwen", "headless", "sandboxed, full posture");
    let marker = "sandboxed qwen headless";
    let file = "qwen-sandboxed.txt";
    let escape = main.join("escaped-qwen.txt");
    let instruction = format!(
        "{marker}\n\\@model write {file} {marker}\n\\@model run echo out > {} || echo ESCAPE-DENIED\n\\@model run cat $HOME/.ssh/id_ed25519 || echo SSH-DENIED\n\\@model run git add -A && git commit -q -m sandboxed-qwen && echo COMMITTED\n\\@model run vnx report --status done --summary sandboxed\n\\@model say Done in the sandbox.",
        escape.display()
    );
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--provider",
            "qwen",
            "--lane",
            "headless",
            "--deadline",
            "120",
        ])
        .args(["--sandbox", "--permission", "full"])
        .args(["--instruction", &instruction]);
    let r = run(cmd);
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{at} {} {}", r.stderr, explain(&c));
    assert_eq!(c["teardown_class"], "committed", "{at} {}", explain(&c));
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(rig.repo.on_branch(&id, file), format!("{marker}\n"), "{at}");
    assert!(!escape.exists(), "{at} the worker wrote the main checkout");
    let started = &rig.repo.receipts(&id)[0];
    assert_eq!(started["sandbox"]["kind"], "bubblewrap", "{at}");
    assert_eq!(started["permission_flags"][1], "yolo", "{at} {started}");
    let seen: String = rig
        .server
        .requests()
        .iter()
        .map(|r| r.to_string())
        .filter(|r| r.contains(marker))
        .collect();
    for word in ["ESCAPE-DENIED", "SSH-DENIED", "COMMITTED"] {
        assert!(seen.contains(word), "{at} no {word} in what the model got");
    }
    assert!(
        !seen.contains("SANDBOX-SECRET-KEY"),
        "{at} the key reached the model"
    );
    // qwen kept its session in the dispatch's own place, shown where it keeps them.
    let place = main.join(format!(".vnx-data/dispatches/{id}/sessions"));
    assert!(
        files_under(&place) > 0,
        "{at} no session in {}",
        place.display()
    );
    rig.repo.verify_ok();
}

/// `vnx init --mcp qwen` registers `vnx mcp` in the project's `.qwen/settings.json`, and the
/// real qwen, run there, calls its tools and reads their answer.
#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_calls_vnx_mcp_after_init_mcp() {
    let rig = Rig::new();
    let at = step("qwen", "headless", "init --mcp");
    let r = run(rig
        .repo
        .vnx()
        .envs(rig.env.iter().map(|(k, v)| (k, v)))
        .args(["init", "--mcp", "qwen"]));
    assert_eq!(r.code, 0, "{at} {}", r.stderr);
    let mut cmd = std::process::Command::new("qwen");
    cmd.current_dir(rig.repo.env.path())
        .env("PATH", &rig.path)
        .envs(rig.env.iter().map(|(k, v)| (k, v)))
        .args(["--approval-mode", "yolo", "-o", "stream-json"])
        .arg("List.\n@model tool mcp__vnx__list_dispatches {}\n@model say listed")
        .stdin(std::process::Stdio::null());
    let r = run(cmd);
    assert_eq!(r.code, 0, "{at} {}", r.stderr);
    let answered = r
        .stdout
        .lines()
        .any(|l| l.contains("\"tool_result\"") && l.contains("ledger_head"));
    assert!(answered, "{at} {}", r.stdout);
}

/// Its TUI writes and reports: vnx commits, the usage is its session file's, and `show --log`
/// draws that session.
#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_tui_writes_reports_and_vnx_commits() {
    let rig = Rig::new();
    let at = step("qwen", "interactive", "write, report");
    let marker = "real qwen interactive";
    let file = "qwen-interactive.txt";
    let instruction = format!(
        "{marker}\n\\@model write {file} {marker}\n\\@model run vnx report --status done --summary wrote-it\n\\@model say Wrote it."
    );
    let r = rig.dispatch("qwen", "interactive", &instruction);
    let c = completion(&r);
    let id = committed_by_vnx(&rig.repo, &c, &at, ("qwen", "interactive"), marker, file);
    // The session vnx chose, which its TUI took (`--session-id`).
    let started = &rig.repo.receipts(&id)[0];
    assert_eq!(started["session_id"], c["session_id"], "{at} {started}");
    assert_eq!(started["hooks"], "qwen-stop", "{at} {started}");
    // Its hooks came from the dispatch directory, outside the worktree.
    let settings = started["cli_env"]["QWEN_CODE_SYSTEM_SETTINGS_PATH"]
        .as_str()
        .unwrap_or_default();
    assert!(
        settings.ends_with(&format!("dispatches/{id}/hooks/qwen-settings.json")),
        "{at} {started}"
    );
    let log = run(rig.repo.vnx().args(["show", &id, "--log"]));
    assert_eq!(log.code, 0, "{at} {}", log.stderr);
    let session = c["session_id"].as_str().unwrap();
    assert!(
        log.stdout
            .contains(&format!("qwen 0.15.10, session {session}")),
        "{at} {}",
        log.stdout
    );
    assert!(
        log.stdout
            .contains("vnx report --status done --summary wrote-it"),
        "{at} {}",
        log.stdout
    );
    // (Its last words may come after the report ended the dispatch: not looked for.)
    assert!(
        log.stdout.contains(&format!(
            "write_file {}",
            rig.worktree(&id).join(file).display()
        )),
        "{at} {}",
        log.stdout
    );
    rig.repo.verify_ok();
    assert!(rig.repo.server.sessions_end(), "no tmux session left");
}

/// Its TUI asks before `git commit`: the dispatch is blocked naming the command (from its
/// `PermissionRequest` hook, before its dialog shows), `vnx status` shows it, and `vnx
/// approve`/`vnx deny` answer through that hook: approved, the worker's commit runs; denied,
/// the model is told the message and goes on to its report, and vnx commits.
#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_tui_blocks_on_a_command_and_is_approved_and_denied_through_its_hook() {
    let rig = Rig::new();
    for verb in ["approve", "deny"] {
        let at = step("qwen", "interactive", verb);
        let marker = format!("qwen asks, vnx {verb}s");
        let file = format!("qwen-{verb}.txt");
        let id = rig.detach("qwen", "interactive", 300, &compliant(&marker, &file, verb));
        let r = run(rig
            .repo
            .vnx()
            .args(["wait", "--until-blocked", "--json", &id]));
        let blocked = crate::common::settled_receipt(
            serde_json::from_str(r.stdout.trim())
                .unwrap_or_else(|e| panic!("{at} {e}: {} {}", r.stdout, r.stderr)),
        );
        assert_eq!(
            blocked["event_type"],
            "dispatch_blocked",
            "{at} {}",
            explain(&blocked)
        );
        assert_eq!(blocked["waiting_for"], "permission", "{at} {blocked}");
        assert_eq!(blocked["tool"], "run_shell_command", "{at} {blocked}");
        assert!(
            blocked["command"]
                .as_str()
                .is_some_and(|c| c.starts_with("git add -A")),
            "{at} the receipt names the command: {blocked}"
        );
        let status = run(rig.repo.vnx().args(["status", &id]));
        assert!(
            status.stdout.contains("git add -A && git commit"),
            "{at} {}",
            status.stdout
        );
        let mut cmd = rig.repo.vnx();
        cmd.env("USER", "ana").args([verb, &id, "--json"]);
        if verb == "deny" {
            cmd.args(["--message", "no commits today"]);
        }
        let r = run(cmd);
        assert_eq!(r.code, 0, "{at} {} {}", r.stdout, r.stderr);
        let answered: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        assert_eq!(answered["via"], "hook", "{at} {answered}");
        assert_eq!(answered["by"], "ana", "{at} {answered}");
        let r = run(rig.repo.vnx().args(["wait", "--json", &id]));
        let c = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
        assert_eq!(c["status"], "done", "{at} {}", explain(&c));
        assert_eq!(
            rig.repo.on_branch(&id, &file),
            format!("{marker}\n"),
            "{at}"
        );
        // Approved, the worker's own commit ran and left vnx nothing to commit; denied, it
        // did not run and vnx committed the file.
        assert_eq!(c.get("vnx_commit").is_some(), verb == "deny", "{at} {c}");
        if verb == "deny" {
            let told = rig
                .server
                .requests()
                .iter()
                .any(|q| q["body"].to_string().contains("no commits today"));
            assert!(told, "{at} the model was told the denial's message");
        }
        super::blocked_then_resumed_then_completed(&rig.repo, &id, &at);
    }
    rig.repo.verify_ok();
    assert!(rig.repo.server.sessions_end(), "no tmux session left");
}

/// A TUI turn that ends with a question: `needs_input`, the question (its `Stop` hook's
/// last message) shown by `vnx status`.
#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_tui_question_is_needs_input_with_the_question() {
    let rig = Rig::new();
    let at = step("qwen", "interactive", "question");
    let r = rig.dispatch(
        "qwen",
        "interactive",
        "first turn of qwen interactive\n\\@model ask",
    );
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    assert_eq!(r.code, 1, "{at}");
    let id = c["dispatch_id"].as_str().unwrap();
    let status = run(rig.repo.vnx().args(["status", id]));
    assert!(
        status
            .stdout
            .contains("asks: Should I also update the documentation?"),
        "{at} {}",
        status.stdout
    );
    assert_eq!(c["token_usage_source"], "session_file", "{at} {c}");
    rig.repo.verify_ok();
}

/// Sandboxed, its TUI keeps its session in the dispatch's own place (its sandbox shows it
/// where qwen keeps sessions), which the signed start names; a follow-up resumes that session
/// there and the model sees both turns.
#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_tui_sandboxed_keeps_its_session_in_its_place_and_a_follow_up_resumes_it() {
    let rig = Rig::new();
    let main = rig.repo.env.path().canonicalize().unwrap();
    let at = step("qwen", "interactive", "sandboxed session");
    let asked = "sandboxed qwen interactive asks";
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", "qwen", "--lane", "interactive"])
        .args(["--deadline", "120", "--sandbox"])
        .args(["--instruction", &format!("{asked}\n\\@model ask")]);
    let r = run(cmd);
    let c = completion(&r);
    assert_eq!(
        c["status"],
        "needs_input",
        "{at} {} {}",
        r.stderr,
        explain(&c)
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let started = &rig.repo.receipts(&id)[0];
    assert_eq!(started["sandbox"]["kind"], "bubblewrap", "{at}");
    let place = main.join(format!(".vnx-data/dispatches/{id}/sessions"));
    assert_eq!(
        started["cli_homes"]["sessions"],
        place.to_str().unwrap(),
        "{at}"
    );
    let session = c["session_id"].as_str().unwrap_or_default().to_owned();
    assert!(!session.is_empty(), "{at} no session id: {c}");
    assert!(
        files_under(&place) > 0,
        "{at} no session file in {}",
        place.display()
    );
    assert!(
        !rig.repo.env.home().join(".qwen/projects").exists()
            || files_under(&rig.repo.env.home().join(".qwen/projects")) == 0,
        "{at} the session went to the shared home"
    );
    assert_eq!(c["token_usage_source"], "session_file", "{at} {c}");

    let marker = "follow-up of sandboxed qwen interactive";
    let file = "qwen-sandboxed-followed.txt";
    let f = rig.follow_up(
        &id,
        &format!(
            "{marker}\n\\@model write {file} {marker}\n\\@model run vnx report --status done --summary answered\n\\@model say Wrote it."
        ),
    );
    let at = step("qwen", "interactive", "sandboxed follow-up");
    let fc = completion(&f);
    assert_eq!(fc["status"], "done", "{at} {} {}", f.stderr, explain(&fc));
    assert_eq!(
        fc["session_id"].as_str(),
        Some(session.as_str()),
        "{at} {fc}"
    );
    let fid = fc["dispatch_id"].as_str().unwrap().to_owned();
    let fstarted = &rig.repo.receipts(&fid)[0];
    assert_eq!(
        fstarted["cli_homes"]["sessions"],
        place.to_str().unwrap(),
        "{at}"
    );
    // A follow-up works on the branch of the dispatch it continues.
    assert_eq!(rig.repo.on_branch(&id, file), format!("{marker}\n"), "{at}");
    let saw_both = rig.server.requests().iter().any(|req| {
        let body = req["body"].to_string();
        body.contains(marker) && body.contains(asked)
    });
    assert!(saw_both, "{at} no request held both turns");
    rig.repo.verify_ok();
}
