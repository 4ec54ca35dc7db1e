//! Checkpoints: the signing key, the ref and its history, and what verify makes of forged or
//! foreign checkpoints.

use std::os::unix::fs::PermissionsExt;

use crate::common::{TestEnv, run, verify_json, violations};

fn checkpoint(env: &TestEnv) -> crate::common::Run {
    run(env.vnx_ledger(&["audit-chain", "checkpoint"]))
}

fn repo_env(n: usize) -> TestEnv {
    let env = TestEnv::new();
    env.git_init();
    env.fill(n);
    env
}

#[test]
fn first_checkpoint_creates_a_private_key_and_a_ref() {
    let env = repo_env(3);
    let r = checkpoint(&env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("checkpoint "), "{}", r.stdout);
    assert!(r.stdout.contains("at line 3"), "{}", r.stdout);
    assert!(
        r.stderr.contains("created checkpoint signing key"),
        "{}",
        r.stderr
    );
    let key = env.home().join(".config/vnx/checkpoint.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(key.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let log = env.git(&["log", "--format=%s", "refs/vnx/checkpoints"]);
    assert_eq!(
        log.trim(),
        "vnx checkpoint: state/t0_receipts.ndjson at line 3"
    );
    let body = env.git(&["show", "refs/vnx/checkpoints:checkpoint"]);
    assert!(
        body.starts_with(
            "vnx-ledger-checkpoint v1\nledger state/t0_receipts.ndjson\nlines 3\nhead "
        )
    );
}

#[test]
fn checkpoints_keep_history_and_are_idempotent() {
    let env = repo_env(3);
    assert_eq!(checkpoint(&env).code, 0);
    let again = checkpoint(&env);
    assert_eq!(again.code, 0);
    assert!(again.stdout.starts_with("unchanged"), "{}", again.stdout);
    env.fill(2);
    assert_eq!(checkpoint(&env).code, 0);
    let log = env.git(&["log", "--format=%s", "refs/vnx/checkpoints"]);
    assert_eq!(log.lines().count(), 2, "{log}");
    let (code, report) = verify_json(&env);
    assert_eq!(code, 0);
    let cps = report["report"]["checkpoints"].as_array().unwrap();
    assert_eq!(cps.len(), 2);
    assert!(cps.iter().all(|c| c["ok"] == true));
    // --strict passes once the ledger is anchored.
    let strict = run(env.vnx_ledger(&["audit-chain", "verify"]).arg("--strict"));
    assert_eq!(strict.code, 0, "{}", strict.stdout);
}

#[test]
fn broken_or_empty_ledgers_are_not_checkpointed() {
    let env = repo_env(4);
    let mut lines = env.lines();
    lines[1].extend_from_slice(b" ");
    env.write_lines(&lines);
    let r = checkpoint(&env);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);
    assert!(
        r.stderr.contains("hint: run `vnx audit-chain verify`"),
        "{}",
        r.stderr
    );

    let env = TestEnv::new();
    env.git_init();
    std::fs::write(env.ledger(), b"").unwrap();
    let r = checkpoint(&env);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("nothing to checkpoint"), "{}", r.stderr);
}

#[test]
fn key_readable_by_others_is_refused() {
    let env = repo_env(2);
    assert_eq!(checkpoint(&env).code, 0);
    let key = env.home().join(".config/vnx/checkpoint.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    env.fill(1);
    let r = checkpoint(&env);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("readable by others"), "{}", r.stderr);
    assert!(r.stderr.contains("chmod 600"), "{}", r.stderr);
}

#[test]
fn key_inside_the_repository_is_refused() {
    let env = repo_env(2);
    let r = run(env
        .vnx_ledger(&["audit-chain", "checkpoint"])
        .arg("--key")
        .arg(env.path().join("key")));
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("inside the repository"), "{}", r.stderr);
}

#[test]
fn outside_a_repository_checkpoint_says_so() {
    let env = TestEnv::new();
    env.fill(2);
    let r = checkpoint(&env);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("not inside a git repository"),
        "{}",
        r.stderr
    );
}

