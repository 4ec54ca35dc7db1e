//! The real aider (0.86.2, PyPI `aider-chat`) driven by `vnx dispatch-agent --provider
//! aider`, offline against the scripted model server, headless in vnx's default posture
//! (`edits`, aider's `--yes-always`): the model's reply in aider's edit format applied to
//! the worktree and committed by vnx, never by aider (no aider commit, no git identity
//! written to any git config, no `.aider*` file in the work or the main checkout); an HTTP
//! 400, after which aider exits 0, a failure; a question (an answer that changed nothing)
//! followed up with its chat history restored; the `ask` posture changing nothing and the
//! sandboxed `full` posture running the command the reply suggests.

use super::{Rig, explain, step};
use crate::common::{completion, run};

/// The scripted model's reply to `@model ask` (tests/support/model_server.py).
const ASKED: &str = "Should I also update the documentation?";

/// An instruction whose reply writes `file` with `marker` in it.
fn writes(marker: &str, file: &str) -> String {
    format!("{marker}\n\\@model write {file} {marker}\n\\@model say Wrote it.")
}

/// Checks that nothing of aider's own reached git: the branch holds vnx's one commit with
/// `file` alone, no `.aider*` file is on it, in the worktree or in the main checkout, and no
/// git config (the repository's, shared with the worktree's) has gained an identity.
fn only_vnx_committed(rig: &Rig, c: &serde_json::Value, at: &str, file: &str) -> String {
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let git = |args: &[&str]| rig.repo.env.git(args);
    let branch = format!("dispatch/{id}");
    assert_eq!(
        git(&["rev-list", "--count", &format!("main..{branch}")]).trim(),
        "1",
        "{at} more than vnx's commit on the branch"
    );
    let message = git(&["log", "-1", "--format=%an%n%B", &branch]);
    assert!(
        message.contains(&format!("VNX-Dispatch: {id}")) && message.contains("VNX-Provider: aider"),
        "{at} {message}"
    );
    assert!(!message.contains("Your Name"), "{at} {message}");
    assert_eq!(
        git(&["diff", "--name-only", &format!("main..{branch}")]).trim(),
        file,
        "{at}"
    );
    let main = rig.repo.env.path();
    let aider_files = |dir: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(".aider"))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        aider_files(main),
        Vec::<String>::new(),
        "{at} main checkout"
    );
    assert_eq!(
        aider_files(&rig.worktree(&id)),
        Vec::<String>::new(),
        "{at} worktree"
    );
    let config = std::fs::read_to_string(main.join(".git/config")).unwrap();
    assert!(
        !config.contains("[user]"),
        "{at} an identity was written: {config}"
    );
    let worktree_config = main.join(format!(".git/worktrees/dispatch-{id}/config.worktree"));
    assert!(
        !worktree_config.exists(),
        "{at} {}",
        worktree_config.display()
    );
    assert!(!git(&["status", "--porcelain"]).contains(".aider"), "{at}");
    id
}

