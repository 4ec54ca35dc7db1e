//! The default posture against real work, with the stand-in CLIs: a role's allowlist given
//! to each CLI's own allow mechanism (claude `--allowedTools`, gemini `--allowed-tools` and
//! its TUI's policy file), and `vnx approve`/`vnx deny` answering a blocked worker's prompt
//! through claude's permission hook or the pane, with a receipt.

use crate::common::{Fakes, Repo, completion, configure, run};

/// A headless dispatch of `cli` in the implementer role that runs `allowed`, then `other`
/// (each creating a file), then reports: its completion receipt.
fn run_two(repo: &Repo, fakes: &Fakes, cli: &str, allowed: &str, other: &str) -> serde_json::Value {
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", cli, "--lane", "headless", "--deadline", "60"])
        .args([
            "--instruction",
            &format!(
                "@fake run {allowed}\n@fake run {other}\n@fake run vnx report --status done --summary s"
            ),
        ]);
    completion(&run(cmd))
}

#[test]
fn a_roles_allowlist_runs_unasked_and_nothing_else_does() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    configure(
        &repo,
        "roles:\n  implementer:\n    allow: [\"touch allowed\"]\n",
    );
    for cli in ["claude", "gemini"] {
        let c = run_two(
            &repo,
            &fakes,
            cli,
            &format!("touch allowed-{cli}.txt"),
            &format!("touch other-{cli}.txt"),
        );
        assert_eq!(c["status"], "done", "{cli}: {c}");
        let id = c["dispatch_id"].as_str().unwrap();
        let tree = repo
            .env
            .git(&["ls-tree", "-r", "--name-only", &format!("dispatch/{id}")]);
        assert!(
            tree.contains(&format!("allowed-{cli}.txt")),
            "{cli}: {tree}"
        );
        assert!(
            !tree.contains(&format!("other-{cli}.txt")),
            "{cli}: denied: {tree}"
        );
        let argv = repo.receipts(id)[0]["argv"].to_string();
        if cli == "claude" {
            let rule = "\"--allowedTools\",\"Bash(touch allowed:*)\"";
            assert!(argv.contains(rule), "{cli}: {argv}");
        } else {
            // gemini's rules are a policy file (`--allowed-tools` is deprecated).
            assert!(!argv.contains("--allowed-tools"), "{cli}: {argv}");
            let policy = gemini_policy(&repo, id);
            assert!(
                policy.contains("commandPrefix = \"touch allowed\""),
                "{policy}"
            );
        }
    }
}

/// The policy file a gemini dispatch was given.
fn gemini_policy(repo: &Repo, id: &str) -> String {
    let path = repo.env.path().join(format!(
        ".vnx-data/dispatches/{id}/hooks/gemini-policy.toml"
    ));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn by_default_a_role_allows_its_command_gates_and_read_only_git() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    configure(
        &repo,
        "gates:\n  tests: {kind: command, argv: [touch, gate.txt]}\nroles:\n  implementer: {gates: [tests]}\n",
    );
    let c = run_two(
        &repo,
        &fakes,
        "gemini",
        "touch gate.txt",
        "git log -1 --format=%s",
    );
    assert_eq!(c["status"], "done", "{c}");
    let id = c["dispatch_id"].as_str().unwrap();
    assert_eq!(repo.on_branch(id, "gate.txt"), "");
    let policy = gemini_policy(&repo, id);
    for command in [
        "touch gate.txt",
        "git status",
        "git diff",
        "git log",
        "git show",
    ] {
        assert!(
            policy.contains(&format!("commandPrefix = \"{command}\"")),
            "{command}: {policy}"
        );
    }
}

#[test]
fn a_gemini_tui_runs_the_allowlist_without_asking() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    configure(&repo, "roles:\n  implementer:\n    allow: [\"touch\"]\n");
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--provider",
            "gemini",
            "--lane",
            "interactive",
            "--deadline",
            "60",
        ])
        .args([
            "--instruction",
            "@fake run touch t.txt\n@fake run vnx report --status done --summary t",
        ]);
    let c = completion(&run(cmd));
    assert_eq!(c["status"], "done", "{c}");
    let id = c["dispatch_id"].as_str().unwrap();
    let kinds: Vec<String> = repo
        .receipts(id)
        .iter()
        .map(|r| r["event_type"].as_str().unwrap().to_owned())
        .collect();
    assert!(!kinds.iter().any(|k| k == "dispatch_blocked"), "{kinds:?}");
    assert_eq!(repo.on_branch(id, "t.txt"), "");
}

/// `vnx approve|deny ID --json` as user `ana`: the `dispatch_answered` receipt.
fn answer(repo: &Repo, verb: &str, id: &str, extra: &[&str]) -> serde_json::Value {
    let r = run(repo
        .vnx()
        .env("USER", "ana")
        .args([verb, id, "--json"])
        .args(extra));
    assert_eq!(r.code, 0, "{verb}: {} {}", r.stdout, r.stderr);
    serde_json::from_str(r.stdout.trim()).unwrap()
}

