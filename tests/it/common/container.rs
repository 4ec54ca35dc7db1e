//! The worker image the container tests run (`bin/worker-image` with this build's vnx), built
//! once per test run; and the engine's answers about a dispatch's container.

use std::process::Command;
use std::sync::OnceLock;

use super::{repo_dir, run};

/// The image the tests build (its Debian base is cached by the engine between runs).
pub const WORKER_IMAGE: &str = "localhost/vnx-worker:test";

/// Builds [`WORKER_IMAGE`] the first time a test asks; its name.
pub fn worker_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let built = run(Command::new(repo_dir().join("bin/worker-image")).args([
            "--tag",
            WORKER_IMAGE,
            "--vnx",
            env!("CARGO_BIN_EXE_vnx"),
        ]));
        assert_eq!(built.code, 0, "bin/worker-image failed: {}", built.stderr);
        assert_eq!(built.stdout.trim(), WORKER_IMAGE);
    });
    WORKER_IMAGE
}

/// The name vnx gives dispatch `id`'s container and volume.
pub fn container_of(id: &str) -> String {
    format!("vnx-{}", id.to_ascii_lowercase())
}

/// Whether podman knows a container (`what` = "container") or volume ("volume") `name`.
pub fn exists(what: &str, name: &str) -> bool {
    Command::new("podman")
        .args([what, "exists", name])
        .status()
        .is_ok_and(|s| s.success())
}
