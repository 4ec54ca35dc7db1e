//! A place's words never become signed facts (issue 69): a place (an ssh host, a container,
//! a pod) whose ledger starts one of this machine's dispatches a second time, well chained, as
//! a role with no gates, or whose vnx starts it as another role than was asked, is refused for
//! good; nothing it said is signed here as what the dispatch is, and the merge is not decided
//! by it. The container and pod places need podman and mmdebstrap (`#[ignore]`d; `bin/test
//! --all` installs them).

use std::process::Command;

use crate::common::container::{container_of, remove_volume, repo_with_container_host};
use crate::common::{Remote, Repo, append_forged_start_to, configure, run};

/// The gates of a role that requires a failing one, and of one that requires none.
const GATED_ROLES: &str = "gates:\n  tests: {kind: command, argv: [sh, -c, 'exit 1']}\n\
     roles:\n  implementer: {gates: [tests]}\n  reviewer: {gates: []}\n";

/// The attested `dispatch_started` lines of dispatch `id` on `remote`'s local ledger: roles.
fn local_starts(remote: &Remote, id: &str) -> Vec<String> {
    starts_in(&remote.lines(), id)
}

/// The roles the `dispatch_started` lines of dispatch `id` among `lines` name.
fn starts_in(lines: &[String], id: &str) -> Vec<String> {
    (lines.iter())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event_type"] == "dispatch_started" && v["dispatch_id"] == id)
        .map(|v| v["role"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_hosts_second_start_with_another_role_is_a_forgery_that_decides_nothing() {
    let remote = Remote::new();
    configure(&remote.repo, GATED_ROLES);
    let r = remote.dispatch("box", "slow", &["--detach"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let started: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let id = started["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(local_starts(&remote, &id), ["implementer"]);
    // Its worker, which can write the host's ledger, starts it again, well chained, as a
    // role that requires no gates.
    append_forged_start_to(&remote.host_ledger(), &id, "reviewer");
    let line = std::fs::read_to_string(remote.host_ledger())
        .unwrap()
        .lines()
        .count();
    let status = run(remote.repo.vnx().args(["status", &id, "--json"]));
    assert!(
        status.stderr.contains(&format!(
            "host `box` is refused: its line {line} starts {id} again: a place's second \
             dispatch_started for one dispatch is a forgery"
        )),
        "{}",
        status.stderr
    );
    // Mirrored as evidence, never signed here as what the dispatch is.
    assert_eq!(local_starts(&remote, &id), ["implementer"]);
    assert!(
        remote
            .lines()
            .iter()
            .any(|l| l.contains("remote_receipt") && l.contains("\\\"reviewer\\\"")),
        "the forged line is mirrored"
    );
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(list[0]["role"], "implementer", "{list:#}");
    let merge = run(remote.repo.vnx().args(["merge", &id]));
    assert_ne!(merge.code, 0, "{} {}", merge.stdout, merge.stderr);
    remote.repo.verify_ok();
}

#[test]
fn a_host_that_starts_another_role_than_asked_is_refused_before_its_start_is_believed() {
    let remote = Remote::new();
    // A place whose vnx lies: it starts every dispatch asked as an implementer as a reviewer.
    let liar = remote.d().join("lying-vnx");
    std::fs::write(
        &liar,
        format!(
            "#!/bin/sh\nfor a; do shift; [ \"$a\" = implementer ] && a=reviewer; \
             set -- \"$@\" \"$a\"; done\nexec {} \"$@\"\n",
            env!("CARGO_BIN_EXE_vnx")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&liar, std::fs::Permissions::from_mode(0o755)).unwrap();
    remote.declare("liar", liar.to_str().unwrap());
    configure(&remote.repo, GATED_ROLES);
    let r = remote.dispatch("liar", "commit", &[]);
    assert_ne!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("says role \"reviewer\", but \"implementer\" was asked"),
        "{}",
        r.stderr
    );
    let refused = remote
        .repo
        .env
        .path()
        .join(".vnx-data/remote/hosts/liar/refused");
    assert!(refused.exists(), "the host is refused for good");
    assert!(
        !remote
            .lines()
            .iter()
            .any(|l| l.contains("\"event_type\":\"dispatch_started\"")),
        "nothing the host said is signed here as a start"
    );
}

/// A worker that is root in its place (a container, a pod's container `name`) appends a
/// copy of dispatch `id`'s start, well chained, naming role `role`; the place's ledger's
/// lines after it.
fn forge_start_in(name: &str, id: &str, role: &str) -> usize {
    const LEDGER: &str = "/work/repo/.vnx-data/state/t0_receipts.ndjson";
    let out = Command::new("podman")
        .args(["exec", name, "cat", LEDGER])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = tempfile::tempdir().unwrap();
    let local = copy.path().join("ledger.ndjson");
    std::fs::write(&local, &out.stdout).unwrap();
    append_forged_start_to(&local, id, role);
    let text = std::fs::read_to_string(&local).unwrap();
    let forged = text.lines().last().unwrap().to_owned();
    let mut append = Command::new("podman")
        .args(["exec", "-i", name, "sh", "-c", &format!("cat >> {LEDGER}")])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = append.stdin.take().unwrap();
    stdin.write_all(format!("{forged}\n").as_bytes()).unwrap();
    drop(stdin);
    assert!(append.wait().unwrap().success());
    text.lines().count()
}

/// A slow demo dispatch on `host` (a place made for it), detached: its id.
fn slow_on(repo: &Repo, host: &str) -> String {
    let r = repo.dispatch(
        "slow",
        &[
            "--host",
            host,
            "--detach",
            "--instruction",
            "take your time",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let started: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    started["dispatch_id"].as_str().unwrap().to_owned()
}

/// A second start forged in the place `name` that runs dispatch `id` of `repo` (on host
/// `host`): refused for good, the dispatch's one start signed here kept.
fn second_start_refused(repo: &Repo, host: &str, id: &str, name: &str) {
    let line = forge_start_in(name, id, "reviewer");
    let status = run(repo.vnx().args(["status", id, "--json"]));
    assert!(
        status.stderr.contains(&format!(
            "host `{host}.{id}` is refused: its line {line} starts {id} again"
        )),
        "{}",
        status.stderr
    );
    let ledger = std::fs::read_to_string(crate::common::ledger_path(repo)).unwrap();
    let lines: Vec<String> = ledger.lines().map(str::to_owned).collect();
    assert_eq!(starts_in(&lines, id), ["implementer"]);
    repo.verify_ok();
    for what in [&["rm", "--force"][..], &["volume", "rm", "--force"]] {
        Command::new("podman")
            .args(what)
            .arg(name)
            .output()
            .unwrap();
    }
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_containers_second_start_is_a_forgery_that_decides_nothing() {
    let repo = repo_with_container_host();
    let id = slow_on(&repo, "box");
    second_start_refused(&repo, "box", &id, &container_of(&id));
    remove_volume(&container_of(&id));
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_pods_second_start_is_a_forgery_that_decides_nothing() {
    let repo = crate::kubernetes_place::repo_with_cluster();
    let id = slow_on(&repo, "cluster");
    let name = crate::kubernetes_place::object_of(&id);
    second_start_refused(&repo, "cluster", &id, &name);
}
