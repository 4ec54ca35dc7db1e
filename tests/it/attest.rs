//! `vnx attest` (issue 73): the in-toto attestation a merge writes and `vnx attest ID` prints,
//! checked by `vnx attest --verify` against the ledger (good, tampered, signed by another key,
//! a subject that is not the merged commit) and by the reference in-toto implementation from
//! PyPI (`tests/support/intoto_verify.py`), which this test skips, saying why, without it.

use std::path::{Path, PathBuf};

use serde_json::Value;
use vnx::ledger::intoto::dsse;

use crate::common::{Repo, Run, committed, configure, gate_check, run};

const GATES: &str = "gates:\n\
    \x20 tests: {kind: command, argv: [sh, -c, 'test -f demo-output.txt']}\n\
    roles:\n\
    \x20 implementer: {gates: [tests]}\n";

/// A repo with a gate and a dispatch that passed it: its id.
fn gated() -> (Repo, String) {
    let repo = Repo::new();
    configure(&repo, GATES);
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{report:#}");
    (repo, id)
}

fn vnx(repo: &Repo, args: &[&str]) -> Run {
    run(repo.vnx().args(args))
}

/// Merges `id`: the `merged` member of its JSON entry.
fn merged(repo: &Repo, id: &str) -> Value {
    let r = vnx(repo, &["merge", id, "--json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let entry: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    entry["merged"].clone()
}

/// The Statement an envelope (one JSON line) carries.
fn statement(envelope: &str) -> Value {
    let e: Value = serde_json::from_str(envelope.trim()).unwrap();
    assert_eq!(e["payloadType"], "application/vnd.in-toto+json");
    let payload = dsse::from_base64(e["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// `envelope` with its payload replaced by `change`d Statement, the signature kept.
fn tampered(envelope: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut e: Value = serde_json::from_str(envelope.trim()).unwrap();
    let mut s = statement(envelope);
    change(&mut s);
    e["payload"] = Value::String(dsse::base64(&serde_json::to_vec(&s).unwrap()));
    serde_json::to_string(&e).unwrap()
}

fn write(repo: &Repo, name: &str, text: &str) -> PathBuf {
    let path = repo.env.home().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn verify(repo: &Repo, file: &Path) -> Run {
    vnx(repo, &["attest", "--verify", file.to_str().unwrap()])
}

#[test]
fn a_merge_leaves_an_attestation_that_verifies_against_the_ledger() {
    let (repo, id) = gated();
    let m = merged(&repo, &id);
    let merge_commit = m["merge_commit"].as_str().unwrap().to_owned();
    let a = &m["attestation"];
    assert_eq!(a["error"], Value::Null, "{m:#}");
    let file = PathBuf::from(a["path"].as_str().unwrap());
    assert!(
        file.starts_with(repo.env.path().join(".vnx-data/attestations")),
        "{file:?}"
    );
    let bytes = std::fs::read(&file).unwrap();
    use sha2::Digest;
    assert_eq!(
        a["sha256"].as_str().unwrap(),
        hex::encode(sha2::Sha256::digest(&bytes))
    );
    let s = statement(&String::from_utf8(bytes).unwrap());
    assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        s["predicateType"],
        "https://vnx.dev/attestation/dispatch/v1"
    );
    let p = &s["predicate"];
    let head = p["head_commit"].as_str().unwrap();
    assert_eq!(
        s["subject"][0]["digest"]["gitCommit"],
        merge_commit.as_str()
    );
    assert_eq!(s["subject"][0]["name"], "refs/heads/main");
    assert_eq!(s["subject"][1]["digest"]["gitCommit"], head);
    assert_eq!(s["subject"][1]["name"], format!("dispatch/{id}"));
    assert_eq!(p["dispatch_id"], id.as_str());
    assert_eq!(p["role"], "implementer");
    assert_eq!(p["cli"]["provider"], "demo");
    assert_eq!(p["instruction_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(p["gates"][0]["gate"], "tests");
    assert_eq!(p["gates"][0]["status"], "pass");
    assert_eq!(p["merge"]["merge_commit"], merge_commit.as_str());
    assert!(
        p["ledger"]["checkpoint"]["lines"].as_u64().unwrap() > 0,
        "{p:#}"
    );

    let r = verify(&repo, &file);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with(&format!(
            "verified: https://vnx.dev/attestation/dispatch/v1 of dispatch {id} (refs/heads/main {merge_commit}"
        )),
        "{}",
        r.stdout
    );

    // Read through the read index (its own lines only) or by a scan of the ledger (no
    // index), the predicate is the same.
    assert_eq!(vnx(&repo, &["status"]).code, 0);
    let index = vnx::dispatch::fold::index::path_in(&repo.env.path().join(".vnx-data"));
    assert!(index.exists(), "no read index at {}", index.display());
    let indexed = statement(&vnx(&repo, &["attest", &id]).stdout);
    std::fs::remove_file(&index).unwrap();
    let scanned = statement(&vnx(&repo, &["attest", &id]).stdout);
    assert_eq!(indexed["predicate"], scanned["predicate"]);
    assert_eq!(indexed["predicate"]["gates"], p["gates"]);

    // `vnx attest ID` says the same, in either predicate, and each verifies.
    for predicate in ["vnx", "slsa"] {
        let r = vnx(&repo, &["attest", &id, "--predicate", predicate]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let s = statement(&r.stdout);
        assert_eq!(
            s["subject"][0]["digest"]["gitCommit"],
            merge_commit.as_str()
        );
        if predicate == "slsa" {
            assert_eq!(s["predicateType"], "https://slsa.dev/provenance/v1");
            let b = &s["predicate"]["buildDefinition"];
            assert_eq!(b["externalParameters"]["dispatch_id"], id.as_str());
            assert_eq!(b["internalParameters"]["gates"][0]["status"], "pass");
            assert_eq!(
                s["predicate"]["runDetails"]["builder"]["id"],
                "https://vnx.dev/dispatcher"
            );
        }
        let file = write(&repo, &format!("{predicate}.intoto.jsonl"), &r.stdout);
        let r = verify(&repo, &file);
        assert_eq!(r.code, 0, "{predicate}: {}{}", r.stdout, r.stderr);
    }
}

#[test]
fn attest_verify_refuses_a_tampered_envelope_another_key_and_an_unmerged_subject() {
    let (repo, id) = gated();
    // Attested before its merge: the subject is the head alone.
    let before = vnx(&repo, &["attest", &id]);
    assert_eq!(before.code, 0, "{}", before.stderr);
    assert!(before.stderr.contains("is not merged"), "{}", before.stderr);
    assert_eq!(
        statement(&before.stdout)["subject"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let early = write(&repo, "early.intoto.jsonl", &before.stdout);
    merged(&repo, &id);

    let r = verify(&repo, &early);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "the attestation of dispatch {id} does not match the ledger: its subject is"
        )),
        "{}",
        r.stderr
    );

    let now = vnx(&repo, &["attest", &id]).stdout;
    // The payload changed after signing: the gate said to have failed.
    let changed = tampered(&now, |s| {
        s["predicate"]["gates"][0]["status"] = "fail".into()
    });
    let r = verify(&repo, &write(&repo, "changed.intoto.jsonl", &changed));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("no signature of the envelope verifies"),
        "{}",
        r.stderr
    );
    // Signed by a key the repository does not trust.
    let other = repo.env.home().join("other.key");
    let r = vnx(&repo, &["attest", &id, "--key", other.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify(&repo, &write(&repo, "other.intoto.jsonl", &r.stdout));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    // Not an envelope at all.
    let r = verify(&repo, &write(&repo, "junk.intoto.jsonl", "{}"));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
}

/// The virtualenv's python with in-toto and securesystemslib (`tests/support/install-intoto.sh`,
/// which bin/test runs and names in `VNX_INTOTO_PYTHON`), or `None`.
fn intoto_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VNX_INTOTO_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let cache = std::env::var_os("VNX_CLI_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vnx-clis")))?;
    Some(cache.join("intoto-python/bin/python")).filter(|p| p.is_file())
}

#[test]
fn in_toto_reference_verifies_a_merge_attestation_and_refuses_forgeries() {
    let Some(python) = intoto_python() else {
        eprintln!(
            "skipped: the reference in-toto implementation is not installed \
             (tests/support/install-intoto.sh; bin/test installs it from PyPI)"
        );
        return;
    };
    let (repo, id) = gated();
    let m = merged(&repo, &id);
    let merge_commit = m["merge_commit"].as_str().unwrap().to_owned();
    let good = PathBuf::from(m["attestation"]["path"].as_str().unwrap());
    let pem = vnx(&repo, &["attest", "--public-key"]);
    assert_eq!(pem.code, 0, "{}", pem.stderr);
    assert!(pem.stdout.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let pem = write(&repo, "vnx.pub.pem", &pem.stdout);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/intoto_verify.py");
    let check = |envelope: &Path, key: &Path, commit: &str| {
        run(std::process::Command::new(&python)
            .arg(&script)
            .args([envelope, key])
            .arg(commit))
    };

    let r = check(&good, &pem, &merge_commit);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("verified:"), "{}", r.stdout);
    let slsa = vnx(&repo, &["attest", &id, "--predicate", "slsa"]).stdout;
    let r = check(&write(&repo, "slsa.jsonl", &slsa), &pem, &merge_commit);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // A tampered envelope.
    let text = std::fs::read_to_string(&good).unwrap();
    let changed = tampered(&text, |s| s["predicate"]["role"] = "reviewer".into());
    let r = check(
        &write(&repo, "changed.jsonl", &changed),
        &pem,
        &merge_commit,
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("not verified: signature"), "{}", r.stdout);
    // A wrong key: another key's PEM.
    let other = repo.env.home().join("other.key");
    let other_pem = vnx(
        &repo,
        &["attest", "--public-key", "--key", other.to_str().unwrap()],
    );
    let r = check(
        &good,
        &write(&repo, "other.pem", &other_pem.stdout),
        &merge_commit,
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("not verified: signature"), "{}", r.stdout);
    // A subject that is not the merged commit: the base's commit before the merge.
    let parent = repo.env.git(&["rev-parse", "HEAD^1"]);
    let r = check(&good, &pem, parent.trim());
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("not verified: subject"), "{}", r.stdout);
}

#[test]
fn the_predicate_carries_review_comments_sent_and_addressed() {
    let repo = Repo::new();
    let id = repo.dispatched("commit", false);
    let r = vnx(
        &repo,
        &[
            "review",
            &id,
            "--comment",
            "demo-output.txt:1",
            "Keep this line.",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let review = |id: &str| {
        let r = vnx(&repo, &["attest", id]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        statement(&r.stdout)["predicate"]["review"].clone()
    };
    let open = review(&id);
    assert_eq!(open[0]["at"], "demo-output.txt:1", "{open:#}");
    assert_eq!(open[0]["state"], "open");
    use sha2::Digest;
    assert_eq!(
        open[0]["body_sha256"].as_str().unwrap(),
        hex::encode(sha2::Sha256::digest(b"Keep this line."))
    );

    let r = vnx(&repo, &["review", &id, "--send", "--json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let follow = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = review(&id);
    assert_eq!(sent[0]["state"], "sent", "{sent:#}");
    assert_eq!(sent[0]["sent_to"], follow.as_str());
    let addressed = review(&follow);
    assert_eq!(addressed[0]["state"], "addressed", "{addressed:#}");
    assert_eq!(addressed[0]["sent_to"], follow.as_str());
}
