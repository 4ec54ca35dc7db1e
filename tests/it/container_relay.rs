//! The relay into a container (ADR 0087), for real with podman: a new dispatch in the
//! foreground takes two engine calls (its volume, then its container, whose first process is
//! the relay), every later step going over that one channel, the branch coming back as a
//! bundle; and a worker that writes into the channel breaks only the channel: the dispatch goes
//! on through the engine's `exec`, and nothing it sent is taken; an image whose vnx cannot relay
//! is reached by `exec` at once, and `doctor` says so; a link the worker commits comes back as
//! a link, and a later unsandboxed dispatch on that branch is refused it; a cancel that finds
//! the container removed because its dispatch ended meanwhile succeeds. Needs podman and
//! mmdebstrap, so `#[ignore]`d; `bin/test --all` installs them and runs it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::container::{
    container_of, exists, gone, remove_volume, repo_with_container_host, worker_image,
};
use crate::common::{Repo, completion, configure, run};

/// A `podman` earlier on `PATH` than the real one that runs the shell lines `prelude` (its
/// arguments are `$@`), then the real one; the `PATH` to give vnx.
fn wrapped_podman(dir: &Path, prelude: &str) -> std::ffi::OsString {
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v podman"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let bin = dir.join("wrapped-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!("#!/bin/sh\n{prelude}\nexec '{}' \"$@\"\n", real.trim());
    let wrapper = bin.join("podman");
    std::fs::write(&wrapper, script).unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut path = bin.into_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    path
}

