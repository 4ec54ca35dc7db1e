//! `vnx accept ID`: a worker that committed and ended without `vnx report` (needs_input)
//! accepted by hand, then merged through its gates; each refusal (running, nothing committed
//! by a writing role, a dirty worktree, already done or accepted, merged, an unknown or
//! ambiguous id); a branch that moved after the acceptance holds the merge; and a
//! `dispatch_accepted` vnx did not sign counts for nothing.

use std::os::unix::fs::PermissionsExt;

use vnx::dashboard::{Snapshot, Sources};

use crate::common::{Repo, Run, completion, configure, ledger_path, run};

const GATES: &str = "gates:\n\
    \x20 tests: {kind: command, argv: [sh, -c, 'test -f demo-output.txt']}\n\
    roles:\n\
    \x20 implementer: {gates: [tests]}\n";

fn accept(repo: &Repo, args: &[&str]) -> Run {
    run(repo.vnx().arg("accept").args(args))
}

/// A demo dispatch of `model` in the foreground: its completion receipt.
fn dispatched(repo: &Repo, model: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--instruction", "add a greeting"];
    args.extend_from_slice(extra);
    completion(&repo.dispatch(model, &args))
}

/// `vnx status ID --json`: the dispatch's state.
fn state(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["status", id, "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v[0].clone()
}

/// Asserts a refusal: its exit code, the error and hint lines.
fn refused(r: &Run, code: i32, error: &str, hint: &str) {
    assert_eq!(r.code, code, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!("error: {error}")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(&format!("hint: {hint}")), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

fn merge_check(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["merge", id, "--check", "--json"]));
    serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stderr))
}