#[test]
#[ignore = "needs the real aider (~690 MB from PyPI, tests/support/install-clis.sh)"]
fn real_aider_headless_edits_and_vnx_commits() {
    let rig = Rig::new();
    let at = step("aider", "headless", "edit, vnx commits");
    let marker = "real aider headless";
    let file = "aider-headless.txt";
    let r = rig.dispatch("aider", "headless", &writes(marker, file));
    let c = completion(&r);
    assert_eq!(r.code, 0, "{at} {}", explain(&c));
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    // aider cannot run `vnx report`: its output decided.
    assert_eq!(c["completion_signal"], "exit", "{at} {c}");
    assert_eq!(c["teardown_class"], "committed", "{at} {}", explain(&c));
    assert_eq!(
        c["vnx_commit"]["files"],
        serde_json::json!([file]),
        "{at} {c}"
    );
    let id = only_vnx_committed(&rig, &c, &at, file);
    assert_eq!(rig.repo.on_branch(&id, file), format!("{marker}\n"), "{at}");
    let events = &c["cli_events"];
    assert_eq!(events["verdict"]["status"], "success", "{at} {events}");
    assert_eq!(events["tool_calls"], 1, "{at} {events}");
    assert_eq!(events["last_message"], "Wrote it.", "{at} {events}");
    assert!(
        c["token_usage"]["input_tokens"].as_u64().unwrap_or(0) > 0,
        "{at} no token usage: {c}"
    );
    assert!(c["session_id"].is_string(), "{at} no session id: {c}");
    // Its chat history is in the dispatch directory.
    let dir = rig
        .repo
        .env
        .path()
        .join(format!(".vnx-data/dispatches/{id}/aider-chat.md"));
    let history = std::fs::read_to_string(&dir).unwrap_or_default();
    assert!(history.contains(marker), "{at} {}", dir.display());
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real aider (~690 MB from PyPI, tests/support/install-clis.sh)"]
fn real_aider_http_400_fails_though_it_exits_0() {
    let rig = Rig::new();
    let at = step("aider", "headless", "HTTP 400");
    let r = rig.dispatch("aider", "headless", "aider fails\n\\@model fail 400");
    let c = completion(&r);
    assert_eq!(c["status"], "failed", "{at} {}", explain(&c));
    assert_eq!(r.code, 1, "{at}");
    assert_eq!(c["exit_code"], 0, "{at} {c}");
    let reason = c["failure_reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("litellm.BadRequestError") && reason.contains("scripted failure"),
        "{at} {reason}"
    );
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real aider (~690 MB from PyPI, tests/support/install-clis.sh)"]
fn real_aider_question_then_a_follow_up_restores_the_chat() {
    let rig = Rig::new();
    let asked = "first turn of aider headless";
    let r = rig.dispatch("aider", "headless", &format!("{asked}\n\\@model ask"));
    let at = step("aider", "headless", "question");
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    assert_eq!(c["cli_events"]["last_message"], ASKED, "{at} {c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let session = c["session_id"].as_str().unwrap_or_default().to_owned();
    assert!(!session.is_empty(), "{at} no session id: {c}");

    let marker = "follow-up of aider headless";
    let file = "aider-followed.txt";
    let r = rig.follow_up(&id, &writes(marker, file));
    let at = step("aider", "headless", "follow-up");
    let f = completion(&r);
    assert_eq!(f["status"], "done", "{at} {}", explain(&f));
    assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{at} {f}");
    // The follow-up works on the first dispatch's branch.
    assert_eq!(rig.repo.on_branch(&id, file), format!("{marker}\n"), "{at}");
    // The follow-up's request held the earlier turn: its chat history was restored.
    let saw_both = rig.server.requests().iter().any(|req| {
        let body = req["body"].to_string();
        body.contains(marker) && body.contains(asked) && body.contains(ASKED)
    });
    assert!(saw_both, "{at} no request held both turns");
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real aider (~690 MB from PyPI, tests/support/install-clis.sh)"]
fn real_aider_ask_posture_changes_nothing() {
    let rig = Rig::new();
    let at = step("aider", "headless", "ask posture");
    let file = "aider-asked.txt";
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--provider",
            "aider",
            "--lane",
            "headless",
            "--deadline",
            "120",
        ])
        .args(["--permission", "ask"])
        .args(["--instruction", &writes("aider in the ask posture", file)]);
    let r = run(cmd);
    let c = completion(&r);
    // It showed the edit and applied none: what it said is for a person to answer.
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    assert_eq!(c["cli_events"]["permission_denials"], 1, "{at} {c}");
    let id = c["dispatch_id"].as_str().unwrap();
    assert!(
        !rig.worktree(id).join(file).exists(),
        "{at} the file was written"
    );
    rig.repo.verify_ok();
}

/// Sandboxed with the full posture (every question takes its default, yes): aider starts
/// with a private copy of its state (`~/.aider`) writable, applies the edit and runs the
/// command its reply suggests (the diff format, `AIDER_EDIT_FORMAT`, can suggest one), and
/// vnx commits both.
#[test]
#[ignore = "needs the real aider (~690 MB from PyPI, tests/support/install-clis.sh)"]
fn real_aider_runs_sandboxed_with_the_full_posture() {
    let rig = Rig::new();
    let at = step("aider", "headless", "sandboxed, full posture");
    let marker = "sandboxed aider headless";
    let file = "aider-sandboxed.txt";
    let instruction = format!(
        "{marker}\n\\@model write {file} {marker}\n\\@model run echo ran > aider-ran.txt\n\\@model say Done in the sandbox."
    );
    let mut cmd = rig.vnx();
    cmd.env("AIDER_EDIT_FORMAT", "diff")
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--provider",
            "aider",
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
    assert_eq!(rig.repo.on_branch(&id, "aider-ran.txt"), "ran\n", "{at}");
    assert_eq!(c["cli_events"]["tool_calls"], 2, "{at} {c}");
    let started = &rig.repo.receipts(&id)[0];
    assert_eq!(started["sandbox"]["kind"], "bubblewrap", "{at}");
    // Its state was a private copy of `~/.aider` (ADR 0069), gone once it ended.
    let aider = rig.repo.env.home().join(".aider");
    assert_eq!(
        started["sandbox"]["homes"][0]["shown_at"],
        aider.to_str().unwrap(),
        "{at} {started}"
    );
    assert!(!aider.exists(), "{at} the worker wrote the real home");
    rig.repo.verify_ok();
}

/// `vnx doctor` finds the real aider, reads its version and finds every flag vnx passes it
/// in its `--help`.
#[test]
#[ignore = "needs the real aider (~690 MB from PyPI, tests/support/install-clis.sh)"]
fn real_aider_doctor_checks_its_version_and_flags() {
    let rig = Rig::new();
    let mut cmd = rig.vnx();
    cmd.args(["doctor", "--json"]);
    let r = run(cmd);
    let report: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "aider")
        .unwrap_or_else(|| panic!("[aider doctor] no check: {report}"));
    assert!(super::flags_all_listed(check), "[aider doctor] {check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(detail.contains("aider 0.86.2"), "[aider doctor] {check}");
}

/// In the default posture (`--yes-always`) aider applies the edit and declines the command
/// its reply suggests (a command needs an explicit yes): the file is committed, the
/// command's output is nowhere.
#[test]
#[ignore = "needs the real aider (~690 MB from PyPI, tests/support/install-clis.sh)"]
fn real_aider_edits_posture_declines_commands() {
    let rig = Rig::new();
    let at = step("aider", "headless", "edits posture, a command suggested");
    let marker = "aider suggests a command";
    let file = "aider-edited.txt";
    let instruction = format!(
        "{marker}\n\\@model write {file} {marker}\n\\@model run echo ran > aider-ran.txt\n\\@model say Wrote it."
    );
    let mut cmd = rig.vnx();
    cmd.env("AIDER_EDIT_FORMAT", "diff")
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--provider",
            "aider",
            "--lane",
            "headless",
            "--deadline",
            "120",
        ])
        .args(["--instruction", &instruction]);
    let r = run(cmd);
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    assert_eq!(
        c["vnx_commit"]["files"],
        serde_json::json!([file]),
        "{at} {c}"
    );
    assert_eq!(c["cli_events"]["tool_calls"], 1, "{at} {c}");
    let id = only_vnx_committed(&rig, &c, &at, file);
    assert_eq!(rig.repo.on_branch(&id, file), format!("{marker}\n"), "{at}");
    rig.repo.verify_ok();
}
