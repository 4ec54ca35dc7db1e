//! Remote hosts over a real OpenSSH server: `sshd` on a loopback port with generated host and
//! client keys and a private config, and a directory standing in for the remote machine (its
//! own HOME, its own clone, its own tmux socket, this build's `vnx`). A remote demo dispatch
//! through gate-check and merge here; the host's receipts mirrored and verified, a tampered
//! one detected; the link killed mid-dispatch and caught up by `wait`; a host without vnx, or
//! with one too old, refused with nothing left behind.

use std::process::Stdio;

use crate::common::{Remote, completion, configure, gate_check, git, run, violations, wait_for};
use crate::json_schema::documented;

#[test]
fn a_remote_demo_dispatch_is_gated_and_merged_here() {
    let remote = Remote::new();
    configure(
        &remote.repo,
        "gates:\n  tests: {kind: command, argv: [sh, -c, 'test -s demo-output.txt']}\n\
         roles:\n  implementer: {gates: [tests]}\n",
    );
    let r = remote
        .repo
        .vnx()
        .args(["doctor", "--host", "box"])
        .output()
        .unwrap();
    let doctor = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{doctor}");
    assert!(doctor.contains("PASS  vnx     vnx "), "{doctor}");
    let r = run(remote
        .repo
        .vnx()
        .args(["doctor", "--host", "box", "--json"]));
    let doctor: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(keys(&doctor), documented("host-doctor-members"));
    // The instruction crosses the host's shell as one quoted word, whatever it holds.
    let instruction = "add the demo output; it's $(id) `id` \"q\" \\ ~ *\nline two";
    let r = remote.dispatch("box", "commit", &["--instruction", instruction]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let done = completion(&r);
    let id = done["dispatch_id"].as_str().unwrap().to_owned();
    let started: serde_json::Value = remote
        .lines()
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event_type"] == "dispatch_started")
        .unwrap();
    use sha2::Digest;
    assert_eq!(
        started["instruction_sha256"],
        hex::encode(sha2::Sha256::digest(instruction.as_bytes())),
        "{started:#}"
    );
    assert_eq!(done["status"], "done");
    assert_eq!(done["remote"]["host"], "box", "{done:#}");
    // It ran on the host: its worktree and session were there, its branch came back here.
    assert!(remote.host_has_completion(&id));
    assert!(!remote.repo.on_branch(&id, "demo-output.txt").is_empty());
    let status = run(remote.repo.vnx().args(["status", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(list[0]["host"], "box", "{list:#}");
    assert_eq!(list[0]["status"], "done", "{list:#}");
    // The mirrored host lines and the local ones verify.
    let r = run(remote.repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (r, report) = gate_check(&remote.repo, &id);
    assert_eq!(r.code, 0, "{} {report:#}", r.stderr);
    let r = run(remote.repo.vnx().args(["merge", &id]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(remote.repo.env.path().join("demo-output.txt").exists());
    remote.repo.verify_ok();
    let mirrored = std::fs::read_to_string(remote.ledger())
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event_type\":\"remote_receipt\""))
        .count();
    assert!(
        mirrored >= 2,
        "the host's start and completion are mirrored"
    );
}

#[test]
fn a_tampered_remote_receipt_is_detected() {
    let remote = Remote::new();
    let r = remote.dispatch("box", "commit", &[]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    remote.repo.verify_ok();
    // Here: a mirrored line's bytes edited in a copy of the ledger.
    let copy = remote.d().join("copy.ndjson");
    let mut lines = remote.lines();
    let at = lines
        .iter()
        .position(|l| l.contains("\"event_type\":\"remote_receipt\""))
        .unwrap();
    lines[at] = lines[at].replacen("timestamp\\\":\\\"2", "timestamp\\\":\\\"1", 1);
    assert_ne!(
        lines[at],
        remote.lines()[at],
        "the edit must change the line"
    );
    std::fs::write(&copy, lines.join("\n") + "\n").unwrap();
    let r = run(remote
        .repo
        .vnx()
        .args(["audit-chain", "verify", "--json", "--ledger"])
        .arg(&copy));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let kinds: Vec<String> = violations(&report).into_iter().map(|(_, k)| k).collect();
    assert!(
        kinds.contains(&"remote_hash_mismatch".to_owned()),
        "{kinds:?}"
    );
    // There: the host rewrites a line already mirrored; the next contact finds it, refuses
    // to dispatch, and the evidence stays on the ledger.
    let last_seq = remote
        .lines()
        .iter()
        .rev()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event_type"] == "remote_receipt")
        .unwrap()["remote_seq"]
        .as_u64()
        .unwrap() as usize;
    let host = std::fs::read_to_string(remote.host_ledger()).unwrap();
    let mut host_lines: Vec<String> = host.lines().map(str::to_owned).collect();
    host_lines[last_seq - 1] =
        host_lines[last_seq - 1].replacen("\"timestamp\":\"2", "\"timestamp\":\"1", 1);
    std::fs::write(remote.host_ledger(), host_lines.join("\n") + "\n").unwrap();
    let r = remote.dispatch("box", "commit", &[]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("does not extend what was mirrored"),
        "{}",
        r.stderr
    );
    let r = run(remote.repo.vnx().args(["audit-chain", "verify", "--json"]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let kinds: Vec<String> = violations(&report).into_iter().map(|(_, k)| k).collect();
    assert_eq!(kinds, ["remote_rewritten"], "{report:#}");
}

#[test]
fn a_lost_link_is_caught_up_by_wait() {
    let mut remote = Remote::new();
    let r = remote.dispatch("box", "slow", &["--detach", "--deadline", "6"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(keys(&launched), documented("remote-launched-members"));
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    // The link goes: the master connection and sshd with it, mid-dispatch.
    remote.kill_sshd();
    assert!(
        !remote.host_has_completion(&id),
        "the dispatch ended before the link was cut"
    );
    let status = run(remote.repo.vnx().args(["status", "--json", &id]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(
        list[0]["status"], "running",
        "a lost link is not a loss: {list:#}"
    );
    assert!(status.stderr.contains("out of reach"), "{}", status.stderr);
    let wait = remote
        .repo
        .vnx()
        .args(["wait", "--json", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The host goes on without the link and ends it at its deadline; then the link is back.
    assert!(
        wait_for_long(|| remote.host_has_completion(&id)),
        "the host never ended the dispatch"
    );
    remote.start_sshd();
    let out = wait.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lost the link to host box"), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["status"], "timeout", "{v:#} {stderr}");
    assert_eq!(out.status.code(), Some(1));
    remote.repo.verify_ok();
}

#[test]
fn a_host_gone_for_good_leaves_its_dispatch_lost_and_closable() {
    let mut remote = Remote::new();
    remote.declare_with(
        "brief",
        env!("CARGO_BIN_EXE_vnx"),
        "    lost_after_seconds: 1\n",
    );
    let r = remote.dispatch("brief", "slow", &["--detach"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    remote.kill_sshd();
    // Out of reach for longer than its lost_after_seconds.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let r = run(remote.repo.vnx().args(["wait", "--json", &id]));
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let status = run(remote.repo.vnx().args(["status", "--json", &id]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(list[0]["status"], "lost", "{list:#}");
    let r = run(remote.repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let status = run(remote.repo.vnx().args(["status", "--json", &id]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(list[0]["status"], "cancelled", "{list:#}");
    remote.repo.verify_ok();
}

#[test]
fn a_host_without_vnx_or_with_an_old_one_is_refused_leaving_nothing() {
    let remote = Remote::new();
    let old = remote.d().join("old-vnx");
    std::fs::write(&old, "#!/bin/sh\necho 'vnx 0.0.9'\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    remote.declare("gone", "/nonexistent/bin/vnx");
    remote.declare("old", old.to_str().unwrap());
    for (host, says) in [
        ("gone", "has no `/nonexistent/bin/vnx`"),
        ("old", "runs vnx 0.0.9, older than"),
    ] {
        let r = remote.dispatch(host, "commit", &[]);
        assert_eq!(r.code, 3, "{host}: {} {}", r.stdout, r.stderr);
        assert!(r.stderr.contains(says), "{host}: {}", r.stderr);
        assert!(
            r.stderr.contains("hint: install this vnx on the host"),
            "{}",
            r.stderr
        );
    }
    // Nothing here: no receipt, no record, no branch; nothing there: no pushed ref.
    assert!(remote.lines().is_empty(), "{:?}", remote.lines());
    let records = remote.repo.env.path().join(".vnx-data/remote/dispatches");
    assert!(std::fs::read_dir(&records).map_or(true, |mut d| d.next().is_none()));
    assert_eq!(remote.repo.branches(), "");
    let refs = git(
        &remote.repo.env.home(),
        &remote.clone_dir(),
        &["for-each-ref", "refs/vnx"],
    );
    assert_eq!(refs, "");
}

/// Whether `cond` holds within 60 s (a host's deadline passing).
fn wait_for_long(mut cond: impl FnMut() -> bool) -> bool {
    (0..6).any(|_| wait_for(&mut cond))
}

fn keys(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}
