//! Benchmark 15, idle cost: `--dispatches` live dispatches whose workers sleep (the `demo`
//! provider's `slow` model, "working for an hour"), and the CPU their supervisors
//! (`vnx __supervise`) and the tmux server take over ten seconds in which nothing happens —
//! what a project with many waiting or long-running workers costs the machine while it waits.
//! Read from `/proc/<pid>/stat` (user and system ticks) before and after.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Result;
use crate::dispatch_bench::BenchRepo;
use crate::report::format::num;

/// How long the idle dispatches are watched.
const WATCHED: Duration = Duration::from_secs(10);

/// What the idle benchmark measured.
pub struct IdleBench {
    /// Live dispatches.
    pub n: usize,
    /// Their supervisors' CPU over the watch, as a share of one core (per cent).
    pub supervisors_pct: f64,
    /// The tmux server's, likewise.
    pub tmux_pct: f64,
}

/// The processes whose command line holds `needle`, each with its CPU ticks so far.
pub(crate) fn ticks_of(needle: &str) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains(needle) {
            continue;
        }
        if let Some(t) = stat_ticks(&entry.path().join("stat")) {
            out.insert(pid, t);
        }
    }
    out
}

/// utime + stime of one `/proc/<pid>/stat` (fields 14 and 15, after the command's
/// parenthesised name).
fn stat_ticks(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The ticks `now` adds to `before`, over the processes in both.
pub(crate) fn spent(before: &BTreeMap<u32, u64>, now: &BTreeMap<u32, u64>) -> u64 {
    now.iter()
        .filter_map(|(pid, t)| Some(t.saturating_sub(*before.get(pid)?)))
        .sum()
}

/// Starts `n` sleeping dispatches, watches them idle, then cancels them.
pub fn bench_idle(vnx: &Path, dir: &Path, n: usize) -> Result<IdleBench> {
    let dir = dir.join("idle-bench");
    std::fs::create_dir_all(&dir)?;
    let repo = BenchRepo::create(&dir, vnx)?;
    let config = repo.root.join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config)?;
    // Room for every one: a provider's slots are at most 256; with no `concurrency:` entry
    // (more than that) its dispatches are not counted at all.
    if n <= 256 {
        text.push_str(&format!("concurrency:\n  demo: {n}\n"));
        std::fs::write(&config, text)?;
        repo.run("git", &["commit", "-q", "-am", "demo slots"])?;
    }
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let instruction = format!("sleep {i}");
        let args = [
            "dispatch-agent",
            "--agent",
            "bench",
            "--provider",
            "demo",
            "--model",
            "slow",
            "--detach",
            "--instruction",
            &instruction,
        ];
        ids.push(repo.run(vnx, &args)?);
    }
    let needle = "__supervise";
    let root = repo.root.to_string_lossy().into_owned();
    let supervisors = || {
        let mut all = ticks_of(needle);
        all.retain(|pid, _| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&root))
        });
        all
    };
    // Every supervisor up and its worker asleep; then a few seconds for the starts to settle.
    let started = Instant::now();
    while supervisors().len() < n {
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!("{} of {n} supervisors came up", supervisors().len()).into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    let tmux_needle = format!("-L {}", repo.socket);
    let tmux = || {
        let mut all = ticks_of("tmux");
        all.retain(|pid, _| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(&tmux_needle)
            })
        });
        all
    };
    let (sup0, tmux0, t0) = (supervisors(), tmux(), Instant::now());
    std::thread::sleep(WATCHED);
    let (sup1, tmux1, secs) = (supervisors(), tmux(), t0.elapsed().as_secs_f64());
    let hz = clock_ticks();
    let pct = |ticks: u64| ticks as f64 / hz / secs * 100.0;
    let bench = IdleBench {
        n,
        supervisors_pct: pct(spent(&sup0, &sup1)),
        tmux_pct: pct(spent(&tmux0, &tmux1)),
    };
    let mut cancel = vec!["cancel"];
    cancel.extend(ids.iter().map(String::as_str));
    repo.run(vnx, &cancel)?;
    Ok(bench)
}

/// The kernel's clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`).
pub(crate) fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

impl IdleBench {
    /// The section's Markdown: one row.
    pub fn render(&self) -> String {
        format!(
            "\n### 15. Idle cost ({} live dispatches whose workers sleep)\n\n\
             CPU over 10 s in which nothing happens, from `/proc/<pid>/stat`, as a share of \
             one core.\n\n\
             | Live dispatches | their supervisors | per supervisor | the tmux server |\n\
             |---:|---:|---:|---:|\n\
             | {} | {} % | {} % | {} % |\n",
            self.n,
            self.n,
            num(self.supervisors_pct, 2),
            num(self.supervisors_pct / self.n as f64, 4),
            num(self.tmux_pct, 2),
        )
    }
}
