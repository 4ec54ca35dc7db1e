//! `dispatch-agent --plan` on the real claude, codex, gemini and qwen (ADR 0092), headless
//! against the scripted model: in its plan mode (claude's `--permission-mode plan`, gemini's
//! and qwen's `--approval-mode plan`, codex's read-only sandbox) the first turn's write is refused and
//! its last message, the plan, waits; approved on `vnx serve`'s page as a paired phone posts
//! it (claude, codex, gemini) or by `vnx approve` (qwen), the plan's hash is recorded and the same
//! session goes on in the `edits` posture to write the file and report done, and the chain
//! merges. The approval's `--message` carries the next turn's script (the plan the scripted
//! model says is one line).

use super::{Rig, explain, step};
use crate::common::serve::Server;
use crate::common::{completion, configure, run};

fn planned_then_approved(cli: &str, from_page: bool) {
    let rig = Rig::new();
    configure(&rig.repo, "roles:\n  implementer: {gates: []}\n");
    let at = step(cli, "headless", "plan");
    let plan = format!("Plan: write greeting-{cli}.txt with hello, then report done.");
    let mut cmd = rig.vnx();
    cmd.args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--json",
        "--plan",
    ])
    .args(["--provider", cli, "--lane", "headless", "--deadline", "180"])
    .args([
        "--instruction",
        &format!(
            "{cli} plans a greeting\n\\@model write early-{cli}.txt too soon\n\\@model say {plan}"
        ),
    ]);
    let r = run(cmd);
    let c = completion(&r);
    assert_eq!(
        c["status"],
        "needs_input",
        "{at} {} {}",
        explain(&c),
        r.stderr
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    // claude's, gemini's and qwen's plan modes refuse the write (seen: one denial each); codex's
    // read-only sandbox is offered no write, so its model makes none.
    if cli != "codex" {
        assert_eq!(c["cli_events"]["permission_denials"], 1, "{at} {c}");
    }
    let session = c["session_id"].as_str().unwrap_or_default().to_owned();
    assert!(!session.is_empty(), "{at} no session id: {c}");
    // The first turn made no edit.
    let worktree = rig.worktree(&id);
    assert!(
        !worktree.join(format!("early-{cli}.txt")).exists(),
        "{at} the planning turn wrote a file"
    );
    let s = run(rig.vnx().args(["status", &id, "--json"]));
    let state: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(state[0]["question"], plan.as_str(), "{at} {state}");
    let sha = state[0]["plan_sha256"].as_str().unwrap().to_owned();

    let at = step(cli, "headless", "approved");
    let note = format!(
        "Go ahead.\n\\@model write greeting-{cli}.txt hello\n\\@model run vnx report --status done --summary greeting\n\\@model say Done."
    );
    let next = if from_page {
        approved_on_the_page(&rig, &id, &sha, &note)
    } else {
        let mut cmd = rig.vnx();
        cmd.args(["approve", &id, "--plan-sha256", &sha])
            .args(["--message", &note]);
        let r = run(cmd);
        assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);
        let next = r.stdout.trim().rsplit(": ").next().unwrap();
        next.split(' ').next().unwrap().to_owned()
    };
    let c = completion(&run(rig.vnx().args(["wait", &next, "--json"])));
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    assert_eq!(
        rig.repo
            .on_branch(&id, &format!("greeting-{cli}.txt"))
            .trim(),
        "hello",
        "{at}"
    );
    let started = rig
        .repo
        .receipts(&next)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    assert_eq!(started["continues"]["session_id"], session.as_str(), "{at}");
    assert_eq!(started["plan"]["plan_sha256"], sha.as_str(), "{at}");
    let ck = run(rig.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(ck.code, 0, "{at} {}", ck.stderr);
    let m = run(rig.vnx().args(["merge", &next]));
    assert_eq!(m.code, 0, "{at} {}{}", m.stdout, m.stderr);
}

