//! Benchmark 12, the conflict radar (`--radar-only`): what it adds to `vnx status` with 50
//! running dispatches. A repository of 2,000 files in 40 directories, 50 worktrees on their
//! own branches (as dispatches make them), each with a commit changing two files and a
//! change and a new file left uncommitted, neighbours sharing a file. Timed in process: one
//! supervisor's read and record of its worktree's changes (what a busy worker costs every
//! ten seconds); `vnx::radar::scan` over the 50 states with those records (what `status`
//! adds); and the scan reading all 50 worktrees itself (no records: dispatches of an earlier
//! vnx), cold and with the dashboard's cache warm.

use std::path::{Path, PathBuf};
use std::process::Command;

use vnx::dispatch::state::{DispatchState, State};
use vnx::ids::{CommitId, DispatchId};
use vnx::radar::{self, Cache};
use vnx::worktree::changes::{self, Work};

use crate::Result;
use crate::report::format::num;
use crate::timing::time_fn;

/// Running dispatches.
const DISPATCHES: usize = 50;
/// Files in the repository.
const FILES: usize = 2_000;

/// What the radar benchmark measured.
pub struct RadarBench {
    /// Dispatches scanned.
    pub dispatches: usize,
    /// Files in the repository.
    pub files: usize,
    /// Dispatches that share a file with another.
    pub overlapping: usize,
    /// One supervisor's read and record of its worktree, seconds (median, best).
    pub record: (f64, f64),
    /// A scan reading the 50 records, seconds (median, best).
    pub recorded: (f64, f64),
    /// A scan reading every worktree itself, seconds (median, best).
    pub cold: (f64, f64),
    /// The same with the dashboard's cache warm, seconds (median, best).
    pub warm: (f64, f64),
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn file(i: usize) -> String {
    format!("src/m{:02}/f{i:04}.rs", i % 40)
}

/// Makes the repository and the dispatches' worktrees under `dir`: their states.
fn make(dir: &Path) -> Result<Vec<DispatchState>> {
    let root = dir.join("repo");
    std::fs::create_dir_all(&root)?;
    git(&root, &["init", "-q", "-b", "main"])?;
    for i in 0..FILES {
        let path = root.join(file(i));
        std::fs::create_dir_all(path.parent().unwrap_or(&root))?;
        std::fs::write(&path, format!("pub fn f{i}() -> usize {{ {i} }}\n"))?;
    }
    git(&root, &["add", "-A"])?;
    git(&root, &["commit", "-q", "-m", "base"])?;
    let base = git(&root, &["rev-parse", "HEAD"])?;
    let wts = root.join(".vnx-data/worktrees");
    std::fs::create_dir_all(&wts)?;
    let mut states = Vec::new();
    for d in 0..DISPATCHES {
        let id = DispatchId::parse(&format!("D-{:012x}", 0xbe00_0000_u64 + d as u64))?;
        let branch = format!("dispatch/{id}");
        let wt: PathBuf = wts.join(format!("dispatch-{id}"));
        let wt_text = wt.to_string_lossy().into_owned();
        git(
            &root,
            &["worktree", "add", "-q", "-b", &branch, &wt_text, &base],
        )?;
        // Committed: its own file and one it shares with the next dispatch.
        for f in [file(d * 30), file((d / 2) * 30 + 7)] {
            std::fs::write(wt.join(&f), format!("// changed by {id}\n"))?;
        }
        git(&wt, &["commit", "-q", "-am", "work"])?;
        // Uncommitted: a change and a new file.
        std::fs::write(wt.join(file(d * 30 + 1)), "// still editing\n")?;
        std::fs::write(wt.join(format!("src/new-{d}.rs")), "// new\n")?;
        let mut s = DispatchState::blank(id, State::Running);
        s.branch = Some(branch);
        s.worktree = Some(wt_text);
        s.base_commit = Some(CommitId::parse(&base)?);
        states.push(s);
    }
    Ok(states)
}

/// Times the radar over 50 running dispatches in `work`, `runs` times each after a warm-up.
pub fn bench_radar(work: &Path, runs: usize) -> Result<RadarBench> {
    crate::note("making a repository with 50 dispatches' worktrees for the radar");
    let states = make(work)?;
    let root = work.join("repo");
    let dirs: Vec<PathBuf> = states
        .iter()
        .map(|s| vnx::dispatch::dir_of(&root, &s.id))
        .collect();
    let cold = time_fn("a radar scan reading 50 worktrees", runs, || {
        std::hint::black_box(radar::scan(&root, &states, &mut Cache::default()));
        Ok(())
    })?;
    let mut cache = Cache::fresh_for(std::time::Duration::from_secs(3600));
    radar::scan(&root, &states, &mut cache);
    let warm = time_fn("a warm radar scan of 50 worktrees", runs, || {
        std::hint::black_box(radar::scan(&root, &states, &mut cache));
        Ok(())
    })?;
    // The supervisors' records, as each makes its own.
    let repo = git2::Repository::open(&root)?;
    let common = std::fs::canonicalize(repo.commondir())?;
    let record_of = |i: usize| -> Result<()> {
        let (s, dir) = (&states[i], &dirs[i]);
        let wt = PathBuf::from(s.worktree.as_deref().unwrap_or_default());
        let work = Work {
            common_dir: &common,
            worktree: Some(&wt),
            branch: s.branch.as_deref(),
            base: s.base_commit.as_ref().ok_or("no base")?,
            head: None,
        };
        std::fs::create_dir_all(dir)?;
        changes::record(dir, &changes::read(&repo, &work, &mut Cache::default()))?;
        Ok(())
    };
    let mut turn = 0;
    let record = time_fn("one supervisor's record of its worktree", runs, || {
        turn += 1;
        record_of(turn % states.len())
    })?;
    for i in 0..states.len() {
        record_of(i)?;
    }
    let first = radar::scan(&root, &states, &mut Cache::default());
    let overlapping = states
        .iter()
        .filter(|s| !first.overlaps(&s.id).is_empty())
        .count();
    if overlapping < DISPATCHES / 2 {
        return Err(format!("only {overlapping} dispatches overlap: the set-up is wrong").into());
    }
    let recorded = time_fn("a radar scan of 50 recorded dispatches", runs, || {
        std::hint::black_box(radar::scan(&root, &states, &mut Cache::default()));
        Ok(())
    })?;
    Ok(RadarBench {
        dispatches: states.len(),
        files: FILES,
        overlapping,
        record: (record.median(), record.best()),
        recorded: (recorded.median(), recorded.best()),
        cold: (cold.median(), cold.best()),
        warm: (warm.median(), warm.best()),
    })
}

impl RadarBench {
    pub fn render(&self) -> String {
        let ms = |s: f64| num(s * 1000.0, 1);
        format!(
            "\n### 12. Conflict radar ({} running dispatches, a repository of {} files)\n\n\
             In process, over {} worktrees each with a commit changing two files and a change \
             and a new file uncommitted; {} of them share a file with another. A supervisor \
             records its worker's changes every ten seconds while the worker is active; \
             `vnx status` reads the records; a dispatch without one is read by the radar \
             itself.\n\n\
             | Step | median | best |\n|---|---:|---:|\n\
             | one supervisor's read and record of its worktree | {} ms | {} ms |\n\
             | `radar::scan` of the 50 records (what `vnx status` adds) | {} ms | {} ms |\n\
             | `radar::scan` reading the 50 worktrees itself | {} ms | {} ms |\n\
             | the same, the dashboard's cache warm | {} ms | {} ms |\n",
            self.dispatches,
            self.files,
            self.dispatches,
            self.overlapping,
            ms(self.record.0),
            ms(self.record.1),
            ms(self.recorded.0),
            ms(self.recorded.1),
            ms(self.cold.0),
            ms(self.cold.1),
            ms(self.warm.0),
            ms(self.warm.1),
        )
    }
}
