//! The real claude and codex in a container per dispatch: `vnx dispatch-agent --host box`
//! where `box` is a container host (podman) whose image is the worker image with the two
//! CLIs copied in, built here offline. The container reaches the scripted model server on
//! this machine's loopback (`network: host`); the CLIs' settings come from the HOME here
//! through the host's `logins:`, their keys and base URLs through its `env:`. The local vnx
//! runs with the CLI variables pointing nowhere, so a test fails if the container's CLIs got
//! them from it. Needs the real CLIs and podman and mmdebstrap (`bin/test --all`).

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use super::remote::local;
use super::{ModelServer, cli_bin, committed_by_vnx, explain, in_lane, seed_home, step};
use crate::common::container::{container_of, exists, gone, worker_image};
use crate::common::{Repo, completion, configure, run};

/// The image with the CLIs, built from the worker image once per test run.
const CLIS_IMAGE: &str = "localhost/vnx-worker-clis:test";

/// Where the clone is in the container (the CLIs trust it).
const CLONE: &str = "/work/repo";

/// The worker image plus claude (its native binary) and codex (its native binary with the
/// `codex-path` and `codex-resources` it finds beside it), both on the image's PATH.
const CONTAINERFILE: &str = "ARG BASE\nFROM $BASE\nCOPY claude /usr/local/bin/claude\nCOPY codex /opt/codex\nENV PATH=/opt/codex/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n";

/// Builds [`CLIS_IMAGE`] from the CLIs in `bin` (install-clis.sh's bin directory) the first
/// time a test asks: its name. Nothing is pulled; the programs are linked into the build
/// context (copied when they cannot be).
fn clis_image(bin: &Path) -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let base = worker_image();
        let modules = bin.parent().expect("the bin dir is in node_modules");
        let codex = modules.join("@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl");
        let context = tempfile::tempdir().unwrap();
        let at = context.path();
        let claude = bin.join("claude").canonicalize().expect("claude installed");
        link_or_copy(&claude, &at.join("claude"));
        for file in [
            "bin/codex",
            "codex-package.json",
            "codex-path/rg",
            "codex-resources/bwrap",
        ] {
            link_or_copy(&codex.join(file), &at.join("codex").join(file));
        }
        std::fs::write(at.join("Containerfile"), CONTAINERFILE).unwrap();
        let built = run(Command::new("podman")
            .args(["build", "--quiet", "--pull=never", "--network=none"])
            .args(["--build-arg", &format!("BASE={base}"), "--tag", CLIS_IMAGE])
            .arg(at));
        assert_eq!(built.code, 0, "podman build {CLIS_IMAGE}: {}", built.stderr);
        for (cli, version) in [("claude", "2.1.197"), ("codex", "0.169.0")] {
            let r = run(Command::new("podman").args([
                "run",
                "--rm",
                "--network=none",
                CLIS_IMAGE,
                cli,
                "--version",
            ]));
            assert!(
                r.code == 0 && r.stdout.contains(version),
                "{cli} --version in {CLIS_IMAGE}: {}{}",
                r.stdout,
                r.stderr
            );
        }
    });
    CLIS_IMAGE
}

/// `from` at `to` (its directory made): a hard link, or a copy across filesystems.
fn link_or_copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// Removes what the dispatches it was told of left in podman (after a failure: a passing
/// test finds nothing left).
#[derive(Default)]
struct Leftovers(Vec<String>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("podman")
                .args(["rm", "--force", "--time", "0", name])
                .output();
            let _ = Command::new("podman")
                .args(["volume", "rm", "--force", name])
                .output();
        }
    }
}

/// What the host's `env:` gives the container: claude's and codex's keys, base URLs and
/// quiet switches from what `seed_home` printed (not HOME, not CODEX_HOME: a path here).
fn container_env(seeded: &[(String, String)]) -> String {
    let wanted = |k: &str| {
        ["ANTHROPIC_", "CLAUDE_CODE_", "DISABLE_"]
            .iter()
            .any(|p| k.starts_with(p))
            || ["IS_SANDBOX", "MOCK_API_KEY"].contains(&k)
    };
    let pairs: Vec<String> = seeded
        .iter()
        .filter(|(k, _)| wanted(k))
        .map(|(k, v)| format!("{k}: {}", serde_json::Value::from(v.as_str())))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

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
            container_env(&seeded)
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
