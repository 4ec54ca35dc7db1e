//! `vnx best-of` end to end with real git and tmux: three candidates (two declared scripts
//! and the demo) race on one task; the role's command gate fails the one that leaves a
//! `BROKEN` file, the smaller of the two passing changes wins, the `group_decision` names
//! every candidate with its evidence, the winner merges, a loser's merge is refused unless
//! overridden, and the losers' branches are kept. A group where every candidate fails has no
//! winner and exits 1.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::{Repo, configure, ledger_path, run};

/// An executable script.
fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Declares headless script providers (`name`, body) and the gate every implementer must
/// pass: no `BROKEN` file in the result.
fn setup(repo: &Repo, tools: &Path, scripts: &[(&str, &str)]) {
    setup_with(
        repo,
        tools,
        "gates:\n\
         \x20 no-broken: {kind: command, argv: [sh, -c, 'test ! -e BROKEN']}\n\
         roles:\n\
         \x20 implementer: {gates: [no-broken]}\n",
        scripts,
    );
}

/// Declares headless script providers (`name`, body) after the `gates` YAML given.
fn setup_with(repo: &Repo, tools: &Path, gates: &str, scripts: &[(&str, &str)]) {
    let mut yaml = format!("{gates}providers:\n");
    for (name, body) in scripts {
        let bin = tools.join(name);
        script(&bin, body);
        yaml.push_str(&format!(
            "  {name}:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n      ask: []\n",
            bin.display()
        ));
    }
    configure(repo, &yaml);
}

fn best_of(repo: &Repo, candidates: &[&str], extra: &[&str]) -> crate::common::Run {
    let mut cmd = repo.vnx();
    cmd.args([
        "best-of",
        "--agent",
        "implementer",
        "--instruction",
        "add a greeting",
    ]);
    for c in candidates {
        cmd.args(["--candidate", c]);
    }
    run(cmd.args(extra))
}

/// The ledger's lines, parsed.
fn ledger(repo: &Repo) -> Vec<(String, serde_json::Value)> {
    std::fs::read_to_string(ledger_path(repo))
        .unwrap()
        .lines()
        .map(|l| (l.to_owned(), serde_json::from_str(l).unwrap()))
        .collect()
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// The members docs/json.md documents under `name`, less the nested ones named.
fn documented(name: &str, nested: &[&str]) -> BTreeSet<String> {
    let mut doc = crate::json_schema::documented(name);
    for n in nested {
        doc.remove(*n);
    }
    doc
}

/// A decision printed as JSON has the members docs/json.md lists, and so has each candidate.
fn assert_documented(decision: &serde_json::Value) {
    assert_eq!(keys(decision), documented("group-decision-members", &[]));
    let nested = [
        "seq",
        "line_sha256",
        "gate",
        "kind",
        "contract_hash",
        "passed",
        "findings",
        "lines",
        "files",
    ];
    for c in decision["candidates"].as_array().unwrap() {
        let mut doc = documented("group-evidence-members", &nested);
        // `gates` and `status` are also nested names; they are members here too.
        doc.insert("gates".into());
        doc.insert("status".into());
        assert_eq!(keys(c), doc, "{c:#}");
    }
}

fn candidate<'a>(decision: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    decision["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["dispatch_id"] == id)
        .unwrap_or_else(|| panic!("no candidate {id}: {decision:#}"))
}

