//! Constraints at dispatch time, end to end with the `demo` provider: a refusal creates nothing
//! but its receipts, overrides need the variable (and, where required, a reason), warnings
//! and pins run and are recorded, a broken constraints file stops every dispatch, and
//! `vnx constraints check-imports` fails on a vendor SDK import.

use serde_json::Value;

use crate::common::{Repo, completion, run};

/// The ledger's receipts of one event type.
fn events(repo: &Repo, event: &str) -> Vec<Value> {
    repo.events(event)
}

fn nothing_made(repo: &Repo) {
    assert_eq!(repo.branches(), "");
    let dispatches = repo.env.path().join(".vnx-data/dispatches");
    assert_eq!(
        dispatches.read_dir().unwrap().count(),
        0,
        "no dispatch directory"
    );
    let worktrees = repo.env.path().join(".vnx-data/worktrees");
    assert_eq!(worktrees.read_dir().unwrap().count(), 0, "no worktree");
    assert!(repo.server.0.sessions().unwrap().is_empty());
    assert!(events(repo, "dispatch_started").is_empty());
}

/// Replaces the constraints file and commits it.
fn constrain(repo: &Repo, text: &str) {
    std::fs::write(repo.env.path().join("provider_constraints.yaml"), text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "constraints"]);
}

#[test]
fn skip_permissions_is_refused_before_anything_exists_and_the_refusal_is_recorded() {
    let repo = Repo::new();
    let r = repo.dispatch("commit", &["--instruction", "x", "--permission", "full"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains(
            "refused by constraint `no-skip-permissions` (via skip_permissions, not sandboxed)"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("caused by: no-skip-permissions: A skip-permissions / yolo posture"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(
            "hint: to run it anyway, set VNX_OVERRIDE_NO_SKIP_PERMISSIONS=1 with \
             VNX_OVERRIDE_NO_SKIP_PERMISSIONS_REASON=\"why\""
        ),
        "{}",
        r.stderr
    );
    nothing_made(&repo);
    let decisions = events(&repo, "constraint_decision");
    assert_eq!(decisions.len(), 1, "the ledger append is the only write");
    let d = &decisions[0];
    assert_eq!(d["constraint_id"], "no-skip-permissions");
    assert_eq!(d["decision"], "refused");
    assert_eq!(d["audit_severity"], "blocking");
    assert_eq!(d["rule"], "forbid_route");
    assert_eq!(d["override_requested"], false);
    assert_eq!(
        d["route"],
        serde_json::json!({
            "provider": "demo", "model": "commit", "role": "implementer",
            "lane": "headless", "permission": "full", "via": ["headless", "skip_permissions"],
        })
    );
    assert!(d["dispatch_id"].as_str().unwrap().starts_with("D-"));
    assert_eq!(d["constraints_sha256"].as_str().unwrap().len(), 64);

    // The variable alone is not enough for this constraint: it needs a reason too.
    let r = run(repo
        .dispatch_cmd("commit")
        .args(["--instruction", "x", "--permission", "full"])
        .env("VNX_OVERRIDE_NO_SKIP_PERMISSIONS", "1"));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("needs a reason in VNX_OVERRIDE_NO_SKIP_PERMISSIONS_REASON"),
        "{}",
        r.stderr
    );
    nothing_made(&repo);
    repo.verify_ok();
}

/// The demo's noop workers change nothing; as implementers the phantom guard would fail them.
fn implementers_do_not_write(repo: &Repo) {
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    // (and the roles the constraints below name, declared so a dispatch may use them)
    text.push_str(
        "roles:\n  implementer: {writes: false}\n  pinned: {writes: false}\n  floored: {}\n",
    );
    std::fs::write(&config, text).unwrap();
    repo.env
        .git(&["commit", "-q", "-am", "implementers do not write here"]);
}

#[test]
fn an_override_with_its_reason_runs_and_is_recorded() {
    let repo = Repo::new();
    implementers_do_not_write(&repo);
    let r = run(repo
        .dispatch_cmd("noop")
        .args(["--instruction", "x", "--permission", "full", "--json"])
        .env("VNX_OVERRIDE_NO_SKIP_PERMISSIONS", "1")
        .env("VNX_OVERRIDE_NO_SKIP_PERMISSIONS_REASON", "a throwaway VM"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let receipts = repo.receipts(&id);
    let started = &receipts[0];
    assert_eq!(
        started["event_type"], "dispatch_started",
        "the start comes first"
    );
    assert_eq!(started["permission"], "full");
    assert_eq!(
        started["constraint_decisions"],
        serde_json::json!([{"id": "no-skip-permissions", "decision": "overridden"}])
    );
    let d = &receipts[1];
    assert_eq!(d["event_type"], "constraint_decision");
    assert_eq!(d["decision"], "overridden");
    assert_eq!(d["override_requested"], true);
    assert_eq!(d["override_reason"], "a throwaway VM");
    assert_eq!(d["constraints_sha256"], started["constraints_sha256"]);
    assert_eq!(receipts[2]["event_type"], "dispatch_completed");

    // A dispatch no constraint matches records no decision.
    let r = repo.dispatch("noop", &["--instruction", "x"]);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let receipts = repo.receipts(&id);
    assert_eq!(receipts[0]["constraint_decisions"], serde_json::json!([]));
    assert_eq!(receipts.len(), 2, "started and completed only");
    repo.verify_ok();
}

#[test]
fn warnings_run_pins_fill_the_model_and_floors_refuse_lower_models() {
    let repo = Repo::new();
    implementers_do_not_write(&repo);
    constrain(
        &repo,
        "version: 1\nconstraints:\n\
         \x20 - id: demo-headless\n    rule: forbid_route\n    forbidden_route: {provider: demo, via: headless}\n    reason: demo workers should be watched\n    enforcement: code_warn\n    audit_severity: warn\n\
         \x20 - id: pinned-role\n    rule: require_route\n    required_route: {provider: demo, role: pinned}\n    required_route_model_is_below: true\n",
    );
    // That file is malformed (an unknown key): every dispatch stops, naming the line.
    let r = repo.dispatch("noop", &["--instruction", "x"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains(
            "provider_constraints.yaml:12:5: unknown field `required_route_model_is_below`"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    nothing_made(&repo);

    constrain(
        &repo,
        "version: 1\nconstraints:\n\
         \x20 - id: demo-headless\n    rule: forbid_route\n    forbidden_route: {provider: demo, via: headless}\n    reason: demo workers should be watched\n    enforcement: code_warn\n    audit_severity: warn\n\
         \x20 - id: pinned-role\n    rule: require_route\n    required_route: {provider: demo, role: pinned, model: noop}\n    pin_semantics: default\n    reason: the pinned role changes nothing\n    enforcement: code_warn\n    audit_severity: info\n\
         \x20 - id: floor-role\n    rule: require_route\n    required_route: {provider: demo, role: floored, model: dirty}\n    model_order: [fail, dirty, commit]\n    reason: at least a dirty worker\n    enforcement: code_raise\n    audit_severity: warn\n    override_allowed: true\n",
    );
    // A warning: the dispatch runs and the receipt says so.
    let r = repo.dispatch("noop", &["--instruction", "x"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let receipts = repo.receipts(&id);
    assert_eq!(
        receipts[0]["constraint_decisions"],
        serde_json::json!([{"id": "demo-headless", "decision": "warned"}])
    );
    assert_eq!(receipts[1]["detail"], "provider demo, via headless");

    // A default pin fills the model the dispatch did not name.
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "pinned",
        "--provider",
        "demo",
        "--lane",
        "interactive",
        "--instruction",
        "x",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["teardown_class"], "clean", "the noop model ran: {c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let receipts = repo.receipts(&id);
    assert_eq!(receipts[0]["model"], "noop");
    assert_eq!(
        receipts[0]["constraint_decisions"],
        serde_json::json!([{"id": "pinned-role", "decision": "pinned"}])
    );
    assert_eq!(
        receipts[1]["detail"],
        "no model given: pinned `noop` (default pin)"
    );
    assert_eq!(receipts[1]["route"]["model"], "noop");

    // A floor refuses a lower model even at warn severity, unless overridden.
    let floored = |model: &str, override_it: bool| {
        let mut cmd = repo.vnx();
        cmd.args(["dispatch-agent", "--agent", "floored", "--provider", "demo"])
            .args([
                "--model",
                model,
                "--lane",
                "interactive",
                "--instruction",
                "x",
                "--json",
            ]);
        if override_it {
            cmd.env("VNX_OVERRIDE_FLOOR_ROLE", "1");
        }
        run(cmd)
    };
    let r = floored("fail", false);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "`floor-role` (model `fail` is below the floor `dirty` (fail < dirty < commit))"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("VNX_OVERRIDE_FLOOR_ROLE=1"),
        "{}",
        r.stderr
    );
    let r = floored("noop", false);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is not in model_order"), "{}", r.stderr);
    let r = floored("commit", false);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = floored("fail", true);
    assert_eq!(completion(&r)["status"], "failed", "it ran: {}", r.stderr);
    let refused: Vec<Value> = events(&repo, "constraint_decision")
        .into_iter()
        .filter(|d| d["decision"] == "refused")
        .collect();
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|d| d["constraint_id"] == "floor-role"));
    repo.verify_ok();
}

#[test]
fn a_missing_constraints_file_stops_dispatching() {
    let repo = Repo::new();
    repo.env.git(&["rm", "-q", "provider_constraints.yaml"]);
    repo.env.git(&["commit", "-q", "-m", "no constraints"]);
    let r = repo.dispatch("noop", &["--instruction", "x"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("provider_constraints.yaml is missing"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: run `vnx init`"), "{}", r.stderr);
    nothing_made(&repo);
}

#[test]
fn check_imports_fails_on_a_vendor_sdk_and_lists_the_constraints() {
    let repo = Repo::new();
    let r = run(repo.vnx().args(["constraints", "check-imports"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("no forbidden imports in "),
        "{}",
        r.stderr
    );

    std::fs::create_dir_all(repo.env.path().join("agent")).unwrap();
    std::fs::write(
        repo.env.path().join("agent/call.py"),
        "import os\nfrom anthropic import Client\n",
    )
    .unwrap();
    repo.env.git(&["add", "agent"]);
    let r = run(repo.vnx().args(["constraints", "check-imports"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "agent/call.py:2: from anthropic import (no-anthropic-sdk)\n"
    );
    assert!(
        r.stderr.contains("error: 1 forbidden import(s)"),
        "{}",
        r.stderr
    );
    let r = run(repo
        .vnx()
        .args(["constraints", "check-imports", "--json", "agent"]));
    assert_eq!(r.code, 1);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["files"], 1);
    assert_eq!(report["hits"][0]["constraint_id"], "no-anthropic-sdk");

    let r = run(repo.vnx().args(["constraints", "list", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listed: Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = listed["constraints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "no-skip-permissions",
            "claude-headless",
            "no-anthropic-sdk",
            "no-openai-sdk",
            "no-google-genai-sdk"
        ]
    );
    // No shipped pin: claude runs on the user's own default model.
    assert!(
        listed["constraints"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["pin"].is_null()),
        "{listed}"
    );
    std::fs::write(
        repo.env.path().join("provider_constraints.yaml"),
        "version: 3\n",
    )
    .unwrap();
    let r = run(repo.vnx().args(["constraints", "list"]));
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("provider_constraints.yaml:1:10: unsupported version `3`"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_pinned_model_the_provider_cannot_take_names_the_constraint() {
    let repo = Repo::new();
    constrain(
        &repo,
        "version: 1\nconstraints:\n  - id: reviewers-on-sonnet\n    rule: require_route\n    required_route: {role: reviewer, model: sonnet}\n    pin_semantics: default\n    reason: r\n    enforcement: code_warn\n    audit_severity: info\n",
    );
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "reviewer",
        "--provider",
        "demo",
        "--instruction",
        "x",
    ]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "error: constraint `reviewers-on-sonnet` pinned model \"sonnet\", which the provider does not take"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("caused by: model \"sonnet\" is not valid for provider demo"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: pass --model"), "{}", r.stderr);
    nothing_made(&repo);
    assert!(events(&repo, "constraint_decision").is_empty());
}

/// A refused dispatch printed its id; `show` of that id and `status --all` say it was
/// refused and why (it failed before anything was made), as they do for any other.
#[test]
fn a_refused_dispatch_is_shown_and_listed_with_its_reason() {
    let repo = Repo::new();
    let r = repo.dispatch("commit", &["--instruction", "x", "--permission", "full"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let id = events(&repo, "constraint_decision")[0]["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(r.stderr.contains(&id), "{}", r.stderr);
    let shown = run(repo.vnx().args(["show", "--json", &id]));
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let v: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(v["status"], "failed", "{v:#}");
    let reason = v["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("refused by constraint no-skip-permissions: "),
        "{v:#}"
    );
    let text = run(repo.vnx().args(["show", &id]));
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("refused by constraint"),
        "{}",
        text.stdout
    );
    let all = run(repo.vnx().args(["status", "--all", "--json"]));
    let all: Value = serde_json::from_str(&all.stdout).unwrap();
    let listed = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dispatch_id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {all:#}"));
    assert_eq!(listed["status"], "failed");
    assert_eq!(listed["provider"], "demo");
    repo.verify_ok();
}
