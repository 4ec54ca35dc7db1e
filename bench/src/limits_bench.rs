//! Benchmark 16, usage limits (ADR 0117): three providers each stopped by a usage limit, its
//! reset 90 s away (`demo`'s `limit` model, and two declared providers whose script prints
//! the rate-limit line aider was seen to print when it gave up, once, read by the
//! `aider-text` parser), and 200 more dispatches queued behind the three holds, spread over
//! them; the CPU every vnx process and the tmux server take over ten seconds of that wait
//! (from `/proc/<pid>/stat`), and how long after each provider's reset the first of its
//! queued dispatches is admitted (its `queue_decision` against its limit's record plus the
//! 90 s said, both on the ledger): the slowest of the three.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::Result;
use crate::dispatch_bench::BenchRepo;
use crate::idle_bench::{clock_ticks, spent, ticks_of};
use crate::report::format::num;

/// How far the limits' reset is: room to queue the 200 first.
const RESETS_IN: u64 = 90;

/// The declared providers limited besides `demo`, each a script that meets a usage limit
/// once (its first run) and does nothing after.
const DECLARED: [&str; 2] = ["limited-a", "limited-b"];

/// What the limits benchmark measured.
pub struct LimitsBench {
    /// Providers waiting out a limit (one dispatch each).
    pub limited: usize,
    /// Dispatches queued behind the hold.
    pub queued: usize,
    /// Every vnx process's CPU over the watch (supervisors, and any command), as a share of
    /// one core (per cent).
    pub vnx_pct: f64,
    /// The tmux server's, likewise.
    pub tmux_pct: f64,
    /// From each provider's reset to the first of its queued dispatches' admission, in
    /// seconds: the slowest.
    pub first_launch_s: f64,
    /// The same, the quickest.
    pub first_launch_min_s: f64,
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

/// The script of declared provider `name`: the first run prints the line aider prints when
/// it gives up on a rate limit (its reset said) and exits 0, as aider does; later runs do
/// nothing.
fn limited_script(dir: &Path, name: &str) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let marker = dir.join(format!("{name}.met"));
    let script = dir.join(format!("{name}.sh"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ -e '{m}' ] && exit 0\n: > '{m}'\necho 'litellm.RateLimitError: \
             RateLimitError: OpenAIException - Rate limit reached for requests. Please try \
             again in {RESETS_IN}s.'\n",
            m = marker.display()
        ),
    )?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(script)
}

/// The providers limited, in order: `demo` and the declared ones, the first `limited`.
fn providers(limited: usize) -> Vec<&'static str> {
    std::iter::once("demo")
        .chain(DECLARED)
        .take(limited.clamp(1, 1 + DECLARED.len()))
        .collect()
}

/// Runs the benchmark: `limited` providers (at most three) limited, `queued` dispatches
/// behind them, spread over them.
pub fn bench_limits(vnx: &Path, dir: &Path, limited: usize, queued: usize) -> Result<LimitsBench> {
    let dir = dir.join("limits-bench");
    std::fs::create_dir_all(&dir)?;
    let repo = BenchRepo::create(&dir, vnx)?;
    let providers = providers(limited);
    let config = repo.root.join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config)?;
    text.push_str("providers:\n");
    for name in &providers[1..] {
        let script = limited_script(&dir, name)?;
        text.push_str(&format!(
            "  {name}:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n      \
             output: aider-text\n    permissions:\n      edits: []\n",
            script.display()
        ));
    }
    // Slots for each limited one and one more: the queue starts one at each reset.
    text.push_str("concurrency:\n");
    for name in &providers {
        text.push_str(&format!("  {name}: 2\n"));
    }
    std::fs::write(&config, text)?;
    repo.run("git", &["commit", "-q", "-am", "limited providers"])?;
    let dispatch = |provider: &str, model: &str, i: usize| -> Result<String> {
        let instruction = format!("{model} {i}");
        let mut cmd = repo.cmd(vnx);
        cmd.env("VNX_DEMO_LIMIT_RESETS_IN", RESETS_IN.to_string())
            .args(["dispatch-agent", "--agent", "bench", "--provider", provider])
            .args(["--detach", "--instruction", &instruction]);
        if provider == "demo" {
            cmd.args(["--model", model]);
        }
        let out = cmd.output()?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let mut ids = Vec::new();
    for (i, provider) in providers.iter().enumerate() {
        ids.push(dispatch(provider, "limit", i)?);
    }
    let limited = providers.len();
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
        ids.push(dispatch(providers[i % limited], "noop", i)?);
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
    // Each provider's reset, then the first admission of its queue after it.
    let admitted = |l: &[serde_json::Value], provider: &str| {
        l.iter()
            .filter(|r| r["event_type"] == "queue_decision" && r["decision"] == "admitted")
            .filter(|r| r["provider"] == provider)
            .filter_map(|r| at(&r["timestamp"]))
            .collect::<Vec<f64>>()
    };
    let start = ledger(&repo)?;
    let before: Vec<usize> = (providers.iter())
        .map(|p| admitted(&start, p).len())
        .collect();
    let waited = Instant::now();
    let mut firsts: Vec<Option<f64>> = vec![None; limited];
    while firsts.iter().any(Option::is_none) {
        let l = ledger(&repo)?;
        for (k, provider) in providers.iter().enumerate() {
            let now = admitted(&l, provider);
            if firsts[k].is_some() || now.len() <= before[k] {
                continue;
            }
            // The reset: when its limit was recorded, and the seconds its CLI said (the
            // receipt's `continues_at` is rounded up to the second).
            let reset = l
                .iter()
                .filter(|r| r["event_type"] == "dispatch_limited" && r["provider"] == *provider)
                .filter_map(|r| at(&r["timestamp"]))
                .fold(f64::INFINITY, f64::min)
                + RESETS_IN as f64;
            firsts[k] = Some(
                now[before[k]..]
                    .iter()
                    .fold(f64::INFINITY, |a, b| a.min(*b))
                    - reset,
            );
        }
        if waited.elapsed() > Duration::from_secs(RESETS_IN + 60) {
            return Err("a provider's queue was not admitted after its reset".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let firsts: Vec<f64> = firsts.into_iter().flatten().collect();
    let bench = LimitsBench {
        limited,
        queued,
        vnx_pct: pct(spent(&v0, &v1)),
        tmux_pct: pct(spent(&t0, &t1)),
        first_launch_s: firsts.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        first_launch_min_s: firsts.iter().copied().fold(f64::INFINITY, f64::min),
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
            "\n### 16. Usage limits ({} limited providers, {} queued behind their holds)\n\n\
             CPU over 10 s of the wait, from `/proc/<pid>/stat`, as a share of one core; each \
             provider's first queued dispatch's admission after its reset, from the ledger.\n\n\
             | Limited providers | queued | every vnx process | the tmux server | first launch \
             after each reset (quickest, slowest) |\n|---:|---:|---:|---:|---:|\n\
             | {} | {} | {} % | {} % | {} s, {} s |\n",
            self.limited,
            self.queued,
            self.limited,
            self.queued,
            num(self.vnx_pct, 2),
            num(self.tmux_pct, 2),
            num(self.first_launch_min_s, 2),
            num(self.first_launch_s, 2),
        )
    }
}
