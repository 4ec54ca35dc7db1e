//! Benchmark 7, the worktree pool: on a generated repository of 20,000 files, a no-op
//! dispatch from the pool and one without it, against the bare `git worktree add` + `git
//! worktree remove` floor (interleaved, same run); and a command gate that runs `cargo build`
//! on vnx's own source at a dispatch's head, cold and warm from the gates' pool, against an
//! incremental build in the main checkout after the same change.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::Result;
use crate::dispatch_bench::{BenchRepo, NOOP_DISPATCH as NOOP};
use crate::report::format::num;
use crate::timing::{Lat, micros};

/// Files in the generated repository.
pub const FILES: usize = 20_000;

/// What the pool benchmark measured.
pub struct PoolBench {
    pub runs: usize,
    pub floor: Lat,
    pub unpooled: Lat,
    pub pooled: Lat,
}

/// The warm-gate figures, in seconds.
pub struct GateBench {
    pub cold: f64,
    pub warm: Lat,
    pub incremental: Lat,
}

/// Writes `FILES` small files in 200 directories and commits them.
fn populate(repo: &BenchRepo) -> Result<()> {
    for d in 0..FILES / 100 {
        let dir = repo.root.join(format!("src/d{d:03}"));
        std::fs::create_dir_all(&dir)?;
        for f in 0..100 {
            let text = format!("// module {d} file {f}\n").repeat(8);
            std::fs::write(dir.join(format!("f{f:03}.txt")), text)?;
        }
    }
    repo.run("git", &["add", "-A"])?;
    repo.run("git", &["commit", "-q", "-m", "20,000 files"])?;
    // As a person's first `git status` would: the index git just wrote has every file
    // racily clean, and vnx reads the main checkout's state through libgit2, which does
    // not write the refreshed index back.
    repo.run("git", &["status", "--porcelain"])?;
    Ok(())
}

/// Appends `yaml` to the config and commits it (the main checkout must stay clean).
fn configure(repo: &BenchRepo, yaml: &str) -> Result<()> {
    let path = repo.root.join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&path)?;
    text.push_str(yaml);
    std::fs::write(&path, text)?;
    repo.run("git", &["commit", "-q", "-am", "configure"])?;
    Ok(())
}

/// Waits until no supervisor of the repository runs (the pooled dispatch's supervisor refills
/// the pool after its completion), so runs do not overlap.
fn settle(repo: &BenchRepo) {
    for _ in 0..600 {
        let listed = repo.run("tmux", &["-L", &repo.socket, "list-sessions"]);
        if listed.map_or(true, |s| s.trim().is_empty()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The floor: a bare `git worktree add` of a new branch and `git worktree remove`.
fn floor_once(repo: &BenchRepo, i: usize) -> Result<f64> {
    let wt = repo.root.join(format!(".vnx-data/floor-{i}"));
    let wt_s = wt.to_string_lossy().into_owned();
    let branch = format!("floor/{i}");
    let t = Instant::now();
    repo.run(
        "git",
        &["worktree", "add", "-q", "-b", &branch, &wt_s, "HEAD"],
    )?;
    repo.run("git", &["worktree", "remove", &wt_s])?;
    let us = micros(t);
    repo.run("git", &["branch", "-D", &branch])?;
    Ok(us)
}

fn dispatch_once(repo: &BenchRepo, vnx: &Path) -> Result<f64> {
    settle(repo);
    let t = Instant::now();
    repo.run(vnx, &NOOP)?;
    Ok(micros(t))
}

/// Runs `runs` timed no-op dispatches of each kind (after a warm-up), each beside a floor run.
pub fn bench_pool(vnx: &Path, dir: &Path, runs: usize) -> Result<PoolBench> {
    let work = dir.join("pool");
    std::fs::create_dir_all(&work)?;
    let repo = BenchRepo::create(&work, vnx)?;
    populate(&repo)?;
    let (mut floor, mut unpooled, mut pooled) = (vec![], vec![], vec![]);
    for i in 0..=runs {
        let f = floor_once(&repo, i)?;
        let d = dispatch_once(&repo, vnx)?;
        if i > 0 {
            floor.push(f);
            unpooled.push(d);
        }
    }
    configure(&repo, "worktree:\n  pool:\n    size: 2\n")?;
    repo.run(vnx, &["pool", "fill"])?;
    for i in 0..=runs {
        let f = floor_once(&repo, runs + 1 + i)?;
        let d = dispatch_once(&repo, vnx)?;
        if i > 0 {
            floor.push(f);
            pooled.push(d);
        }
    }
    settle(&repo);
    let verified = repo.run(vnx, &["audit-chain", "verify"])?;
    if !verified.starts_with("verified") {
        return Err(format!("the benchmark ledger does not verify: {verified}").into());
    }
    Ok(PoolBench {
        runs,
        floor: Lat::new(floor),
        unpooled: Lat::new(unpooled),
        pooled: Lat::new(pooled),
    })
}

/// The gate figures: vnx's source in a governed repository, a command gate `cargo build`,
/// dispatches that each change one source file; the first gate is cold (the gates' pool makes
/// its checkout), the next ones warm; each beside `cargo build` in the main checkout after
/// the same kind of change.
pub fn bench_gate(vnx: &Path, dir: &Path, source: &Path, runs: usize) -> Result<GateBench> {
    let gate_work = dir.join("pool-gate");
    std::fs::create_dir_all(&gate_work)?;
    let repo = BenchRepo::create(&gate_work, vnx)?;
    copy_source(source, &repo.root)?;
    let target = repo.root.join("target");
    let tools = gate_work.join("tools");
    std::fs::create_dir_all(&tools)?;
    let worker = tools.join("touch-source.sh");
    std::fs::write(
        &worker,
        "#!/bin/sh\necho \"// a change $(date +%s%N)\" >> src/demo.rs\n",
    )?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755))?;
    }
    configure(
        &repo,
        &format!(
            "  builder: {{gates: [build]}}\nproviders:\n  touch:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n\
             worktree:\n  pool:\n    size: 1\n    keep: [target]\n\
             gates:\n  build:\n    kind: command\n    argv: [cargo, build, --offline, --locked, --bin, vnx]\n    timeout: 3600\n",
            worker.display()
        ),
    )?;
    crate::note("gate benchmark: a cold `cargo build` of vnx in the main checkout (untimed)");
    repo.run("cargo", &["build", "--offline", "--locked", "--bin", "vnx"])?;
    let mut gate_seconds = Vec::new();
    let mut incremental = Vec::new();
    for i in 0..=runs {
        crate::note(&format!(
            "gate benchmark: dispatch and gate {} of {}",
            i + 1,
            runs + 1
        ));
        let id = repo.run(
            vnx,
            &[
                "dispatch-agent",
                "--agent",
                "builder",
                "--provider",
                "touch",
                "--instruction",
                "change one source file",
                "--json",
            ],
        )?;
        let id = serde_json::from_str::<serde_json::Value>(&id)?["dispatch_id"]
            .as_str()
            .ok_or("no dispatch id")?
            .to_owned();
        let t = Instant::now();
        let report = repo.run(vnx, &["gate-check", &id, "--json"])?;
        let seconds = micros(t) / 1e6;
        if !report.contains("\"GO\"") {
            return Err(format!("the build gate did not pass: {report}").into());
        }
        gate_seconds.push(seconds);
        if i > 0 {
            // The same kind of change in the main checkout, built incrementally.
            let file = repo.root.join("src/demo.rs");
            let mut text = std::fs::read_to_string(&file)?;
            text.push_str(&format!("// a change in the main checkout {i}\n"));
            std::fs::write(&file, text)?;
            let t = Instant::now();
            repo.run("cargo", &["build", "--offline", "--locked", "--bin", "vnx"])?;
            incremental.push(micros(t) / 1e6);
            repo.run("git", &["checkout", "-q", "--", "src/demo.rs"])?;
        }
    }
    let _ = std::fs::remove_dir_all(target);
    Ok(GateBench {
        cold: gate_seconds[0],
        warm: Lat::new(gate_seconds[1..].to_vec()),
        incremental: Lat::new(incremental),
    })
}

