//! The real GitHub Copilot CLI (1.0.102) driven by `vnx dispatch-agent --provider copilot`,
//! offline against the scripted model server (`COPILOT_OFFLINE`, a provider base URL, no
//! GitHub login: the environment the test rig seeds, which the worker inherits). Headless in
//! vnx's default posture (`edits`: its `write` tools and the role's and `vnx report`'s shell
//! rules): its work done and reported, the role's command run, `git commit` refused (copilot
//! exits 0 after it), vnx committing, the usage from its session file; an HTTP error a
//! failure with copilot's message; a question followed up in the same session. In its TUI:
//! vnx's hooks in the worktree and the worktree's trust recorded (and taken out at the end),
//! `blocked` naming the command from its `permissionRequest` hook, `vnx approve` and
//! `vnx deny` answered through that hook.

use super::{Rig, committed_by_vnx, compliant, explain, step};
use crate::common::{completion, configure, run};

/// Whether copilot's `config.json` in the rig's home trusts `dir`.
fn trusted(rig: &Rig, dir: &std::path::Path) -> bool {
    let file = rig.repo.env.home().join(".copilot/config.json");
    // copilot writes `//` comment lines above the JSON.
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let json: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    let config: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    config["trustedFolders"]
        .as_array()
        .is_some_and(|f| f.iter().any(|d| d.as_str() == dir.to_str()))
}

