//! The real CLIs when a dispatch needs a person, in the default posture: a question shown
//! wherever the dispatch is, in either lane, with no internal names; the foreground
//! dispatch saying its worker is blocked and goes on, a denial that ends in a recorded
//! state, and `vnx resume` of a real claude whose machine went down, in its own session.

use std::process::Stdio;

use super::{Rig, asks_before_committing, explain, processes_in, step, within};
use crate::common::{completion, configure, ledger_path, run};

/// What the scripted model says for `@model ask` (tests/support/model_server.py).
const QUESTION: &str = "Should I also update the documentation?";

/// The names vnx gives its completion signals and hooks, never shown to a person.
const INTERNAL: [&str; 5] = [
    "_hook",
    "codex_notify",
    "turn_ended",
    "supervisor_signal",
    "completion_signal",
];

/// Panics if `text`, which a person reads, names one of vnx's internal signals.
fn no_internal_names(text: &str, at: &str) {
    for name in INTERNAL {
        assert!(!text.contains(name), "{at} names {name}: {text}");
    }
}

/// `vnx wait --json` of `id` for at most `secs`: its settled receipt.
fn settled(rig: &Rig, id: &str, secs: u64) -> serde_json::Value {
    let r = run(rig
        .repo
        .vnx()
        .args(["wait", "--json", "--timeout", &secs.to_string(), id]));
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("[{id}] wait: {e}: {}{}", r.stdout, r.stderr));
    crate::common::settled_receipt(v)
}