#[test]
fn gates_first_then_the_smaller_change_wins_and_only_the_winner_merges() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    setup(
        &repo,
        tools.path(),
        &[
            // The smallest change of all, but it fails the gate.
            ("broken", "echo oops > BROKEN"),
            // Two lines: smaller than the demo's four.
            ("small", "printf 'hello\\nworld\\n' > greeting.txt"),
        ],
    );
    let r = best_of(&repo, &["broken", "demo:commit", "small"], &["--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let decision: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let group = decision["group_id"].as_str().unwrap().to_owned();
    assert!(group.starts_with("G-"), "{group}");
    let ids: Vec<String> = decision["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["dispatch_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "{decision:#}");
    let (broken, demo, small) = (&ids[0], &ids[1], &ids[2]);
    assert_eq!(decision["winner"], small.as_str(), "{decision:#}");
    assert_documented(&decision);

    // Every candidate's evidence, tied to the ledger lines it rests on.
    let lines = ledger(&repo);
    let line_of = |sha: &str| {
        lines
            .iter()
            .find(|(raw, _)| hex::encode(Sha256::digest(raw.as_bytes())) == sha)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no ledger line hashes to {sha}"))
    };
    for (id, provider) in [(broken, "broken"), (demo, "demo"), (small, "small")] {
        let c = candidate(&decision, id);
        assert_eq!(c["provider"], provider);
        assert_eq!(c["status"], "done", "{c:#}");
        let completion = line_of(c["completion"]["line_sha256"].as_str().unwrap());
        assert_eq!(completion["event_type"], "dispatch_completed");
        assert_eq!(completion["dispatch_id"], id.as_str());
        let report = line_of(c["gate_report"]["line_sha256"].as_str().unwrap());
        assert_eq!(report["event_type"], "gate_report");
        assert_eq!(report["dispatch_id"], id.as_str());
        assert_eq!(report["decision"], c["gate_decision"]);
        assert_eq!(c["gates"][0]["gate"], "no-broken");
        // Each candidate's start names the group.
        let started = repo.receipts(id)[0].clone();
        assert_eq!(started["event_type"], "dispatch_started");
        assert_eq!(started["group"]["group_id"], group.as_str());
        assert_eq!(started["group"]["size"], 3);
    }
    let b = candidate(&decision, broken);
    assert_eq!(b["verdict"], "disqualified", "{b:#}");
    assert_eq!(b["gate_decision"], "HOLD");
    assert_eq!(b["gates"][0]["status"], "fail");
    assert_eq!(b["change"]["lines"], 1);
    assert!(b["reason"].as_str().unwrap().contains("no-broken"), "{b:#}");
    let d = candidate(&decision, demo);
    assert_eq!(
        (d["verdict"].clone(), d["rank"].clone()),
        ("lost".into(), 2.into())
    );
    assert_eq!(d["change"]["lines"], 4);
    assert!(d["reason"].as_str().unwrap().contains("larger"), "{d:#}");
    let s = candidate(&decision, small);
    assert_eq!(
        (s["verdict"].clone(), s["rank"].clone()),
        ("won".into(), 1.into())
    );
    assert_eq!(s["change"]["lines"], 2);
    assert_eq!(s["gate_decision"], "GO");

    // The decision is on the ledger, signed, as printed; the chain verifies.
    let recorded: Vec<_> = lines
        .iter()
        .filter(|(_, v)| v["event_type"] == "group_decision")
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].1["winner"], small.as_str());
    assert!(
        recorded[0].1.get(vnx::ledger::attest::FIELD).is_some(),
        "vnx signs the decision: {:#}",
        recorded[0].1
    );
    let started = lines
        .iter()
        .find(|(_, v)| v["event_type"] == "group_started")
        .unwrap();
    assert_eq!(started.1["candidates"].as_array().unwrap().len(), 3);
    repo.verify_ok();

    // status and show name the group and the winner; group show too.
    let status = run(repo.vnx().arg("status"));
    assert!(
        status.stdout.contains(&format!("group {group} 3/3: won")),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains(&format!("group {group} 2/3: lost to {small}")),
        "{}",
        status.stdout
    );
    let show = run(repo.vnx().args(["show", demo, "--json"]));
    let show: serde_json::Value = serde_json::from_str(show.stdout.trim()).unwrap();
    assert_eq!(show["group"]["group_id"], group.as_str(), "{show:#}");
    assert_eq!(show["group"]["index"], 2);
    assert_eq!(show["group"]["winner"], small.as_str());
    let show = run(repo.vnx().args(["show", demo]));
    assert!(
        show.stdout.contains(&format!("lost to {small}")),
        "{}",
        show.stdout
    );
    let shown = run(repo.vnx().args(["group", "show", &group, "--json"]));
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let shown: serde_json::Value = serde_json::from_str(shown.stdout.trim()).unwrap();
    assert_eq!(shown["winner"], small.as_str());
    assert_eq!(shown["candidates"][1]["state"], "done");

    // A loser's merge is refused while its group has another winner.
    let refused = run(repo.vnx().args(["merge", demo]));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!("which {small} won")),
        "{}",
        refused.stderr
    );
    // The winner merges.
    let merged = run(repo.vnx().args(["merge", small]));
    assert_eq!(merged.code, 0, "{}\n{}", merged.stdout, merged.stderr);
    assert_eq!(
        repo.env.git(&["show", "HEAD:greeting.txt"]),
        "hello\nworld\n"
    );
    // The others are kept: their branches are still there, with their work.
    let branches = repo.branches();
    for id in [broken, demo] {
        assert!(branches.contains(&format!("dispatch/{id}")), "{branches}");
    }
    assert_eq!(repo.on_branch(broken, "BROKEN"), "oops\n");
    // Overriding merges a loser on purpose (here it conflicts with nothing).
    let forced = run(repo
        .vnx()
        .args(["merge", demo, "--override-group", "--check"]));
    assert!(
        forced.stderr.contains("merging anyway"),
        "{}",
        forced.stderr
    );
    assert!(!forced.stderr.contains("refused: "), "{}", forced.stderr);
}

