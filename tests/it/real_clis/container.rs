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
