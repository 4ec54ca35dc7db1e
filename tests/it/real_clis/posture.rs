//! The real CLIs in vnx's default posture (`edits`): a role's allowlist running unasked
//! through each CLI's own allow mechanism, every gemini prompt a new `dispatch_blocked` with
//! its hooks succeeding and trusted, and claude on the user's own model unless one is named
//! (a typo refused before launch).

use super::{Rig, explain, step, within};
use crate::common::{completion, configure, run};

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_clis_run_the_roles_allowlist_unasked_and_nothing_else() {
    let rig = Rig::new();
    configure(
        &rig.repo,
        "roles:\n  implementer:\n    allow: [\"python3 -c\"]\n",
    );
    for cli in ["claude", "gemini"] {
        let at = step(cli, "headless", "allowlist");
        let marker = format!("{cli} runs its allowlist");
        let instruction = format!(
            "{marker}\n\\@model run python3 -c \"open('allowed-{cli}.txt','w').write('ok')\"\n\\@model run python3 -B -c \"open('other-{cli}.txt','w').write('no')\"\n\\@model run vnx report --status done --summary allowlist\n\\@model say Done."
        );
        let c = completion(&rig.dispatch(cli, "headless", &instruction));
        assert_eq!(c["status"], "done", "{at} {}", explain(&c));
        let id = c["dispatch_id"].as_str().unwrap();
        assert_eq!(
            rig.repo.on_branch(id, &format!("allowed-{cli}.txt")),
            "ok",
            "{at}"
        );
        let tree = rig
            .repo
            .env
            .git(&["ls-tree", "-r", "--name-only", &format!("dispatch/{id}")]);
        assert!(
            !tree.contains(&format!("other-{cli}.txt")),
            "{at} denied: {tree}"
        );
    }
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_gemini_tui_blocks_anew_on_every_prompt_with_its_hooks_succeeding() {
    let rig = Rig::new();
    let at = step("gemini", "interactive", "two prompts");
    let instruction = "gemini asks twice\n\\@model run touch first.txt\n\\@model run touch second.txt\n\\@model run vnx report --status done --summary twice\n\\@model say Done.";
    let id = rig.detach("gemini", "interactive", 300, instruction);
    let blocks = || -> Vec<serde_json::Value> {
        rig.repo
            .receipts(&id)
            .into_iter()
            .filter(|r| r["event_type"] == "dispatch_blocked")
            .collect()
    };
    let r = run(rig.repo.vnx().args(["wait", "--until-blocked", &id]));
    assert_eq!(r.code, 1, "{at} {}", r.stdout);
    assert_eq!(blocks()[0]["command"], "touch first.txt", "{at}");
    let session = format!("vnx-{id}");
    let screen = || rig.repo.server.0.capture(&session).unwrap_or_default();
    // A person allows the first in the pane (the dialog may take a moment to take keys).
    for _ in 0..3 {
        rig.repo.server.send_keys(&session, &["1"]);
        if within(20, || blocks().len() == 2) {
            break;
        }
    }
    assert_eq!(blocks().len(), 2, "{at} {:?}\n{}", blocks(), screen());
    assert_eq!(blocks()[1]["command"], "touch second.txt", "{at}");
    // `vnx approve` allows the second: gemini has no hook that answers, so its key.
    let r = run(rig
        .repo
        .vnx()
        .env("USER", "ana")
        .args(["approve", &id, "--json"]));
    assert_eq!(r.code, 0, "{at} {} {}", r.stdout, r.stderr);
    let answered: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(answered["via"], "pane", "{at} {answered}");
    assert_eq!(answered["command"], "touch second.txt", "{at} {answered}");
    let r = run(rig.repo.vnx().args(["wait", "--json", &id]));
    let c = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    let resumed: Vec<String> = rig
        .repo
        .receipts(&id)
        .iter()
        .filter(|r| r["event_type"] == "dispatch_resumed")
        .map(|r| r["source"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(resumed, ["gemini-after-tool", "gemini-after-tool"], "{at}");
    // The pane as the person saw it: no failed hook, no warning about vnx's hooks.
    let screen = std::fs::read_to_string(c["worker_log"].as_str().unwrap()).unwrap();
    assert!(!screen.contains("Hook(s) ["), "{at} {screen}");
    assert!(!screen.contains("project-level hooks"), "{at} {screen}");
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_keeps_its_own_model_and_a_typo_is_refused() {
    let rig = Rig::new();
    let at = step("claude", "headless", "own model");
    let marker = "claude on its own model";
    let c = completion(&rig.dispatch(
        "claude",
        "headless",
        &format!(
            "{marker}\n\\@model write own.txt x\n\\@model run vnx report --status done --summary own\n\\@model say Done."
        ),
    ));
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    let id = c["dispatch_id"].as_str().unwrap();
    let argv = rig.repo.receipts(id)[0]["argv"].to_string();
    assert!(!argv.contains("\"--model\""), "{at} {argv}");
    let asked: Vec<String> = rig
        .server
        .requests()
        .iter()
        .filter(|q| q["body"].to_string().contains(marker))
        .map(|q| q["body"]["model"].to_string())
        .collect();
    assert!(!asked.is_empty(), "{at} no request");
    assert!(
        asked.iter().all(|m| !m.contains("sonnet")),
        "{at} {asked:?}"
    );

    let at = step("claude", "headless", "model typo");
    let mut cmd = rig.vnx();
    cmd.args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "claude",
    ])
    .args(["--model", "sonet", "--instruction", "never sent"]);
    let before = rig.server.requests().len();
    let r = run(cmd);
    assert_eq!(r.code, 2, "{at} {}", r.stderr);
    assert!(
        r.stderr.contains("did you mean \"sonnet\"?"),
        "{at} {}",
        r.stderr
    );
    assert_eq!(
        rig.server.requests().len(),
        before,
        "{at} nothing reached the API"
    );
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_is_approved_and_denied_through_its_permission_hook() {
    let rig = Rig::new();
    for verb in ["approve", "deny"] {
        let at = step("claude", "interactive", verb);
        let marker = format!("claude asks, vnx {verb}s");
        let file = format!("{verb}.txt");
        let instruction = super::compliant(&marker, &file, verb);
        let id = rig.detach("claude", "interactive", 300, &instruction);
        let r = run(rig.repo.vnx().args(["wait", "--until-blocked", &id]));
        assert_eq!(r.code, 1, "{at} {}", r.stdout);
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
        let committed_by_worker = c.get("vnx_commit").is_none();
        // Approved, the worker's own commit ran; denied, it did not and vnx committed.
        assert_eq!(committed_by_worker, verb == "approve", "{at} {c}");
        if verb == "deny" {
            let told = rig
                .server
                .requests()
                .iter()
                .any(|q| q["body"].to_string().contains("no commits today"));
            assert!(told, "{at} the model was told the denial's message");
        }
    }
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_gemini_edit_dialog_is_denied_without_opening_an_editor() {
    let rig = Rig::new();
    let at = step("gemini", "interactive", "deny an edit");
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--detach"])
        .args(["--provider", "gemini", "--lane", "interactive"])
        .args(["--permission", "ask", "--deadline", "120"])
        .args([
            "--instruction",
            "gemini asks to edit\n\\@model write denied.txt no\n\\@model say Stopped.",
        ]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{at} {}", r.stderr);
    let id = r.stdout.trim().to_owned();
    let r = run(rig.repo.vnx().args(["wait", "--until-blocked", &id]));
    assert_eq!(r.code, 1, "{at} {}", r.stdout);
    let session = format!("vnx-{id}");
    let screen = || rig.repo.server.0.capture(&session).unwrap_or_default();
    assert!(
        within(20, || screen().contains("1. Allow once")),
        "{at} {}",
        screen()
    );
    let r = run(rig
        .repo
        .vnx()
        .env("USER", "ana")
        .args(["deny", &id, "--json"]));
    assert_eq!(r.code, 0, "{at} {} {}", r.stdout, r.stderr);
    std::thread::sleep(std::time::Duration::from_secs(5));
    let shown = screen();
    assert!(
        !shown.contains("1. Allow once"),
        "{at} the dialog is gone: {shown}"
    );
    assert!(
        !rig.worktree(&id).join("denied.txt").exists(),
        "{at} the edit did not happen"
    );
    // The denial cancelled gemini's turn (it idles at its input, no AfterAgent): the dispatch
    // still reaches a recorded state, needing input, the denial as what it said last.
    let r = run(rig
        .repo
        .vnx()
        .args(["wait", "--json", "--timeout", "60", &id]));
    let c = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    assert_eq!(c["status"], "needs_input", "{at} {}", super::explain(&c));
    let show = run(rig.repo.vnx().args(["show", &id]));
    assert!(
        show.stdout.contains("  said       ana denied "),
        "{at} {}",
        show.stdout
    );
    assert!(
        show.stdout.contains("  denied     by ana: edit "),
        "{at} {}",
        show.stdout
    );
}
