//! Remote hosts over a real OpenSSH server: `sshd` on a loopback port with generated host and
//! client keys and a private config, and a directory standing in for the remote machine (its
//! own HOME, its own clone, its own tmux socket, this build's `vnx`). A remote demo dispatch
//! through gate-check and merge here; the host's receipts mirrored and verified, a tampered
//! one detected, a line about a dispatch that runs elsewhere refusing the host; the link killed mid-dispatch and caught up by `wait`; a host without vnx, or
//! with one too old, refused with nothing left behind.

use std::process::{Command, Stdio};

use crate::common::{
    Remote, append_forged_done_to, completion, configure, gate_check, git, run, violations,
    wait_for,
};
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
    let refused = || {
        let r = remote.dispatch("box", "commit", &[]);
        assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("does not extend what was mirrored"),
            "{}",
            r.stderr
        );
    };
    refused();
    let r = run(remote.repo.vnx().args(["audit-chain", "verify", "--json"]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let kinds: Vec<String> = violations(&report).into_iter().map(|(_, k)| k).collect();
    assert_eq!(kinds, ["remote_rewritten"], "{report:#}");
    // And the next contact too: the rewritten line, mirrored as evidence, is not where the
    // host's chain may go on from.
    refused();
}

#[test]
fn a_host_line_about_a_dispatch_that_runs_elsewhere_refuses_the_host_for_good() {
    let remote = Remote::new();
    let r = remote.dispatch("box", "commit", &[]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    // A dispatch of this machine that ran here and failed; the host's ledger then says,
    // well chained, that it is done.
    let here = remote
        .repo
        .dispatch("fail", &["--instruction", "fail here"]);
    let id = completion(&here)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    append_forged_done_to(&remote.host_ledger(), &id);
    let line = std::fs::read_to_string(remote.host_ledger())
        .unwrap()
        .lines()
        .count();
    let refused = || {
        let r = remote.dispatch("box", "commit", &[]);
        assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "host `box` is refused: its line {line} speaks of {id}, a dispatch of \
                 this machine that does not run there"
            )),
            "{}",
            r.stderr
        );
    };
    refused();
    // Nothing it says is believed; it is kept as evidence; and the next contact, whose
    // chain is whole, is refused too.
    let status = run(remote.repo.vnx().args(["status", &id, "--json"]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(list[0]["status"], "failed", "{list:#}");
    assert!(
        remote
            .lines()
            .iter()
            .any(|l| l.contains("remote_receipt") && l.contains(&id)),
        "the forged line is mirrored as evidence"
    );
    refused();
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
fn a_dispatch_given_up_with_its_host_runs_again_when_the_host_answers_and_runs_it() {
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
    let state = |remote: &Remote| {
        let status = run(remote.repo.vnx().args(["status", "--json", &id]));
        let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        (
            list[0]["status"].as_str().unwrap().to_owned(),
            status.stderr,
        )
    };
    for round in 0..2 {
        remote.kill_sshd();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let r = run(remote.repo.vnx().args(["wait", "--json", &id]));
        assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
        assert_eq!(state(&remote).0, "lost", "round {round}");
        // The host answers again and runs it still: running again, said once, recorded once.
        remote.start_sshd();
        let (now, said) = state(&remote);
        assert_eq!(now, "running", "round {round}: {said}");
        assert!(said.contains("runs again on host brief"), "{said}");
        let (now, said) = state(&remote);
        assert_eq!(now, "running");
        assert!(!said.contains("runs again"), "{said}");
    }
    let resumed: Vec<_> = remote
        .repo
        .events("dispatch_resumed")
        .into_iter()
        .filter(|r| r["after"] == "lost")
        .collect();
    assert_eq!(resumed.len(), 2, "{resumed:#?}");
    assert_eq!(remote.repo.events("remote_lost").len(), 2);
    let r = run(remote.repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(wait_for_long(|| state(&remote).0 == "cancelled"));
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

#[test]
fn a_dispatch_for_a_full_host_is_queued_and_starts_when_a_slot_frees_there() {
    let remote = Remote::with_capacity(1);
    // The host's one slot is taken until the host ends the first at its deadline.
    let r = remote.dispatch("any", "slow", &["--detach", "--deadline", "5"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let first: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(first["host"], "box", "{first:#}");
    let first = first["dispatch_id"].as_str().unwrap().to_owned();
    // For any host, then for the host by name with a higher priority: both wait, in order.
    let r = remote.dispatch("any", "commit", &["--detach"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let queued: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(queued["state"], "queued", "{queued:#}");
    assert_eq!(queued["queue_position"], 1, "{queued:#}");
    assert!(
        r.stderr.contains("every host is at its capacity"),
        "{}",
        r.stderr
    );
    let second = queued["dispatch_id"].as_str().unwrap().to_owned();
    let r = remote.dispatch("box", "commit", &["--detach", "--priority", "5"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let third: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(third["queue_position"], 1, "{third:#}");
    let third = third["dispatch_id"].as_str().unwrap().to_owned();
    // One whose latest start has passed is rejected, with its receipt.
    let r = remote.dispatch("any", "commit", &["--start-by", "2020-01-01T00:00:00Z"]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("has passed"), "{}", r.stderr);
    let status = run(remote.repo.vnx().args(["status", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let of = |list: &serde_json::Value, id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|s| s["dispatch_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {list:#}"))
    };
    assert_eq!(of(&list, &first)["status"], "running", "{list:#}");
    assert_eq!(of(&list, &second)["status"], "queued", "{list:#}");
    assert_eq!(of(&list, &second)["host"], "any", "{list:#}");
    assert_eq!(of(&list, &second)["queue"]["position"], 2, "{list:#}");
    assert_eq!(of(&list, &third)["host"], "box", "{list:#}");
    assert_eq!(of(&list, &third)["queue"]["position"], 1, "{list:#}");
    let r = run(remote.repo.vnx().args(["show", &second]));
    assert!(
        r.stdout
            .contains("position 2 in the hosts' queue (waiting for any host)"),
        "{}",
        r.stdout
    );
    // Cancelling a queued one takes it out: nothing of it ever reaches the host.
    let r = run(remote.repo.vnx().args(["cancel", &third]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(r.stdout.contains("taken out of the queue"), "{}", r.stdout);
    // The wait catches up with the host, sees the first end there, and starts the second
    // on the freed slot; then waits for it.
    let r = run(remote.repo.vnx().args(["wait", "--json", &second]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let done = completion(&r);
    assert_eq!(done["status"], "done", "{done:#}");
    assert_eq!(done["remote"]["host"], "box", "{done:#}");
    assert!(remote.host_has_completion(&second));
    assert!(!remote.repo.on_branch(&second, "demo-output.txt").is_empty());
    let status = run(remote.repo.vnx().args(["status", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(of(&list, &first)["status"], "timeout", "{list:#}");
    assert_eq!(of(&list, &second)["status"], "done", "{list:#}");
    assert_eq!(of(&list, &second)["host"], "box", "{list:#}");
    assert_eq!(of(&list, &third)["status"], "cancelled", "{list:#}");
    // The decisions, signed: queued for any host, admitted on box after the first ended
    // there; the cancelled one never started on the host.
    let lines: Vec<serde_json::Value> = remote
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at = |pred: &dyn Fn(&serde_json::Value) -> bool| lines.iter().position(pred);
    let decided = |id: &str, verdict: &str| {
        at(&|v| {
            v["event_type"] == "queue_decision"
                && v["dispatch_id"] == id
                && v["decision"] == verdict
        })
    };
    let queued_at = decided(&second, "queued").expect("a queued decision");
    assert_eq!(lines[queued_at]["host"], "any");
    let admitted_at = decided(&second, "admitted").expect("an admitted decision");
    assert_eq!(
        lines[admitted_at]["host"], "box",
        "{:#}",
        lines[admitted_at]
    );
    let first_ended = at(&|v| v["event_type"] == "dispatch_completed" && v["dispatch_id"] == first)
        .expect("the first's completion");
    assert!(first_ended < admitted_at, "started before a slot was free");
    assert!(decided(&third, "cancelled").is_some());
    assert!(decided(&third, "admitted").is_none());
    assert!(
        !std::fs::read_to_string(remote.host_ledger())
            .unwrap()
            .contains(&third)
    );
    // In the foreground, a dispatch for a full host says it is queued and waits through its
    // start on the host to its end.
    let r = remote.dispatch("any", "slow", &["--detach", "--deadline", "4"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let r = remote.dispatch("box", "commit", &[]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("host box is at its capacity"),
        "{}",
        r.stderr
    );
    let done = completion(&r);
    assert_eq!(done["status"], "done", "{done:#}");
    assert_eq!(done["remote"]["host"], "box", "{done:#}");
    let queue = remote.repo.env.path().join(".vnx-data/queue");
    assert!(
        std::fs::read_dir(&queue)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".json")),
        "the queue is empty"
    );
    remote.repo.verify_ok();
}

#[test]
fn the_log_of_a_remote_dispatch_is_read_and_followed_on_its_host() {
    let mut remote = Remote::new();
    let r = remote.dispatch("box", "slow", &["--detach", "--deadline", "6"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    // Followed as the host's worker writes it, through a lost link, until the host ends the
    // dispatch.
    let mut follow = remote
        .repo
        .vnx()
        .args(["show", &id, "--log", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("working for an hour") {
        use std::io::BufRead;
        let mut line = String::new();
        assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "{seen}");
        seen.push_str(&line);
    }
    assert!(
        !remote.host_has_completion(&id),
        "the dispatch ended before the link was cut"
    );
    remote.kill_sshd();
    remote.start_sshd();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out = follow.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{seen}{rest} {stderr}");
    assert!(stderr.contains("lost the link to host box"), "{stderr}");
    let all = seen + &rest;
    assert!(all.contains("demo worker: slow"), "{all}");
    assert_eq!(all.matches("working for an hour").count(), 1, "{all}");
    assert!(
        remote.host_has_completion(&id),
        "--follow returned before the dispatch ended on its host"
    );
    // Nothing of the log is here: it was read there. A worker's control characters come
    // back escaped.
    let here = remote
        .repo
        .env
        .path()
        .join(".vnx-data/dispatches")
        .join(&id)
        .join("worker.log");
    assert!(!here.exists());
    let there = remote
        .clone_dir()
        .join(".vnx-data/dispatches")
        .join(&id)
        .join("worker.log");
    let mut log = std::fs::read(&there).unwrap();
    log.extend_from_slice("\u{1b}[31mred\u{7} \u{e9}\u{1b}[2J\n".as_bytes());
    std::fs::write(&there, log).unwrap();
    let r = run(remote.repo.vnx().args(["show", &id, "--log"]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(r.stdout.contains("working for an hour"), "{}", r.stdout);
    assert!(
        // Its colour left out, any other control shown, never obeyed.
        r.stdout.contains("\nred\\u{7} \u{e9}\\e[2J\n"),
        "{:?}",
        r.stdout
    );
    assert!(!r.stdout.contains('\u{1b}'), "{:?}", r.stdout);
    // The local log of an unknown dispatch is still refused as before.
    let r = run(remote.repo.vnx().args(["show", "D-00000000", "--log"]));
    assert_eq!(r.code, 2, "{} {}", r.stdout, r.stderr);
}

#[test]
fn show_attach_cancel_and_follow_up_work_on_a_remote_dispatch() {
    let remote = Remote::new();
    let r = remote.dispatch("box", "slow", &["--detach"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    let r = run(remote.repo.vnx().args(["show", &id]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("{id}  running")), "{}", r.stdout);
    assert!(r.stdout.contains("  host       box\n"), "{}", r.stdout);
    let r = run(remote.repo.vnx().args(["show", "--json", &id]));
    let shown: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(shown["host"], "box", "{shown:#}");
    // Attach, from a terminal here (a pane of another tmux server): `ssh -t` to the host's
    // own `vnx attach`, which shows the worker's pane there; detaching comes back.
    let term = Terminal::open(&remote, "here", &["attach", &id]);
    let pane = || term.screen();
    assert!(
        wait_for(|| pane().contains("working for an hour")),
        "{}",
        pane()
    );
    term.server.send_keys("here", &["C-b", "d"]);
    assert!(
        term.server.sessions_end(),
        "detaching ends the attach: {}",
        pane()
    );
    // Cancel: the host's vnx stops it there, and its end is caught up with here.
    let r = run(remote.repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(remote.host_has_completion(&id));
    let status = run(remote.repo.vnx().args(["status", "--json", &id]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(list[0]["status"], "cancelled", "{list:#}");
    // A follow-up continues a failed one in its worktree on the host; its branch comes back.
    let r = remote.dispatch("box", "fail", &[]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let failed = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let r = run(remote.repo.vnx().args([
        "follow-up",
        &failed,
        "--model",
        "commit",
        "--json",
        "--instruction",
        "finish it",
    ]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let done = completion(&r);
    let next = done["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(done["status"], "done", "{done:#}");
    assert_eq!(done["remote"]["host"], "box", "{done:#}");
    // It worked on the branch of the dispatch it continues, which came back with its commit.
    assert!(!remote.repo.on_branch(&failed, "demo-output.txt").is_empty());
    let status = run(remote.repo.vnx().args(["status", "--json", &failed]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(list[0]["continued_by"], next.as_str(), "{list:#}");
    remote.repo.verify_ok();
}

#[test]
fn the_dashboard_shows_a_remote_dispatch_and_catches_up_with_its_host() {
    let remote = Remote::new();
    let r = remote.dispatch("box", "slow", &["--detach", "--deadline", "4"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    let term = Terminal::open(&remote, "dash", &["dashboard"]);
    term.tmux(&["resize-window", "-t", "=dash:", "-x", "120", "-y", "30"]);
    let screen_now = || term.screen();
    assert!(
        wait_for(|| screen_now().contains("demo/slow@box")),
        "{}",
        screen_now()
    );
    // Nobody else runs vnx: the dashboard itself catches up with the host, which ends the
    // dispatch at its deadline, and shows it.
    assert!(
        wait_for_long(|| screen_now()
            .lines()
            .any(|l| l.contains(&id) && l.contains("timeout"))),
        "{}",
        screen_now()
    );
    assert!(
        remote
            .lines()
            .iter()
            .any(|l| l.contains("\"dispatch_completed\"") && l.contains(&id))
    );
    // `f` follows it up on its host, from the dashboard's own process (the library's
    // action, as `vnx follow-up` does): the footer names the new dispatch and where it runs.
    term.server.send_keys("dash", &["Home", "f"]);
    term.server.send_keys("dash", &["-l", "once more"]);
    term.server.send_keys("dash", &["Enter"]);
    let said = format!("vnx follow-up {id}: ok: started D-");
    assert!(
        wait_for_long(|| screen_now().contains(&said) && screen_now().contains("on host box")),
        "{}",
        screen_now()
    );
    term.server.send_keys("dash", &["q"]);
    assert!(term.server.sessions_end(), "q quits: {}", screen_now());
    remote.repo.verify_ok();
}

/// A terminal here: the pane of a tmux server of its own, running this vnx with `args` in
/// the project, with the environment a user's terminal has.
struct Terminal {
    server: crate::common::Server,
    session: &'static str,
}

impl Terminal {
    fn open(remote: &Remote, session: &'static str, args: &[&str]) -> Terminal {
        let server = crate::common::Server::new();
        let home = remote.repo.env.home();
        let env: Vec<(String, String)> = [
            ("HOME", home.display().to_string()),
            (
                "XDG_CONFIG_HOME",
                home.join(".config").display().to_string(),
            ),
            ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("TERM", "xterm-256color".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut argv: Vec<std::ffi::OsString> = vec![env!("CARGO_BIN_EXE_vnx").into()];
        argv.extend(args.iter().map(Into::into));
        server
            .0
            .new_session(session, remote.repo.env.path(), &env, &argv)
            .unwrap();
        Terminal { server, session }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", self.server.0.socket()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What the pane shows.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &format!("={}:", self.session)])
    }
}

/// Whether `cond` holds within 60 s (a host's deadline passing).
fn wait_for_long(mut cond: impl FnMut() -> bool) -> bool {
    (0..6).any(|_| wait_for(&mut cond))
}

fn keys(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}