/// The plan approved on `vnx serve`'s page of dispatch `id`, as a paired phone posts it
/// (the plan's hash the page showed, and the note): the follow-up that carries it out.
fn approved_on_the_page(rig: &Rig, id: &str, sha: &str, note: &str) -> String {
    let server = Server::start(rig.vnx(), &[]);
    let cookie = server.pair("phone");
    let page = server.get(&format!("/d/{id}"), Some(&cookie));
    assert!(page.body.contains(sha), "{}", page.body);
    let csrf = page.csrf();
    let form = [
        ("action", "approve-plan"),
        ("csrf", csrf.as_str()),
        ("plan_sha256", sha),
        ("message", note),
    ];
    let r = server.post(&format!("/d/{id}"), &form, Some(&cookie), None);
    assert!(
        r.header("location").unwrap().contains("%3A%20ok%3A"),
        "{r:?}"
    );
    let approved = rig.repo.events("plan_approved");
    assert!(
        approved[0]["by"]
            .as_str()
            .unwrap()
            .contains("via phone (dev-")
    );
    let started = rig.repo.events("dispatch_started");
    let next = started
        .iter()
        .find(|s| s["continues"]["dispatch_id"].as_str() == Some(id))
        .expect("the approval started the follow-up");
    next["dispatch_id"].as_str().unwrap().to_owned()
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_plans_then_carries_out_the_approved_plan() {
    planned_then_approved("claude", true);
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_codex_plans_then_carries_out_the_approved_plan() {
    planned_then_approved("codex", true);
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_gemini_plans_then_carries_out_the_approved_plan() {
    planned_then_approved("gemini", true);
}

#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_plans_then_carries_out_the_approved_plan() {
    planned_then_approved("qwen", false);
}

/// `vnx wait --json` of dispatch `id` for up to `secs`: its settled receipt.
fn settled(rig: &Rig, id: &str, secs: u64) -> serde_json::Value {
    let r = run(rig
        .repo
        .vnx()
        .args(["wait", "--json", "--timeout", &secs.to_string(), id]));
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("[{id}] wait: {e}: {}{}", r.stdout, r.stderr));
    crate::common::settled_receipt(v)
}

/// In the interactive lane, a planning worker's write is the CLI's ordinary permission prompt
/// (seen with claude and codex): vnx refuses to approve it, as a link or the page would, a
/// denial lets the worker plan on, its turn ends with the plan and nothing changed, and the
/// plan, approved, is carried out and merges.
fn a_planning_prompt_is_refused_and_the_plan_approved(cli: &str) {
    let rig = Rig::new();
    configure(&rig.repo, "roles:\n  implementer: {gates: []}\n");
    let at = step(cli, "interactive", "plan, its write asked");
    let plan = format!("Plan: write greeting-{cli}.txt with hello, then report done.");
    let mut cmd = rig.vnx();
    cmd.args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--detach",
        "--plan",
    ])
    .args([
        "--provider",
        cli,
        "--lane",
        "interactive",
        "--deadline",
        "240",
    ])
    .args([
        "--instruction",
        &format!(
            "{cli} plans a greeting\n\\@model write early-{cli}.txt too soon\n\\@model say {plan}"
        ),
    ]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);
    let id = r.stdout.trim().to_owned();
    let r = run(rig
        .vnx()
        .args(["wait", "--until-blocked", "--timeout", "120", &id]));
    assert_eq!(r.code, 1, "{at} it asks: {}{}", r.stdout, r.stderr);
    let approve = run(rig.vnx().args(["approve", &id]));
    assert_eq!(approve.code, 1, "{at} {}{}", approve.stdout, approve.stderr);
    assert!(
        approve
            .stderr
            .contains("is planning: a planning turn changes nothing"),
        "{at} {}",
        approve.stderr
    );
    let deny = run(rig.vnx().args(["deny", &id, "--message", "plan only"]));
    assert_eq!(deny.code, 0, "{at} {}{}", deny.stdout, deny.stderr);
    let c = settled(&rig, &id, 120);
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    assert!(
        !rig.worktree(&id).join(format!("early-{cli}.txt")).exists(),
        "{at} the planning turn wrote a file"
    );
    let s = run(rig.vnx().args(["status", &id, "--json"]));
    let state: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    let sha = state[0]["plan_sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("{at} no plan waits: {state}"))
        .to_owned();
    let at = step(cli, "interactive", "plan approved");
    let note = format!(
        "Go ahead.\n\\@model write greeting-{cli}.txt hello\n\\@model run vnx report --status done --summary greeting\n\\@model say Done."
    );
    let r = run(rig
        .vnx()
        .args(["approve", &id, "--plan-sha256", &sha, "--message", &note]));
    assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);
    let next = r.stdout.trim().rsplit(": ").next().unwrap();
    let next = next.split(' ').next().unwrap().to_owned();
    let c = settled(&rig, &next, 180);
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    let approved = rig.repo.events("plan_approved");
    assert!(approved[0]["head_commit"].is_string(), "{at} {approved:?}");
    let ck = run(rig.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(ck.code, 0, "{at} {}", ck.stderr);
    let m = run(rig.vnx().args(["merge", &next]));
    assert_eq!(m.code, 0, "{at} {}{}", m.stdout, m.stderr);
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claudes_planning_prompt_is_refused_and_its_plan_approved() {
    a_planning_prompt_is_refused_and_the_plan_approved("claude");
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_codexs_planning_prompt_is_refused_and_its_plan_approved() {
    a_planning_prompt_is_refused_and_the_plan_approved("codex");
}
