//! What the real CLIs need in a place vnx makes per dispatch (`container` and `pod`): the
//! worker image with claude and codex copied in, built here offline once per test run; the
//! host's `env:` that gives the place's CLIs their keys and base URLs; and the removal of
//! what a failed test's dispatches left in podman.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use crate::common::container::worker_image;
use crate::common::run;

/// The image with the CLIs, built from the worker image once per test run.
const CLIS_IMAGE: &str = "localhost/vnx-worker-clis:test";

/// Where the clone is in a container or pod (the CLIs trust it).
pub(super) const CLONE: &str = "/work/repo";

/// The worker image plus claude (its native binary) and codex (its native binary with the
/// `codex-path` and `codex-resources` it finds beside it), both on the image's PATH.
const CONTAINERFILE: &str = "ARG BASE\nFROM $BASE\nCOPY claude /usr/local/bin/claude\nCOPY codex /opt/codex\nENV PATH=/opt/codex/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n";

/// Builds [`CLIS_IMAGE`] from the CLIs in `bin` (install-clis.sh's bin directory) the first
/// time a test asks: its name. Nothing is pulled; the programs are linked into the build
/// context (copied when they cannot be).
pub(super) fn clis_image(bin: &Path) -> &'static str {
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

/// Removes the containers and volumes of the names it was told of from podman (after a
/// failure: a passing test finds nothing left).
#[derive(Default)]
pub(super) struct Leftovers(pub(super) Vec<String>);

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

/// What the host's `env:` gives the place: claude's and codex's keys, base URLs and quiet
/// switches from what `seed_home` printed (not HOME, not CODEX_HOME: a path here), as a
/// YAML flow mapping.
pub(super) fn place_env(seeded: &[(String, String)]) -> String {
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