/// A `podman` earlier on `PATH` than the real one that logs each call's first two arguments
/// to `log`, then runs it; the `PATH` to give vnx.
fn logging_podman(dir: &Path, log: &Path) -> std::ffi::OsString {
    let log = log.display();
    wrapped_podman(dir, &format!("printf '%s %s\\n' \"$1\" \"$2\" >> '{log}'"))
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_new_dispatch_takes_two_engine_calls_and_every_later_step_goes_over_its_relay() {
    let repo = repo_with_container_host();
    let log = repo.env.path().join("podman.log");
    let path = logging_podman(repo.env.path(), &log);
    let r = run(repo.dispatch_cmd("commit").env("PATH", &path).args([
        "--json",
        "--host",
        "box",
        "--instruction",
        "add the demo output",
    ]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let done = completion(&r);
    let id = done["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(done["status"], "done", "{done:#}");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        ["volume create", "run --rm"],
        "every step after the container's start goes over the relay"
    );
    // The branch came back (as a bundle), the ledger verifies with the container's lines, and
    // the container ended with its relay: gone, its volume kept.
    assert!(!repo.on_branch(&id, "demo-output.txt").is_empty());
    repo.verify_ok();
    let name = container_of(&id);
    assert!(gone("container", &name), "{name} still exists");
    assert!(exists("volume", &name));
    // No scratch file of the relay's is left here.
    let remote = repo.env.path().join(".vnx-data/remote");
    let left: Vec<_> = std::fs::read_dir(&remote)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.iter()
            .all(|n| !n.to_string_lossy().starts_with("relay-")),
        "{left:?}"
    );
    // Another process (a follow-up here) reaches the place without this one's relay, by the
    // engine's `exec` and a relay of its own.
    let f = run(repo.vnx().args([
        "follow-up",
        &id,
        "--json",
        "--model",
        "commit",
        "--instruction",
        "once more",
    ]));
    assert_eq!(f.code, 0, "{}{}", f.stdout, f.stderr);
    assert_eq!(completion(&f)["status"], "done");
    assert!(gone("container", &name));
    remove_volume(&name);
}

/// A slow dispatch on `box` in the foreground (its relay open) and its id once it runs there.
fn waiting_slow(repo: &Repo) -> (std::process::Child, String) {
    let waiting = repo
        .dispatch_cmd("slow")
        .args(["--json", "--host", "box", "--instruction", "take your time"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let id = loop {
        let s = run(repo.vnx().args(["status", "--json"]));
        let list: serde_json::Value = serde_json::from_str(&s.stdout).unwrap_or_default();
        let running = list.as_array().and_then(|l| {
            l.iter()
                .find(|d| d["status"] == "running")
                .and_then(|d| d["dispatch_id"].as_str().map(str::to_owned))
        });
        if let Some(id) = running {
            break id;
        }
        assert!(Instant::now() < deadline, "never ran: {}", s.stdout);
        std::thread::sleep(Duration::from_millis(200));
    };
    (waiting, id)
}

/// Cancels `id` from another process and waits for `waiting` to end: its output.
fn cancelled(repo: &Repo, id: &str, mut waiting: std::process::Child) -> std::process::Output {
    let c = run(repo.vnx().args(["cancel", id]));
    assert_eq!(c.code, 0, "{}{}", c.stdout, c.stderr);
    let deadline = Instant::now() + Duration::from_secs(120);
    while waiting.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the waiting dispatch never ended"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    waiting.wait_with_output().unwrap()
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_worker_writing_into_the_relay_breaks_only_the_channel() {
    let repo = repo_with_container_host();
    let (waiting, id) = waiting_slow(&repo);
    let name = container_of(&id);
    // Root in its container, the worker writes a frame of its own where the relay answers
    // (the container's output), claiming a huge answer and then garbage.
    let forged =
        r#"printf '{"status":0,"stdout":999999999,"stderr":0}\nnot a frame\n' > /proc/1/fd/1"#;
    let out = Command::new("podman")
        .args(["exec", &name, "sh", "-c", forged])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Cancelled from another process, the waiting one finds out through the engine's `exec`
    // and ends.
    let out = cancelled(&repo, &id, waiting);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lost the link to host"), "{stderr}");
    let s = run(repo.vnx().args(["status", &id, "--json"]));
    let list: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(list[0]["status"], "cancelled", "{list:#}");
    repo.verify_ok();
    for what in [&["rm", "--force"][..], &["volume", "rm", "--force"]] {
        Command::new("podman")
            .args(what)
            .arg(&name)
            .output()
            .unwrap();
    }
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_vnx_that_cannot_relay_leaves_the_container_to_exec_and_doctor_says_so() {
    let image = worker_image();
    let repo = Repo::new();
    // `vnx: /bin/sh` stands for a vnx without `__place-relay`: it fails at once, before the
    // relay could say it is ready, and with a status of its own.
    configure(
        &repo,
        &format!("hosts:\n  old:\n    container: {{image: \"{image}\"}}\n    vnx: /bin/sh\n"),
    );
    let started = Instant::now();
    let doctor = run(repo.vnx().args(["doctor", "--host", "old"]));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "waited for a relay that never came"
    );
    assert!(doctor.stdout.contains("WARN  relay"), "{}", doctor.stdout);
    assert!(doctor.stdout.contains("cannot relay"), "{}", doctor.stdout);
    // What the engine's `exec` reaches was checked all the same.
    for check in ["PASS  exec", "PASS  git", "PASS  tmux", "FAIL  vnx"] {
        assert!(doctor.stdout.contains(check), "{check}: {}", doctor.stdout);
    }
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_link_the_worker_commits_comes_back_as_a_link_and_is_refused_to_an_unsandboxed_worker() {
    let repo = repo_with_container_host();
    let (waiting, id) = waiting_slow(&repo);
    let name = container_of(&id);
    // Root in its container, the worker commits a link leading out of the repository.
    let plant = format!(
        "cd \"$(git -C /work/repo worktree list --porcelain | \
         awk '/^worktree /{{w=$2}} $2==\"refs/heads/dispatch/{id}\"{{print w}}')\" && \
         ln -s /etc/hostname escape && git add escape && git commit -qm 'a link out'"
    );
    let out = Command::new("podman")
        .args(["exec", &name, "sh", "-c", &plant])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its branch comes back over the relay (a bundle) with the link as a link: nothing here
    // followed it.
    let out = cancelled(&repo, &id, waiting);
    let branch = format!("dispatch/{id}");
    let tree = repo.env.git(&["ls-tree", &branch, "escape"]);
    assert!(
        tree.starts_with("120000 blob"),
        "{tree} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = repo
        .env
        .git(&["cat-file", "-p", &format!("{branch}:escape")]);
    assert_eq!(target.trim(), "/etc/hostname");
    // An unsandboxed editing worker is refused a worktree of that branch, naming the link.
    let r = repo.dispatch(
        "commit",
        &[
            "--instruction",
            "x",
            "--base-ref",
            &branch,
            "--permission",
            "edits",
            "--no-sandbox",
        ],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("a link leading out of it (escape -> /etc/hostname)"),
        "{}",
        r.stderr
    );
    repo.verify_ok();
    remove_volume(&name);
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_cancel_whose_place_is_removed_as_its_dispatch_ends_meanwhile_succeeds() {
    let repo = repo_with_container_host();
    let (mut waiting, id) = waiting_slow(&repo);
    let name = container_of(&id);
    // The cancel's call of the place's vnx waits until the dispatch has ended another way:
    // cancelled by the place's own vnx, its end brought back by the waiting process, which
    // then removes the container (as a cancel slow to be answered finds it, under load).
    let (reached, release) = (
        repo.env.path().join("reached"),
        repo.env.path().join("release"),
    );
    let hold = format!(
        "for a in \"$@\"; do [ \"$a\" = cancel ] && held=1; done\n\
         if [ -n \"$held\" ]; then touch '{}'; i=0; while [ ! -e '{}' ] && [ $i -lt 1200 ]; \
         do sleep 0.1; i=$((i+1)); done; fi",
        reached.display(),
        release.display()
    );
    let path = wrapped_podman(repo.env.path(), &hold);
    let cancel = repo
        .vnx()
        .env("PATH", &path)
        .args(["cancel", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !reached.exists() {
        assert!(
            Instant::now() < deadline,
            "the cancel never asked the place"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let there = Command::new("podman")
        .args([
            "exec",
            "-i",
            "-w",
            "/work/repo",
            &name,
            "vnx",
            "cancel",
            &id,
        ])
        .output()
        .unwrap();
    // The place's vnx may be cut off as its container goes: its own exit is not what is tested.
    let deadline = Instant::now() + Duration::from_secs(120);
    while waiting.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the dispatch never ended: {}",
            String::from_utf8_lossy(&there.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let ended = waiting.wait_with_output().unwrap();
    assert!(
        gone("container", &name),
        "{}",
        String::from_utf8_lossy(&ended.stderr)
    );
    std::fs::write(&release, "").unwrap();
    let out = cancel.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "{id}  cancelled  (its place was removed once it ended)"
        )),
        "{stdout}{stderr}"
    );
    repo.verify_ok();
    remove_volume(&name);
}