#[test]
fn forged_checkpoint_signature_is_a_violation() {
    let env = repo_env(3);
    assert_eq!(checkpoint(&env).code, 0);
    // Rewrite the checkpoint's claimed line count without re-signing.
    let body = env.git(&["show", "refs/vnx/checkpoints:checkpoint"]);
    let forged = body.replace("lines 3", "lines 2");
    let dir = env.dir.path().join("forge");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("checkpoint"), forged).unwrap();
    let blob = env.git(&[
        "hash-object",
        "-w",
        dir.join("checkpoint").to_str().unwrap(),
    ]);
    let sig = env.git(&["rev-parse", "refs/vnx/checkpoints:signature"]);
    let key = env.git(&["rev-parse", "refs/vnx/checkpoints:public_key"]);
    let tree_spec = format!(
        "100644 blob {}\tcheckpoint\n100644 blob {}\tpublic_key\n100644 blob {}\tsignature\n",
        blob.trim(),
        key.trim(),
        sig.trim()
    );
    std::fs::write(dir.join("tree"), tree_spec).unwrap();
    let mut mktree = std::process::Command::new("git");
    crate::common::hermetic(&mut mktree, &env.home());
    let out = mktree
        .current_dir(env.path())
        .arg("mktree")
        .stdin(std::fs::File::open(dir.join("tree")).unwrap())
        .output()
        .unwrap();
    let tree = String::from_utf8(out.stdout).unwrap();
    let commit = env.git(&["commit-tree", tree.trim(), "-m", "forged"]);
    env.git(&["update-ref", "refs/vnx/checkpoints", commit.trim()]);
    let (code, report) = verify_json(&env);
    assert_eq!(code, 1, "{report:#}");
    // The forged commit replaced the ref, so the checkpoint this machine made is gone too.
    assert_eq!(
        violations(&report),
        vec![
            (2, "checkpoint_invalid".to_owned()),
            (3, "checkpoint_rolled_back".to_owned())
        ]
    );
}

#[test]
fn checkpoint_signed_by_a_foreign_key_is_not_trusted() {
    let env = repo_env(3);
    let foreign = env.dir.path().join("foreign.key");
    let r = run(env
        .vnx_ledger(&["audit-chain", "checkpoint"])
        .arg("--key")
        .arg(&foreign));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Without a local key, any correctly signed checkpoint counts.
    assert_eq!(verify_json(&env).0, 0);
    // With a local key, only its own checkpoints do.
    env.fill(1);
    assert_eq!(checkpoint(&env).code, 0);
    let (code, report) = verify_json(&env);
    assert_eq!(code, 1);
    let v = &report["report"]["violations"][0];
    assert_eq!(v["kind"], "checkpoint_untrusted");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("which this repository does not trust"),
        "{report:#}"
    );
    assert_eq!(
        report["report"]["checkpoints"][0]["untrusted"], true,
        "{report:#}"
    );
}

#[test]
fn checkpoint_from_a_linked_worktree_names_the_main_ledger() {
    let env = repo_env(2);
    let wt = env.dir.path().join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap()]);
    let r = run(env
        .vnx()
        .current_dir(&wt)
        .args(["audit-chain", "checkpoint", "--ledger"])
        .arg(env.ledger())
        .arg("--json"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["checkpoint"]["ledger"], "state/t0_receipts.ndjson");
}

/// Rewrites every line before the last `keep` ones with forged receipts of the same count.
fn forge_prefix(env: &TestEnv, keep: usize) {
    let lines = env.lines();
    let (head, tail) = lines.split_at(lines.len() - keep);
    std::fs::remove_file(env.ledger()).unwrap();
    let ledger = vnx::ledger::Ledger::new(env.ledger());
    for i in 0..head.len() {
        ledger
            .append(&crate::common::receipt(&format!(
                r#"{{"event_type":"forged","i":{i}}}"#
            )))
            .unwrap();
    }
    let mut data = std::fs::read(env.ledger()).unwrap();
    for l in tail {
        data.extend_from_slice(l);
        data.push(b'\n');
    }
    std::fs::write(env.ledger(), data).unwrap();
}