#[test]
fn a_group_where_every_candidate_fails_has_no_winner() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    setup(
        &repo,
        tools.path(),
        &[
            ("broken", "echo oops > BROKEN"),
            ("forbidden", "echo fine > fine.txt"),
        ],
    );
    // A blocking constraint refuses the `forbidden` provider.
    let constraints = repo.env.path().join("provider_constraints.yaml");
    let text = std::fs::read_to_string(&constraints).unwrap().replacen(
        "constraints:\n",
        "constraints:\n  - id: no-forbidden\n    rule: forbid_route\n    forbidden_route:\n      \
         provider: forbidden\n    reason: not this one\n    enforcement: code_raise\n    \
         audit_severity: blocking\n    override_allowed: false\n",
        1,
    );
    std::fs::write(&constraints, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "forbid a provider"]);
    let r = best_of(&repo, &["broken", "demo:fail", "forbidden"], &["--json"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let decision: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(decision["winner"], serde_json::Value::Null);
    assert!(
        decision["reason"]
            .as_str()
            .unwrap()
            .starts_with("no winner"),
        "{decision:#}"
    );
    let cs = decision["candidates"].as_array().unwrap();
    assert_eq!(cs.len(), 3);
    // The refused candidate lost, recorded: its refusal is on the ledger under its id.
    assert_eq!(cs[2]["entry"], "refused", "{decision:#}");
    assert_eq!(cs[2]["status"], serde_json::Value::Null);
    assert!(
        cs[2]["reason"].as_str().unwrap().contains("no-forbidden"),
        "{decision:#}"
    );
    let refused = cs[2]["dispatch_id"].as_str().unwrap();
    let receipts = repo.receipts(refused);
    assert_eq!(
        receipts[0]["event_type"], "constraint_decision",
        "{receipts:?}"
    );
    assert!(
        !repo.branches().contains(refused),
        "nothing of it was launched"
    );
    assert!(
        cs.iter().all(|c| c["verdict"] == "disqualified"),
        "{decision:#}"
    );
    assert_eq!(cs[0]["gate_decision"], "HOLD");
    // The failed dispatch never reached its gates.
    assert_eq!(cs[1]["status"], "failed");
    assert_eq!(cs[1]["gate_report"], serde_json::Value::Null);
    // Neither merges without an override.
    let id = cs[0]["dispatch_id"].as_str().unwrap();
    let refused = run(repo.vnx().args(["merge", id]));
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("no winner"), "{}", refused.stderr);
}