/// Puts vnx's committed source (HEAD of its checkout, not the working tree) into `dest` and
/// commits it there.
fn copy_source(source: &Path, dest: &Path) -> Result<()> {
    let archive = std::process::Command::new("git")
        .arg("-C")
        .arg(source)
        .args(["archive", "--format=tar", "HEAD"])
        .output()?;
    if !archive.status.success() {
        return Err(format!("{} is not vnx's git checkout", source.display()).into());
    }
    let mut tar = std::process::Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dest)
        .stdin(std::process::Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        tar.stdin
            .take()
            .ok_or("tar has no stdin")?
            .write_all(&archive.stdout)?;
    }
    if !tar.wait()?.success() {
        return Err("tar could not unpack vnx's source".into());
    }
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dest)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "bench")
            .env("GIT_AUTHOR_EMAIL", "bench@example.com")
            .env("GIT_COMMITTER_NAME", "bench")
            .env("GIT_COMMITTER_EMAIL", "bench@example.com")
            .status()
    };
    run(&["add", "-A"])?;
    run(&["commit", "-q", "-m", "vnx's source"])?;
    Ok(())
}

impl PoolBench {
    /// The section's Markdown.
    pub fn render(&self) -> String {
        let ms = |us: f64| format!("{} ms", num(us / 1000.0, 1));
        let row = |name: &str, l: &Lat| {
            format!(
                "| {name} | {} | {} | {} | {}× |\n",
                ms(l.p(50.0)),
                ms(l.p(90.0)),
                ms(l.max()),
                num(l.p(50.0) / self.floor.p(50.0), 2)
            )
        };
        let mut out = format!(
            "\n### 7. The worktree pool ({FILES} files; {} runs of each, interleaved with the floor)\n\n\
             A no-op dispatch is `vnx dispatch-agent --provider demo --model noop`, waited for. \
             Unpooled, it makes its worktree with `git worktree add` and removes it at the end; \
             pooled (`worktree.pool.size: 2`, filled ahead), it moves an idle worktree into \
             place, checks out its base (only the files that differ) and gives it back scrubbed \
             and proven clean. The floor is a bare `git worktree add` + `git worktree remove`.\n\n\
             | Run | p50 | p90 | max | p50 vs floor |\n|---|---:|---:|---:|---:|\n",
            self.runs
        );
        out += &row("floor: git worktree add + git worktree remove", &self.floor);
        out += &row("**no-op dispatch, unpooled**", &self.unpooled);
        out += &row("**no-op dispatch from the pool**", &self.pooled);
        out
    }
}

impl GateBench {
    /// The warm-gate paragraph's Markdown.
    pub fn render(&self) -> String {
        format!(
            "\nA command gate `cargo build --offline --locked --bin vnx` on vnx's own source at a \
             dispatch's head (each dispatch appends a comment to `src/demo.rs`), timed as `vnx \
             gate-check`: cold (the gates' pool makes its checkout) {} s; warm from the pool, \
             p50 {} s (max {} s); `cargo build` in the main checkout after the same kind of \
             change, p50 {} s: the warm gate takes {}× the incremental build.\n",
            num(self.cold, 1),
            num(self.warm.p(50.0), 2),
            num(self.warm.max(), 2),
            num(self.incremental.p(50.0), 2),
            num(self.warm.p(50.0) / self.incremental.p(50.0), 2)
        )
    }
}
