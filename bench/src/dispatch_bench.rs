//! Benchmark 5, dispatch overhead: one no-op `demo` dispatch end to end (worktree, tmux pane,
//! supervisor, both receipts, classification, teardown) against the bare git and tmux steps
//! any dispatch needs; and 16 dispatches in parallel against 16 in a row.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::Result;
use crate::report::format::num;
use crate::timing::{Lat, micros};

/// One no-op dispatch with the offline provider.
pub(crate) const NOOP_DISPATCH: [&str; 9] = [
    "dispatch-agent",
    "--agent",
    "bench",
    "--provider",
    "demo",
    "--model",
    "noop",
    "--instruction",
    "nothing",
];

/// A throwaway governed repository with its own tmux socket.
pub(crate) struct BenchRepo {
    pub(crate) root: PathBuf,
    pub(crate) socket: String,
    /// The key that signs the receipts (beside the repository, not the user's own).
    pub(crate) key: PathBuf,
}

impl BenchRepo {
    pub(crate) fn create(dir: &Path, vnx: &Path) -> Result<BenchRepo> {
        let root = dir.join("dispatch-repo");
        std::fs::create_dir_all(&root)?;
        let repo = BenchRepo {
            key: dir.join("checkpoint.key"),
            root,
            socket: format!("vnx-bench-{}", std::process::id()),
        };
        repo.run("git", &["init", "-q", "-b", "main"])?;
        repo.run("git", &["commit", "-q", "--allow-empty", "-m", "init"])?;
        repo.run(vnx, &["init"])?;
        // The no-op dispatches' role: declared (an unknown role is refused), and not a
        // writing one (the phantom guard would correct their done).
        let config = repo.root.join(".vnx/config.yaml");
        let mut text = std::fs::read_to_string(&config)?;
        text.push_str("roles:\n  bench: {writes: false}\n");
        std::fs::write(&config, text)?;
        repo.run("git", &["add", "-A"])?;
        repo.run("git", &["commit", "-q", "-m", "vnx init"])?;
        Ok(repo)
    }

