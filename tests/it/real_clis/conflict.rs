//! A merge conflict resolved by the real claude in its default lane (its TUI): two
//! dispatches write the same file, the second's merge is taken out for the conflict, and
//! `vnx follow-up --rebase` resumes its session in its worktree with the base merged in; the
//! model is told which file conflicts, writes the resolution, reports, vnx commits the merge
//! and it lands with both changes. When the worker resolves the file but ends with a
//! question instead of a report, `vnx accept` concludes the merge it left under way and that
//! head lands, rather than the head from before the merge.

use super::{Rig, explain, step};
use crate::common::{completion, run};

const FILE: &str = "greeting.txt";

/// An instruction whose model writes `what` into [`FILE`] and reports done.
fn write(what: &str) -> String {
    format!(
        "{what}\n\\@model write {FILE} {what}\n\\@model run vnx report --status done --summary wrote-it\n\\@model say Wrote it."
    )
}

/// Two dispatches of the real claude that write [`FILE`], the first merged and the second's
/// merge refused for the conflict: the second's id.
fn conflicted(rig: &Rig) -> String {
    crate::common::configure(&rig.repo, "roles:\n  implementer: {gates: []}\n");
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
    ids.pop().unwrap()
}

#[test]
#[ignore = "needs the real claude (tests/support/install-clis.sh)"]
fn real_claude_resolves_a_merge_conflict_in_its_worktree() {
    let rig = Rig::new();
    let id = conflicted(&rig);
    let file = FILE;

    let resolved = "hello from A and from B";
    let mut cmd = rig.vnx();
    cmd.args(["follow-up", &id, "--rebase", "--json", "--deadline", "120"])
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

#[test]
#[ignore = "needs the real claude (tests/support/install-clis.sh)"]
fn real_claude_resolves_a_conflict_asks_and_accept_concludes_the_merge() {
    let rig = Rig::new();
    let id = conflicted(&rig);
    let resolved = "hello from A and from B";
    // The worker writes the resolution but asks instead of reporting: nothing commits the
    // merge `--rebase` left under way in its worktree.
    let asks = format!(
        "{resolved}\n\\@model write {FILE} {resolved}\n\\@model say I merged both greetings. Should I also add a README?"
    );
    let mut cmd = rig.vnx();
    cmd.args(["follow-up", &id, "--rebase", "--json", "--deadline", "120"])
        .args(["--instruction", &asks]);
    let f = completion(&run(cmd));
    let at = step("claude", "default lane", "follow-up --rebase asks");
    assert_eq!(f["status"], "needs_input", "{at} {}", explain(&f));
    let next = f["dispatch_id"].as_str().unwrap().to_owned();

    let at = step("claude", "default lane", "accept");
    let r = run(rig.vnx().args(["accept", &next, "--json"]));
    assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);
    let accepted: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let head = accepted["head_commit"].as_str().unwrap().to_owned();
    // The accepted head is the merge, with the base as a parent.
    let parents = rig
        .repo
        .env
        .git(&["rev-list", "--parents", "-n", "1", &head]);
    assert_eq!(parents.split_whitespace().count(), 3, "{at} {parents}");

    let r = run(rig.vnx().args(["merge", &next]));
    assert_eq!(r.code, 0, "{at} merge: {}{}", r.stdout, r.stderr);
    let landed = rig.repo.env.git(&["show", &format!("HEAD:{FILE}")]);
    assert_eq!(landed, format!("{resolved}\n"), "{at}");
    rig.repo.verify_ok();
}
