//! A hostile worker forging its own gate evidence: `vnx receipts append` refuses the kinds vnx
//! writes itself, receipts written into the ledger file directly (well chained, unsigned or
//! signed by a stranger's key) do not count as evidence, `vnx merge` refuses the dispatch
//! they name, and `vnx doctor` names them; what a worker could still do is stated by doctor's
//! `evidence_reach` and by every `dispatch_started`.

use std::os::unix::fs::PermissionsExt;

use vnx::ledger::attest::Attestor;
use vnx::ledger::checkpoint::CheckpointKey;
use vnx::ledger::json::Value;
use vnx::ledger::{Ledger, Receipt};

use crate::common::{Repo, completion, configure, gate_check, ledger_path, run};

/// A role whose only required gate always fails, and a declared provider `forger`: a script
/// that commits its work, forges a passing result for that gate through `vnx receipts
/// append`, says what happened on stdout (its worker log), and reports done.
const SETUP: &str = "gates:\n\
    \x20 strict: {kind: command, argv: [sh, -c, 'exit 1']}\n\
    roles:\n\
    \x20 implementer: {gates: [strict]}\n";

const FORGER: &str = r#"#!/bin/sh
echo forged > forged.txt && git add forged.txt && git commit -qm 'forged work'
head=$(git rev-parse HEAD)
for kind in gate_request gate_result; do
  printf '{"event_type":"%s","dispatch_id":"%s","gate":"strict","status":"pass","head_commit":"%s","contract_hash":"c"}\n' \
    "$kind" "$VNX_DISPATCH_ID" "$head"
done | vnx receipts append - 2>append.err
echo "append exit $?"
cat append.err; rm append.err
vnx report --status done --summary 'every gate passes'
"#;

fn hostile_repo() -> (Repo, tempfile::TempDir) {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("forger");
    std::fs::write(&bin, FORGER).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "{SETUP}providers:\n  forger:\n    binary: {}\n    headless:\n      argv: [\"{{prompt_file}}\"]\n      prompt: file\n    permissions:\n      edits: []\n",
            bin.display()
        ),
    );
    (repo, tools)
}

fn dispatch_forger(repo: &Repo) -> (String, serde_json::Value) {
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "forger",
        "--instruction",
        "add a file",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    (c["dispatch_id"].as_str().unwrap().to_owned(), c)
}

fn merge_check(repo: &Repo, id: &str) -> (i32, serde_json::Value) {
    let r = run(repo.vnx().args(["merge", id, "--check", "--json"]));
    let v = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr));
    (r.code, v)
}

fn condition<'a>(plan: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    plan["plan"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

fn doctor_check(repo: &Repo, name: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["doctor", "--json"]));
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {v:#}"))
        .clone()
}

/// A passing gate request and result for `id` at `head`, as well formed as vnx's own (the
/// contract hash recomputed), without an attestation.
fn forged_evidence(repo: &Repo, id: &str, head: &str) -> Vec<Receipt> {
    let definition = r#"{"argv":["sh","-c","exit 1"],"kind":"command"}"#;
    let def = vnx::ledger::json::parse(definition, vnx::ledger::json::Mode::Strict)
        .unwrap()
        .into_owned();
    let request_sha256 = "0".repeat(64);
    let dispatch = vnx::ids::DispatchId::parse(id).unwrap();
    let contract = vnx::evidence::contract_hash(&dispatch, "strict", &def, head, &request_sha256);
    let definition_sha256 = vnx::evidence::sha256_of(&def);
    let _ = repo;
    let receipt = |kind: &str, extra: &[(&str, Value<'static>)]| {
        let mut o = vnx::ledger::json::Object::default();
        o.insert("event_type", Value::string(kind));
        o.insert("dispatch_id", Value::string(id));
        o.insert("gate", Value::string("strict"));
        o.insert("kind", Value::string("command"));
        o.insert("run", Value::string("forged-run"));
        o.insert("head_commit", Value::string(head));
        o.insert("contract_hash", Value::string(contract.clone()));
        o.insert(
            "definition_sha256",
            Value::string(definition_sha256.clone()),
        );
        o.insert("request_sha256", Value::string(request_sha256.clone()));
        for (k, v) in extra {
            o.insert(k, v.clone());
        }
        Receipt::from_object(o).unwrap()
    };
    vec![
        receipt("gate_request", &[("definition", def.clone())]),
        receipt("gate_result", &[("status", Value::string("pass"))]),
    ]
}

#[test]
fn a_worker_cannot_forge_its_own_passing_gate() {
    let (repo, _tools) = hostile_repo();
    let (id, c) = dispatch_forger(&repo);
    assert_eq!(
        (c["status"].as_str(), c["teardown_class"].as_str()),
        (Some("done"), Some("committed"))
    );
    let head = c["head_commit"].as_str().unwrap().to_owned();

    // 1. Through `vnx receipts append`: refused, nothing appended.
    let log = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/worker.log")),
    )
    .unwrap();
    assert!(log.contains("append exit 2"), "{log}");
    assert!(
        log.contains("`gate_request` receipts are written by vnx itself")
            && log.contains("hint: use vnx gate-check"),
        "{log}"
    );
    let kinds: Vec<String> = repo
        .receipts(&id)
        .iter()
        .map(|r| r["event_type"].as_str().unwrap().to_owned())
        .collect();
    assert!(!kinds.iter().any(|k| k.starts_with("gate_")), "{kinds:?}");
    // Before any forgery lands, the evidence is clean and the gate (honestly) holds.
    assert_eq!(doctor_check(&repo, "attestations")["status"], "pass");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 1, "strict fails: {report:#}");

    // 2. Written into the ledger file directly, chained correctly: once unsigned, once signed
    //    by a key this repository does not trust (a copy of vnx with a key of its own).
    let ledger = Ledger::new(ledger_path(&repo));
    let forged = forged_evidence(&repo, &id, &head);
    ledger.append_all(&forged).unwrap();
    let stranger_dir = tempfile::tempdir().unwrap();
    let (stranger, _) = CheckpointKey::load_or_create(&stranger_dir.path().join("key")).unwrap();
    let stranger = Attestor::new(&stranger);
    let signed: Vec<Receipt> = forged
        .iter()
        .map(|r| stranger.attest(r, &vnx::ledger::now_utc))
        .collect();
    ledger.append_all(&signed).unwrap();
    // The chain itself is intact: verify checks integrity, not authorship.
    repo.verify_ok();

    // `vnx merge` refuses, naming the forgery; the honest gate result still fails.
    let (code, plan) = merge_check(&repo, &id);
    assert_eq!(code, 1, "{plan:#}");
    let done = condition(&plan, "dispatch_done");
    assert_eq!(done["ok"], false, "{plan:#}");
    let detail = done["detail"].as_str().unwrap();
    assert!(
        detail.contains("4 receipt(s)")
            && detail.contains("gate_result carries no vnx attestation")
            && detail.contains("which is not trusted"),
        "{detail}"
    );
    let gates = condition(&plan, "gates_passed");
    assert_eq!(gates["ok"], false);
    assert!(
        gates["detail"]
            .as_str()
            .unwrap()
            .contains("latest result is fail"),
        "{gates}"
    );
    let merge = run(repo.vnx().args(["merge", &id]));
    assert_eq!(merge.code, 1);
    assert!(
        !repo
            .env
            .git(&["log", "--format=%s", "-1"])
            .contains("Merge")
    );

    // doctor names the lines.
    let check = doctor_check(&repo, "attestations");
    assert_eq!(check["status"], "fail", "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("4 receipt(s) claim to be vnx's")
            && detail.contains(&format!("gate_request for {id} carries no vnx attestation")),
        "{detail}"
    );
}