#[test]
#[ignore = "needs the real copilot (~190 MB from npm, tests/support/install-clis.sh)"]
fn real_copilot_headless_writes_runs_reports_and_vnx_commits() {
    let rig = Rig::new();
    configure(
        &rig.repo,
        "roles:\n  implementer:\n    allow: [\"python3\"]\n",
    );
    let at = step("copilot", "headless", "write, run, try to commit, report");
    let marker = "real copilot headless";
    let file = "copilot-headless.txt";
    // The role's command runs unasked; its output reaches the model.
    let instruction = compliant(marker, file, "wrote-it").replacen(
        "\n\\@model run git add",
        "\n\\@model run python3 -c \"print('RAN-' + 'BY-COPILOT')\"\n\\@model run git add",
        1,
    );
    let r = rig.dispatch("copilot", "headless", &instruction);
    let c = completion(&r);
    assert_eq!(r.code, 0, "{at} {}", explain(&c));
    let id = committed_by_vnx(&rig.repo, &c, &at, ("copilot", "headless"), marker, file);
    assert_eq!(c["exit_code"], 0, "{at} {c}");
    // Its stream has no tokens: they come from the session file it kept.
    assert_eq!(c["token_usage_source"], "session_file", "{at} {c}");
    let events = &c["cli_events"];
    assert_eq!(events["verdict"]["status"], "success", "{at} {events}");
    // write, python3, git commit (refused), vnx report.
    assert_eq!(events["tool_calls"], 4, "{at} {events}");
    assert_eq!(events["permission_denials"], 1, "{at} {events}");
    assert_eq!(events["last_message"], "Wrote it.", "{at} {events}");
    // vnx named the session, and copilot used it.
    assert_eq!(events["session_id"], c["session_id"], "{at} {events}");
    let started = &rig.repo.receipts(&id)[0];
    assert_eq!(started["session_id"], c["session_id"], "{at} {started}");
    assert_eq!(started["permission"], "edits", "{at} {started}");
    let seen: String = rig
        .server
        .requests()
        .iter()
        .map(|r| r.to_string())
        .filter(|r| r.contains(marker))
        .collect();
    assert!(
        seen.contains("RAN-BY-COPILOT"),
        "{at} the allowed command did not run"
    );
    // Its log is drawn as copilot's transcript: the refused commit and the end.
    let log = run(rig.repo.vnx().args(["show", &id, "--log"]));
    assert_eq!(log.code, 0, "{at} {}", log.stderr);
    assert!(
        log.stdout.contains("denied  bash git add -A"),
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
#[ignore = "needs the real copilot (~190 MB from npm, tests/support/install-clis.sh)"]
fn real_copilot_http_error_is_a_failure_with_its_message() {
    let rig = Rig::new();
    let at = step("copilot", "headless", "HTTP 400");
    let r = rig.dispatch("copilot", "headless", "copilot fails\n\\@model fail 400");
    let c = completion(&r);
    assert_eq!(c["status"], "failed", "{at} {}", explain(&c));
    assert_eq!(r.code, 1, "{at}");
    let reason = c["failure_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("400") && reason.contains("scripted failure"),
        "{at} {reason}"
    );
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real copilot (~190 MB from npm, tests/support/install-clis.sh)"]
fn real_copilot_question_then_a_follow_up_in_the_same_session() {
    let rig = Rig::new();
    let asked = "first turn of copilot headless";
    let r = rig.dispatch("copilot", "headless", &format!("{asked}\n\\@model ask"));
    let at = step("copilot", "headless", "question");
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    assert_eq!(
        c["cli_events"]["last_message"], "Should I also update the documentation?",
        "{at} {c}"
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let session = c["session_id"].as_str().unwrap_or_default().to_owned();
    assert!(!session.is_empty(), "{at} no session id: {c}");

    let marker = "follow-up of copilot headless";
    let file = "copilot-followed.txt";
    let r = rig.follow_up(&id, &compliant(marker, file, "answered"));
    let at = step("copilot", "headless", "follow-up");
    let f = completion(&r);
    assert_eq!(f["status"], "done", "{at} {}", explain(&f));
    assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{at} {f}");
    // The follow-up's usage is its own part of the shared session file.
    assert!(
        f["token_usage"]["input_tokens"].as_u64()
            < c["token_usage"]["input_tokens"].as_u64().map(|t| t * 10),
        "{at} {f}"
    );
    let saw_both = rig.server.requests().iter().any(|req| {
        let body = req["body"].to_string();
        body.contains(marker) && body.contains(asked)
    });
    assert!(saw_both, "{at} no request held both turns");
    rig.repo.verify_ok();
}

/// Its TUI in the default posture: the worktree is not trusted by the user (the rig's
/// trust of the repository's parent is taken away), so vnx records it while the dispatch
/// runs; the file is written unasked (`--allow-tool=write`, no hook holds it), the
/// `git commit` the model asks for blocks the worker, named by copilot's `notification`
/// hook; `vnx approve` types `1` into its dialog and the worker goes on, commits, reports;
/// the session file gives the usage and the transcript. `vnx deny` presses Escape, which
/// stops copilot's turn without its end-of-turn hook: vnx ends the turn once the pane says
/// so, and the dispatch needs input with the denial as what it said last; the command does
/// not run.
#[test]
#[ignore = "needs the real copilot (~190 MB from npm, tests/support/install-clis.sh)"]
fn real_copilot_tui_blocks_on_its_dialog_and_is_approved_and_denied_in_its_pane() {
    let rig = Rig::new();
    let config = rig.repo.env.home().join(".copilot/config.json");
    std::fs::write(&config, r#"{"banner": "never", "beep": false}"#).unwrap();
    for verb in ["approve", "deny"] {
        let at = step("copilot", "interactive", verb);
        let marker = format!("copilot asks, vnx {verb}s");
        let file = format!("copilot-{verb}.txt");
        let instruction = compliant(&marker, &file, verb);
        let id = rig.detach("copilot", "interactive", 300, &instruction);
        let worktree = rig.worktree(&id);
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
        assert_eq!(blocked["tool"], "bash", "{at} {blocked}");
        assert!(
            blocked["command"]
                .as_str()
                .is_some_and(|c| c.starts_with("git add -A")),
            "{at} the receipt names the command: {blocked}"
        );
        assert!(
            trusted(&rig, &worktree),
            "{at} the worktree is not trusted: {:?} {}",
            std::fs::read_to_string(&config),
            rig.repo.receipts(&id)[0]
        );
        let r = run(rig
            .repo
            .vnx()
            .env("USER", "ana")
            .args([verb, &id, "--json"]));
        assert_eq!(r.code, 0, "{at} {} {}", r.stdout, r.stderr);
        let answered: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        assert_eq!(answered["via"], "pane", "{at} {answered}");
        assert_eq!(answered["by"], "ana", "{at} {answered}");
        // Denied, its turn stops without `agentStop`: vnx ends it once the pane says so.
        let mut wait = rig.repo.vnx();
        wait.args(["wait", "--json", "--timeout", "90", &id]);
        let r = run(wait);
        let c = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
        // vnx's hooks never reach the branch, and the trust is gone again.
        assert!(!trusted(&rig, &worktree), "{at} the trust stayed");
        if verb == "deny" {
            assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
            let status = run(rig.repo.vnx().args(["status", &id]));
            assert!(
                status.stdout.contains("  said: ana denied "),
                "{at} {}",
                status.stdout
            );
            let log = rig
                .repo
                .env
                .git(&["log", "--format=%s", &format!("dispatch/{id}")]);
            assert!(!log.contains("deny"), "{at} the denied commit ran: {log}");
            continue;
        }
        assert_eq!(c["status"], "done", "{at} {}", explain(&c));
        assert_eq!(c["token_usage_source"], "session_file", "{at} {c}");
        // The worker's own commit ran (`git add -A` took vnx's hooks file with it); vnx's
        // commit only takes that file out again, so the branch holds none of it.
        assert_eq!(c["commits"], 2, "{at} {c}");
        assert_eq!(
            c["vnx_commit"]["files"],
            serde_json::json!([".github/hooks/vnx-dispatch.json"]),
            "{at} {c}"
        );
        assert_eq!(
            rig.repo.on_branch(&id, &file),
            format!("{marker}\n"),
            "{at}"
        );
        let tree = rig
            .repo
            .env
            .git(&["ls-tree", "-r", "--name-only", &format!("dispatch/{id}")]);
        assert!(!tree.contains(".github"), "{at} {tree}");
        // Its transcript is the session file its TUI kept.
        let log = run(rig.repo.vnx().args(["show", &id, "--log"]));
        assert!(
            log.stdout.contains("start   copilot 1.0.102"),
            "{at} {}",
            log.stdout
        );
    }
    rig.repo.verify_ok();
    assert!(rig.repo.server.sessions_end(), "no tmux session left");
}

/// Sandboxed with the full posture (`--allow-all-tools`, which the shipped constraints allow
/// only sandboxed): copilot starts with its state (`~/.copilot`, and `~/.cache/copilot` where
/// it unpacks itself) writable, writes, commits and reports; writing the main checkout and
/// reading `~/.ssh` fail; its session is kept in the dispatch's own place, where a follow-up
/// resumes it.
#[test]
#[ignore = "needs the real copilot (~190 MB from npm, tests/support/install-clis.sh)"]
fn real_copilot_runs_sandboxed_with_the_full_posture() {
    let rig = Rig::new();
    let ssh = rig.repo.env.home().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("id_ed25519"), "SANDBOX-SECRET-KEY\n").unwrap();
    let main = rig.repo.env.path().canonicalize().unwrap();
    let at = step("copilot", "headless", "sandboxed, full posture");
    let marker = "sandboxed copilot headless";
    let file = "copilot-sandboxed.txt";
    let escape = main.join("escaped-copilot.txt");
    let instruction = format!(
        "{marker}\n\\@model write {file} {marker}\n\\@model run echo out > {} || echo ESCAPE-DENIED\n\\@model run cat $HOME/.ssh/id_ed25519 || echo SSH-DENIED\n\\@model run git add -A && git commit -q -m sandboxed-copilot && echo COMMITTED\n\\@model run vnx report --status done --summary sandboxed\n\\@model say Done in the sandbox.",
        escape.display()
    );
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", "copilot", "--lane", "headless"])
        .args(["--deadline", "120", "--sandbox", "--permission", "full"])
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
    assert_eq!(started["permission_flags"][0], "--allow-all-tools", "{at}");
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
    // Its session is in the dispatch's own place, and the usage was read there.
    let place = main.join(format!(".vnx-data/dispatches/{id}/sessions"));
    assert_eq!(
        started["cli_homes"]["sessions"],
        place.to_str().unwrap(),
        "{at}"
    );
    let session = c["session_id"].as_str().unwrap();
    assert!(
        place.join(session).join("events.jsonl").is_file(),
        "{at} no session file in {}",
        place.display()
    );
    assert_eq!(c["token_usage_source"], "session_file", "{at} {c}");
    rig.repo.verify_ok();
}

/// `vnx init --mcp copilot` registers `vnx mcp` where copilot reads it: the real copilot,
/// headless in the project, offers vnx's tools (`vnx-<tool>`) and a call answers.
#[test]
#[ignore = "needs the real copilot (~190 MB from npm, tests/support/install-clis.sh)"]
fn real_copilot_calls_vnx_mcp_after_init_mcp() {
    let rig = Rig::new();
    let at = step("copilot", "headless", "init --mcp");
    let r = run(rig
        .repo
        .vnx()
        .envs(rig.env.iter().map(|(k, v)| (k, v)))
        .args(["init", "--mcp", "copilot"]));
    assert_eq!(r.code, 0, "{at} {}", r.stderr);
    let mut cmd = std::process::Command::new("copilot");
    cmd.current_dir(rig.repo.env.path())
        .env("PATH", &rig.path)
        .envs(rig.env.iter().map(|(k, v)| (k, v)))
        .args([
            "-p",
            "List.\n@model tool vnx-list_dispatches {}\n@model say listed",
        ])
        .args(["--output-format", "json"])
        .stdin(std::process::Stdio::null());
    let r = run(cmd);
    assert_eq!(r.code, 0, "{at} {}", r.stderr);
    let answered = r.stdout.lines().any(|l| {
        l.contains("\"tool.execution_complete\"")
            && l.contains("\"success\":true")
            && l.contains("ledger_head")
    });
    assert!(answered, "{at} {}", r.stdout);
}

/// Its TUI ends a turn with a question: `needs_input`, the question read from its session
/// file (its `agentStop` hook carries none) and shown by `vnx status`; a follow-up resumes the
/// same session in its TUI (`--resume=ID`) and the model sees both turns.
#[test]
#[ignore = "needs the real copilot (~190 MB from npm, tests/support/install-clis.sh)"]
fn real_copilot_tui_question_then_a_follow_up_in_the_same_session() {
    let rig = Rig::new();
    let asked = "first turn of copilot interactive";
    let r = rig.dispatch("copilot", "interactive", &format!("{asked}\n\\@model ask"));
    let at = step("copilot", "interactive", "question");
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    assert_eq!(
        c["cli_events"]["last_message"], "Should I also update the documentation?",
        "{at} {c}"
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let status = run(rig.repo.vnx().args(["status", &id]));
    assert!(
        status
            .stdout
            .contains("asks: Should I also update the documentation?"),
        "{at} {}",
        status.stdout
    );
    let session = c["session_id"].as_str().unwrap_or_default().to_owned();
    assert!(!session.is_empty(), "{at} no session id: {c}");

    let marker = "follow-up of copilot interactive";
    let file = "copilot-tui-followed.txt";
    let r = rig.follow_up(&id, &format!(
                "{marker}\n\\@model write {file} {marker}\n\\@model run vnx report --status done --summary answered\n\\@model say Wrote it."
            ));
    let at = step("copilot", "interactive", "follow-up");
    let f = completion(&r);
    assert_eq!(f["status"], "done", "{at} {}", explain(&f));
    assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{at} {f}");
    let saw_both = rig.server.requests().iter().any(|req| {
        let body = req["body"].to_string();
        body.contains(marker) && body.contains(asked)
    });
    assert!(saw_both, "{at} no request held both turns");
    rig.repo.verify_ok();
}

/// An edit of a file the repository holds, with copilot's `edit` tool (`--allow-tool=write`
/// covers it in the default posture): the change, committed by vnx, is the branch's.
#[test]
#[ignore = "needs the real copilot (~190 MB from npm, tests/support/install-clis.sh)"]
fn real_copilot_edits_a_file_with_its_edit_tool() {
    let rig = Rig::new();
    let at = step("copilot", "headless", "edit");
    std::fs::write(rig.repo.env.path().join("notes.txt"), "colour: red\n").unwrap();
    rig.repo.env.git(&["add", "notes.txt"]);
    rig.repo.env.git(&["commit", "-q", "-m", "notes"]);
    let instruction = "Change the colour.\n\\@model edit notes.txt red => blue\n\\@model run vnx report --status done --summary recoloured\n\\@model say Recoloured.";
    let r = rig.dispatch("copilot", "headless", instruction);
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    let id = c["dispatch_id"].as_str().unwrap();
    assert_eq!(
        rig.repo.on_branch(id, "notes.txt"),
        "colour: blue\n",
        "{at}"
    );
    // The model called copilot's own edit tool.
    let edited = rig
        .server
        .requests()
        .iter()
        .any(|q| q["answer"]["tool"] == "edit" && q["answer"]["args"]["new_str"] == "blue");
    assert!(edited, "{at} no edit call");
    assert_eq!(c["cli_events"]["permission_denials"], 0, "{at} {c}");
    rig.repo.verify_ok();
}
