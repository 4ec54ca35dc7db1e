//! A merge conflict resolved by the real claude in its default lane (its TUI): two
//! dispatches write the same file, the second's merge is taken out for the conflict, and
//! `vnx follow-up --rebase` resumes its session in its worktree with the base merged in; the
//! model is told which file conflicts, writes the resolution, reports, vnx commits the merge
//! and it lands with both changes.

use super::{Rig, explain, step};
use crate::common::{completion, run};

#[test]
#[ignore = "needs the real claude (tests/support/install-clis.sh)"]
fn real_claude_resolves_a_merge_conflict_in_its_worktree() {
    let rig = Rig::new();
    crate::common::configure(&rig.repo, "roles:\n  implementer: {gates: []}\n");
    let file = "greeting.txt";
    let write = |what: &str| {
        format!(
            "{what}\n\\@model write {file} {what}\n\\@model run vnx report --status done --summary wrote-it\n\\@model say Wrote it."
        )
    };
    let mut ids = Vec::new();
    for what in ["hello from A", "hello from B"] {
        let mut cmd = rig.vnx();
        cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
            .args(["--provider", "claude", "--deadline", "120"])
            .args(["--instruction", &write(what)]);
        let c = completion(&run(cmd));
        let at = step("claude", "default lane", what);
        assert_eq!(c["status"], "done", "{at} {}", explain(&c));
        assert_eq!(c["teardown_class"], "committed", "{at} {}", explain(&c));
        ids.push(c["dispatch_id"].as_str().unwrap().to_owned());
    }
    let r = run(rig.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(rig.vnx().args(["merge", &ids[0]]));
    assert_eq!(r.code, 0, "merge A: {}{}", r.stdout, r.stderr);
    let r = run(rig.vnx().args(["merge", &ids[1]]));
    assert_eq!(r.code, 1, "merge B conflicts: {}{}", r.stdout, r.stderr);

    let resolved = "hello from A and from B";
    let mut cmd = rig.vnx();
    cmd.args([
        "follow-up",
        &ids[1],
        "--rebase",
        "--json",
        "--deadline",
        "120",
    ])
    .args(["--instruction", &write(resolved)]);
    let r = run(cmd);
    let f = completion(&r);
    let at = step("claude", "default lane", "follow-up --rebase");
    assert_eq!(f["status"], "done", "{at} {}", explain(&f));
    assert_eq!(f["teardown_class"], "committed", "{at} {}", explain(&f));
    let next = f["dispatch_id"].as_str().unwrap().to_owned();
    let started = rig
        .repo
        .receipts(&next)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    assert_eq!(
        started["continues"]["rebase"]["conflicts"],
        serde_json::json!([file]),
        "{at} {started:#}"
    );
    // The model was told which file conflicts, in the session it resumed.
    let told = rig.server.requests().iter().any(|q| {
        let text = q.to_string();
        text.contains("These files conflict") && text.contains(&format!("- {file}"))
    });
    assert!(told, "{at}: no request named the conflict");
    let r = run(rig.vnx().args(["merge", &next]));
    assert_eq!(r.code, 0, "{at} merge: {}{}", r.stdout, r.stderr);
    let landed = rig.repo.env.git(&["show", &format!("HEAD:{file}")]);
    assert_eq!(landed, format!("{resolved}\n"), "{at}");
    rig.repo.verify_ok();
}