#[test]
fn a_detached_group_prints_its_ids_and_is_decided_later() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    setup(&repo, tools.path(), &[("small", "echo hi > greeting.txt")]);
    let r = best_of(&repo, &["small", "demo:commit"], &["--detach"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut lines = r.stdout.lines();
    let group = lines.next().unwrap().to_owned();
    let ids: Vec<&str> = lines.map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{}", r.stdout);
    // A decision vnx did not sign decides nothing: `receipts append` refuses the kind, and
    // one written into the ledger file directly is ignored.
    let forged = format!(
        r#"{{"event_type":"group_decision","group_id":"{group}","rule":"mine","winner":"{}","reason":"forged","candidates":[]}}"#,
        ids[1]
    );
    let appended = run(repo
        .vnx()
        .args(["receipts", "append", "--receipt", &forged]));
    assert_eq!(appended.code, 2, "{}", appended.stderr);
    vnx::ledger::Ledger::new(ledger_path(&repo))
        .append(&vnx::ledger::Receipt::from_json(forged.as_bytes()).unwrap())
        .unwrap();
    let shown = run(repo.vnx().args(["group", "show", &group, "--json"]));
    let shown: serde_json::Value = serde_json::from_str(shown.stdout.trim()).unwrap();
    assert_eq!(shown["winner"], serde_json::Value::Null, "{shown:#}");
    assert_eq!(
        shown["unattested"].as_array().unwrap().len(),
        1,
        "{shown:#}"
    );
    // Undecided: neither merges yet, the forged winner included.
    let undecided = run(repo.vnx().args(["merge", ids[1], "--check"]));
    assert_eq!(undecided.code, 1);
    assert!(
        undecided.stderr.contains("no decision yet"),
        "{}",
        undecided.stderr
    );
    let decided = run(repo.vnx().args(["group", "decide", &group]));
    assert_eq!(decided.code, 0, "{}\n{}", decided.stdout, decided.stderr);
    assert!(
        decided
            .stdout
            .starts_with(&format!("{group}  winner {}", ids[0])),
        "{}",
        decided.stdout
    );
    // The same as JSON: the members docs/json.md lists.
    let r = best_of(&repo, &["small", "demo:commit"], &["--detach", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let started: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let nested = [
        "index",
        "dispatch_id",
        "provider",
        "model",
        "entry",
        "reason",
    ];
    assert_eq!(keys(&started), documented("group-started-members", &nested));
    for c in started["candidates"].as_array().unwrap() {
        assert!(keys(c).iter().all(|k| nested.contains(&k.as_str())), "{c}");
    }
    let group = started["group_id"].as_str().unwrap();
    let decided = run(repo.vnx().args(["group", "decide", group, "--json"]));
    assert_eq!(decided.code, 0, "{}", decided.stderr);
    let decision: serde_json::Value = serde_json::from_str(decided.stdout.trim()).unwrap();
    assert_documented(&decision);
    let shown = run(repo.vnx().args(["group", "show", group, "--json"]));
    let shown: serde_json::Value = serde_json::from_str(shown.stdout.trim()).unwrap();
    assert_eq!(keys(&shown), documented("group-show-members", &["state"]));
    assert_eq!(shown["decision"], decision);

    // Fewer than two candidates is a usage error.
    let one = best_of(&repo, &["small"], &[]);
    assert_eq!(one.code, 2, "{}", one.stderr);
}

#[test]
fn the_review_comes_before_the_size_of_the_change() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    setup_with(
        &repo,
        tools.path(),
        "gates:\n\
         \x20 review: {kind: review, provider: judge}\n\
         roles:\n\
         \x20 implementer: {gates: [review]}\n",
        &[
            // A reviewer that passes everything, with a minor finding on what looks sloppy.
            (
                "judge",
                r#"case "$*" in
  *SLOPPY*) echo '{"verdict":"pass","findings":[{"severity":"minor","message":"sloppy"}]}' ;;
  *) echo '{"verdict":"pass","findings":[]}' ;;
esac"#,
            ),
            ("sloppy", "echo SLOPPY > s.txt"),
            ("tidy", "printf 'a\\nb\\nc\\n' > t.txt"),
        ],
    );
    let r = best_of(&repo, &["sloppy", "tidy"], &["--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let decision: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let cs = decision["candidates"].as_array().unwrap();
    let (sloppy, tidy) = (&cs[0], &cs[1]);
    assert_eq!(decision["winner"], tidy["dispatch_id"], "{decision:#}");
    assert_eq!(sloppy["review"]["findings"], 1, "{sloppy:#}");
    assert_eq!(sloppy["review"]["passed"], true);
    assert_eq!(sloppy["change"]["lines"], 1);
    assert_eq!(tidy["review"]["findings"], 0, "{tidy:#}");
    assert_eq!(tidy["change"]["lines"], 3);
    assert_eq!(sloppy["verdict"], "lost");
    assert!(
        sloppy["reason"]
            .as_str()
            .unwrap()
            .contains("review passed with 0 finding(s)"),
        "{sloppy:#}"
    );
}

#[test]
fn best_of_takes_the_role_and_the_default_providers_worker_from_the_defaults() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    setup(&repo, tools.path(), &[("small", "echo hi > greeting.txt")]);
    crate::common::demo_defaults(&repo, "  model: commit\n  lane: interactive\n");

    // No --agent: the default role. `demo` takes the default model and lane, `demo:dirty`
    // its own model and the default lane, the declared `small` neither.
    let mut cmd = repo.vnx();
    cmd.args(["best-of", "--instruction", "add a greeting", "--json"]);
    for c in ["demo", "demo:dirty", "small"] {
        cmd.args(["--candidate", c]);
    }
    let r = run(cmd);
    assert!(r.code <= 1, "{}\n{}", r.stdout, r.stderr);
    let decision: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let ids: Vec<String> = decision["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["dispatch_id"].as_str().unwrap().to_owned())
        .collect();
    let started = |id: &str| {
        repo.receipts(id)
            .into_iter()
            .find(|r| r["event_type"] == "dispatch_started")
            .unwrap()
    };
    for (id, (provider, model, lane)) in ids.iter().zip([
        ("demo", json!("commit"), "interactive"),
        ("demo", json!("dirty"), "interactive"),
        ("small", serde_json::Value::Null, "headless"),
    ]) {
        let s = started(id);
        assert_eq!(s["role"], "implementer", "{s}");
        assert_eq!(s["provider"], provider, "{s}");
        assert_eq!(s["model"], model, "{s}");
        assert_eq!(s["lane"], lane, "{s}");
    }

    // Without a default role, and without --agent, a usage error that names both.
    let path = repo.env.path().join(".vnx/config.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replacen("  role: implementer\n", "", 1);
    std::fs::write(&path, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "no default role"]);
    let r = run(repo.vnx().args([
        "best-of",
        "--instruction",
        "x",
        "--candidate",
        "demo",
        "--candidate",
        "small",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("error: no role given"), "{}", r.stderr);
    assert!(r.stderr.contains("defaults: {role: ROLE}"), "{}", r.stderr);
}
