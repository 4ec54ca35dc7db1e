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

/// The worker image with the project's stand-in CLIs (`vnx-fake-cli`, named as each CLI's
/// program) on its PATH, built from [`worker_image`] once per test run, offline: a place whose
/// workers ask permission, as the real CLIs' do.
pub fn fakes_image() -> &'static str {
    const FAKES_IMAGE: &str = "localhost/vnx-worker-fakes:test";
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let base = worker_image();
        let context = tempfile::tempdir().unwrap();
        let at = context.path();
        std::fs::copy(env!("CARGO_BIN_EXE_vnx-fake-cli"), at.join("vnx-fake-cli")).unwrap();
        let mut file = String::from("ARG BASE\nFROM $BASE\n");
        for name in vnx::provider::cli::programs() {
            file.push_str(&format!("COPY vnx-fake-cli /usr/local/bin/{name}\n"));
        }
        std::fs::write(at.join("Containerfile"), file).unwrap();
        let built = run(Command::new("podman")
            .args(["build", "--quiet", "--pull=never", "--network=none"])
            .args(["--build-arg", &format!("BASE={base}"), "--tag", FAKES_IMAGE])
            .arg(at));
        assert_eq!(
            built.code, 0,
            "podman build {FAKES_IMAGE}: {}",
            built.stderr
        );
    });
    FAKES_IMAGE
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

/// Whether a container (`what` = "container") or volume `name` is gone, or goes within 30 s:
/// a container whose relay was ended is removed by the engine as vnx goes on (ADR 0087).
pub fn gone(what: &str, name: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while exists(what, name) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    true
}

/// A Docker API for the real `docker` client to talk to, with no Docker engine on this
/// machine: podman's own service on a socket of this test run (podman answers the Docker API),
/// started the first time a test asks; the `DOCKER_HOST` that names it. The service ends by
/// itself once nothing has asked it anything for a while.
pub fn docker_host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vnx-docker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("podman.sock");
        let host = format!("unix://{}", socket.display());
        let mut service = Command::new("podman")
            .args(["system", "service", "--time=300", &host])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("podman system service");
        // Reaped when it ends, in the background: it outlives the test that started it.
        std::thread::spawn(move || service.wait());
        for _ in 0..200 {
            if socket.exists() {
                return host;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("podman's Docker API never answered on {host}");
    })
}

/// The engine's container and volume `name` of a test's fixed dispatch id: removed as the
/// guard is made (podman's storage outlives a run, and a run stopped before its own cleanup
/// left them, so the id would be "in use" on the next) and again when it is dropped, the
/// test passing or not.
pub struct FreshPlace(String);

impl FreshPlace {
    /// Clears `name` now and when the guard goes.
    pub fn named(name: String) -> Self {
        clear_place(&name);
        Self(name)
    }
}

impl Drop for FreshPlace {
    fn drop(&mut self) {
        clear_place(&self.0);
    }
}

fn clear_place(name: &str) {
    for what in [
        &["rm", "--force", "--time", "0"][..],
        &["volume", "rm", "--force"],
    ] {
        let _ = Command::new("podman").args(what).arg(name).output();
    }
}

/// Removes the volume `name` a test's dispatch left for a follow-up it will not make.
pub fn remove_volume(name: &str) {
    let _ = Command::new("podman")
        .args(["volume", "rm", "--force", name])
        .output();
}

/// A repository whose `.vnx/config.yaml` declares the container host `box`.
pub fn repo_with_container_host() -> super::Repo {
    let image = worker_image();
    let repo = super::Repo::new();
    // The identity the container's clone commits with is the project's git config's.
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    super::configure(
        &repo,
        &format!(
            "hosts:\n  box:\n    container: {{image: \"{image}\"}}\n    capacity: 2\n\
             roles:\n  implementer: {{gates: []}}\n"
        ),
    );
    repo
}