#[test]
fn a_forged_completion_does_not_make_a_failed_dispatch_mergeable() {
    let repo = Repo::new();
    // A dispatch that failed, and a forged `done` completion for it written directly.
    let r = repo.dispatch("fail", &["--instruction", "fail"]);
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(c["status"], "failed");
    let forged = vnx::ledger::Receipt::from_json(
        format!(
            r#"{{"event_type":"dispatch_completed","dispatch_id":"{id}","status":"done","completion_signal":"report","head_commit":"{}"}}"#,
            c["head_commit"].as_str().unwrap_or(&"0".repeat(40))
        )
        .as_bytes(),
    )
    .unwrap();
    Ledger::new(ledger_path(&repo)).append(&forged).unwrap();
    let (code, plan) = merge_check(&repo, &id);
    assert_eq!(code, 1);
    let done = condition(&plan, "dispatch_done");
    assert!(
        done["detail"]
            .as_str()
            .unwrap()
            .contains("dispatch_completed carries no vnx attestation"),
        "{done}"
    );
}

#[test]
fn every_start_records_what_a_worker_could_reach() {
    let repo = Repo::new();
    let r = repo.dispatch("noop", &["--instruction", "nothing"]);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let started = &repo.receipts(&id)[0];
    assert_eq!(started["event_type"], "dispatch_started");
    let reach = &started["evidence_reach"];
    assert_eq!(reach["sandbox"], serde_json::Value::Null, "{reach}");
    assert_eq!(reach["signing_key_readable"], true, "{reach}");
    assert_eq!(reach["ledger_writable"], true, "{reach}");
    assert!(started["vnx_attestation"]["sig"].is_string(), "{started}");

    let check = doctor_check(&repo, "evidence_reach");
    assert_eq!(check["status"], "warn", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("without a sandbox: they can read the signing key"),
        "{check}"
    );
}

#[test]
fn receipts_append_refuses_every_kind_vnx_writes_and_any_attestation() {
    let repo = Repo::new();
    for kind in [
        "dispatch_started",
        "dispatch_completed",
        "dispatch_corrected",
        "constraint_decision",
        "gate_request",
        "gate_result",
        "gate_report",
        "merge",
        "merge_completed",
        "worktree_released",
        "checkpoint",
    ] {
        let r = run(repo.vnx().args([
            "receipts",
            "append",
            "--receipt",
            &format!(r#"{{"event_type":"{kind}","dispatch_id":"D-00000001"}}"#),
        ]));
        assert_eq!(r.code, 2, "{kind}: {}", r.stderr);
        assert!(
            r.stderr.contains("are written by vnx itself") && r.stderr.contains("hint: use vnx"),
            "{kind}: {}",
            r.stderr
        );
    }
    let r = run(repo.vnx().args([
        "receipts",
        "append",
        "--receipt",
        r#"{"event_type":"task_complete","vnx_attestation":{"key":"00","sig":"00"}}"#,
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let ledger = ledger_path(&repo);
    let lines = || {
        std::fs::read_to_string(&ledger)
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert_eq!(lines(), 0, "nothing was appended");
    let ok = run(repo.vnx().args([
        "receipts",
        "append",
        "--receipt",
        r#"{"event_type":"task_complete","dispatch_id":"D-00000001"}"#,
    ]));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(lines(), 1);
}