    pub(crate) fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.root)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "bench")
            .env("GIT_AUTHOR_EMAIL", "bench@example.com")
            .env("GIT_COMMITTER_NAME", "bench")
            .env("GIT_COMMITTER_EMAIL", "bench@example.com")
            .env("VNX_TMUX_SOCKET", &self.socket)
            .env("VNX_CHECKPOINT_KEY", &self.key)
            // Builds a benchmark runs (the warm-gate figures) use the repository's own target.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR");
        c
    }

    pub(crate) fn run(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        args: &[&str],
    ) -> Result<String> {
        let out = self.cmd(program).args(args).output()?;
        if !out.status.success() {
            return Err(format!(
                "{args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

impl BenchRepo {
    /// Starts `n` no-op dispatches at once with `--detach`, then waits for them all.
    pub(crate) fn parallel_noops(&self, vnx: &Path, n: usize) -> Result<()> {
        let ids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    s.spawn(|| {
                        let mut args = NOOP_DISPATCH.to_vec();
                        args.push("--detach");
                        self.run(vnx, &args).map_err(|e| e.to_string())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| "a dispatch thread panicked".to_owned())?
                })
                .collect::<std::result::Result<Vec<_>, String>>()
        })?;
        let mut wait = vec!["wait"];
        wait.extend(ids.iter().map(String::as_str));
        self.run(vnx, &wait).map(drop)
    }
}

impl Drop for BenchRepo {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// What the dispatch benchmark measured.
pub struct DispatchBench {
    pub n: usize,
    pub floor: Lat,
    pub dispatch: Lat,
    pub serial_16_ms: f64,
    pub parallel_16_ms: f64,
}

/// Runs `n` floor iterations and `n` no-op dispatches, interleaved, then the 16-way runs.
pub fn bench_dispatch(vnx: &Path, dir: &Path, n: usize) -> Result<DispatchBench> {
    let repo = BenchRepo::create(dir, vnx)?;
    let wt_dir = repo.root.join(".vnx-data/worktrees");
    let mut floor = Vec::with_capacity(n);
    let mut dispatch = Vec::with_capacity(n);
    let dispatch_once = || -> Result<()> { repo.run(vnx, &NOOP_DISPATCH).map(drop) };
    for i in 0..=n {
        // The floor: what any dispatch must do with git and tmux, and nothing else.
        let wt = wt_dir.join(format!("floor-{i}"));
        let wt_s = wt.to_string_lossy().into_owned();
        let t = Instant::now();
        repo.run(
            "git",
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                &format!("floor/{i}"),
                &wt_s,
                "HEAD",
            ],
        )?;
        let session = format!("floor-{i}");
        let new_session = [
            "-L",
            &repo.socket,
            "new-session",
            "-d",
            "-s",
            &session,
            "-c",
            &wt_s,
            "true",
            "x",
        ];
        // The server the dispatch before left may be shutting down as this connects; vnx
        // retries then, and so does the floor (the retry counts in its time).
        let mut tries = 0;
        while let Err(e) = repo.run("tmux", &new_session) {
            tries += 1;
            if tries > 10 || !e.to_string().contains("server exited unexpectedly") {
                return Err(e);
            }
        }
        repo.run("git", &["worktree", "remove", &wt_s])?;
        repo.run("git", &["branch", "-D", &format!("floor/{i}")])?;
        let floor_us = micros(t);
        let t = Instant::now();
        dispatch_once()?;
        let dispatch_us = micros(t);
        // The first of each is a warm-up.
        if i > 0 {
            floor.push(floor_us);
            dispatch.push(dispatch_us);
        }
    }
    let t = Instant::now();
    for _ in 0..16 {
        dispatch_once()?;
    }
    let serial_16_ms = micros(t) / 1000.0;
    let t = Instant::now();
    repo.parallel_noops(vnx, 16)?;
    let parallel_16_ms = micros(t) / 1000.0;
    let verified = repo.run(vnx, &["audit-chain", "verify"])?;
    if !verified.starts_with("verified") {
        return Err(format!("the benchmark ledger does not verify: {verified}").into());
    }
    Ok(DispatchBench {
        n,
        floor: Lat::new(floor),
        dispatch: Lat::new(dispatch),
        serial_16_ms,
        parallel_16_ms,
    })
}

impl DispatchBench {
    /// The section's Markdown.
    pub fn render(&self) -> String {
        let ms = |us: f64| format!("{} ms", num(us / 1000.0, 1));
        let mut out = format!(
            "\n### 5. Dispatch overhead ({} no-op dispatches, interleaved with the floor)\n\n\
             A no-op dispatch is `vnx dispatch-agent --provider demo --model noop`, waited for: \
             worktree and branch, dispatch directory, `dispatch_started`, a tmux session whose \
             pane runs the supervisor, the worker, classification, worktree and branch \
             removal, and `dispatch_completed`. The floor is `git worktree add` + `tmux \
             new-session` + `git worktree remove` + `git branch -D`, each a process.\n\n\
             | Run | p50 | p90 | max | p50 vs floor |\n|---|---:|---:|---:|---:|\n",
            self.n
        );
        out += &format!(
            "| floor: git worktree add + tmux new-session + git worktree remove + git branch -D | {} | {} | {} | 1.00× |\n",
            ms(self.floor.p(50.0)),
            ms(self.floor.p(90.0)),
            ms(self.floor.max())
        );
        out += &format!(
            "| **no-op `demo` dispatch** | {} | {} | {} | {}× |\n",
            ms(self.dispatch.p(50.0)),
            ms(self.dispatch.p(90.0)),
            ms(self.dispatch.max()),
            num(self.dispatch.p(50.0) / self.floor.p(50.0), 2)
        );
        out += &format!(
            "\n16 no-op dispatches one after another: {} ms in all; 16 started at once with \
             `--detach` and then `vnx wait`: {} ms ({}× faster).\n",
            num(self.serial_16_ms, 0),
            num(self.parallel_16_ms, 0),
            num(self.serial_16_ms / self.parallel_16_ms, 2)
        );
        out
    }
}
