//! Benchmark 10, reads at scale: a project with tens of thousands of recorded dispatches
//! (one real no-op dispatch's receipts, re-signed under new ids), and the reads that list
//! or show them: `vnx status` (table and JSON), `vnx show ID`, the MCP server's
//! `list_dispatches`, a dashboard reload, and `vnx dashboard`'s start (`dashboard_start`),
//! each with its peak RSS, and the CPU time of the reads that are whole processes. The
//! history has one of two shapes (`--shape`, `generate::Shape`): `plain`, every dispatch the
//! real one's two receipts, or `busy`, what a project used daily records (`busy`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use vnx::dashboard::{Snapshot, Sources};
use vnx::ledger::attest::Attestor;
use vnx::ledger::checkpoint::CheckpointKey;
use vnx::tmux::Tmux;

use crate::Result;
use crate::dispatch_bench::{BenchRepo, NOOP_DISPATCH};
use crate::generate::{Shape, make_dispatch_history};
use crate::report::format::num;
use crate::timing::{Lat, micros};

/// One read timed: its latencies and the largest peak RSS seen.
pub struct Read {
    pub name: String,
    pub lat: Lat,
    pub rss_kib: u64,
    /// CPU time (user and system) per run, when measured.
    pub cpu: Option<Lat>,
}

/// What the reads benchmark measured.
pub struct ReadsBench {
    pub shape: Shape,
    pub checkpoints: usize,
    pub dispatches: usize,
    pub ledger_bytes: u64,
    pub generate_secs: f64,
    pub reads: Vec<Read>,
}

/// Makes a project with `n` recorded dispatches, then times each read `runs` times after a
/// warm-up.
pub fn bench_reads(
    vnx: &Path,
    dir: &Path,
    n: usize,
    runs: usize,
    shape: Shape,
) -> Result<ReadsBench> {
    let work = dir.join(format!("reads-{}", shape.name()));
    std::fs::create_dir_all(&work)?;
    let repo = BenchRepo::create(&work, vnx)?;
    let t = Instant::now();
    let (real, ids, checkpoints) = make_project(&repo, vnx, n, shape)?;
    let generate_secs = t.elapsed().as_secs_f64();
    crate::note(&format!("making their {n} dispatch directories"));
    crate::dashboard_start::make_dispatch_dirs(&repo.root, &real, &ids)?;
    let ledger = ledger_of(&repo.root);
    let ledger_bytes = std::fs::metadata(&ledger)?.len();
    let middle = ids[ids.len() / 2].clone();
    crate::note("timing reads of the recorded dispatches");
    let mut reads = vec![time_cli_warm(
        &repo,
        vnx,
        "`vnx status`, first read (verifies in full, builds the index)",
        &["status"],
        1,
        0,
    )?];
    // The index's stamp is trusted once the ledger's last change lies 2 s back.
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    for (name, args) in [
        ("`vnx status`", vec!["status"]),
        ("`vnx status --json`", vec!["status", "--json"]),
        ("`vnx show ID`", vec!["show", middle.as_str()]),
        ("`vnx attest ID`", vec!["attest", middle.as_str()]),
    ] {
        reads.push(time_cli(&repo, vnx, name, &args, runs)?);
    }
    reads.push(time_mcp(&repo, vnx, runs)?);
    reads.push(time_reload(&repo, runs)?);
    reads.push(crate::dashboard_start::time_dashboard_start(
        &repo, vnx, runs,
    )?);
    reads.extend(crate::serve_bench::time_pages(&repo, vnx, &middle, runs)?);
    reads.push(time_after_change(
        &repo,
        vnx,
        "`vnx status`",
        &["status"],
        runs,
    )?);
    reads.push(time_after_change(
        &repo,
        vnx,
        "`vnx show ID`",
        &["show", middle.as_str()],
        runs,
    )?);
    reads.push(time_reload_after_change(&repo, runs)?);
    reads.push(time_rewrite(&repo, vnx, runs)?);
    reads.push(time_after_anchoring(&repo, vnx, runs)?);
    Ok(ReadsBench {
        shape,
        checkpoints,
        dispatches: n,
        ledger_bytes,
        generate_secs,
        reads,
    })
}

