//! The real claude and codex in a pod per dispatch: `vnx dispatch-agent --host k8s` where
//! `k8s` is a kubernetes host reached through the stand-in kubectl (testing/fake-kubectl/,
//! pods as podman containers), its image the one `container` runs (the worker image with the
//! two CLIs copied in). The pod reaches the scripted model server on this machine's loopback
//! with `network: host` (`hostNetwork: true`, the node's network, which the stand-in makes
//! this machine's); the CLIs' settings come from the HOME here through the host's `logins:`
//! (a Secret), their keys and base URLs through its `env:`. Both forms, a Pod and claim of
//! vnx's own (`objects: pod`) and an agent-sandbox `Sandbox` (`objects: sandbox`): each
//! dispatch's branch and receipts come back, its pod goes, its claim and Secret stay until
//! `vnx merge`. The local vnx runs with the CLI variables pointing nowhere, so a test fails if
//! the pod's CLIs got them from it. Needs the real CLIs and podman and mmdebstrap
//! (`bin/test --all`).

use std::path::Path;

use super::image::{CLONE, Leftovers, clis_image, place_env};
use super::remote::local;
use super::{ModelServer, cli_bin, committed_by_vnx, explain, in_lane, seed_home, step};
use crate::common::container::{exists, gone};
use crate::common::{Repo, completion, configure, gate_check, run};
use crate::kubernetes_place::{STAND_IN, object_of, secret_of};

#[test]
#[ignore = "needs the real claude and codex and podman (bin/test --all installs them)"]
fn real_clis_dispatch_in_a_pod_of_their_own() {
    let image = clis_image(&cli_bin());
    let server = ModelServer::start();
    let mut leftovers = Leftovers::default();
    // The headless lane in a Pod of vnx's own, the interactive one in a Sandbox's pod.
    for (objects, lane) in [("pod", "headless"), ("sandbox", "interactive")] {
        let repo = Repo::new();
        // The identity the pod's clone commits with is the project's git config's.
        repo.env.git(&["config", "user.name", "t"]);
        repo.env.git(&["config", "user.email", "t@example.com"]);
        let seeded = seed_home(&repo.env.home(), server.port, Path::new(CLONE));
        configure(
            &repo,
            &format!(
                "hosts:\n  k8s:\n    kubernetes:\n      kubectl: {STAND_IN}\n      namespace: agents\n      image: \"{image}\"\n      objects: {objects}\n      network: host\n      env: {}\n      logins: [claude, codex]\nroles:\n  implementer: {{gates: []}}\n",
                place_env(&seeded)
            ),
        );
        for cli in ["claude", "codex"] {
            let at = step(cli, lane, &format!("in a pod on host k8s ({objects})"));
            let marker = format!("pod {cli} {lane}");
            let file = format!("pod-{cli}-{lane}.txt");
            let mut cmd = local(&repo);
            cmd.args(["dispatch-agent", "--host", "k8s", "--agent", "implementer"])
                .args(["--provider", cli, "--lane", lane, "--deadline", "120"])
                .args(["--json", "--instruction"])
                .arg(in_lane(cli, lane, &marker, &file, "wrote-it"));
            let r = run(cmd);
            let c = completion(&r);
            // The engine's names of its pod, claim and logins' Secret.
            let names = c["dispatch_id"].as_str().map(|id| {
                let pod = object_of(id);
                let name = pod.trim_start_matches("k8s-agents-").to_owned();
                let claim = if objects == "pod" {
                    pod.clone()
                } else {
                    format!("k8s-agents-work-{name}")
                };
                leftovers.0.extend([pod.clone(), claim.clone()]);
                (pod, claim, format!("{name}-logins"))
            });
            // The branch came back with the worker's change and the pod's trailers.
            let id = committed_by_vnx(&repo, &c, &at, (cli, lane), &marker, &file);
            assert_eq!(r.code, 0, "{at} {}", r.stderr);
            assert_eq!(c["remote"]["host"], format!("k8s.{id}"), "{at} {c}");
            // The prompt reached the model server from the pod's CLI.
            assert!(
                server
                    .requests()
                    .iter()
                    .any(|q| q["body"].to_string().contains(&marker)),
                "{at} the model server never saw the prompt: {}",
                explain(&c)
            );
            // Its work is here: its pod is gone, its claim and its logins' Secret kept.
            let (pod, claim, secret) = names.expect("a dispatch id");
            assert!(gone("container", &pod), "{at} pod {pod} still exists");
            assert!(exists("volume", &claim), "{at} claim {claim} was removed");
            assert_eq!(secret_of(&repo, &secret), secret, "{at}");
            // The pod's lines, mirrored here, and their re-attestations verify.
            repo.verify_ok();
            // Merged, its claim goes, and the Secret with it.
            let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
            assert_eq!(r.code, 0, "{at} {}", r.stderr);
            let (r, report) = gate_check(&repo, &id);
            assert_eq!(r.code, 0, "{at} {} {report:#}", r.stderr);
            let merged = run(repo.vnx().args(["merge", &id]));
            assert_eq!(merged.code, 0, "{at} {}{}", merged.stdout, merged.stderr);
            assert!(!exists("volume", &claim), "{at} claim {claim} still exists");
            assert_eq!(
                secret_of(&repo, &secret),
                "",
                "{at} the Secret is still there"
            );
            let merged = repo.env.git(&["show", &format!("HEAD:{file}")]);
            assert_eq!(merged, format!("{marker}\n"), "{at} not merged");
        }
    }
}