fn failed_conditions(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["plan"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_forgotten_report_is_accepted_by_hand_and_merges_through_its_gates() {
    let repo = Repo::new();
    let notes = repo.env.home().join("notes.txt");
    let script = repo.env.home().join("notify.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1|$2|$3\" >> {}\n", notes.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "{GATES}notify: [\"{}\", \"{{id}}\", \"{{state}}\", \"{{message}}\"]\n",
            script.display()
        ),
    );
    let c = dispatched(&repo, "forget", &[]);
    assert_eq!(c["status"], "needs_input", "{c}");
    assert_eq!(c["teardown_class"], "committed", "{c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let head = c["head_commit"].as_str().unwrap().to_owned();
    // Held: the merge wants a done.
    let plan = merge_check(&repo, &id);
    assert!(
        failed_conditions(&plan)
            .iter()
            .any(|(n, d)| n == "dispatch_done" && d.contains("needs_input")),
        "{plan}"
    );

    // Accepted by the start of its id, with a note.
    let r = accept(&repo, &[&id[..8], "--note", "read the diff"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with(&format!("{id}  accepted as done at {head} by ")),
        "{}",
        r.stdout
    );
    let accepted = repo.events("dispatch_accepted");
    assert_eq!(accepted.len(), 1);
    let a = &accepted[0];
    assert_eq!(a["dispatch_id"], id.as_str());
    assert_eq!(
        a["head_commit"],
        head.as_str(),
        "the branch's tip, read by vnx"
    );
    assert_eq!(a["previous_status"], "needs_input");
    assert_eq!(a["note"], "read the diff");
    assert_eq!(a["branch"], format!("dispatch/{id}"));
    assert!(a["vnx_attestation"].is_object(), "signed: {a}");
    let who = a["by"].as_str().unwrap().to_owned();
    assert!(!who.is_empty());
    repo.verify_ok();

    // Everywhere it is read: done, accepted by who, no longer waiting for a person.
    let s = state(&repo, &id);
    assert_eq!(s["status"], "done", "{s}");
    assert_eq!(s["accepted"]["by"], who.as_str(), "{s}");
    assert_eq!(s["accepted"]["previous_status"], "needs_input", "{s}");
    assert_eq!(s["accepted"]["note"], "read the diff", "{s}");
    assert!(s.get("question").is_none(), "{s}");
    let status = run(repo.vnx().arg("status"));
    assert!(
        status.stdout.contains(&format!("  accepted by {who} at ")),
        "{}",
        status.stdout
    );
    let show = run(repo.vnx().args(["show", &id]));
    assert!(
        show.stdout.contains(&format!("  accepted   by {who} at ")),
        "{}",
        show.stdout
    );
    // Its signature is checked on read, as every signed kind's.
    let proof = show
        .stdout
        .lines()
        .find(|l| l.starts_with("  proof      dispatch_accepted at line "))
        .unwrap_or_else(|| panic!("{}", show.stdout));
    assert!(
        proof.contains("(signed, and the ledger verifies through it"),
        "{proof}"
    );
    assert_eq!(s["proof"]["event_type"], "dispatch_accepted", "{s}");
    assert_eq!(s["proof"]["attested"], true, "{s}");
    let snap = Snapshot::load(
        &Sources {
            root: repo.env.path().to_owned(),
            ledger: ledger_path(&repo),
            tmux: repo.server.0.clone(),
        },
        None,
        None,
    )
    .unwrap();
    let row = snap.rows.iter().find(|r| r.state.id == id).unwrap();
    assert!(!row.state.waiting(), "{:?}", row.state);
    assert_eq!(
        row.activity,
        format!("accepted by {who} (ended needs_input): read the diff")
    );
    // `vnx mcp`'s list (read-only: an agent sees the acceptance, it cannot make one).
    let settings = repo.mcp_settings(repo.env.home().join("mcp-scratch"));
    let filter = vnx::mcp::read::Filter {
        ids: vec![id.clone()],
        ..Default::default()
    };
    let listed = vnx::mcp::read::list(&settings, &filter).unwrap();
    let d = &listed["dispatches"][0];
    assert_eq!(d["status"], "done", "{listed}");
    assert_eq!(d["verified"], true, "{listed}");
    assert_eq!(d["accepted"]["by"], who.as_str(), "{listed}");
    // The notification hears `done`, as of a report.
    assert!(crate::common::wait_for(|| {
        std::fs::read_to_string(&notes)
            .unwrap_or_default()
            .contains(&format!("{id}|done|accepted by {who}"))
    }));

    // Accepting it again is refused; merging runs its gate and lands the accepted head.
    refused(
        &accept(&repo, &[&id]),
        1,
        &format!("dispatch {id}'s work was already accepted by {who} at {head}"),
        &format!("merge it: `vnx merge {id}`"),
    );
    let m = run(repo.vnx().args(["merge", &id]));
    assert_eq!(m.code, 0, "{}{}", m.stdout, m.stderr);
    let planned = repo.events("merge");
    assert_eq!(planned[0]["head_commit"], head.as_str());
    assert_eq!(planned[0]["acceptance"]["seq"], a["seq"], "{}", planned[0]);
    assert!(
        planned[0]["conditions"]
            .as_array()
            .unwrap()
            .contains(&"gates_passed".into())
    );
    assert_eq!(repo.events("gate_result")[0]["status"], "pass");
    assert_eq!(state(&repo, &id)["status"], "merged");
    refused(
        &accept(&repo, &[&id]),
        1,
        &format!("dispatch {id} was merged already"),
        "",
    );
    repo.verify_ok();
}

#[test]
fn work_that_is_running_uncommitted_or_reported_is_refused() {
    let repo = Repo::new();
    // Still running.
    let slow = repo.dispatched("slow", true);
    refused(
        &accept(&repo, &[&slow]),
        1,
        &format!("dispatch {slow} is running: only an ended dispatch's work can be accepted"),
        &format!("wait for it to end (`vnx wait {slow}`), or stop it: `vnx cancel {slow}`"),
    );
    assert_eq!(run(repo.vnx().args(["cancel", &slow])).code, 0);

    // The phantom guard: a writing role with nothing committed, its branch gone (clean) or
    // still at its base (only uncommitted changes).
    let asked = dispatched(&repo, "ask", &[]);
    assert_eq!(asked["teardown_class"], "clean", "{asked}");
    let asked = asked["dispatch_id"].as_str().unwrap().to_owned();
    let phantom = "has nothing committed beyond its base ";
    let r = accept(&repo, &[&asked]);
    refused(&r, 1, &format!("dispatch {asked} (role implementer) "), "");
    assert!(r.stderr.contains(phantom), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "hint: `vnx show {asked} --diff` shows its changes"
        )),
        "{}",
        r.stderr
    );
    // A kept worktree whose HEAD left the dispatch branch: vnx commits nothing there.
    let failed = dispatched(&repo, "fail", &[]);
    assert_eq!(failed["teardown_class"], "dirty", "{failed}");
    let failed_id = failed["dispatch_id"].as_str().unwrap().to_owned();
    let worktree = std::path::PathBuf::from(state(&repo, &failed_id)["worktree"].as_str().unwrap());
    let git = |args: &[&str]| crate::common::git(&repo.env.home(), &worktree, args);
    git(&["checkout", "-q", "--detach"]);
    let r = accept(&repo, &[&failed_id]);
    refused(
        &r,
        1,
        &format!(
            "dispatch {failed_id}'s worktree {} is not clean: HEAD is detached",
            worktree.display()
        ),
        &format!(
            "vnx commits only a worktree that is on its branch and its own: ask for the work with `vnx follow-up {failed_id} "
        ),
    );
    assert!(repo.events("dispatch_accepted").is_empty());
    // Reported done: nothing to accept.
    let done = dispatched(&repo, "commit", &[])["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        &accept(&repo, &[&done]),
        1,
        &format!("dispatch {done} already completed done"),
        &format!("merge it: `vnx merge {done}`"),
    );
    assert!(repo.events("dispatch_accepted").is_empty());
}

#[test]
fn work_left_uncommitted_is_committed_by_vnx_when_accepted_and_merges() {
    let repo = Repo::new();
    configure(&repo, GATES);
    // The usual case: the worker wrote the file, committed nothing and did not report.
    let failed = dispatched(&repo, "fail", &[]);
    assert_eq!(failed["teardown_class"], "dirty", "{failed}");
    let id = failed["dispatch_id"].as_str().unwrap().to_owned();
    let base = failed["head_commit"].as_str().unwrap().to_owned();
    let worktree = std::path::PathBuf::from(state(&repo, &id)["worktree"].as_str().unwrap());
    let git = |args: &[&str]| crate::common::git(&repo.env.home(), &worktree, args);
    // A person adds a note of their own before accepting: it is the work too.
    std::fs::write(worktree.join("NOTES.md"), "read and kept\n").unwrap();
    let r = run(repo
        .vnx()
        .args(["accept", &id, "--note", "the file is right"])
        .env("USER", "ana"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let tip = git(&["rev-parse", "HEAD"]).trim().to_owned();
    assert_ne!(tip, base, "vnx committed the work");
    assert!(
        r.stdout.contains(&format!(
            "{id}  committed what its worker left uncommitted: {tip} (2 files)"
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("accepted as done at {tip} by ana")),
        "{}",
        r.stdout
    );
    let receipt = &repo.events("dispatch_accepted")[0];
    assert_eq!(receipt["head_commit"], tip.as_str());
    assert_eq!(receipt["vnx_commit"]["commit"], tip.as_str());
    assert_eq!(
        receipt["vnx_commit"]["files"],
        serde_json::json!(["NOTES.md", "demo-output.txt"])
    );
    assert_eq!(receipt["by"], "ana");
    // The commit is on the dispatch branch, says why, and the worktree is clean now.
    let message = git(&["log", "-1", "--format=%B"]);
    assert!(message.contains("ended without reporting"), "{message}");
    assert!(message.contains("\nVNX-Accepted-By: ana\n"), "{message}");
    assert!(
        message.contains(&format!("\nVNX-Dispatch: {id}\n")),
        "{message}"
    );
    assert_eq!(git(&["status", "--porcelain"]), "");
    assert_eq!(
        repo.env
            .git(&["rev-parse", &format!("refs/heads/dispatch/{id}")])
            .trim(),
        tip
    );
    // show names the teardown as it is now, and who accepted.
    let show = run(repo.vnx().args(["show", &id]));
    assert!(
        show.stdout.contains(&format!(
            "teardown   dirty, then committed by vnx on acceptance ({}, 2 files)",
            &tip[..12]
        )),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout.contains("accepted   by ana at "),
        "{}",
        show.stdout
    );
    assert_eq!(state(&repo, &id)["status"], "done");
    // Its gates run on that commit and it merges.
    let m = run(repo.vnx().args(["merge", &id]));
    assert_eq!(m.code, 0, "{}{}", m.stdout, m.stderr);
    assert!(repo.env.path().join("demo-output.txt").exists());
    assert!(repo.env.path().join("NOTES.md").exists());
    repo.verify_ok();
}

#[test]
fn an_unknown_or_ambiguous_id_is_a_usage_error() {
    let repo = Repo::new();
    for id in ["D-abc1", "D-abc2"] {
        dispatched(&repo, "forget", &["--id", id]);
    }
    refused(
        &accept(&repo, &["D-ffffffff"]),
        2,
        "",
        "`vnx status` lists the dispatches of this project",
    );
    refused(
        &accept(&repo, &["abc"]),
        2,
        "\"abc\" is the start of 2 dispatch ids: D-abc1, D-abc2",
        "give more of the id",
    );
    refused(&accept(&repo, &["not/an/id"]), 2, "", "");
    assert!(repo.events("dispatch_accepted").is_empty());
}

#[test]
fn a_branch_moved_after_the_acceptance_holds_the_merge() {
    let repo = Repo::new();
    configure(&repo, GATES);
    let id = dispatched(&repo, "forget", &[])["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(accept(&repo, &[&id]).code, 0);
    let accepted = repo.events("dispatch_accepted")[0]["head_commit"]
        .as_str()
        .unwrap()
        .to_owned();
    // Something commits on the branch after the person looked.
    let branch = format!("refs/heads/dispatch/{id}");
    let tree = repo
        .env
        .git(&["rev-parse", &format!("{accepted}^{{tree}}")]);
    let moved = repo.env.git(&[
        "commit-tree",
        tree.trim(),
        "-p",
        &accepted,
        "-m",
        "a commit nobody read",
    ]);
    repo.env.git(&["update-ref", &branch, moved.trim()]);
    let plan = merge_check(&repo, &id);
    let failed = failed_conditions(&plan);
    let (_, detail) = failed
        .iter()
        .find(|(n, _)| n == "branch_at_recorded_head")
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(
        detail.contains(&format!(
            "is at {}, not at the head {accepted} that was accepted",
            moved.trim()
        )),
        "{detail}"
    );
    let before = repo.env.git(&["rev-parse", "HEAD"]);
    let held = run(repo.vnx().args(["merge", &id]));
    assert_eq!(held.code, 1, "{}", held.stderr);
    assert!(
        held.stderr.contains(&format!(
            "refusing to merge {id}: branch_at_recorded_head: "
        )),
        "{}",
        held.stderr
    );
    assert_eq!(
        repo.env.git(&["rev-parse", "HEAD"]),
        before,
        "nothing merged"
    );
    // Accepted again, at the new head, it merges.
    assert_eq!(accept(&repo, &[&id]).code, 0);
    assert_eq!(
        repo.events("dispatch_accepted")[1]["head_commit"],
        moved.trim()
    );
    let m = run(repo.vnx().args(["merge", &id]));
    assert_eq!(m.code, 0, "{}{}", m.stdout, m.stderr);
}

#[test]
fn an_acceptance_vnx_did_not_sign_counts_for_nothing() {
    let repo = Repo::new();
    configure(&repo, GATES);
    let c = dispatched(&repo, "forget", &[]);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let head = c["head_commit"].as_str().unwrap().to_owned();
    let forged = serde_json::json!({
        "event_type": "dispatch_accepted",
        "dispatch_id": id,
        "head_commit": head,
        "branch": format!("dispatch/{id}"),
        "previous_status": "needs_input",
        "completion": {"seq": 1, "line_sha256": "0".repeat(64)},
        "by": "worker",
    });
    // A worker writes one where it can: its dispatch directory. vnx reads receipts only from
    // the ledger, so nothing changes.
    let dir = repo.env.path().join(".vnx-data/dispatches").join(&id);
    std::fs::write(dir.join("receipt.json"), forged.to_string()).unwrap();
    std::fs::write(dir.join("t0_receipts.ndjson"), format!("{forged}\n")).unwrap();
    assert_eq!(state(&repo, &id)["status"], "needs_input");
    // `vnx receipts append` refuses vnx's own kind.
    let r = run(repo
        .vnx()
        .args(["receipts", "append", "--receipt", &forged.to_string()]));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("vnx accept"), "{}", r.stderr);
    // Appended to the ledger file itself, well chained but unsigned: shown unverified, and
    // the merge refuses it as a forgery.
    vnx::ledger::Ledger::new(ledger_path(&repo))
        .append(&crate::common::receipt(&forged.to_string()))
        .unwrap();
    assert_eq!(state(&repo, &id)["status"], "unverified");
    let plan = merge_check(&repo, &id);
    assert!(
        failed_conditions(&plan)
            .iter()
            .any(|(n, d)| n == "dispatch_done"
                && d.contains("dispatch_accepted")
                && d.contains("a worker may have tried to forge its evidence")),
        "{plan}"
    );
    // Nor can it be accepted now: a person must look at the forgery first.
    let r = accept(&repo, &[&id]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("receipts vnx did not write"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_dashboards_d_key_accepts_after_a_confirmation() {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use vnx_cli::tui::{Action, App, Effect, Mode};
    let repo = Repo::new();
    let id = dispatched(&repo, "forget", &[])["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sources = Sources {
        root: repo.env.path().to_owned(),
        ledger: ledger_path(&repo),
        tmux: repo.server.0.clone(),
    };
    let snap = Snapshot::load(&sources, None, None).unwrap();
    assert_eq!(snap.rows[0].group(), 0, "waits for a person");
    let mut app = App::new(snap);
    assert_eq!(app.selected.as_ref().map(|i| i.as_str()), Some(id.as_str()));
    let press =
        |app: &mut App, c: char| app.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    assert_eq!(press(&mut app, 'd'), Effect::None);
    assert_eq!(app.mode, Mode::Confirm(Action::Accept(id_of(&id))));
    let Effect::Run(action) = press(&mut app, 'y') else {
        panic!("not run: {:?}", app.mode);
    };
    let r = run(repo.vnx().args(action.argv()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let snap = Snapshot::load(&sources, None, None).unwrap();
    assert_eq!(
        snap.rows[0].group(),
        2,
        "finished: {:?}",
        snap.rows[0].state
    );
    assert_eq!(snap.rows[0].state.status, "done");
}

/// The dispatch id `text` names.
fn id_of(text: &str) -> vnx::ids::DispatchId {
    vnx::ids::DispatchId::parse(text).unwrap()
}