/// Whether dispatch `id` has recorded a `dispatch_blocked` (the ledger may not be there yet).
fn has_blocked(rig: &Rig, id: &str) -> bool {
    ledger_path(&rig.repo).exists()
        && rig
            .repo
            .receipts(id)
            .iter()
            .any(|r| r["event_type"] == "dispatch_blocked")
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_questions_are_shown_wherever_the_dispatch_is() {
    let rig = Rig::new();
    let notes = rig.repo.env.home().join("notes.txt");
    let script = rig.repo.env.home().join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1|$2|$VNX_MESSAGE\" >> {}\n",
            notes.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &rig.repo,
        &format!(
            "notify: [\"{}\", \"{{id}}\", \"{{state}}\"]\n",
            script.display()
        ),
    );
    // Each lane (codex's and gemini's default is headless, claude's its TUI): the turn ends
    // with a question, no report.
    for lane in ["headless", "interactive"] {
        for cli in ["claude", "codex", "gemini"] {
            let at = step(cli, lane, "question everywhere");
            let c = completion(&rig.dispatch(
                cli,
                lane,
                &format!("{cli} {lane} asks\n\\@model write looked.txt x\n\\@model ask"),
            ));
            assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
            let id = c["dispatch_id"].as_str().unwrap().to_owned();

            let wait = run(rig.repo.vnx().args(["wait", &id]));
            assert!(
                wait.stdout.contains(&format!("{id}  asks: {QUESTION}")),
                "{at} {}",
                wait.stdout
            );
            no_internal_names(&wait.stdout, &at);
            let status = run(rig.repo.vnx().args(["status", &id]));
            assert!(
                status.stdout.contains(&format!("\n  asks: {QUESTION}\n")),
                "{at} {}",
                status.stdout
            );
            no_internal_names(&status.stdout, &at);
            let json = run(rig.repo.vnx().args(["status", &id, "--json"]));
            let states: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
            assert_eq!(states[0]["question"], QUESTION, "{at} {states}");
            let show = run(rig.repo.vnx().args(["show", &id]));
            assert!(
                show.stdout
                    .contains(&format!("\n  asks       {QUESTION}\n")),
                "{at} {}",
                show.stdout
            );
            no_internal_names(&show.stdout, &at);

            // The dashboard's LAST ACTIVITY.
            let sources = vnx::dashboard::Sources {
                root: rig.repo.env.path().to_owned(),
                ledger: ledger_path(&rig.repo),
                tmux: rig.repo.server.0.clone(),
            };
            let snap = vnx::dashboard::Snapshot::load(&sources, None, None).unwrap();
            let row = snap.rows.iter().find(|r| r.state.id == id).unwrap();
            assert_eq!(row.activity, format!("asks: {QUESTION}"), "{at}");

            // The notification of needs_input carries it as {message}.
            let noted = format!("{id}|needs_input|{QUESTION}");
            assert!(
                within(30, || std::fs::read_to_string(&notes)
                    .unwrap_or_default()
                    .contains(&noted)),
                "{at} {}",
                std::fs::read_to_string(&notes).unwrap_or_default()
            );
        }
    }
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn the_foreground_dispatch_says_when_a_real_cli_is_blocked_and_goes_on() {
    let rig = Rig::new();
    // Their TUIs: claude's default lane; headless codex and gemini never wait for a person.
    for (cli, id) in [
        ("claude", "D-f0e1d2c3b4a1"),
        ("codex", "D-f0e1d2c3b4a2"),
        ("gemini", "D-f0e1d2c3b4a3"),
    ] {
        let at = step(cli, "interactive", "foreground, blocked");
        let marker = format!("{cli} blocks in the foreground");
        let file = format!("{cli}-foreground.txt");
        let mut cmd = rig.vnx();
        cmd.args(["dispatch-agent", "--agent", "implementer"])
            .args(["--provider", cli, "--lane", "interactive"])
            .args(["--deadline", "240", "--id", id])
            .args([
                "--instruction",
                &asks_before_committing(cli, &marker, &file),
            ]);
        // No terminal: the foreground only says, it offers nothing.
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let blocked = within(180, || has_blocked(&rig, id));
        if !blocked {
            let r = run(rig.repo.vnx().args(["cancel", id]));
            let out = child.wait_with_output().unwrap();
            panic!(
                "{at} never blocked: {}{} / {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                r.stderr
            );
        }
        // From another process, as a person in another shell.
        let r = run(rig.repo.vnx().env("USER", "ana").args(["approve", id]));
        assert_eq!(r.code, 0, "{at} approve: {}{}", r.stdout, r.stderr);
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{at} {stdout}{stderr}");
        let says = format!("{id} is blocked: permission: ");
        let said = stderr
            .find(&says)
            .unwrap_or_else(|| panic!("{at} {stderr}"));
        let line = stderr[said..].lines().next().unwrap();
        assert!(line.contains("git add -A"), "{at} what it asks: {line}");
        assert!(
            line.ends_with(&format!("(answer: vnx approve {id} or vnx deny {id})")),
            "{at} {line}"
        );
        assert!(
            stderr[said..].contains(&format!("{id} goes on")),
            "{at} in order: {stderr}"
        );
        assert!(!stderr.contains("approve it?"), "{at} {stderr}");
        no_internal_names(&stderr, &at);
        assert!(stdout.contains(&format!("{id}  done")), "{at} {stdout}");
        assert_eq!(rig.repo.on_branch(id, &file), format!("{marker}\n"), "{at}");
    }
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn a_denied_real_claude_or_codex_reaches_a_recorded_state() {
    let rig = Rig::new();
    // claude's TUI is its default lane; codex asks only in its TUI (`codex exec` never asks).
    for cli in ["claude", "codex"] {
        let at = step(cli, "interactive", "deny");
        let marker = format!("{cli} is denied");
        let file = format!("{cli}-denied.txt");
        let id = rig.detach(
            cli,
            "interactive",
            240,
            &asks_before_committing(cli, &marker, &file),
        );
        let r = run(rig.repo.vnx().args(["wait", "--until-blocked", &id]));
        assert_eq!(r.code, 1, "{at} {}{}", r.stdout, r.stderr);
        let r = run(rig.repo.vnx().env("USER", "ana").args([
            "deny",
            &id,
            "--message",
            "no commits today",
        ]));
        assert_eq!(r.code, 0, "{at} deny: {}{}", r.stdout, r.stderr);
        let c = settled(&rig, &id, 60);
        let screen = || {
            rig.repo
                .server
                .0
                .capture(&format!("vnx-{id}"))
                .unwrap_or_default()
        };
        assert!(
            c["status"] == "needs_input" || c["status"] == "done",
            "{at} {}\n--- its pane ---\n{}",
            explain(&c),
            screen()
        );
        let denied = "  denied     by ana: ";
        let show = run(rig.repo.vnx().args(["show", &id]));
        let line = show
            .stdout
            .lines()
            .find(|l| l.starts_with(denied))
            .unwrap_or_else(|| panic!("{at} {}", show.stdout));
        assert!(line.contains("git add -A"), "{at} {line}");
        no_internal_names(&show.stdout, &at);
        // Needing input, `status` says the denial is what it said last.
        let status = run(rig.repo.vnx().args(["status", &id]));
        if c["status"] == "needs_input" {
            assert!(
                status.stdout.contains("  said: ana denied "),
                "{at} {}",
                status.stdout
            );
        }
        no_internal_names(&status.stdout, &at);
        // The worker's own commit never ran: done, vnx committed its work.
        if c["status"] == "done" {
            assert!(c["vnx_commit"].is_object(), "{at} {c}");
        }
    }
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude (tests/support/install-clis.sh)"]
fn a_real_claude_whose_machine_went_down_is_resumed_in_its_session() {
    let rig = Rig::new();
    let at = step("claude", "interactive", "resume");
    let marker = "claude interrupted mid-task";
    let instruction = asks_before_committing("claude", marker, "resumed.txt");
    let id = rig.detach("claude", "interactive", 240, &instruction);
    // Blocked on its commit: the file is written, the session has turns.
    let r = run(rig.repo.vnx().args(["wait", "--until-blocked", &id]));
    assert_eq!(r.code, 1, "{at} {}{}", r.stdout, r.stderr);
    let session = rig.repo.receipts(&id)[0]["session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{at} claude's TUI is told its session"))
        .to_owned();
    // The machine goes down: the supervisor is killed first (it records nothing), then the
    // tmux server and whatever ran in the worktree.
    rig.repo.server.kill_pane_process(&format!("vnx-{id}"));
    rig.repo.server.0.kill_server();
    let wt = rig.worktree(&id);
    for (pid, _) in processes_in(&wt) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    let lost = || {
        let r = run(rig.repo.vnx().args(["status", &id, "--json"]));
        serde_json::from_str::<serde_json::Value>(r.stdout.trim())
            .is_ok_and(|s| s[0]["status"] == "lost")
    };
    assert!(within(30, lost), "{at} never lost: {:?}", processes_in(&wt));

    let r = run(rig.vnx().args(["resume", &id]));
    assert_eq!(r.code, 0, "{at} resume: {}{}", r.stdout, r.stderr);
    let next = r.stdout.trim().to_owned();
    assert!(next.starts_with("D-"), "{at} {}", r.stdout);
    let started = rig.repo.receipts(&next)[0].clone();
    assert_eq!(
        started["continues"]["dispatch_id"],
        id.as_str(),
        "{at} {started}"
    );
    assert_eq!(
        started["continues"]["session_id"],
        session.as_str(),
        "{at} claude --resume of its session: {started}"
    );
    // The same task in the same session: it asks again for its commit, approved this time.
    let r = run(rig.repo.vnx().args(["wait", "--until-blocked", &next]));
    assert_eq!(r.code, 1, "{at} {}{}", r.stdout, r.stderr);
    let r = run(rig.repo.vnx().env("USER", "ana").args(["approve", &next]));
    assert_eq!(r.code, 0, "{at} approve: {}{}", r.stdout, r.stderr);
    let c = settled(&rig, &next, 120);
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    assert_eq!(c["session_id"], session.as_str(), "{at} {c}");
    assert_eq!(
        rig.repo.on_branch(&id, "resumed.txt"),
        format!("{marker}\n"),
        "{at}"
    );
    // The model was sent the earlier conversation, then what vnx said of the interruption.
    let saw_both = rig.server.requests().iter().any(|q| {
        let Some(messages) = q["body"]["messages"].as_array() else {
            return false;
        };
        let text: Vec<String> = messages.iter().map(|m| m.to_string()).collect();
        let first = text
            .iter()
            .position(|m| m.contains(marker) && !m.contains("was interrupted"));
        let told = text.iter().rposition(|m| m.contains("was interrupted"));
        matches!((first, told), (Some(f), Some(t)) if f < t)
    });
    assert!(
        saw_both,
        "{at} no request held the earlier turn and the resume"
    );
    rig.repo.verify_ok();
}

/// Dispatch `id` blocks on a dialog its TUI shows before its first turn, which the receipt
/// names (what it asks starts with `asks`); `vnx approve` answers it and the dispatch ends
/// done.
fn approved_at_start_dialog(rig: &Rig, id: &str, asks: &str, at: &str) {
    let r = run(rig
        .repo
        .vnx()
        .args(["wait", "--until-blocked", "--json", "--timeout", "60", id]));
    let blocked = crate::common::settled_receipt(
        serde_json::from_str(r.stdout.trim())
            .unwrap_or_else(|e| panic!("{at} {e}: {} {}", r.stdout, r.stderr)),
    );
    assert_eq!(blocked["event_type"], "dispatch_blocked", "{at} {blocked}");
    assert_eq!(blocked["source"], "screen", "{at} {blocked}");
    assert!(
        blocked["command"]
            .as_str()
            .is_some_and(|c| c.starts_with(asks)),
        "{at} {blocked}"
    );
    let r = run(rig.repo.vnx().args(["approve", id, "--json"]));
    assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);
    let c = settled(rig, id, 120);
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
}

/// The first dispatch in a repository claude never trusted: its TUI stops at its trust
/// dialog, and the dispatch says so as something that needs you (blocked, naming what it
/// asks) instead of sitting `running`; `vnx approve` trusts the folder, the worker goes on
/// and claude now trusts the repository, so the next dispatch starts without asking.
#[test]
#[ignore = "needs the real claude (tests/support/install-clis.sh)"]
fn a_real_claude_at_its_trust_dialog_needs_you_and_approve_trusts_the_repository() {
    let rig = Rig::new();
    let state = rig.repo.env.home().join(".claude.json");
    let mut seeded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    seeded["projects"] = serde_json::json!({});
    std::fs::write(&state, seeded.to_string()).unwrap();
    let at = step("claude", "interactive", "trust dialog");
    let task = |marker: &str| {
        format!(
            "{marker}\n\\@model write trusted.txt {marker}\n\\@model run vnx report --status done --summary trusted\n\\@model say Wrote it."
        )
    };
    let id = rig.detach("claude", "interactive", 180, &task("claude asks for trust"));
    approved_at_start_dialog(&rig, &id, "trust this folder", &at);
    let trusted = std::fs::read_to_string(&state).unwrap();
    let root = rig.repo.env.path().canonicalize().unwrap();
    assert!(trusted.contains(&*root.to_string_lossy()), "{at} {trusted}");

    let at = step("claude", "interactive", "trusted since");
    let next = rig.detach("claude", "interactive", 180, &task("claude trusted since"));
    let c = settled(&rig, &next, 120);
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    assert!(!has_blocked(&rig, &next), "{at} it asked again");
    rig.repo.verify_ok();
}

/// A full-posture TUI dispatch in a home whose user never accepted claude's Bypass
/// Permissions mode: claude warns before its first turn, and the dispatch says so as
/// something that needs you instead of sitting `running` to its deadline; `vnx approve`
/// accepts (claude records it in its user settings), the worker goes on, and the next full
/// dispatch starts without asking.
#[test]
#[ignore = "needs the real claude (tests/support/install-clis.sh)"]
fn a_real_claude_at_its_bypass_disclaimer_needs_you_and_approve_accepts_it() {
    let rig = Rig::new();
    let settings = rig.repo.env.home().join(".claude/settings.json");
    std::fs::remove_file(&settings).unwrap();
    let at = step("claude", "interactive", "bypass disclaimer");
    let full = |marker: &str| {
        let mut cmd = rig.vnx();
        cmd.env("VNX_OVERRIDE_NO_SKIP_PERMISSIONS", "1")
            .env(
                "VNX_OVERRIDE_NO_SKIP_PERMISSIONS_REASON",
                "the test's worktree is disposable",
            )
            .args(["dispatch-agent", "--agent", "implementer", "--detach"])
            .args(["--provider", "claude", "--lane", "interactive"])
            .args(["--permission", "full", "--deadline", "180"])
            .args(["--instruction", &format!(
                "{marker}\n\\@model write full.txt {marker}\n\\@model run vnx report --status done --summary full\n\\@model say Wrote it."
            )]);
        let r = run(cmd);
        assert_eq!(r.code, 0, "{at} {}", r.stderr);
        r.stdout.trim().to_owned()
    };
    let id = full("claude asks to bypass");
    approved_at_start_dialog(&rig, &id, "accept Bypass Permissions mode", &at);
    let recorded = std::fs::read_to_string(&settings).unwrap_or_default();
    assert!(
        recorded.contains("skipDangerousModePermissionPrompt"),
        "{at} {recorded}"
    );

    let at = step("claude", "interactive", "bypass accepted since");
    let next = full("claude bypasses since");
    let c = settled(&rig, &next, 120);
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    assert!(!has_blocked(&rig, &next), "{at} it asked again");
    rig.repo.verify_ok();
}
