//! `dispatch-agent --plan` (ADR 0092) on the demo provider: the planning step changes nothing
//! and ends needs_input with its plan, shown by `status`, `show` and `wait`; a merge is
//! refused until the plan is approved; `vnx approve` records a signed `plan_approved` bound
//! to the plan's hash and the same chain carries it out in the role's posture, which then
//! merges; `vnx deny --message` records `plan_denied` and plans again; a stale hash is
//! refused; a role's `plan: true` plans; and a plan's hostile text is escaped where shown.

use crate::common::{Repo, Run, completion, configure, ledger_path, run};

const GATELESS: &str = "roles:\n  implementer: {gates: []}\n";

/// A demo dispatch of `--plan` in the foreground: its completion receipt.
fn planned(repo: &Repo) -> serde_json::Value {
    let c = completion(&repo.dispatch("commit", &["--plan", "--instruction", "add a greeting"]));
    assert_eq!(c["status"], "needs_input", "{c}");
    assert_eq!(c["failure_reason"], "its plan waits for approval", "{c}");
    c
}

/// `vnx status ID --json`: the dispatch's state.
fn state(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["status", id, "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v[0].clone()
}

/// The ledger's receipts of `event`.
fn receipts(repo: &Repo, event: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(ledger_path(repo))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event_type"] == event)
        .collect()
}

/// The follow-up id the last line of `vnx approve`/`vnx deny` names.
fn follow_up_of(r: &Run) -> String {
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let line = r.stdout.lines().last().unwrap();
    let id = line.split(": ").last().unwrap().split(' ').next().unwrap();
    assert!(id.starts_with("D-"), "{line}");
    id.to_owned()
}

fn wait(repo: &Repo, id: &str) -> serde_json::Value {
    completion(&run(repo.vnx().args(["wait", id, "--json"])))
}

fn merge_check(repo: &Repo, id: &str) -> Vec<(String, bool, String)> {
    let r = run(repo.vnx().args(["merge", id, "--check", "--json"]));
    let v: serde_json::Value =
        serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stderr));
    v["plan"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["ok"] == true,
                c["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn plan_condition(repo: &Repo, id: &str) -> (bool, String) {
    let (_, ok, detail) = merge_check(repo, id)
        .into_iter()
        .find(|(n, ..)| n == "plan_approved")
        .unwrap_or_else(|| panic!("no plan_approved condition for {id}"));
    (ok, detail)
}

#[test]
fn a_plan_approved_is_carried_out_by_the_same_chain_and_merges() {
    let repo = Repo::new();
    configure(&repo, GATELESS);
    let c = planned(&repo);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    // The planning step changed nothing: its worker ran in the demo's plan mode.
    assert!(!repo.env.path().join("demo-output.txt").exists());
    let started = &receipts(&repo, "dispatch_started")[0];
    assert_eq!(started["plan"]["stage"], "planning", "{started}");
    assert_eq!(started["plan"]["edits_permission"], "edits");
    assert_eq!(started["permission"], "ask");
    assert!(
        started["argv"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--plan"),
        "{started}"
    );
    let s = state(&repo, &id);
    assert_eq!(s["planning"], true, "{s}");
    let plan = s["question"].as_str().unwrap().to_owned();
    assert!(plan.starts_with("Plan: write demo-output.txt"), "{plan}");
    let sha = s["plan_sha256"].as_str().unwrap().to_owned();
    // Shown where a question is: status, show, wait.
    let status = run(repo.vnx().args(["status", &id]));
    assert!(
        status.stdout.contains("  plan: Plan: write"),
        "{}",
        status.stdout
    );
    let show = run(repo.vnx().args(["show", &id]));
    assert!(
        show.stdout.contains(&format!("sha256 {sha}")),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout.contains(&format!("vnx approve {id}")),
        "{}",
        show.stdout
    );
    let waited = run(repo.vnx().args(["wait", &id]));
    assert!(
        waited.stdout.contains(&format!("{id}  plan: Plan:")),
        "{}",
        waited.stdout
    );
    // `vnx mcp`'s list shows it as the JSON of `status` does.
    let settings = repo.mcp_settings(repo.env.home().join("mcp-scratch"));
    let filter = vnx::mcp::read::Filter {
        ids: vec![id.clone()],
        ..Default::default()
    };
    let listed = vnx::mcp::read::list(&settings, &filter).unwrap();
    let d = &listed["dispatches"][0];
    assert_eq!(d["planning"], true, "{listed}");
    assert_eq!(d["plan_sha256"], sha.as_str(), "{listed}");
    assert_eq!(d["question"], plan.as_str(), "{listed}");
    // Not merged before its plan is approved.
    let (ok, detail) = plan_condition(&repo, &id);
    assert!(!ok && detail.contains("never approved"), "{detail}");

    let approved = run(repo.vnx().args(["approve", &id, "--plan-sha256", &sha]));
    let next = follow_up_of(&approved);
    assert!(
        approved.stdout.contains("plan approved (sha256 "),
        "{}",
        approved.stdout
    );
    let signed = &receipts(&repo, "plan_approved")[0];
    assert_eq!(signed["dispatch_id"], id.as_str());
    assert_eq!(signed["plan_sha256"], sha.as_str());
    assert!(signed["vnx_attestation"]["sig"].is_string(), "{signed}");
    let done = wait(&repo, &next);
    assert_eq!(done["status"], "done", "{done}");
    let follow = receipts(&repo, "dispatch_started")
        .into_iter()
        .find(|r| r["dispatch_id"] == next.as_str())
        .unwrap();
    assert_eq!(follow["continues"]["dispatch_id"], id.as_str());
    assert_eq!(follow["permission"], "edits");
    assert_eq!(follow["plan"]["stage"], "approved");
    assert_eq!(follow["plan"]["plan_sha256"], sha.as_str());
    let prompt = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{next}/prompt.md")),
    )
    .unwrap();
    assert!(prompt.contains("approved your plan"), "{prompt}");
    assert!(
        prompt.contains(&format!("```text\n{plan}\n```")),
        "{prompt}"
    );
    let (ok, detail) = plan_condition(&repo, &next);
    assert!(ok, "{detail}");
    let c = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(c.code, 0, "{}", c.stderr);
    let merged = run(repo.vnx().args(["merge", &next]));
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    // A plan decided waits no more.
    let again = run(repo.vnx().args(["approve", &id]));
    assert_eq!(again.code, 1, "{}", again.stderr);
}

#[test]
fn a_plan_denied_plans_again_with_the_message_and_a_stale_hash_is_refused() {
    let repo = Repo::new();
    configure(&repo, GATELESS);
    let id = planned(&repo)["dispatch_id"].as_str().unwrap().to_owned();
    let stale = "0".repeat(64);
    let r = run(repo.vnx().args(["approve", &id, "--plan-sha256", &stale]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("is not the one read"), "{}", r.stderr);
    assert!(receipts(&repo, "plan_approved").is_empty());

    let denied = run(repo
        .vnx()
        .args(["deny", &id, "--message", "add a test too"]));
    let next = follow_up_of(&denied);
    assert!(denied.stdout.contains("plans again"), "{}", denied.stdout);
    let signed = &receipts(&repo, "plan_denied")[0];
    assert_eq!(signed["message"], "add a test too");
    let c = wait(&repo, &next);
    assert_eq!(c["status"], "needs_input", "{c}");
    let follow = receipts(&repo, "dispatch_started")
        .into_iter()
        .find(|r| r["dispatch_id"] == next.as_str())
        .unwrap();
    assert_eq!(follow["plan"]["stage"], "planning", "{follow}");
    assert_eq!(follow["permission"], "ask");
    let prompt = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{next}/prompt.md")),
    )
    .unwrap();
    assert!(prompt.contains("sent your plan back"), "{prompt}");
    assert!(prompt.contains("```text\nadd a test too\n```"), "{prompt}");
    assert!(!repo.env.path().join("demo-output.txt").exists());
    // The replanning step is a plan too, and nothing of the chain merges before approval.
    assert_eq!(state(&repo, &next)["planning"], true);
    let (ok, _) = plan_condition(&repo, &next);
    assert!(!ok);
    // A plain follow-up of a planning dispatch plans on.
    let plain = run(repo.vnx().args([
        "follow-up",
        &next,
        "--instruction",
        "and mind the docs",
        "--json",
    ]));
    let c = completion(&plain);
    assert_eq!(c["status"], "needs_input", "{c}");
    let (ok, _) = plan_condition(&repo, c["dispatch_id"].as_str().unwrap());
    assert!(!ok);
}

#[test]
fn a_role_that_plans_plans_and_a_dispatch_that_never_planned_has_no_plan_condition() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: [], plan: true}\n");
    let c = completion(&repo.dispatch("commit", &["--instruction", "add a greeting"]));
    assert_eq!(c["status"], "needs_input", "{c}");
    let id = c["dispatch_id"].as_str().unwrap();
    assert_eq!(state(&repo, id)["planning"], true);
    // A role that does not plan: no plan condition at all.
    let c = completion(&repo.dispatch_as("reviewer", "noop", &["--instruction", "look"]));
    let names: Vec<String> = merge_check(&repo, c["dispatch_id"].as_str().unwrap())
        .into_iter()
        .map(|(n, ..)| n)
        .collect();
    assert!(!names.iter().any(|n| n == "plan_approved"), "{names:?}");
}

