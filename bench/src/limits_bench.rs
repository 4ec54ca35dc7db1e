//! Benchmark 16, usage limits (ADR 0117): a `demo` dispatch stopped by a usage limit (the
//! `limit` model, its reset 90 s away) and 200 more queued behind the provider's hold (one
//! offline provider: a second dispatch of it is queued by the hold the first one set); the CPU every vnx process and the tmux server take over ten seconds of that wait
//! (from `/proc/<pid>/stat`), and how long after the reset the first queued dispatch is
//! admitted (the `queue_decision` against the limit's `continues_at`, both on the ledger).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::Result;
use crate::dispatch_bench::BenchRepo;
use crate::idle_bench::{clock_ticks, spent, ticks_of};
use crate::report::format::num;

/// How far the limits' reset is: room to queue the 200 first.
const RESETS_IN: u64 = 90;

/// What the limits benchmark measured.
pub struct LimitsBench {
    /// Dispatches waiting out a limit.
    pub limited: usize,
    /// Dispatches queued behind the hold.
    pub queued: usize,
    /// Every vnx process's CPU over the watch (supervisors, and any command), as a share of
    /// one core (per cent).
    pub vnx_pct: f64,
    /// The tmux server's, likewise.
    pub tmux_pct: f64,
    /// From the reset (`continues_at`) to the first queued dispatch's admission, in seconds.
    pub first_launch_s: f64,
}

/// The ledger's receipts.
fn ledger(repo: &BenchRepo) -> Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(repo.root.join(".vnx-data/state/t0_receipts.ndjson"))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// Seconds since the epoch of an RFC 3339 time.
fn at(v: &serde_json::Value) -> Option<f64> {
    let t: jiff::Timestamp = v.as_str()?.parse().ok()?;
    Some(t.as_millisecond() as f64 / 1000.0)
}

/// Runs the benchmark: `limited` limited dispatches, `queued` behind them.
pub fn bench_limits(vnx: &Path, dir: &Path, limited: usize, queued: usize) -> Result<LimitsBench> {
    let dir = dir.join("limits-bench");
    std::fs::create_dir_all(&dir)?;
    let repo = BenchRepo::create(&dir, vnx)?;
    let config = repo.root.join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config)?;
    // Slots for the limited ones and one more: the queue starts one at the reset.
    text.push_str(&format!("concurrency:\n  demo: {}\n", limited + 1));
    std::fs::write(&config, text)?;
    repo.run("git", &["commit", "-q", "-am", "demo slots"])?;
    let dispatch = |model: &str, i: usize| -> Result<String> {
        let instruction = format!("{model} {i}");
        let out = repo
            .cmd(vnx)
            .env("VNX_DEMO_LIMIT_RESETS_IN", RESETS_IN.to_string())
            .args(["dispatch-agent", "--agent", "bench", "--provider", "demo"])
            .args(["--model", model, "--detach", "--instruction", &instruction])
            .output()?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let mut ids = Vec::new();
    for i in 0..limited {
        ids.push(dispatch("limit", i)?);
    }
    // Each limited before the rest are submitted: the hold is there.
    let count = |event: &str| -> usize {
        ledger(&repo)
            .map(|l| l.iter().filter(|r| r["event_type"] == event).count())
            .unwrap_or(0)
    };
    let started = Instant::now();
    while count("dispatch_limited") < limited {
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the limit dispatches were never limited".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 0..queued {
        ids.push(dispatch("noop", i)?);
    }
    let root = repo.root.to_string_lossy().into_owned();
    let vnx_name = vnx.to_string_lossy().into_owned();
    let ours = |needle: &str, also: &str| {
        let mut all = ticks_of(needle);
        all.retain(|pid, _| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c).replace('\0', " ");
                c.contains(also)
            })
        });
        all
    };
    let tmux_needle = format!("-L {}", repo.socket);
    let (v0, t0, w0) = (
        ours(&vnx_name, &root),
        ours("tmux", &tmux_needle),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(10));
    let (v1, t1, secs) = (
        ours(&vnx_name, &root),
        ours("tmux", &tmux_needle),
        w0.elapsed(),
    );
    let hz = clock_ticks();
    let pct = |ticks: u64| ticks as f64 / hz / secs.as_secs_f64() * 100.0;
    // The reset, then the first admission after it.
    let admitted = |l: &[serde_json::Value]| {
        l.iter()
            .filter(|r| r["event_type"] == "queue_decision" && r["decision"] == "admitted")
            .filter_map(|r| at(&r["timestamp"]))
            .collect::<Vec<f64>>()
    };
    let before = admitted(&ledger(&repo)?).len();
    let waited = Instant::now();
    let first = loop {
        let l = ledger(&repo)?;
        let now = admitted(&l);
        if now.len() > before {
            // The reset: when the limit was recorded, and the seconds its CLI said (the
            // receipt's `continues_at` is rounded up to the second).
            let reset = l
                .iter()
                .filter(|r| r["event_type"] == "dispatch_limited")
                .filter_map(|r| at(&r["timestamp"]))
                .fold(f64::INFINITY, f64::min)
                + RESETS_IN as f64;
            break now[before..].iter().fold(f64::INFINITY, |a, b| a.min(*b)) - reset;
        }
        if waited.elapsed() > Duration::from_secs(RESETS_IN + 60) {
            return Err("nothing queued was admitted after the reset".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let bench = LimitsBench {
        limited,
        queued,
        vnx_pct: pct(spent(&v0, &v1)),
        tmux_pct: pct(spent(&t0, &t1)),
        first_launch_s: first,
    };
    let mut cancel = vec!["cancel"];
    cancel.extend(ids.iter().map(String::as_str));
    let _ = repo.run(vnx, &cancel);
    Ok(bench)
}

impl LimitsBench {
    /// The section's Markdown: one row.
    pub fn render(&self) -> String {
        format!(
            "\n### 16. Usage limits ({} limited, {} queued behind the hold)\n\n\
             CPU over 10 s of the wait, from `/proc/<pid>/stat`, as a share of one core; the \
             first queued dispatch's admission after the reset, from the ledger.\n\n\
             | Limited | queued | every vnx process | the tmux server | first launch after \
             the reset |\n|---:|---:|---:|---:|---:|\n| {} | {} | {} % | {} % | {} s |\n",
            self.limited,
            self.queued,
            self.limited,
            self.queued,
            num(self.vnx_pct, 2),
            num(self.tmux_pct, 2),
            num(self.first_launch_s, 2),
        )
    }
}