fn assert_checkpoint_catches(env: &TestEnv) {
    let (code, report) = verify_json(env);
    assert_eq!(code, 1, "{report:#}");
    let kinds: Vec<String> = violations(&report).into_iter().map(|(_, k)| k).collect();
    assert!(
        kinds.iter().any(|k| k.starts_with("checkpoint_")),
        "{report:#}"
    );
}

#[test]
fn a_checkpoint_covers_lines_before_a_foreign_epoch_marker() {
    // A marker written by VNX's own seal has no byte link, so the chain of byte links stops
    // there; the checkpoint's history digest still covers everything before it.
    let env = repo_env(3);
    let mut data = std::fs::read(env.ledger()).unwrap();
    data.extend_from_slice(
        format!(
            "{{\"type\": \"chain_epoch_start\", \"epoch\": 1, \"epoch_ts\": \"2026-08-20T00:00:00+00:00\", \"prev_hash\": \"{}\"}}\n",
            "0".repeat(64)
        )
        .as_bytes(),
    );
    std::fs::write(env.ledger(), data).unwrap();
    env.fill(2);
    assert_eq!(verify_json(&env).0, 0);
    assert_eq!(checkpoint(&env).code, 0);
    forge_prefix(&env, 3);
    assert_checkpoint_catches(&env);
}

#[test]
fn a_checkpoint_covers_a_legacy_vnx_prefix() {
    let env = TestEnv::new();
    env.git_init();
    std::fs::copy(
        crate::common::repo_dir().join("receipts/golden/vnx-python/verified.ndjson"),
        env.ledger(),
    )
    .unwrap();
    env.fill(1);
    assert_eq!(checkpoint(&env).code, 0);
    // VNX's weakness: edit line 5 and fix only line 6's prev_hash. VNX's own link accepts it.
    let mut lines = env.lines();
    let text = String::from_utf8(lines[4].clone()).unwrap();
    let edited = text.replacen("\"status\": \"", "\"status\": \"FORGED-", 1);
    assert_ne!(edited, text);
    let scratch = &mut vnx::ledger::line::Scratch::default();
    let old_hash = vnx::ledger::line::analyze(text.as_bytes(), scratch)
        .entry
        .unwrap()
        .entry_hash;
    let new_hash = vnx::ledger::line::analyze(edited.as_bytes(), scratch)
        .entry
        .unwrap()
        .entry_hash;
    lines[4] = edited.into_bytes();
    lines[5] = String::from_utf8(lines[5].clone())
        .unwrap()
        .replace(&hex::encode(old_hash), &hex::encode(new_hash))
        .into_bytes();
    env.write_lines(&lines);
    assert_checkpoint_catches(&env);
}

#[test]
fn a_checkpoint_over_a_blank_last_line_still_covers_history() {
    let env = repo_env(3);
    let mut data = std::fs::read(env.ledger()).unwrap();
    data.push(b'\n');
    std::fs::write(env.ledger(), data).unwrap();
    assert_eq!(checkpoint(&env).code, 0);
    forge_prefix(&env, 1);
    assert_checkpoint_catches(&env);
}

#[test]
fn listed_keys_are_trusted_on_a_machine_with_its_own_key() {
    let env = repo_env(3);
    let other = env.dir.path().join("other-machine.key");
    let r = run(env
        .vnx_ledger(&["audit-chain", "checkpoint"])
        .arg("--key")
        .arg(&other));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let other_public = env.git(&["show", "refs/vnx/checkpoints:public_key"]);
    // This machine makes its own key by checkpointing after a new receipt ...
    env.fill(1);
    std::fs::create_dir_all(env.path().join(".vnx")).unwrap();
    std::fs::write(
        env.path().join(".vnx/checkpoint-keys"),
        format!("# CI runner\n{other_public}"),
    )
    .unwrap();
    let r = checkpoint(&env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // ... and trusts both: the listed one and its own.
    let (code, report) = verify_json(&env);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["report"]["checkpoints"].as_array().unwrap().len(), 2);
}
