//! The real claude and codex in a container per dispatch: `vnx dispatch-agent --host box`
//! where `box` is a container host (podman) whose image is the worker image with the two
//! CLIs copied in, built here offline. The container reaches the scripted model server on
//! this machine's loopback (`network: host`); the CLIs' settings come from the HOME here
//! through the host's `logins:`, their keys and base URLs through its `env:`. The local vnx
//! runs with the CLI variables pointing nowhere, so a test fails if the container's CLIs got
//! them from it. Needs the real CLIs and podman and mmdebstrap (`bin/test --all`).

use std::path::Path;

use super::image::{CLONE, Leftovers, clis_image, place_env};
use super::remote::local;
use super::{ModelServer, cli_bin, committed_by_vnx, explain, in_lane, seed_home, step};
use crate::common::container::{container_of, exists, gone};
use crate::common::{Repo, completion, configure, run};

#[test]
#[ignore = "needs the real claude and codex and podman (bin/test --all installs them)"]
fn real_clis_dispatch_in_a_container_of_their_own() {
    let image = clis_image(&cli_bin());
    let server = ModelServer::start();
    let repo = Repo::new();
    // The identity the container's clone commits with is the project's git config's.
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    let seeded = seed_home(&repo.env.home(), server.port, Path::new(CLONE));
    configure(
        &repo,
        &format!(
            "hosts:\n  box:\n    container:\n      image: \"{image}\"\n      network: host\n      env: {}\n      logins: [claude, codex]\n",
            place_env(&seeded)
        ),
    );
    // doctor's container finds both CLIs in the image.
    let r = run(repo.vnx().args(["doctor", "--host", "box", "--json"]));
    let doctor: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("[doctor --host box] {e}: {} {}", r.stdout, r.stderr));
    for cli in ["claude", "codex"] {
        let check = doctor["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == cli)
            .unwrap_or_else(|| panic!("[{cli} doctor --host box] no check: {doctor}"));
        assert!(
            check["ok"] == true && check.get("warn").is_none(),
            "[{cli} doctor --host box] {check}"
        );
    }
    let mut leftovers = Leftovers::default();
    for lane in ["headless", "interactive"] {
        for cli in ["claude", "codex"] {
            let at = step(cli, lane, "in a container on host box");
            let marker = format!("container {cli} {lane}");
            let file = format!("container-{cli}-{lane}.txt");
            let mut cmd = local(&repo);
            cmd.args(["dispatch-agent", "--host", "box", "--agent", "implementer"])
                .args(["--provider", cli, "--lane", lane, "--deadline", "120"])
                .args(["--json", "--instruction"])
                .arg(in_lane(cli, lane, &marker, &file, "wrote-it"));
            let r = run(cmd);
            let c = completion(&r);
            if let Some(id) = c["dispatch_id"].as_str() {
                leftovers.0.push(container_of(id));
            }
            // The branch came back with the worker's change and the container's trailers.
            let id = committed_by_vnx(&repo, &c, &at, (cli, lane), &marker, &file);
            assert_eq!(r.code, 0, "{at} {}", r.stderr);
            assert_eq!(c["remote"]["host"], format!("box.{id}"), "{at} {c}");
            // The prompt reached the model server from the container's CLI.
            assert!(
                server
                    .requests()
                    .iter()
                    .any(|q| q["body"].to_string().contains(&marker)),
                "{at} the model server never saw the prompt: {}",
                explain(&c)
            );
            // Its work is here: its container is gone, its volume kept for a follow-up.
            let name = container_of(&id);
            assert!(gone("container", &name), "{at} {name} still exists");
            assert!(exists("volume", &name), "{at} volume {name} was removed");
        }
    }
    // The container's lines, mirrored here, and their re-attestations verify.
    repo.verify_ok();
}

/// The real claude in a container and in a pod without a network, their hosts relaying
/// credentials (ADR 0128): the place gets claude's settings but neither its key nor its
/// address; this machine's environment holds both; the worker reaches the model server
/// through the tunnel on the place's loopback and the keeper here, and the server sees the
/// real key on every request of the dispatch.
#[test]
#[ignore = "needs the real claude and podman (bin/test --all installs them)"]
fn real_claude_in_places_without_a_network_works_through_the_credential_relay() {
    use sha2::Digest;
    let image = clis_image(&cli_bin());
    let server = ModelServer::start();
    let mut leftovers = Leftovers::default();
    let stand_in = crate::kubernetes_place::STAND_IN;
    for (host, kind) in [
        (
            "box",
            format!("container:\n      image: \"{image}\"\n      network: none"),
        ),
        (
            "k8s",
            format!(
                "kubernetes:\n      kubectl: {stand_in}\n      namespace: agents\n      image: \"{image}\""
            ),
        ),
    ] {
        let repo = Repo::new();
        repo.env.git(&["config", "user.name", "t"]);
        repo.env.git(&["config", "user.email", "t@example.com"]);
        let seeded = seed_home(&repo.env.home(), server.port, Path::new(CLONE));
        let value = |name: &str| (seeded.iter().find(|(k, _)| k == name).unwrap().1).clone();
        let (key, base) = (value("ANTHROPIC_API_KEY"), value("ANTHROPIC_BASE_URL"));
        let kept: Vec<(String, String)> = (seeded.iter())
            .filter(|(k, _)| k != "ANTHROPIC_API_KEY" && k != "ANTHROPIC_BASE_URL")
            .cloned()
            .collect();
        configure(
            &repo,
            &format!(
                "hosts:\n  {host}:\n    {kind}\n      env: {}\n      logins: [claude]\n    credentials: relay\nroles:\n  implementer: {{gates: []}}\n",
                place_env(&kept)
            ),
        );
        let at = step(
            "claude",
            "headless",
            &format!("on host {host} without a network, its key relayed"),
        );
        let marker = format!("{host} claude relayed");
        let file = format!("{host}-claude-relayed.txt");
        let mut cmd = local(&repo);
        cmd.env("ANTHROPIC_API_KEY", &key)
            .env("ANTHROPIC_BASE_URL", &base)
            .args(["dispatch-agent", "--host", host, "--agent", "implementer"])
            .args([
                "--provider",
                "claude",
                "--lane",
                "headless",
                "--deadline",
                "120",
            ])
            .args(["--json", "--instruction"])
            .arg(in_lane("claude", "headless", &marker, &file, "wrote-it"));
        let r = run(cmd);
        let c = completion(&r);
        if let Some(id) = c["dispatch_id"].as_str() {
            let pod = crate::kubernetes_place::object_of(id);
            leftovers.0.extend([container_of(id), pod]);
        }
        committed_by_vnx(&repo, &c, &at, ("claude", "headless"), &marker, &file);
        assert_eq!(r.code, 0, "{at} {}", r.stderr);
        let want = hex::encode(sha2::Sha256::digest(key.as_bytes()));
        let keys: Vec<serde_json::Value> = (server.requests().iter())
            .filter(|q| q["body"].to_string().contains(&marker))
            .map(|q| q["key_sha256"].clone())
            .collect();
        assert!(
            !keys.is_empty(),
            "{at} no request reached the server: {}",
            explain(&c)
        );
        assert!(
            keys.iter().all(|k| k.as_str() == Some(want.as_str())),
            "{at} the server saw another key: {keys:?}"
        );
    }
}
