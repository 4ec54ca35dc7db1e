//! A container per dispatch (`hosts: {box: {container: …}}`), for real with podman and the
//! worker image built offline: a demo dispatch made in a fresh container, its branch and
//! receipts brought back and verified, its container removed once its work is here and its
//! volume kept for a follow-up (run in a new container on it) until the chain is merged; a
//! container killed mid-dispatch is `lost` at once, its volume (its work) kept, and `resume`
//! continues it in a new container on that volume; `doctor --host` checks the image in a
//! container made for it; the same through the real `docker` client (`engine: docker`),
//! against podman's Docker API; and what a worker makes its container answer (a flood, a line
//! longer than any receipt, a line that is not text) read within bounds and refused by name,
//! its work kept; a dev container definition's user running everything in the container, and
//! its mounts taken only when the config lists them. Needs podman and mmdebstrap (and the
//! docker client), so `#[ignore]`d; `bin/test --all` installs them and runs it.

use std::process::Command;

use crate::common::container::{
    FreshPlace, container_of, docker_host, exists, gone, remove_volume, repo_with_container_host,
    worker_image,
};
use crate::common::{Repo, completion, configure, gate_check, run};

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_demo_dispatch_runs_in_a_container_of_its_own_and_comes_back() {
    let repo = repo_with_container_host();
    let doctor = run(repo.vnx().args(["doctor", "--host", "box"]));
    assert_eq!(doctor.code, 0, "{}{}", doctor.stdout, doctor.stderr);
    for check in [
        "PASS  engine",
        "PASS  relay",
        "PASS  exec",
        "PASS  clone",
        "PASS  vnx",
        "PASS  git",
        "PASS  tmux",
    ] {
        assert!(doctor.stdout.contains(check), "{check}: {}", doctor.stdout);
    }
    let r = repo.dispatch(
        "commit",
        &["--host", "box", "--instruction", "add the demo output"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let done = completion(&r);
    let id = done["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(done["status"], "done", "{done:#}");
    assert_eq!(done["remote"]["host"], format!("box.{id}"), "{done:#}");
    // Its branch came back; the ledger, with the container's lines mirrored, verifies.
    assert!(!repo.on_branch(&id, "demo-output.txt").is_empty());
    repo.verify_ok();
    // Its work is here: the container is gone, its volume (the clone, the CLI's session)
    // kept for a follow-up.
    let name = container_of(&id);
    assert!(gone("container", &name), "{name} still exists");
    assert!(exists("volume", &name), "volume {name} was removed");
    let status = run(repo.vnx().args(["status", &id, "--json"]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(list[0]["status"], "done", "{list:#}");
    // A follow-up runs in a new container on that volume, continuing it on its branch.
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
    let follow = completion(&f);
    let follow_id = follow["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(follow["status"], "done", "{follow:#}");
    assert_eq!(follow["remote"]["host"], format!("box.{id}"), "{follow:#}");
    let status = run(repo.vnx().args(["status", &follow_id, "--json"]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(list[0]["continues"], id.as_str(), "{list:#}");
    assert!(gone("container", &name) && exists("volume", &name));
    // Merged, the chain's place goes, volume and all.
    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (r, report) = gate_check(&repo, &follow_id);
    assert_eq!(r.code, 0, "{} {report:#}", r.stderr);
    let merged = run(repo.vnx().args(["merge", &follow_id]));
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    assert!(
        merged
            .stderr
            .contains(&format!("removed box.{id}: its work is merged")),
        "{}",
        merged.stderr
    );
    assert!(!exists("volume", &name), "volume {name} still exists");
    // Nothing is left to follow up in: said so.
    let f = run(repo
        .vnx()
        .args(["follow-up", &follow_id, "--instruction", "again"]));
    assert_eq!(f.code, 3, "{}{}", f.stdout, f.stderr);
    assert!(f.stderr.contains("once it was merged"), "{}", f.stderr);
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_killed_container_is_lost_at_once_and_resumed_on_its_volume() {
    let repo = repo_with_container_host();
    let id = slow_on(&repo, "box");
    let name = container_of(&id);
    assert!(exists("container", &name));
    let killed = Command::new("podman")
        .args(["kill", &name])
        .output()
        .unwrap();
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let t0 = std::time::Instant::now();
    let w = run(repo.vnx().args(["wait", &id, "--json"]));
    assert_ne!(w.code, 0, "{}{}", w.stdout, w.stderr);
    assert!(w.stdout.contains("lost"), "{}{}", w.stdout, w.stderr);
    // Known as soon as the engine says so, not after the host's lost_after_seconds (3600).
    assert!(t0.elapsed().as_secs() < 120, "{:?}", t0.elapsed());
    assert!(
        exists("volume", &name),
        "its volume, and so its work, is kept"
    );
    assert!(
        repo.events("remote_lost")
            .iter()
            .any(|e| e["dispatch_id"] == id.as_str())
    );
    // `resume` continues it in a new container on the same volume: the follow-up runs there.
    let resumed = run(repo.vnx().args(["resume", &id]));
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    let state = Command::new("podman")
        .args([
            "container",
            "inspect",
            "--format",
            "{{.State.Status}}",
            &name,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "running");
    let list = run(repo.vnx().args(["status", "--all", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let follow = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["continues"] == id.as_str())
        .unwrap_or_else(|| panic!("no follow-up of {id}: {list:#}"));
    assert_eq!(follow["host"], format!("box.{id}"), "{follow:#}");
    assert_eq!(follow["status"], "running", "{follow:#}");
    // Its end, caught up with here, removes the container; the volume stays until a merge.
    let follow_id = follow["dispatch_id"].as_str().unwrap();
    let cancelled = run(repo.vnx().args(["cancel", follow_id]));
    assert_eq!(
        cancelled.code, 0,
        "{}{}",
        cancelled.stdout, cancelled.stderr
    );
    assert!(gone("container", &name), "{name} still exists");
    assert!(
        exists("volume", &name),
        "volume {name} was removed before a merge"
    );
    // Its work discarded (`vnx clean`), its volume goes with it.
    let clean = run(repo.vnx().args(["clean", &id, "--yes"]));
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean
            .stderr
            .contains(&format!("removed box.{id}: its work is discarded")),
        "{}",
        clean.stderr
    );
    assert!(!exists("volume", &name), "volume {name} still exists");
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_container_that_cannot_start_leaves_nothing_behind() {
    let repo = Repo::new();
    configure(
        &repo,
        "hosts:\n  box:\n    container: {image: \"localhost/vnx-no-such-image:test\"}\n",
    );
    let doctor = run(repo.vnx().args(["doctor", "--host", "box"]));
    assert_eq!(doctor.code, 1, "{}{}", doctor.stdout, doctor.stderr);
    assert!(doctor.stdout.contains("FAIL  engine"), "{}", doctor.stdout);
    let _fresh = FreshPlace::named(container_of("D-0c0c0c0c0c0c"));
    let r = repo.dispatch(
        "commit",
        &[
            "--host",
            "box",
            "--id",
            "D-0c0c0c0c0c0c",
            "--instruction",
            "x",
        ],
    );
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("podman run"), "{}", r.stderr);
    let name = container_of("D-0c0c0c0c0c0c");
    assert!(gone("container", &name), "{name} was left");
    assert!(!exists("volume", &name), "volume {name} was left");
    // Nothing recorded either: the id is free.
    let ledger = repo.env.path().join(".vnx-data/state/t0_receipts.ndjson");
    assert!(!ledger.exists() || repo.receipts("D-0c0c0c0c0c0c").is_empty());
}

/// `podman exec NAME ARGV…`: its exit code and stdout.
fn exec(name: &str, argv: &[&str]) -> (i32, String) {
    let out = Command::new("podman")
        .args(["exec", name])
        .args(argv)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    )
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_container_gets_its_volume_and_the_logins_it_names_read_only_and_nothing_else() {
    let image = worker_image();
    let repo = Repo::new();
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    // The user's claude login and settings here, a session of another project below its
    // state directory, and a link the worker must not be handed.
    let home = repo.env.home();
    let claude = home.join(".claude");
    std::fs::create_dir_all(claude.join("projects")).unwrap();
    std::fs::write(claude.join(".credentials.json"), "LOGIN").unwrap();
    std::fs::write(claude.join("settings.json"), "{}").unwrap();
    std::fs::write(claude.join("projects/other.jsonl"), "SECRET").unwrap();
    // Every project's prompt history (issue 69): never carried.
    std::fs::write(claude.join("history.jsonl"), "{\"display\":\"SECRET\"}").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", claude.join("link.json")).unwrap();
    let account = "{\"oauthAccount\":{\"accountUuid\":\"u\"},\"projects\":{\"/home/me/x\":{\"history\":[{\"display\":\"SECRET\"}]}}}";
    std::fs::write(home.join(".claude.json"), account).unwrap();
    configure(
        &repo,
        &format!(
            "hosts:\n  box:\n    container:\n      image: \"{image}\"\n      env: {{MODEL_URL: 'http://models:1'}}\n      env_from_host: [VNX_KEY_HERE]\n      logins: [claude]\n"
        ),
    );
    // A key kept out of the committed config, from the dispatching command's environment.
    let id = slow_on_with(&repo, "box", &[("VNX_KEY_HERE", "k3pt-here")]);
    let name = container_of(&id);
    assert_eq!(exec(&name, &["printenv", "VNX_KEY_HERE"]).1, "k3pt-here");
    let format = [
        "container",
        "inspect",
        "--format",
        "{{json .Config.CreateCommand}}",
    ];
    let made = Command::new("podman").args(format).arg(&name).output();
    let made = String::from_utf8_lossy(&made.unwrap().stdout).into_owned();
    assert!(
        made.contains("VNX_KEY_HERE") && !made.contains("k3pt-here"),
        "{made}"
    );
    // The login and settings, copied into its home on the volume; not the other project's
    // session, not the link.
    assert_eq!(exec(&name, &["printenv", "HOME"]).1, "/work/home");
    assert_eq!(exec(&name, &["printenv", "MODEL_URL"]).1, "http://models:1");
    assert_eq!(
        exec(&name, &["cat", "/work/home/.claude/.credentials.json"]).1,
        "LOGIN"
    );
    // Of `~/.claude.json` its account, not every project's history.
    let carried: serde_json::Value =
        serde_json::from_str(&exec(&name, &["cat", "/work/home/.claude.json"]).1).unwrap();
    assert_eq!(
        carried,
        serde_json::json!({"oauthAccount": {"accountUuid": "u"}})
    );
    for absent in [
        "/work/home/.claude/projects",
        "/work/home/.claude/link.json",
        "/work/home/.claude/history.jsonl",
    ] {
        assert_ne!(
            exec(&name, &["test", "-e", absent]).0,
            0,
            "{absent} is there"
        );
    }
    // What is mounted from here is read-only, and only the named files: the volume apart,
    // nothing of this project, its ledger or its signing key.
    let write = exec(
        &name,
        &[
            "sh",
            "-c",
            "echo x > /run/vnx/logins/.claude/.credentials.json",
        ],
    );
    assert_ne!(write.0, 0, "a login file could be written");
    assert_eq!(
        std::fs::read_to_string(claude.join(".credentials.json")).unwrap(),
        "LOGIN"
    );
    let mounts = Command::new("podman")
        .args([
            "container",
            "inspect",
            "--format",
            "{{json .Mounts}}",
            &name,
        ])
        .output()
        .unwrap();
    let mounts: serde_json::Value = serde_json::from_slice(&mounts.stdout).unwrap();
    let mut sources: Vec<String> = mounts
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["Type"] == "bind")
        .map(|m| m["Source"].as_str().unwrap().to_owned())
        .collect();
    sources.sort();
    // The part of `~/.claude.json` it gets is mounted from a private copy here.
    let part = std::fs::canonicalize(repo.env.path())
        .unwrap()
        .join(format!(".vnx-data/remote/logins/{name}/.claude.json"));
    let mut expected: Vec<String> = [
        claude.join(".credentials.json"),
        claude.join("settings.json"),
        part.clone(),
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect();
    expected.sort();
    assert_eq!(sources, expected, "{mounts:#}");
    let cancelled = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(
        cancelled.code, 0,
        "{}{}",
        cancelled.stdout, cancelled.stderr
    );
    assert!(gone("container", &name), "{name} still exists");
    assert!(!part.exists(), "the part of a login outlived its container");
    remove_volume(&name);
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_dev_container_definition_the_config_names_gives_the_image_and_env() {
    let image = worker_image();
    let repo = Repo::new();
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    let dir = repo.env.path().join(".devcontainer");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("devcontainer.json"),
        format!(
            "// the project's container\n{{\n  \"image\": \"{image}\", // built offline\n  \"containerEnv\": {{\"FROM_DEFINITION\": \"yes\",}},\n}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("build.json"),
        "{\"build\": {\"dockerfile\": \"Dockerfile\"}, \"runArgs\": [\"--privileged\"]}",
    )
    .unwrap();
    configure(
        &repo,
        "hosts:\n  box:\n    container: {devcontainer: .devcontainer/devcontainer.json}\n  built:\n    container: {devcontainer: .devcontainer/build.json}\n",
    );
    let id = slow_on(&repo, "box");
    let name = container_of(&id);
    assert_eq!(exec(&name, &["printenv", "FROM_DEFINITION"]).1, "yes");
    let cancelled = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(
        cancelled.code, 0,
        "{}{}",
        cancelled.stdout, cancelled.stderr
    );
    remove_volume(&name);
    // A definition that asks for a build (and the engine's flags) is refused by name, with
    // nothing made.
    let id = "D-0c0c0c0c0c0e";
    let (name, _fresh) = (container_of(id), FreshPlace::named(container_of(id)));
    let r = repo.dispatch(
        "commit",
        &["--host", "built", "--id", id, "--instruction", "x"],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("does not take `build`"), "{}", r.stderr);
    assert!(gone("container", &name));
    assert!(!exists("volume", &name));
}

/// The worker image with a user `dev` (uid 1234) added, built offline from it; its name.
fn worker_image_with_a_user() -> &'static str {
    const IMAGE: &str = "localhost/vnx-worker-dev:test";
    let base = worker_image();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Containerfile"),
        format!("FROM {base}\nRUN useradd --uid 1234 --user-group --no-create-home dev\n"),
    )
    .unwrap();
    let built = Command::new("podman")
        .args(["build", "--quiet", "--network=none", "--tag", IMAGE])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    IMAGE
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_definitions_user_runs_the_place_and_only_the_mounts_the_config_lists_are_taken() {
    let image = worker_image_with_a_user();
    let repo = Repo::new();
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    // A directory of this machine's for the worker to read (beside the project and the home).
    let data = repo.env.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("facts.txt"), "FACTS").unwrap();
    let data = data.display();
    let dir = repo.env.path().join(".devcontainer");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("devcontainer.json"),
        format!(
            "{{\"image\": \"{image}\", \"remoteUser\": \"dev\",\n \"mounts\": [\"source={data},target=/data,type=bind\"]}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("more.json"),
        format!(
            "{{\"image\": \"{image}\", \"mounts\": [\"source=${{localWorkspaceFolder}}/assets,target=/assets,type=bind\"]}}\n"
        ),
    )
    .unwrap();
    configure(
        &repo,
        &format!(
            "hosts:\n  box:\n    container:\n      devcontainer: .devcontainer/devcontainer.json\n      mounts: [{{source: '{data}', target: /data, readonly: true}}]\n\
             \x20 more:\n    container: {{devcontainer: .devcontainer/more.json}}\n\
             roles:\n  implementer: {{gates: []}}\n"
        ),
    );
    let id = slow_on(&repo, "box");
    let name = container_of(&id);
    // Everything in the container runs as the definition's user: its first process, the
    // place's vnx and tmux, the worker, this exec. Its volume's files are that user's.
    let (code, users) = exec(&name, &["ps", "-eo", "user="]);
    assert_eq!(code, 0, "{users}");
    assert!(users.lines().all(|u| u.trim() == "dev"), "{users}");
    assert!(users.lines().count() >= 3, "{users}");
    assert_eq!(
        exec(
            &name,
            &[
                "stat",
                "-c",
                "%U",
                "/work/repo",
                "/work/repo/.git/config",
                "/work/home"
            ]
        )
        .1,
        "dev\ndev\ndev"
    );
    // The mount the config lists (read-only there), and nothing else of this machine's.
    assert_eq!(exec(&name, &["cat", "/data/facts.txt"]).1, "FACTS");
    assert_ne!(
        exec(&name, &["touch", "/data/new"]).0,
        0,
        "/data is writable"
    );
    let cancelled = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(
        cancelled.code, 0,
        "{}{}",
        cancelled.stdout, cancelled.stderr
    );
    remove_volume(&name);
    // A dispatch as that user commits, and its commit comes back.
    let r = repo.dispatch(
        "commit",
        &["--host", "box", "--instruction", "add the demo output"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let done = completion(&r);
    let id = done["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(done["status"], "done", "{done:#}");
    assert!(!repo.on_branch(&id, "demo-output.txt").is_empty());
    repo.verify_ok();
    remove_volume(&container_of(&id));
    // A mount only the definition names is refused, saying how to allow it; nothing made.
    let id = "D-0c0c0c0c0c0f";
    let (name, _fresh) = (container_of(id), FreshPlace::named(container_of(id)));
    let r = repo.dispatch(
        "commit",
        &["--host", "more", "--id", id, "--instruction", "x"],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let assets = repo.env.path().join("assets");
    for says in [
        format!(
            "its mount `type=bind,source={},target=/assets`",
            assets.display()
        ),
        "under hosts.more.container.mounts".to_owned(),
    ] {
        assert!(r.stderr.contains(&says), "{says}: {}", r.stderr);
    }
    assert!(gone("container", &name));
    assert!(!exists("volume", &name));
}

#[test]
#[ignore = "needs podman, mmdebstrap and the docker client (bin/test --all installs them)"]
fn the_docker_client_makes_runs_and_removes_a_container_as_podman_does() {
    let image = worker_image();
    let docker = docker_host();
    let repo = Repo::new();
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    configure(
        &repo,
        &format!(
            "hosts:\n  box:\n    container: {{engine: docker, image: \"{image}\"}}\n\
             roles:\n  implementer: {{gates: []}}\n"
        ),
    );
    let vnx = |args: &[&str]| run(repo.vnx().env("DOCKER_HOST", docker).args(args));
    let dispatch = |model: &str, extra: &[&str]| {
        let mut cmd = repo.dispatch_cmd(model);
        run(cmd
            .env("DOCKER_HOST", docker)
            .args(["--json", "--host", "box"])
            .args(extra))
    };
    let doctor = vnx(&["doctor", "--host", "box"]);
    assert_eq!(doctor.code, 0, "{}{}", doctor.stdout, doctor.stderr);
    assert!(doctor.stdout.contains("PASS  vnx"), "{}", doctor.stdout);
    // A dispatch made, run, fetched and removed with docker's own commands.
    let r = dispatch("commit", &["--instruction", "add the demo output"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let done = completion(&r);
    let id = done["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(done["status"], "done", "{done:#}");
    assert!(!repo.on_branch(&id, "demo-output.txt").is_empty());
    repo.verify_ok();
    assert!(gone("container", &container_of(&id)));
    assert!(exists("volume", &container_of(&id)), "kept for a follow-up");
    let r = vnx(&["audit-chain", "checkpoint"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let gated = run(repo
        .vnx()
        .env("DOCKER_HOST", docker)
        .args(["gate-check", &id]));
    assert_eq!(gated.code, 0, "{}{}", gated.stdout, gated.stderr);
    let merged = vnx(&["merge", &id]);
    assert!(
        merged.stderr.contains("its work is merged"),
        "{}",
        merged.stderr
    );
    assert!(!exists("volume", &container_of(&id)), "removed once merged");
    // One killed with `docker kill` is lost at once, its volume kept; resumed, then ended.
    let r = dispatch("slow", &["--detach", "--instruction", "take your time"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let started: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let id = started["dispatch_id"].as_str().unwrap().to_owned();
    let name = container_of(&id);
    let killed = Command::new("docker")
        .env("DOCKER_HOST", docker)
        .args(["kill", &name])
        .output()
        .unwrap();
    assert!(
        killed.status.success(),
        "{killed:?}\nstarted: {}{}\nstatus: {}",
        r.stdout,
        r.stderr,
        vnx(&["status", "--all", "--json"]).stdout
    );
    let w = vnx(&["wait", &id, "--json"]);
    assert!(w.stdout.contains("lost"), "{}{}", w.stdout, w.stderr);
    assert!(
        exists("volume", &name),
        "its volume, and so its work, is kept"
    );
    let resumed = vnx(&["resume", &id]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    let list = vnx(&["status", "--all", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let follow = (list.as_array().unwrap().iter())
        .find(|s| s["continues"] == id.as_str())
        .unwrap_or_else(|| panic!("no follow-up of {id}: {list:#}"));
    let cancelled = vnx(&["cancel", follow["dispatch_id"].as_str().unwrap()]);
    assert_eq!(
        cancelled.code, 0,
        "{}{}",
        cancelled.stdout, cancelled.stderr
    );
    assert!(gone("container", &name), "{name} still exists");
    assert!(
        exists("volume", &name),
        "volume {name} was removed before a merge"
    );
    remove_volume(&name);
}

/// Starts a slow demo dispatch on `host`, detached; its id.
pub(crate) fn slow_on(repo: &Repo, host: &str) -> String {
    slow_on_with(repo, host, &[])
}

/// [`slow_on`], the dispatching command's environment with `env` besides.
fn slow_on_with(repo: &Repo, host: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = repo.dispatch_cmd("slow");
    cmd.envs(env.iter().copied())
        .args(["--json", "--host", host, "--detach"]);
    let r = run(cmd.args(["--instruction", "take your time"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let started: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    started["dispatch_id"].as_str().unwrap().to_owned()
}

/// Runs `script` with `sh -c` in container `name`, as its worker could (root in there).
fn worker_does(name: &str, script: &str) {
    let (code, out) = exec(name, &["sh", "-c", script]);
    assert_eq!(code, 0, "{script}: {out}");
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn what_a_worker_makes_its_container_answer_is_bounded_and_refused_by_name() {
    let repo = repo_with_container_host();
    let status = |id: &str| {
        let s = run(repo.vnx().args(["status", id, "--json"]));
        assert_eq!(s.code, 0, "{}{}", s.stdout, s.stderr);
        s.stderr
    };
    let ledger = "/work/repo/.vnx-data/state/t0_receipts.ndjson";
    let id = slow_on(&repo, "box");
    let name = container_of(&id);
    // The place's vnx replaced by one that answers 100 MB: read up to the bound, refused.
    worker_does(
        &name,
        "p=$(command -v vnx); mv \"$p\" \"$p.real\"; \
         printf '#!/bin/sh\\nexec head -c 100000000 /dev/zero\\n' > \"$p\"; chmod +x \"$p\"",
    );
    let said = status(&id);
    assert!(said.contains("longer than the 32 MiB read of it"), "{said}");
    // Put back, it is caught up with again: nothing was lost.
    worker_does(&name, "p=$(command -v vnx); mv \"$p.real\" \"$p\"");
    assert_eq!(status(&id), "");
    // A line longer than any receipt in its ledger: refused by name, and nothing of it
    // reaches the ledger here.
    worker_does(
        &name,
        &format!("head -c 600000 /dev/zero | tr '\\0' x >> {ledger}; echo >> {ledger}"),
    );
    let said = status(&id);
    assert!(
        said.contains("bytes long, more than the 524288 a line mirrored here may be"),
        "{said}"
    );
    repo.verify_ok();
    assert!(exists("volume", &name), "its work is kept");
    // A line that is not text (nor a receipt): refused as a break in its chain, which is
    // kept here as evidence.
    let other = slow_on(&repo, "box");
    let other_name = container_of(&other);
    worker_does(
        &other_name,
        &format!("printf '\\377\\376\\0x\\n' >> {ledger}"),
    );
    let said = status(&other);
    assert!(
        said.contains("does not link to line 1 as mirrored"),
        "{said}"
    );
    let verify = run(repo.vnx().args(["audit-chain", "verify", "--json"]));
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(exists("volume", &other_name), "its work is kept");
    for n in [&name, &other_name] {
        for what in [&["rm", "--force"][..], &["volume", "rm", "--force"]] {
            Command::new("podman").args(what).arg(n).output().unwrap();
        }
    }
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_container_with_no_record_here_is_found_by_its_labels_and_cleaned_without_losing_work() {
    let repo = repo_with_container_host();
    let id = slow_on(&repo, "box");
    let name = container_of(&id);
    // A launch killed after making its place and before keeping its record, as it were.
    let record = repo
        .env
        .path()
        .join(format!(".vnx-data/remote/dispatches/{id}.json"));
    std::fs::remove_file(&record).unwrap();
    let status = run(repo.vnx().args(["status", "--json"]));
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    let listed: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let orphan = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["orphan"] == true)
        .unwrap_or_else(|| panic!("no orphan: {listed:#}"));
    assert_eq!(orphan["dispatch_id"], id.as_str(), "{orphan:#}");
    assert_eq!(orphan["host"], format!("box.{id}"), "{orphan:#}");
    let text = run(repo.vnx().args(["status"]));
    assert!(
        text.stdout.contains(&format!("box.{id}")) && text.stdout.contains("its work is kept"),
        "{}{}",
        text.stdout,
        text.stderr
    );
    assert!(
        text.stderr.contains("vnx clean --orphans"),
        "{}",
        text.stderr
    );
    // Doctor names it too, with the command that clears it.
    let doctor = run(repo.vnx().args(["doctor"]));
    assert!(
        doctor.stdout.contains("places") && doctor.stdout.contains(&format!("{id} (box.{id})")),
        "{}",
        doctor.stdout
    );
    assert!(
        doctor.stdout.contains("vnx clean --orphans"),
        "{}",
        doctor.stdout
    );
    // Another project on the same engine does not see it.
    let other = repo_with_container_host();
    let theirs = run(other.vnx().args(["status", "--json"]));
    assert!(!theirs.stdout.contains("\"orphan\""), "{}", theirs.stdout);
    // Work in its clone that is not here keeps its volume; the container goes.
    worker_does(
        &name,
        "cd /work/repo && git branch extra \"$(git commit-tree 'HEAD^{tree}' -p HEAD -m work)\"",
    );
    let clean = run(repo.vnx().args(["clean", "--orphans", "--yes"]));
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean.stdout.contains("storage is kept") && clean.stdout.contains("not here"),
        "{}",
        clean.stdout
    );
    assert!(gone("container", &name), "{name} still runs");
    assert!(exists("volume", &name), "{name}'s work was lost");
    // Once nothing there is missing here, cleaning again removes the volume too.
    let mountpoint = Command::new("podman")
        .args(["volume", "inspect", "--format", "{{.Mountpoint}}", &name])
        .output()
        .unwrap();
    let clone =
        std::path::PathBuf::from(String::from_utf8_lossy(&mountpoint.stdout).trim()).join("repo");
    let deleted = Command::new("git")
        .arg("-C")
        .arg(&clone)
        .args(["branch", "-D", "extra"])
        .output()
        .unwrap();
    assert!(deleted.status.success(), "{deleted:?}");
    let clean = run(repo.vnx().args(["clean", "--orphans", "--yes", "--json"]));
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    let done: serde_json::Value = serde_json::from_str(&clean.stdout).unwrap();
    assert_eq!(done[0]["removed"], "all", "{done:#}");
    assert!(gone("container", &name) && !exists("volume", &name));
    let status = run(repo.vnx().args(["status", "--json"]));
    assert!(!status.stdout.contains("\"orphan\""), "{}", status.stdout);
}
