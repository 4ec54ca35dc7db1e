//! `Fakes`: a bin directory whose `claude`, `codex` and `gemini` are the stand-in
//! `vnx-fake-cli` (testing/fake-cli/), and the invocation logs it writes.

use std::ffi::OsString;
use std::path::PathBuf;

/// A bin directory with `claude`, `codex` and `gemini` linked to the stand-in, and the
/// directory the stand-in logs its invocations to.
pub struct Fakes {
    dir: tempfile::TempDir,
}

impl Fakes {
    pub fn new() -> Fakes {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::create_dir(dir.path().join("log")).unwrap();
        for name in vnx::provider::cli::programs() {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_vnx-fake-cli"), bin.join(name)).unwrap();
        }
        Fakes { dir }
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// The stand-in linked as `name` (claude, codex or gemini).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.path().join("bin").join(name)
    }

    pub fn path(&self) -> OsString {
        let mut path = self.dir.path().join("bin").into_os_string();
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        path
    }

    /// `vnx ARGS` in `repo`, run with the stand-ins first on `PATH` and logging here.
    pub fn run_vnx(&self, repo: &super::Repo, args: &[&str]) -> super::Run {
        let mut cmd = repo.vnx();
        cmd.env("PATH", self.path())
            .env("VNX_FAKE_LOG_DIR", self.log_dir())
            .args(args);
        super::run(cmd)
    }

    /// The stand-in's invocation logs for one personality.
    pub fn invocations(&self, personality: &str) -> Vec<serde_json::Value> {
        let mut logs: Vec<serde_json::Value> = std::fs::read_dir(self.log_dir())
            .unwrap()
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(&format!("{personality}-")) && name.ends_with(".json")
            })
            .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
            .collect();
        logs.sort_by_key(|l| l["pid"].as_u64());
        logs
    }

    /// The invocation whose prompt is this dispatch's.
    pub fn invocation_of(&self, personality: &str, prompt: &str) -> serde_json::Value {
        self.invocations(personality)
            .into_iter()
            .find(|l| l["prompt"].as_str().is_some_and(|p| p.contains(prompt)))
            .unwrap_or_else(|| panic!("no {personality} invocation saw {prompt:?}"))
    }
}