#[test]
fn approving_a_dispatch_without_a_plan_with_a_hash_is_refused() {
    let repo = Repo::new();
    let c = completion(&repo.dispatch("ask", &["--instruction", "add a greeting"]));
    let id = c["dispatch_id"].as_str().unwrap();
    let r = run(repo
        .vnx()
        .args(["approve", id, "--plan-sha256", &"0".repeat(64)]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("has no plan waiting"), "{}", r.stderr);
    let r = run(repo.vnx().args(["approve", id, "--message", "go"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("waits for no plan"), "{}", r.stderr);
}

#[test]
fn a_stand_in_plans_read_only_and_its_hostile_plan_is_escaped_where_shown() {
    let repo = Repo::new();
    let fakes = crate::common::Fakes::new();
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--json",
            "--plan",
        ])
        .args(["--deadline", "60", "--provider", "claude"])
        .args(["--lane", "headless"])
        .args([
            "--instruction",
            "Plan it.\n@fake write planned.txt too soon\n\
             @fake say Plan: \u{1b}]0;pwned\u{7} edit \u{1b}[31mred\u{1b}[0m files",
        ]);
    let c = completion(&run(cmd));
    assert_eq!(c["status"], "needs_input", "{c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    // Its plan mode refused the write.
    let started = &receipts(&repo, "dispatch_started")[0];
    let argv: Vec<&str> = (started["argv"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        argv.windows(2).any(|w| w == ["--permission-mode", "plan"]),
        "{argv:?}"
    );
    let worktree = started["worktree"].as_str().unwrap();
    assert!(!std::path::Path::new(worktree).join("planned.txt").exists());
    let s = state(&repo, &id);
    assert!(s["question"].as_str().unwrap().contains("pwned"), "{s}");
    for args in [
        vec!["status", id.as_str()],
        vec!["show", id.as_str()],
        vec!["wait", id.as_str()],
    ] {
        let r = run(repo.vnx().args(&args));
        assert!(r.stdout.contains("pwned"), "{args:?}: {}", r.stdout);
        assert!(
            !r.stdout.contains('\u{1b}') && !r.stdout.contains('\u{7}'),
            "{args:?} printed the plan raw: {:?}",
            r.stdout
        );
    }
}

#[test]
fn a_planning_turn_that_changed_files_is_not_approved_and_its_work_never_merges() {
    let repo = Repo::new();
    // A declared CLI with no plan mode, whose worker edits anyway: it commits one file and
    // leaves another uncommitted during its planning turn, then says a plan.
    let bin = repo.env.home().join("hostile-planner");
    std::fs::write(
        &bin,
        "#!/bin/sh\necho sneaked > committed.txt\ngit add committed.txt\n\
         git -c user.name=w -c user.email=w@example.com commit -qm sneaked\n\
         echo left > left.txt\nprintf 'Plan: change nothing at all.\\n'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "{GATELESS}providers:\n  planner:\n    binary: {}\n    headless:\n      \
             argv: [\"{{prompt}}\"]\n    permissions:\n      ask: []\n      edits: []\n",
            bin.display()
        ),
    );
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "planner",
        "--plan",
        "--json",
        "--instruction",
        "add a greeting",
    ]));
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert!(state(&repo, &id)["plan_sha256"].is_string());
    // Not approvable as a plan before any edit: the change is said, nothing is recorded.
    let r = run(repo.vnx().args(["approve", &id]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    // (What it left uncommitted vnx committed as its turn ended: both are on its branch.)
    assert!(
        r.stderr.contains(&format!(
            "the plan of {id} is not approved: its planning changed files: it moved its \
             branch from"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("vnx show {id} --diff")),
        "{}",
        r.stderr
    );
    assert!(receipts(&repo, "plan_approved").is_empty());
    // Its work never merges as following an approved plan.
    let (ok, detail) = plan_condition(&repo, &id);
    assert!(!ok, "{detail}");
    // Sending it back still works: the worker plans again.
    let r = run(repo
        .vnx()
        .args(["deny", &id, "--message", "change nothing"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}