fn ledger_of(root: &Path) -> PathBuf {
    root.join(".vnx-data/state/t0_receipts.ndjson")
}

/// One real no-op dispatch, then `n` copies of its receipts under new ids, signed with the
/// project's key, in `shape` (for the busy one, with the checkpoints its merges anchor and
/// the worktrees its lost dispatches leave). Returns the real one's id, the new ids and how
/// many checkpoints were anchored.
pub(crate) fn make_project(
    repo: &BenchRepo,
    vnx: &Path,
    n: usize,
    shape: Shape,
) -> Result<(String, Vec<String>, usize)> {
    let mut args = NOOP_DISPATCH.to_vec();
    args.push("--detach");
    let id = repo.run(vnx, &args)?;
    repo.run(vnx, &["wait", &id])?;
    let ledger = ledger_of(&repo.root);
    let text = std::fs::read(&ledger)?;
    let template: Vec<Vec<u8>> = text
        .split(|b| *b == b'\n')
        .filter(|l| memfind(l, id.as_bytes()))
        .map(<[u8]>::to_vec)
        .collect();
    let (key, _) = CheckpointKey::load_or_create(&repo.key)?;
    let attestor = Attestor::new(&key);
    crate::note(&format!(
        "writing {n} dispatches of {} receipts each, signed",
        template.len()
    ));
    let ids = make_dispatch_history(&ledger, &template, &id, n, &attestor, shape)?;
    let mut checkpoints = 0;
    if shape == Shape::Busy {
        crate::note("anchoring a checkpoint at each merge");
        checkpoints = crate::busy::anchor_merges(&ledger, &repo.key)?;
        // As `git gc --auto` leaves a repository used daily: its objects packed.
        let packed = repo
            .cmd("git")
            .args(["gc", "--quiet"])
            .stdout(Stdio::null())
            .status()?;
        if !packed.success() {
            return Err(format!("git gc failed: {packed}").into());
        }
        for (i, did) in ids.iter().enumerate() {
            if crate::busy::Fate::of(i) == crate::busy::Fate::Lost {
                let worktree = repo
                    .root
                    .join(".vnx-data/worktrees")
                    .join(format!("dispatch-{did}"));
                std::fs::create_dir_all(worktree)?;
            }
        }
    }
    Ok((id, ids, checkpoints))
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Times `vnx ARGS` in the project, with its peak RSS and CPU time (`wait4`).
pub(crate) fn time_cli(
    repo: &BenchRepo,
    vnx: &Path,
    name: &str,
    args: &[&str],
    runs: usize,
) -> Result<Read> {
    time_cli_warm(repo, vnx, name, args, runs, 1)
}

/// [`time_cli`] after `warm` untimed runs.
fn time_cli_warm(
    repo: &BenchRepo,
    vnx: &Path,
    name: &str,
    args: &[&str],
    runs: usize,
    warm: usize,
) -> Result<Read> {
    crate::note(&format!("timing {name}"));
    let mut us = Vec::new();
    let mut cpu = Vec::new();
    let mut rss_kib = 0;
    for i in 0..warm + runs {
        let (elapsed, rss, used) = time_once_cpu(repo, vnx, args)?;
        // The warm-up may build the index (the first read's cost is its own row).
        if i >= warm {
            us.push(elapsed);
            cpu.push(used);
            rss_kib = rss_kib.max(rss);
        }
    }
    Ok(Read {
        name: name.to_owned(),
        lat: Lat::new(us),
        rss_kib,
        cpu: Some(Lat::new(cpu)),
    })
}

fn read_rss(path: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .unwrap_or(0))
}

/// CPU time this process has run, in microseconds (`/proc/self/schedstat`, nanoseconds).
fn self_cpu_us() -> f64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1000.0)
}