#[test]
fn approve_answers_claude_through_its_permission_hook() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let id = repo.dispatched_asking_claude(&fakes);
    let r = run(repo.vnx().args(["wait", "--until-blocked", &id]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let a = answer(&repo, "approve", &id, &[]);
    assert_eq!(a["answer"], "approve", "{a}");
    assert_eq!(
        (a["via"].as_str(), a["by"].as_str()),
        (Some("hook"), Some("ana"))
    );
    assert_eq!(a["command"], "git add -A && git commit -q -m 'add a'");
    // Beside the hook's word, the dialog the pane showed.
    assert_eq!(a["request_from"], "worker_hook", "{a}");
    let dialog = a["pane_dialog"].as_str().unwrap_or_default();
    assert!(
        dialog.contains("Do you want to run git add -A") && dialog.contains("1. Yes"),
        "{a}"
    );
    let c = completion(&run(repo.vnx().args(["wait", "--json", &id])));
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(c["teardown_class"], "committed", "{c}");
    assert!(
        c.get("vnx_commit").is_none(),
        "the worker's own commit ran: {c}"
    );
    let answered = repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_answered")
        .unwrap();
    assert!(
        answered["vnx_attestation"].is_object(),
        "signed: {answered}"
    );
    // Nothing waits any more.
    let r = run(repo.vnx().args(["deny", &id]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("no permission prompt waits"),
        "{}",
        r.stderr
    );
    repo.verify_ok();
}

/// A worker can run `vnx __hook` itself and make up a permission request: the dispatch reads
/// blocked on it, but `show` and `status` say the request is a hook call's word, `approve`
/// warns that no dialog was on the pane, and the signed answer records where the request came
/// from and no pane dialog, so it is not taken for what the CLI asked.
#[test]
fn a_permission_request_a_worker_made_up_is_not_taken_for_the_clis() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    configure(&repo, "roles:\n  implementer:\n    allow: [\"vnx\"]\n");
    let id = repo.dispatched_tui(
        &fakes,
        "claude",
        "@fake run vnx __hook claude-permission-request --dir \"$VNX_DISPATCH_DIR\" '{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"ls\"}}'\n@fake run vnx report --status done --summary f",
    );
    let r = run(repo.vnx().args(["wait", "--until-blocked", &id]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let hooks_word = "the request is what a hook call in its dispatch said";
    let show = run(repo.vnx().args(["show", &id]));
    assert!(
        show.stdout.contains("waits for  permission: Bash: ls") && show.stdout.contains(hooks_word),
        "{}",
        show.stdout
    );
    let status = run(repo.vnx().args(["status", &id]));
    assert!(status.stdout.contains(hooks_word), "{}", status.stdout);
    let r = run(repo.vnx().env("USER", "ana").args(["approve", &id]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("warning: no permission dialog was on {id}'s pane")),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("its pane showed"), "{}", r.stdout);
    let answered = repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_answered")
        .unwrap();
    assert_eq!(answered["command"], "ls", "{answered}");
    assert_eq!(answered["request_from"], "worker_hook", "{answered}");
    assert!(answered.get("pane_dialog").is_none(), "{answered}");
    assert!(answered["vnx_attestation"].is_object(), "{answered}");
    // The forged hook took the answer; the worker went on to its report.
    assert_eq!(answered["via"], "hook", "{answered}");
    run(repo.vnx().args(["wait", &id]));
    repo.verify_ok();
}

#[test]
fn deny_answers_gemini_in_its_pane() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let id = repo.dispatched_tui(
        &fakes,
        "gemini",
        "@fake write kept.txt hi\n@fake run touch refused.txt\n@fake run vnx report --status done --summary d",
    );
    let r = run(repo.vnx().args(["wait", "--until-blocked", &id]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let a = answer(&repo, "deny", &id, &[]);
    assert_eq!(
        (a["answer"].as_str(), a["via"].as_str()),
        (Some("deny"), Some("pane"))
    );
    assert_eq!(a["keys"], "Escape", "{a}");
    assert_eq!(a["command"], "touch refused.txt");
    let c = completion(&run(repo.vnx().args(["wait", "--json", &id])));
    assert_eq!(c["status"], "done", "{c}");
    let tree = repo
        .env
        .git(&["ls-tree", "-r", "--name-only", &format!("dispatch/{id}")]);
    assert!(
        tree.contains("kept.txt") && !tree.contains("refused.txt"),
        "{tree}"
    );
    // The denial shows in `status`, not only in `show`, though the dispatch ended done.
    let s = run(repo.vnx().args(["status", &id]));
    assert!(
        s.stdout
            .contains(&format!("denied 1 prompt (vnx show {id} lists them)")),
        "{}",
        s.stdout
    );
    let j = run(repo.vnx().args(["status", "--json", &id]));
    let j: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(j[0]["denials"], 1, "{j}");
    assert!(j[0].get("cli_denials").is_none(), "{j}");
    repo.verify_ok();
}