/// One run of `vnx ARGS` in the project: its microseconds, its peak RSS in KiB
/// (`/usr/bin/time -f %M`: `wait4` here would never read below this process's own peak) and
/// its CPU time, user and system, in microseconds (`wait4` on `/usr/bin/time`, which counts
/// the `vnx` it waited for, to the microsecond; `time`'s own is well under one).
fn time_once_cpu(repo: &BenchRepo, vnx: &Path, args: &[&str]) -> Result<(f64, u64, f64)> {
    let rss_file = repo.root.join("../rss.txt");
    let t = Instant::now();
    let child = repo
        .cmd("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss_file)
        .arg(vnx)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Reaped by `wait4` alone (its `Child` is never waited on), for its rusage.
    let (status, _, cpu) = crate::spawn::wait_child_usage(child.id())?;
    let elapsed = micros(t);
    if !status.success() {
        return Err(format!("vnx {args:?} failed: {status}").into());
    }
    Ok((elapsed, read_rss(&rss_file)?, cpu))
}

/// Times `vnx ARGS` as the first read right after the ledger changed: each run appends one
/// receipt (`vnx receipts append`, untimed), then reads at once, within the stamp's racy
/// window; with its CPU time (`wait4`).
fn time_after_change(
    repo: &BenchRepo,
    vnx: &Path,
    name: &str,
    args: &[&str],
    runs: usize,
) -> Result<Read> {
    crate::note(&format!("timing {name} right after a change"));
    let ledger = ledger_of(&repo.root);
    time_prepared(
        repo,
        vnx,
        format!("{name}, first read right after one new receipt"),
        args,
        runs,
        |_| append_note(repo, vnx, &ledger),
    )
}

/// Times `vnx ARGS` `runs` times, each after `prepare` (untimed, given the run's number),
/// with its CPU time and the largest peak RSS.
fn time_prepared(
    repo: &BenchRepo,
    vnx: &Path,
    name: String,
    args: &[&str],
    runs: usize,
    mut prepare: impl FnMut(usize) -> Result<()>,
) -> Result<Read> {
    let (mut us, mut cpu, mut rss_kib) = (Vec::new(), Vec::new(), 0);
    for i in 0..runs {
        prepare(i)?;
        let (elapsed, rss, used) = time_once_cpu(repo, vnx, args)?;
        us.push(elapsed);
        cpu.push(used);
        rss_kib = rss_kib.max(rss);
    }
    Ok(Read {
        name,
        lat: Lat::new(us),
        rss_kib,
        cpu: Some(Lat::new(cpu)),
    })
}

/// Appends one receipt to the ledger at `ledger` (`vnx receipts append`).
fn append_note(repo: &BenchRepo, vnx: &Path, ledger: &Path) -> Result<()> {
    let appended = repo
        .cmd(vnx)
        .args(["receipts", "append", "--ledger"])
        .arg(ledger)
        .args(["--receipt", r#"{"event_type":"note"}"#])
        .stdout(Stdio::null())
        .status()?;
    if !appended.success() {
        return Err(format!("vnx receipts append failed: {appended}").into());
    }
    Ok(())
}

/// Times `vnx status` as the read that writes the index again: each run appends one receipt
/// and reads it at once (untimed: the index is not written while the change is racy), waits
/// until the change lies 2.5 s back, then reads again, which finds the stamp trustworthy and
/// rewrites the index (timed, with its CPU time).
fn time_rewrite(repo: &BenchRepo, vnx: &Path, runs: usize) -> Result<Read> {
    crate::note("timing the read that writes the index again after a change");
    let ledger = ledger_of(&repo.root);
    time_prepared(
        repo,
        vnx,
        "`vnx status` that writes the index again (the change 2.5 s back)".into(),
        &["status"],
        runs,
        |_| {
            append_note(repo, vnx, &ledger)?;
            time_once_cpu(repo, vnx, &["status"])?;
            std::thread::sleep(std::time::Duration::from_millis(2_500));
            Ok(())
        },
    )
}

/// Times `vnx status` as the first read after the anchoring moved, as a merge moves it:
/// each run appends one receipt, anchors a checkpoint at it (`vnx audit-chain checkpoint`)
/// and commits on `HEAD`, all untimed, then reads (timed, with its CPU time).
fn time_after_anchoring(repo: &BenchRepo, vnx: &Path, runs: usize) -> Result<Read> {
    crate::note("timing the first read after a checkpoint and a commit");
    let ledger = ledger_of(&repo.root);
    time_prepared(
        repo,
        vnx,
        "`vnx status`, first read after a checkpoint was anchored and HEAD moved".into(),
        &["status"],
        runs,
        |i| {
            append_note(repo, vnx, &ledger)?;
            repo.run(vnx, &["audit-chain", "checkpoint"])?;
            let message = format!("by hand {i}");
            repo.run("git", &["commit", "-q", "--allow-empty", "-m", &message])?;
            Ok(())
        },
    )
}

/// Times the MCP server's `list_dispatches` (the newest 100) over stdio, each call a round
/// trip to one `vnx mcp` process, and that process's peak RSS.
fn time_mcp(repo: &BenchRepo, vnx: &Path, runs: usize) -> Result<Read> {
    crate::note("timing MCP list_dispatches");
    let rss_file = repo.root.join("../rss.txt");
    let mut child = repo
        .cmd("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss_file)
        .arg(vnx)
        .arg("mcp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut call = |id: u64, method: &str, params: serde_json::Value| -> Result<()> {
        let msg =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(stdin, "{msg}")?;
        stdin.flush()?;
        let mut line = String::new();
        loop {
            line.clear();
            if stdout.read_line(&mut line)? == 0 {
                return Err("vnx mcp closed its output".into());
            }
            let v: serde_json::Value = serde_json::from_str(&line)?;
            if v["id"] == id {
                if v.get("error").is_some() || v["result"]["isError"] == true {
                    return Err(format!("{method} failed: {line}").into());
                }
                return Ok(());
            }
        }
    };
    call(
        0,
        "initialize",
        serde_json::json!({"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "vnx-bench", "version": "0"}}),
    )?;
    let mut us = Vec::new();
    for i in 0..=runs as u64 {
        let t = Instant::now();
        call(
            i + 1,
            "tools/call",
            serde_json::json!({"name": "list_dispatches", "arguments": {"limit": 100}}),
        )?;
        if i > 0 {
            us.push(micros(t));
        }
    }
    drop(stdin);
    child.wait()?;
    Ok(Read {
        name: "MCP `list_dispatches` (newest 100)".into(),
        lat: Lat::new(us),
        rss_kib: read_rss(&rss_file)?,
        cpu: None,
    })
}

/// Times dashboard reloads in a child process of this benchmark (`--reload-probe`), so its
/// peak RSS is the reloads' own.
fn time_reload(repo: &BenchRepo, runs: usize) -> Result<Read> {
    crate::note("timing dashboard reloads");
    let out = Command::new(std::env::current_exe()?)
        .arg("--reload-probe")
        .arg(&repo.root)
        .arg("--probe-runs")
        .arg(runs.to_string())
        .env("VNX_CHECKPOINT_KEY", &repo.key)
        .env("VNX_TMUX_SOCKET", &repo.socket)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "the reload probe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let text = String::from_utf8(out.stdout)?;
    let mut us = Vec::new();
    let mut rss_kib = 0;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("us ") {
            us.push(v.parse()?);
        } else if let Some(v) = line.strip_prefix("hwm_kib ") {
            rss_kib = v.parse()?;
        }
    }
    Ok(Read {
        name: "dashboard reload (verify + list + activity)".into(),
        lat: Lat::new(us),
        rss_kib,
        cpu: None,
    })
}

/// Times dashboard reloads each right after a new receipt (the probe appends one before
/// each), wall time and the probe's CPU time per reload (`/proc/self/schedstat`).
fn time_reload_after_change(repo: &BenchRepo, runs: usize) -> Result<Read> {
    crate::note("timing dashboard reloads right after a change");
    let out = Command::new(std::env::current_exe()?)
        .arg("--reload-probe")
        .arg(&repo.root)
        .arg("--probe-runs")
        .arg(runs.to_string())
        .arg("--probe-after-change")
        .env("VNX_CHECKPOINT_KEY", &repo.key)
        .env("VNX_TMUX_SOCKET", &repo.socket)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "the reload probe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let text = String::from_utf8(out.stdout)?;
    let (mut us, mut cpu, mut rss_kib) = (Vec::new(), Vec::new(), 0);
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("us ") {
            us.push(v.parse()?);
        } else if let Some(v) = line.strip_prefix("cpu_us ") {
            cpu.push(v.parse()?);
        } else if let Some(v) = line.strip_prefix("hwm_kib ") {
            rss_kib = v.parse()?;
        }
    }
    Ok(Read {
        name: "dashboard reload right after one new receipt".into(),
        lat: Lat::new(us),
        rss_kib,
        cpu: Some(Lat::new(cpu)),
    })
}

/// The `--reload-probe` process: `runs` dashboard reloads of the project at `root` after a
/// first load, as `vnx dashboard` makes them; prints each one's microseconds and the
/// process's peak RSS.
pub fn reload_probe(root: &Path, runs: usize, after_change: bool) -> Result<()> {
    let key = PathBuf::from(std::env::var_os("VNX_CHECKPOINT_KEY").ok_or("no key")?);
    let socket = std::env::var("VNX_TMUX_SOCKET").unwrap_or_else(|_| "vnx".into());
    let src = Sources {
        root: root.to_owned(),
        ledger: ledger_of(root),
        tmux: Tmux::new(socket),
    };
    let mut state = vnx::dashboard::Reloader::new(Some(key), None, 2);
    let snapshot = state.reload(&src)?;
    if snapshot.rows.is_empty() {
        return Err("the dashboard lists no dispatches".into());
    }
    let mut out = std::io::stdout().lock();
    for _ in 0..runs {
        if after_change {
            let note = vnx::ledger::Receipt::from_json(br#"{"event_type":"note"}"#)?;
            vnx::ledger::Ledger::new(&src.ledger).append(&note)?;
        }
        let cpu = self_cpu_us();
        let t = Instant::now();
        let s: Snapshot = state.reload(&src)?;
        writeln!(out, "us {}", micros(t))?;
        writeln!(out, "cpu_us {}", self_cpu_us() - cpu)?;
        drop(s);
    }
    let status = std::fs::read_to_string("/proc/self/status")?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("0");
    writeln!(out, "hwm_kib {hwm}")?;
    Ok(())
}

impl ReadsBench {
    /// The section's Markdown.
    pub fn render(&self) -> String {
        let ms = |us: f64| format!("{} ms", num(us / 1000.0, 1));
        let shape = match self.shape {
            Shape::Plain => "copies of its two receipts".to_owned(),
            Shape::Busy => format!(
                "dispatches of the busy shape built around its two receipts (gate runs, \
                 constraint decisions, permission prompts, a merge and a checkpoint for one in \
                 four: {} checkpoints; one in a thousand lost, one in a thousand waiting)",
                num(self.checkpoints as f64, 0)
            ),
        };
        let mut out = format!(
            "\n### 10. Reads with {} dispatches on record, {} shape ({} runs each)\n\n\
             The project holds one real no-op dispatch and {} {shape} under \
             new ids, signed with the project's key through `Ledger::append_all` (a {} MB \
             ledger, written in {:.0} s), and a directory per dispatch shaped as the real \
             one's. Each read is a whole process (`/usr/bin/time` gives its peak RSS, \
             `wait4` its CPU time, user + system) except \
             the MCP call (a round trip to one `vnx mcp`), the dashboard reload (in a probe \
             process, as `vnx dashboard` reloads; its CPU time from `/proc/self/schedstat`) \
             and the dashboard's start (`vnx dashboard` \
             in a 200×50 tmux pane, from `tmux new-session` to the first frame showing the \
             verified ledger; its peak RSS from `/proc`).\n\n\
             | Read | p50 | p90 | max | CPU p50 | peak RSS |\n|---|---:|---:|---:|---:|---:|\n",
            num(self.dispatches as f64, 0),
            self.shape.name(),
            self.reads.iter().map(|r| r.lat.0.len()).max().unwrap_or(0),
            num(self.dispatches as f64, 0),
            num(self.ledger_bytes as f64 / 1e6, 0),
            self.generate_secs,
        );
        for r in &self.reads {
            out += &format!(
                "| {} | {} | {} | {} | {} | {} MB |\n",
                r.name,
                ms(r.lat.p(50.0)),
                ms(r.lat.p(90.0)),
                ms(r.lat.max()),
                r.cpu.as_ref().map_or("–".into(), |c| ms(c.p(50.0))),
                num(r.rss_kib as f64 / 1024.0, 0)
            );
        }
        out
    }
}
