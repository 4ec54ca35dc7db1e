//! `vnx-bench`: the benchmark driver behind `bin/bench`. Measures the ledger side by side with
//! its floors in one run and prints Markdown tables to stdout; progress notes go to stderr.
//!
//! 1. Native verify: `vnx audit-chain verify` and in-process `verify()` on a ledger written
//!    through the library, against `sha256sum` and in-process SHA-256 of the same file.
//! 2. VNX-format verify: the same on a ledger in Python VNX's write format, plus the Python
//!    reference verifier (`receipts/reference/vnx_chain.py`) when `python3` is available.
//! 3. In-process appends (single and group commit) against a bare write + `fdatasync` loop.
//! 4. One CLI append per process against process start plus write + `fdatasync`.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, ExitStatus, Stdio};
use std::time::Instant;

use clap::Parser;
use sha2::{Digest, Sha256};
use vnx::ledger::json;
use vnx::ledger::line::{Scratch, analyze};
use vnx::ledger::{ChainStatus, Ledger, Receipt, VerifyOptions, verify};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Bytes in a megabyte: throughput figures use decimal units, as `dd` and the research notes do.
const MB: f64 = 1e6;
/// Receipts per `append_all` while generating the native ledger.
const GEN_BATCH: usize = 20_000;
/// Receipts per group commit.
const GROUP: usize = 64;

/// Benchmarks the vnx ledger against its floors and prints Markdown tables
#[derive(Parser)]
#[command(name = "vnx-bench")]
struct Args {
    /// Size of each generated ledger in MB (10^6 bytes) [default: 128, or 8 with --quick]
    #[arg(long, value_name = "N")]
    size_mb: Option<u64>,
    /// Small sizes and counts for a smoke run
    #[arg(long)]
    quick: bool,
    /// Where to make the scratch directory [default: the system temp dir]
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// Keep the scratch directory instead of deleting it
    #[arg(long)]
    keep: bool,
    /// Internal: run as the small process that spawns and times the child processes
    #[arg(long, hide = true)]
    spawn_helper: bool,
}

struct Config {
    size: u64,
    /// Timed runs after one warm-up.
    runs: usize,
    appends: usize,
    group_calls: usize,
    cli_appends: usize,
    python_size: u64,
    keep: bool,
}

impl Config {
    fn new(args: &Args) -> Result<Config> {
        let size_mb = args.size_mb.unwrap_or(if args.quick { 8 } else { 128 });
        if size_mb == 0 {
            return Err("--size-mb must be at least 1".into());
        }
        let size = size_mb * 1_000_000;
        let python_mb = if args.quick { 4 } else { 16 };
        Ok(Config {
            size,
            runs: 5,
            appends: if args.quick { 200 } else { 2_000 },
            group_calls: if args.quick { 20 } else { 200 },
            cli_appends: if args.quick { 100 } else { 500 },
            python_size: size.min(python_mb * 1_000_000),
            keep: args.keep,
        })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if args.spawn_helper {
        helper_main()
    } else {
        run(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vnx-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let cfg = Config::new(args)?;
    let vnx = std::env::current_exe()?.with_file_name("vnx");
    if !vnx.is_file() {
        return Err(format!(
            "{} is missing; bin/bench builds it (cargo build --release --features bench --bins)",
            vnx.display()
        )
        .into());
    }
    let mut sp = Spawner::start()?;
    let work = WorkDir::create(args.dir.as_deref(), args.keep)?;
    note(&format!("scratch directory {}", work.path.display()));
    let machine = machine_context(&work.path);
    let before = CpuSample::take();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let start = CpuSample::take();
    let busy_before = before.zip(start).map(|(a, b)| b.others_since(&a));
    if let Some(busy) = busy_before.filter(|b| *b > 10.0) {
        note(&format!(
            "warning: other processes kept {busy:.0}% of the CPU busy just now; the figures \
             will suffer"
        ));
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    let native_path = work.path.join("native.ndjson");
    let t = Instant::now();
    note(&format!(
        "writing a {} MB native ledger through Ledger::append_all",
        cfg.size / 1_000_000
    ));
    let receipt_bytes = make_native(&native_path, cfg.size, &mut rng)?;
    note(&format!("  written in {:.1} s", t.elapsed().as_secs_f64()));
    let how = format!(
        "written through `Ledger::append_all` in batches of up to {} receipts; the receipts \
         average {receipt_bytes:.0} bytes of compact JSON as handed to the ledger, which adds \
         `seq`, `schema_version` and both hash links to each line",
        num(GEN_BATCH as f64, 0)
    );
    let native = bench_verify(&mut sp, &native_path, &vnx, &cfg, how)?;

    let vnx_path = work.path.join("vnx-format.ndjson");
    let t = Instant::now();
    note(&format!(
        "writing a {} MB ledger in VNX's json.dumps format",
        cfg.size / 1_000_000
    ));
    make_vnx_format(&vnx_path, cfg.size, &mut rng)?;
    note(&format!("  written in {:.1} s", t.elapsed().as_secs_f64()));
    let how = "in Python VNX's write format, `json.dumps(receipt)`: `\", \"`/`\": \"` \
               separators, keys in insertion order, non-ASCII as `\\uXXXX`, `prev_hash` last, \
               so every line needs a full parse and re-serialisation to hash"
        .to_owned();
    let vnx_format = bench_verify(&mut sp, &vnx_path, &vnx, &cfg, how)?;
    let python = bench_python(&mut sp, &work.path, &vnx, &cfg, &mut rng)?;

    // The big files are done with; drop them so the append runs see a quiet file system.
    if !args.keep {
        fs::remove_file(&native_path)?;
        fs::remove_file(&vnx_path)?;
    }

    let appends = bench_appends(&work.path, &cfg, &mut rng)?;
    let cli = bench_cli(&mut sp, &work.path, &vnx, &cfg, &mut rng)?;
    let helper_hwm_kib = sp.hwm_kib;
    sp.finish()?;
    let busy_during = start
        .zip(CpuSample::take())
        .map(|(a, b)| b.others_since(&a));

    let report = Report {
        cfg: &cfg,
        machine,
        busy_before,
        busy_during,
        helper_hwm_kib,
        native,
        vnx_format,
        python,
        appends,
        cli,
    };
    print!("{}", report.render());
    io::stdout().flush()?;
    Ok(())
}

fn note(msg: &str) {
    eprintln!("vnx-bench: {msg}");
}

// ---------------------------------------------------------------------------------------------
// Scratch directory, machine context
// ---------------------------------------------------------------------------------------------

/// A fresh directory for the run's files, removed on drop unless kept.
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl WorkDir {
    fn create(base: Option<&Path>, keep: bool) -> Result<WorkDir> {
        let base = base.map_or_else(std::env::temp_dir, Path::to_owned);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = base.join(format!("vnx-bench-{}-{stamp:08x}", std::process::id()));
        fs::create_dir_all(&base)
            .and_then(|()| fs::create_dir(&path))
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(WorkDir { path, keep })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            note(&format!("kept {}", self.path.display()));
        } else if let Err(e) = fs::remove_dir_all(&self.path) {
            note(&format!("could not remove {}: {e}", self.path.display()));
        }
    }
}

fn machine_context(dir: &Path) -> Vec<(String, String)> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_owned())
        })
    };
    let sha_ni = field("flags").map(|f| f.split_whitespace().any(|x| x == "sha_ni"));
    let nproc = std::thread::available_parallelism().map_or(1, usize::from);
    let mut cpu = format!(
        "{} × {}",
        nproc,
        field("model name").unwrap_or_else(|| "unknown CPU".into())
    );
    if let Some(sha) = sha_ni {
        cpu += if sha { ", SHA-NI" } else { ", no SHA-NI" };
    }
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let kb: f64 = m
                .lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB RAM", kb / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "RAM unknown".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let mut out = vec![
        ("CPU".into(), format!("{cpu}; {mem}")),
        ("Kernel".into(), format!("Linux {kernel}")),
    ];
    out.push(("Scratch dir".into(), filesystem(dir)));
    let sha256sum = find_on_path("sha256sum")
        .and_then(|p| Command::new(p).arg("--version").output().ok())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        });
    if let Some(v) = sha256sum {
        out.push(("sha256sum".into(), v));
    }
    out.push((
        "Date".into(),
        jiff::Timestamp::now().strftime("%Y-%m-%d").to_string(),
    ));
    out
}

/// The file system holding `dir`, from `df -PT` and /proc/mounts.
fn filesystem(dir: &Path) -> String {
    let Some(out) = Command::new("df")
        .arg("-PT")
        .arg(dir)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
    else {
        return format!("`{}` (df unavailable)", dir.display());
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(fields) = text
        .lines()
        .nth(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() >= 7)
    else {
        return format!("`{}`", dir.display());
    };
    let (device, fstype, mount) = (fields[0], fields[1], fields[6]);
    let options = fs::read_to_string("/proc/mounts").ok().and_then(|m| {
        m.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[0] == device && f[1] == mount).then(|| f[3].to_owned())
        })
    });
    let options = options.map(|o| format!(", {o}")).unwrap_or_default();
    format!(
        "`{}`: {fstype} on {device} (mounted at {mount}{options})",
        dir.display()
    )
}

/// CPU time from /proc: the whole machine's, and this process tree's (its own plus that of
/// the children it has reaped, which includes theirs).
#[derive(Clone, Copy)]
struct CpuSample {
    busy: u64,
    total: u64,
    own: u64,
}

impl CpuSample {
    fn take() -> Option<CpuSample> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        let total: u64 = ticks.iter().take(8).sum();
        let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
        let own_stat = fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<u64> = own_stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .skip(11)
            .take(4)
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        Some(CpuSample {
            busy: total - idle,
            total,
            own: fields.iter().sum(),
        })
    }

    /// Percent of the machine's CPU capacity other processes used since `earlier`.
    fn others_since(&self, earlier: &CpuSample) -> f64 {
        let total = self.total.saturating_sub(earlier.total).max(1) as f64;
        let busy = self.busy.saturating_sub(earlier.busy) as f64;
        let own = self.own.saturating_sub(earlier.own) as f64;
        ((busy - own) / total * 100.0).max(0.0)
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

// ---------------------------------------------------------------------------------------------
// Receipts
// ---------------------------------------------------------------------------------------------

/// xorshift64*: deterministic receipts without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const EVENTS: &[&str] = &[
    "dispatch_started",
    "dispatch_completed",
    "task_complete",
    "worker_heartbeat",
    "review_requested",
];
const MODELS: &[(&str, &str)] = &[
    ("claude", "claude-opus-4-1"),
    ("claude", "claude-sonnet-4-5"),
    ("codex", "gpt-5-codex"),
    ("gemini", "gemini-2.5-pro"),
];
const STATUSES: &[&str] = &["running", "done", "done", "done", "failed", "timeout"];
const NOTES: &[&str] = &[
    "résumé: 3 files changed, tests pass ✓",
    "naïve retry after a rate limit — succeeded",
    "Überprüfung ok, keine Konflikte",
    "修正済み: lint clean",
    "worker idle → reaped",
    "café: build cache warm, 0 warnings",
];
/// 2026-08-20T00:00:00Z in microseconds.
const BASE_TIME_US: i64 = 1_787_184_000_000_000;

/// The content of one dispatch-like receipt.
struct Fields {
    timestamp: String,
    event_type: &'static str,
    dispatch_id: String,
    provider: &'static str,
    model: &'static str,
    status: &'static str,
    duration_seconds: f64,
    tokens: [u64; 3],
    note: String,
}

impl Fields {
    fn generate(rng: &mut Rng, i: u64) -> Fields {
        let us = BASE_TIME_US + i as i64 * 1_234_567 + rng.below(1_000_000) as i64;
        let timestamp = jiff::Timestamp::from_microsecond(us)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
            .unwrap_or_else(|_| "2026-08-20T00:00:00.000000Z".into());
        let compact: String = timestamp[..19]
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let dispatch_id = format!(
            "{}-{}-{:06x}",
            &compact[..8],
            &compact[8..14],
            rng.below(1 << 24)
        );
        let (provider, model) = rng.pick(MODELS);
        let mut note = rng.pick(NOTES).to_owned();
        if rng.below(3) == 0 {
            note += &format!(" (attempt {})", 2 + rng.below(3));
        }
        Fields {
            timestamp,
            event_type: rng.pick(EVENTS),
            dispatch_id,
            provider,
            model,
            status: rng.pick(STATUSES),
            duration_seconds: (1 + rng.below(3_600_000)) as f64 / 1000.0,
            tokens: [
                1_000 + rng.below(200_000),
                100 + rng.below(30_000),
                rng.below(2_000_000),
            ],
            note,
        }
    }

    /// Writes the object without its closing brace, keys in insertion order, strings escaped as
    /// Python's `ensure_ascii` does, with the given separators (`,`/`:` or `, `/`: `).
    fn write_open(&self, item_sep: &[u8], key_sep: &[u8], out: &mut Vec<u8>) {
        let key = |out: &mut Vec<u8>, k: &str, first: bool| {
            if !first {
                out.extend_from_slice(item_sep);
            }
            json::write_string(k.as_bytes(), out);
            out.extend_from_slice(key_sep);
        };
        out.push(b'{');
        for (i, (k, v)) in [
            ("timestamp", self.timestamp.as_str()),
            ("event_type", self.event_type),
            ("dispatch_id", &self.dispatch_id),
            ("provider", self.provider),
            ("model", self.model),
            ("status", self.status),
        ]
        .into_iter()
        .enumerate()
        {
            key(out, k, i == 0);
            json::write_string(v.as_bytes(), out);
        }
        key(out, "duration_seconds", false);
        json::write_float(self.duration_seconds, out);
        key(out, "token_usage", false);
        out.push(b'{');
        for (i, (k, v)) in ["input_tokens", "output_tokens", "cache_read_tokens"]
            .into_iter()
            .zip(self.tokens)
            .enumerate()
        {
            key(out, k, i == 0);
            out.extend_from_slice(v.to_string().as_bytes());
        }
        out.push(b'}');
        key(out, "note", false);
        json::write_string(self.note.as_bytes(), out);
    }

    /// Compact JSON, as a caller hands a receipt to `vnx receipts append`.
    fn json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(384);
        self.write_open(b",", b":", &mut out);
        out.push(b'}');
        out
    }

    fn receipt(&self) -> Result<Receipt> {
        Ok(Receipt::from_json(&self.json())?)
    }
}

/// Writes a native vnx ledger of at least `target` bytes through the library.
/// Returns the mean size of the receipts as handed to the ledger.
fn make_native(path: &Path, target: u64, rng: &mut Rng) -> Result<f64> {
    let ledger = Ledger::new(path);
    let mut size = 0u64;
    let mut i = 0u64;
    let mut receipt_bytes = 0u64;
    while size < target {
        // Size the batches so the file ends close to the target.
        let line_guess = size.checked_div(i).unwrap_or(500).max(1);
        let want = ((target - size) / line_guess + 1).min(GEN_BATCH as u64);
        let batch = (0..want)
            .map(|_| {
                i += 1;
                let json = Fields::generate(rng, i).json();
                receipt_bytes += json.len() as u64;
                Ok(Receipt::from_json(&json)?)
            })
            .collect::<Result<Vec<_>>>()?;
        ledger.append_all(&batch)?;
        size = fs::metadata(path)?.len();
    }
    Ok(receipt_bytes as f64 / i as f64)
}

/// Writes a ledger of at least `target` bytes as Python VNX does: `json.dumps(receipt)` with
/// default separators and keys in insertion order, `prev_hash` last, holding the VNX entry hash
/// of the previous entry (genesis on line 1).
fn make_vnx_format(path: &Path, target: u64, rng: &mut Rng) -> Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut scratch = Scratch::default();
    let mut buf = Vec::with_capacity(1024);
    let mut prev = [0u8; 32];
    let mut hex_prev = [0u8; 64];
    let mut size = 0u64;
    let mut i = 0u64;
    while size < target {
        i += 1;
        let fields = Fields::generate(rng, i);
        buf.clear();
        fields.write_open(b", ", b": ", &mut buf);
        // The entry hash leaves `prev_hash` out, so hash the entry before adding it.
        buf.push(b'}');
        let entry = analyze(&buf, &mut scratch)
            .entry
            .map_err(|e| format!("a generated VNX line does not parse: {e}"))?;
        buf.pop();
        hex::encode_to_slice(prev, &mut hex_prev)?;
        buf.extend_from_slice(b", \"prev_hash\": \"");
        buf.extend_from_slice(&hex_prev);
        buf.extend_from_slice(b"\"}\n");
        w.write_all(&buf)?;
        size += buf.len() as u64;
        prev = entry.entry_hash;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

/// Wall times of repeated runs, and the largest peak RSS of a timed child process.
struct Timing {
    secs: Vec<f64>,
    rss_kib: Option<u64>,
}

impl Timing {
    fn sorted(&self) -> Vec<f64> {
        let mut s = self.secs.clone();
        s.sort_by(f64::total_cmp);
        s
    }

    fn median(&self) -> f64 {
        let s = self.sorted();
        let n = s.len();
        if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        }
    }

    fn best(&self) -> f64 {
        self.sorted()[0]
    }

    fn mbps(&self, bytes: u64) -> f64 {
        bytes as f64 / MB / self.median()
    }

    fn best_mbps(&self, bytes: u64) -> f64 {
        bytes as f64 / MB / self.best()
    }
}

/// A command line to run as a child process.
struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
}

/// One finished child process.
struct Proc {
    secs: f64,
    rss_kib: u64,
    /// How it failed, if it did.
    status: std::result::Result<(), String>,
}

impl Cmd {
    fn new(program: impl Into<PathBuf>) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
        }
    }

    fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    fn args<S: AsRef<OsStr>>(self, args: impl IntoIterator<Item = S>) -> Cmd {
        args.into_iter().fold(self, Cmd::arg)
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        c
    }

    fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    fn argv(&self) -> Result<Vec<String>> {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|a| {
                a.to_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("argument {a:?} is not UTF-8").into())
            })
            .collect()
    }

    /// Runs the command once through the spawn helper: wall time from spawn to reaped, and the
    /// child's peak RSS.
    fn run(&self, sp: &mut Spawner) -> Result<Proc> {
        let proc = sp.run(&self.argv()?)?;
        if let Err(status) = proc.status {
            // Run it again here to show what went wrong.
            let out = self.command().stdin(Stdio::null()).output()?;
            return Err(format!(
                "`{}` failed ({status}): {}{}",
                self.display(),
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        Ok(proc)
    }

    /// One warm-up run, then `runs` timed runs.
    fn time(&self, sp: &mut Spawner, runs: usize) -> Result<Timing> {
        note(&format!("timing `{}`", self.display()));
        self.run(sp)?;
        let mut secs = Vec::with_capacity(runs);
        let mut rss = 0;
        for _ in 0..runs {
            let p = self.run(sp)?;
            secs.push(p.secs);
            rss = rss.max(p.rss_kib);
        }
        Ok(Timing {
            secs,
            rss_kib: Some(rss),
        })
    }
}

/// Child processes are started by a helper: a fresh, small `vnx-bench --spawn-helper` process.
/// A child's `ru_maxrss` starts at the peak RSS of the process that spawned it (Linux records
/// the old address space's high-water mark at `exec`), so spawning from this process, which
/// holds ledgers in memory, would hide the child's own figure. The helper also does the timing,
/// so the pipe round trip is not counted.
struct Spawner {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The helper's own peak RSS: the floor under every child's figure.
    hwm_kib: u64,
}

impl Spawner {
    fn start() -> Result<Spawner> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--spawn-helper")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(BufReader::new);
        let stdout = stdout.ok_or("the spawn helper has no stdout")?;
        Ok(Spawner {
            child,
            stdin,
            stdout,
            hwm_kib: 0,
        })
    }

    fn run(&mut self, argv: &[String]) -> Result<Proc> {
        let stdin = self.stdin.as_mut().ok_or("the spawn helper is closed")?;
        writeln!(stdin, "{}", serde_json::to_string(argv)?)?;
        stdin.flush()?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err("the spawn helper exited".into());
        }
        let reply: serde_json::Value = serde_json::from_str(&line)?;
        if let Some(e) = reply["error"].as_str() {
            return Err(format!("cannot run {}: {e}", argv[0]).into());
        }
        self.hwm_kib = self
            .hwm_kib
            .max(reply["helper_hwm_kib"].as_u64().unwrap_or(0));
        let status = if reply["success"].as_bool() == Some(true) {
            Ok(())
        } else {
            Err(reply["status"].as_str().unwrap_or("?").to_owned())
        };
        Ok(Proc {
            secs: reply["secs"]
                .as_f64()
                .ok_or("the spawn helper sent no time")?,
            rss_kib: reply["rss_kib"].as_u64().unwrap_or(0),
            status,
        })
    }

    fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        self.child.wait()?;
        Ok(())
    }
}

/// The spawn helper: reads one JSON argv per line, runs it with null stdio, and answers with
/// one JSON line (wall time, exit status, peak RSS).
fn helper_main() -> Result<()> {
    let mut out = io::stdout().lock();
    for line in io::stdin().lock().lines() {
        let argv: Vec<String> = serde_json::from_str(&line?)?;
        let reply = match spawn_and_wait(&argv) {
            Ok((secs, status, rss_kib)) => serde_json::json!({
                "secs": secs,
                "success": status.success(),
                "status": status.to_string(),
                "rss_kib": rss_kib,
                "helper_hwm_kib": own_hwm_kib(),
            }),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    Ok(())
}

fn spawn_and_wait(argv: &[String]) -> Result<(f64, ExitStatus, u64)> {
    let (program, args) = argv.split_first().ok_or("empty command line")?;
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let (status, rss_kib) = wait_child(child.id())?;
    Ok((start.elapsed().as_secs_f64(), status, rss_kib))
}

/// This process's peak RSS (`VmHWM`) in KiB.
fn own_hwm_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Reaps child `pid` alone with `wait4`, which reports that child's own peak RSS (KiB).
#[allow(unsafe_code)]
fn wait_child(pid: u32) -> io::Result<(ExitStatus, u64)> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all zero bytes are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own unreaped child (its `Child` is never waited on) and writes
        // only into the two locals, which outlive the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok((
        ExitStatus::from_raw(status),
        u64::try_from(usage.ru_maxrss).unwrap_or(0),
    ))
}

/// One warm-up call, then `runs` timed calls of `f` in this process.
fn time_fn(what: &str, runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<Timing> {
    note(&format!("timing {what}"));
    f()?;
    let mut secs = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        secs.push(start.elapsed().as_secs_f64());
    }
    Ok(Timing {
        secs,
        rss_kib: None,
    })
}

/// Latencies in microseconds, sorted.
struct Lat(Vec<f64>);

impl Lat {
    fn new(mut us: Vec<f64>) -> Lat {
        us.sort_by(f64::total_cmp);
        Lat(us)
    }

    /// Nearest-rank percentile.
    fn p(&self, q: f64) -> f64 {
        let n = self.0.len();
        let rank = ((q / 100.0 * n as f64).ceil() as usize).clamp(1, n);
        self.0[rank - 1]
    }

    fn max(&self) -> f64 {
        self.0[self.0.len() - 1]
    }

    /// Operations per second over the whole loop.
    fn per_sec(&self, items_per_op: usize) -> f64 {
        (self.0.len() * items_per_op) as f64 / (self.0.iter().sum::<f64>() / 1e6)
    }
}

fn micros(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e6
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: verify throughput
// ---------------------------------------------------------------------------------------------

struct VerifyBench {
    /// How the ledger was made.
    how: String,
    bytes: u64,
    lines: u64,
    /// Lines that needed a full parse (not already canonical).
    parsed: u64,
    sha256sum: Option<Timing>,
    sha_inproc: Timing,
    cli_one: Timing,
    cli_default: Timing,
    default_threads: usize,
    lib_one: Timing,
    lib_two: Timing,
}

fn verify_clean(path: &Path, threads: usize) -> Result<vnx::ledger::VerifyReport> {
    let report = verify(
        path,
        &VerifyOptions {
            threads,
            ..VerifyOptions::default()
        },
    )?;
    if report.status != ChainStatus::Verified || report.violations_total != 0 {
        return Err(format!(
            "{} did not verify: {} with {} violations",
            path.display(),
            report.status.as_str(),
            report.violations_total
        )
        .into());
    }
    Ok(report)
}

fn sha256_file(path: &Path) -> Result<[u8; 32]> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut hasher = Sha256::new();
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(hasher.finalize().into())
}

fn bench_verify(
    sp: &mut Spawner,
    path: &Path,
    vnx: &Path,
    cfg: &Config,
    how: String,
) -> Result<VerifyBench> {
    let bytes = fs::metadata(path)?.len();
    let report = verify_clean(path, 1)?;
    note(&format!(
        "{}: {bytes} bytes, {} lines, verified",
        path.display(),
        report.lines
    ));
    let sha256sum = match find_on_path("sha256sum") {
        Some(p) => Some(Cmd::new(p).arg(path).time(sp, cfg.runs)?),
        None => {
            note("sha256sum is not on PATH; skipping that floor");
            None
        }
    };
    let sha_inproc = time_fn("in-process SHA-256", cfg.runs, || {
        sha256_file(path).map(drop)
    })?;
    let verify_cmd = || {
        Cmd::new(vnx)
            .args(["audit-chain", "verify", "--ledger"])
            .arg(path)
    };
    let cli_one = verify_cmd().args(["--threads", "1"]).time(sp, cfg.runs)?;
    let cli_default = verify_cmd().time(sp, cfg.runs)?;
    let lib_one = time_fn("verify(), threads = 1", cfg.runs, || {
        verify_clean(path, 1).map(drop)
    })?;
    let lib_two = time_fn("verify(), threads = 2", cfg.runs, || {
        verify_clean(path, 2).map(drop)
    })?;
    Ok(VerifyBench {
        how,
        bytes,
        lines: report.lines,
        parsed: report.parsed_lines,
        sha256sum,
        sha_inproc,
        cli_one,
        cli_default,
        default_threads: std::thread::available_parallelism().map_or(1, usize::from),
        lib_one,
        lib_two,
    })
}

enum Python {
    Ran(PythonBench),
    Skipped(String),
}

struct PythonBench {
    version: String,
    bytes: u64,
    python: Timing,
    vnx_one: Timing,
}

fn bench_python(
    sp: &mut Spawner,
    dir: &Path,
    vnx: &Path,
    cfg: &Config,
    rng: &mut Rng,
) -> Result<Python> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("receipts/reference/vnx_chain.py");
    let Some(python3) = find_on_path("python3") else {
        note("python3 is not on PATH; skipping the Python reference");
        return Ok(Python::Skipped("python3 is not on PATH".into()));
    };
    if !script.is_file() {
        note("the Python reference module is missing; skipping it");
        return Ok(Python::Skipped(format!("{} is missing", script.display())));
    }
    // Time the interpreter itself, not a version-manager shim in front of it.
    let probe = Command::new(&python3)
        .args([
            "-c",
            "import sys; print(sys.executable); print(sys.version.split()[0])",
        ])
        .output()?;
    let probe = String::from_utf8_lossy(&probe.stdout).into_owned();
    let mut probe = probe.lines();
    let exe = probe
        .next()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .unwrap_or(python3);
    let version = probe.next().unwrap_or("?").to_owned();

    let path = dir.join("vnx-format-small.ndjson");
    make_vnx_format(&path, cfg.python_size, rng)?;
    let bytes = fs::metadata(&path)?.len();
    let py = Cmd::new(&exe).arg(&script).arg("verify").arg(&path);
    note(&format!("timing `{}` once", py.display()));
    let p = py.run(sp)?;
    let python = Timing {
        secs: vec![p.secs],
        rss_kib: Some(p.rss_kib),
    };
    let vnx_one = Cmd::new(vnx)
        .args(["audit-chain", "verify", "--ledger"])
        .arg(&path)
        .args(["--threads", "1"])
        .time(sp, cfg.runs)?;
    if !cfg.keep {
        fs::remove_file(&path)?;
    }
    Ok(Python::Ran(PythonBench {
        version,
        bytes,
        python,
        vnx_one,
    }))
}

// ---------------------------------------------------------------------------------------------
// 3: in-process appends
// ---------------------------------------------------------------------------------------------

struct AppendBench {
    line_len: usize,
    floor: Lat,
    append: Lat,
    group_floor: Lat,
    group: Lat,
}

/// An O_APPEND file for the bare write + `fdatasync` floor.
fn floor_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn write_sync(file: &mut File, bytes: &[u8]) -> Result<()> {
    file.write_all(bytes)?;
    file.sync_data()?;
    Ok(())
}

fn bench_appends(dir: &Path, cfg: &Config, rng: &mut Rng) -> Result<AppendBench> {
    let n = cfg.appends;
    note(&format!(
        "timing {n} Ledger::append calls against {n} bare write + fdatasync, interleaved"
    ));
    let receipts = (0..=n as u64)
        .map(|i| Fields::generate(rng, i).receipt())
        .collect::<Result<Vec<_>>>()?;
    let path = dir.join("append.ndjson");
    let ledger = Ledger::new(&path);
    // The first append creates the file (and syncs the directory); keep it out of the figures.
    ledger.append(&receipts[0])?;
    let line_len = fs::metadata(&path)?.len() as usize;
    let mut line = vec![b'x'; line_len];
    line[line_len - 1] = b'\n';
    let mut floor = floor_file(&dir.join("floor.bin"))?;
    write_sync(&mut floor, &line)?;

    let mut floor_us = Vec::with_capacity(n);
    let mut append_us = Vec::with_capacity(n);
    for receipt in &receipts[1..] {
        let t = Instant::now();
        write_sync(&mut floor, &line)?;
        floor_us.push(micros(t));
        let t = Instant::now();
        ledger.append(receipt)?;
        append_us.push(micros(t));
    }

    let calls = cfg.group_calls;
    note(&format!(
        "timing {calls} Ledger::append_all calls of {GROUP} receipts against {calls} bare \
         {GROUP}-line write + fdatasync, interleaved"
    ));
    let batches = (0..calls)
        .map(|c| {
            (0..GROUP)
                .map(|j| Fields::generate(rng, (c * GROUP + j) as u64).receipt())
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    let group_line = line.repeat(GROUP);
    let mut group_floor_us = Vec::with_capacity(calls);
    let mut group_us = Vec::with_capacity(calls);
    for batch in &batches {
        let t = Instant::now();
        write_sync(&mut floor, &group_line)?;
        group_floor_us.push(micros(t));
        let t = Instant::now();
        ledger.append_all(batch)?;
        group_us.push(micros(t));
    }
    verify_clean(&path, 1)?;
    Ok(AppendBench {
        line_len,
        floor: Lat::new(floor_us),
        append: Lat::new(append_us),
        group_floor: Lat::new(group_floor_us),
        group: Lat::new(group_us),
    })
}

// ---------------------------------------------------------------------------------------------
// 4: one CLI append
// ---------------------------------------------------------------------------------------------

struct CliBench {
    true_path: PathBuf,
    spawn_true: Lat,
    version: Lat,
    append: Lat,
    append_rss_kib: u64,
}

fn bench_cli(
    sp: &mut Spawner,
    dir: &Path,
    vnx: &Path,
    cfg: &Config,
    rng: &mut Rng,
) -> Result<CliBench> {
    let n = cfg.cli_appends;
    let true_path = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| find_on_path("true"))
        .ok_or("no `true` program to time process start with")?;
    let path = dir.join("cli.ndjson");
    let jsons = (0..=n as u64)
        .map(|i| String::from_utf8(Fields::generate(rng, i).json()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let append = |json: &str| {
        Cmd::new(vnx)
            .args(["receipts", "append", "--ledger"])
            .arg(&path)
            .args(["--receipt", json])
    };
    let spawn_true = Cmd::new(&true_path);
    let version = Cmd::new(vnx).arg("--version");
    note(&format!(
        "timing {n} × `{}`, `vnx --version` and `vnx receipts append`, interleaved",
        true_path.display()
    ));
    // Warm-ups; the first append creates the ledger.
    spawn_true.run(sp)?;
    version.run(sp)?;
    append(&jsons[0]).run(sp)?;
    let (mut t_us, mut v_us, mut a_us) = (Vec::new(), Vec::new(), Vec::new());
    let mut rss = 0;
    for json in &jsons[1..] {
        t_us.push(spawn_true.run(sp)?.secs * 1e6);
        v_us.push(version.run(sp)?.secs * 1e6);
        let p = append(json).run(sp)?;
        a_us.push(p.secs * 1e6);
        rss = rss.max(p.rss_kib);
    }
    verify_clean(&path, 1)?;
    Ok(CliBench {
        true_path,
        spawn_true: Lat::new(t_us),
        version: Lat::new(v_us),
        append: Lat::new(a_us),
        append_rss_kib: rss,
    })
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

struct Report<'a> {
    cfg: &'a Config,
    machine: Vec<(String, String)>,
    /// Percent of CPU capacity used by other processes in the second before the run, and
    /// during it.
    busy_before: Option<f64>,
    busy_during: Option<f64>,
    helper_hwm_kib: u64,
    native: VerifyBench,
    vnx_format: VerifyBench,
    python: Python,
    appends: AppendBench,
    cli: CliBench,
}

/// Formats with thousands separators and `decimals` places.
fn num(x: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if x < 0.0 { format!("-{out}") } else { out }
}

/// A rate with sensible precision.
fn rate(x: f64) -> String {
    num(x, if x >= 100.0 { 0 } else { 1 })
}

fn us(x: f64) -> String {
    format!("{} µs", num(x, if x >= 100.0 { 0 } else { 1 }))
}

fn ms(x_us: f64) -> String {
    let x = x_us / 1000.0;
    format!("{} ms", num(x, if x >= 100.0 { 0 } else { 2 }))
}

fn secs_ms(x: f64) -> String {
    ms(x * 1e6)
}

/// KiB as MB (10^6 bytes).
fn rss_mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / MB)
}

fn ratio(x: f64) -> String {
    format!("{x:.2}×")
}

fn check(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

impl Report<'_> {
    fn render(&self) -> String {
        let mut out = String::new();
        let cfg = self.cfg;
        let _ = writeln!(out, "## vnx benchmarks\n");
        for (k, v) in &self.machine {
            let _ = writeln!(out, "- {k}: {v}");
        }
        if let (Some(before), Some(during)) = (self.busy_before, self.busy_during) {
            let _ = writeln!(
                out,
                "- Other processes' CPU use (share of all cores, from /proc/stat less this \
                 benchmark's own): {before:.0}% in the second before the run, {during:.0}% \
                 during it"
            );
        }
        let _ = writeln!(
            out,
            "- Method: MB = 10^6 bytes. Ledgers are read from a warm page cache. Throughput \
             figures are the median (and best) of {} timed runs after one warm-up; a process's \
             time runs from spawn to reaped, so it includes process start. Processes are \
             spawned by a small helper process; peak RSS is the child's `ru_maxrss` from \
             `wait4`, which on Linux never reads below the spawner's own peak ({} here). \
             Latencies are single operations, nearest-rank percentiles.\n",
            cfg.runs,
            rss_mb(self.helper_hwm_kib)
        );
        self.summary(&mut out);
        self.verify_section(&mut out, "1. Native verify", &self.native);
        self.verify_section(&mut out, "2. VNX-format verify", &self.vnx_format);
        self.python_section(&mut out);
        self.append_section(&mut out);
        self.cli_section(&mut out);
        out
    }

    fn summary(&self, out: &mut String) {
        let n = &self.native;
        let v = &self.vnx_format;
        let a = &self.appends;
        let c = &self.cli;
        let sha = |b: &VerifyBench| {
            b.sha256sum.as_ref().map(|t| {
                (
                    format!("`sha256sum`: {} MB/s", rate(t.mbps(b.bytes))),
                    t.mbps(b.bytes),
                )
            })
        };
        let vs_sha = |b: &VerifyBench, t: &Timing| {
            sha(b).map_or(("–".into(), "–".into()), |(floor, f)| {
                (floor, ratio(t.mbps(b.bytes) / f))
            })
        };
        let mut rows = Vec::new();
        let native_one = n.cli_one.mbps(n.bytes);
        let (floor, r) = vs_sha(n, &n.cli_one);
        rows.push(vec![
            "Native verify, 1 thread (`vnx audit-chain verify --threads 1`)".into(),
            format!("{} MB/s", rate(native_one)),
            floor,
            r,
            format!("≥ 800 MB/s {}", check(native_one >= 800.0)),
        ]);
        let native_all = n.cli_default.mbps(n.bytes);
        let (floor, r) = vs_sha(n, &n.cli_default);
        rows.push(vec![
            format!("Native verify, default threads ({})", n.default_threads),
            format!("{} MB/s", rate(native_all)),
            floor,
            r,
            format!("≥ 1,500 MB/s (stretch) {}", check(native_all >= 1500.0)),
        ]);
        let rss = [&n.cli_one, &n.cli_default, &v.cli_one, &v.cli_default]
            .iter()
            .filter_map(|t| t.rss_kib)
            .max()
            .unwrap_or(0);
        rows.push(vec![
            format!(
                "Verify peak RSS, {} MB ledgers (any run above)",
                num(n.bytes as f64 / MB, 0)
            ),
            rss_mb(rss),
            "–".into(),
            "–".into(),
            format!("< 20 MB {}", check(rss as f64 * 1024.0 < 20.0 * MB)),
        ]);
        let vnx_one = v.cli_one.mbps(v.bytes);
        let (floor, r) = vs_sha(v, &v.cli_one);
        rows.push(vec![
            "VNX-format verify, 1 thread".into(),
            format!("{} MB/s", rate(vnx_one)),
            floor,
            r,
            format!("≥ 250 MB/s {}", check(vnx_one >= 250.0)),
        ]);
        let (floor, r) = vs_sha(v, &v.cli_default);
        rows.push(vec![
            format!("VNX-format verify, default threads ({})", v.default_threads),
            format!("{} MB/s", rate(v.cli_default.mbps(v.bytes))),
            floor,
            r,
            "–".into(),
        ]);
        if let Python::Ran(p) = &self.python {
            let py = p.python.mbps(p.bytes);
            let ours = p.vnx_one.mbps(p.bytes);
            rows.push(vec![
                format!(
                    "VNX-format verify vs the Python reference ({} MB file, 1 thread)",
                    num(p.bytes as f64 / MB, 0)
                ),
                format!("{} MB/s", rate(ours)),
                format!("Python `verify_chain`: {} MB/s", rate(py)),
                format!("{} faster", ratio(ours / py)),
                "Python VNX: 45 MB/s".into(),
            ]);
        }
        let p50 = a.append.p(50.0);
        let p99 = a.append.p(99.0);
        rows.push(vec![
            "Append in-process, p50 (`Ledger::append`)".into(),
            us(p50),
            format!("write + `fdatasync`: {}", us(a.floor.p(50.0))),
            ratio(p50 / a.floor.p(50.0)),
            format!("≤ 200 µs {}", check(p50 <= 200.0)),
        ]);
        rows.push(vec![
            "Append in-process, p99".into(),
            us(p99),
            format!("write + `fdatasync`: {}", us(a.floor.p(99.0))),
            ratio(p99 / a.floor.p(99.0)),
            format!("≤ 1 ms {}", check(p99 <= 1000.0)),
        ]);
        let group_rate = a.group.per_sec(GROUP);
        let floor_rate = a.group_floor.per_sec(GROUP);
        rows.push(vec![
            format!("Group commit, {GROUP} receipts per `append_all`"),
            format!("{} receipts/s", rate(group_rate)),
            format!(
                "{GROUP}-line write + `fdatasync`: {} lines/s",
                rate(floor_rate)
            ),
            ratio(group_rate / floor_rate),
            format!("≥ 50,000/s {}", check(group_rate >= 50_000.0)),
        ]);
        let cli_p50 = c.append.p(50.0);
        let floor = c.spawn_true.p(50.0) + a.floor.p(50.0);
        rows.push(vec![
            "One CLI append, p50 (`vnx receipts append`)".into(),
            ms(cli_p50),
            format!("spawn `true` + write + `fdatasync`: {}", ms(floor)),
            ratio(cli_p50 / floor),
            format!("≤ 2 ms {} (Python VNX: 33 ms)", check(cli_p50 <= 2000.0)),
        ]);
        let _ = writeln!(out, "### Summary\n");
        table(
            out,
            &["Benchmark", "vnx", "Floor", "vnx vs floor", "Target"],
            &rows,
        );
        let _ = writeln!(
            out,
            "For throughput the ratio is vnx's speed over the floor's (above 1 is faster than \
             the floor); for latency it is vnx's time over the floor's.\n"
        );
    }

    fn verify_section(&self, out: &mut String, title: &str, b: &VerifyBench) {
        let _ = writeln!(
            out,
            "### {title}: {} MB, {} lines ({} B/line)\n",
            num(b.bytes as f64 / MB, 1),
            num(b.lines as f64, 0),
            num(b.bytes as f64 / b.lines as f64, 0)
        );
        let _ = writeln!(
            out,
            "The ledger is {}. Lines that took the full-parse path (not already canonical): \
             {}.\n",
            b.how,
            num(b.parsed as f64, 0)
        );
        let floor = b.sha256sum.as_ref().map(|t| t.mbps(b.bytes));
        let row = |name: String, t: &Timing| {
            vec![
                name,
                format!("{} ({})", secs_ms(t.median()), secs_ms(t.best())),
                format!("{} ({})", rate(t.mbps(b.bytes)), rate(t.best_mbps(b.bytes))),
                num(b.lines as f64 / t.median() / 1e6, 2),
                t.rss_kib.map_or("–".into(), rss_mb),
                floor.map_or("–".into(), |f| ratio(t.mbps(b.bytes) / f)),
            ]
        };
        let mut rows = Vec::new();
        if let Some(t) = &b.sha256sum {
            rows.push(row("`sha256sum FILE` (floor)".into(), t));
        }
        rows.push(row(
            "SHA-256 of the file in-process, 1 MiB reads (`sha2`, the hashing limit)".into(),
            &b.sha_inproc,
        ));
        rows.push(row(
            "`vnx audit-chain verify --ledger FILE --threads 1`".into(),
            &b.cli_one,
        ));
        rows.push(row(
            format!(
                "`vnx audit-chain verify --ledger FILE` (default: {} threads)",
                b.default_threads
            ),
            &b.cli_default,
        ));
        rows.push(row("`verify()` in-process, threads = 1".into(), &b.lib_one));
        rows.push(row("`verify()` in-process, threads = 2".into(), &b.lib_two));
        table(
            out,
            &[
                "Run",
                "Wall, median (best)",
                "MB/s, median (best)",
                "M lines/s",
                "Peak RSS",
                "vs `sha256sum`",
            ],
            &rows,
        );
    }

    fn python_section(&self, out: &mut String) {
        let _ = writeln!(out, "### Python reference\n");
        let p = match &self.python {
            Python::Skipped(why) => {
                let _ = writeln!(out, "Skipped: {why}.\n");
                return;
            }
            Python::Ran(p) => p,
        };
        let _ = writeln!(
            out,
            "`receipts/reference/vnx_chain.py verify` re-implements VNX's `verify_chain`; run \
             once (Python {}, interpreter start included) on a {} MB VNX-format ledger, against \
             vnx on the same file.\n",
            p.version,
            num(p.bytes as f64 / MB, 1)
        );
        let py = p.python.mbps(p.bytes);
        let rows = [
            vec![
                "`python3 receipts/reference/vnx_chain.py verify FILE` (1 run)".into(),
                secs_ms(p.python.median()),
                rate(py),
                p.python.rss_kib.map_or("–".into(), rss_mb),
                ratio(1.0),
            ],
            vec![
                "`vnx audit-chain verify --ledger FILE --threads 1` (median)".into(),
                secs_ms(p.vnx_one.median()),
                rate(p.vnx_one.mbps(p.bytes)),
                p.vnx_one.rss_kib.map_or("–".into(), rss_mb),
                ratio(p.vnx_one.mbps(p.bytes) / py),
            ],
        ];
        table(
            out,
            &["Run", "Wall", "MB/s", "Peak RSS", "Speed vs Python"],
            &rows,
        );
    }

    fn append_section(&self, out: &mut String) {
        let a = &self.appends;
        let _ = writeln!(
            out,
            "### 3. Append latency, in-process ({} appends of {}-byte lines)\n",
            num(a.append.0.len() as f64, 0),
            a.line_len
        );
        let _ = writeln!(
            out,
            "`Ledger::append` opens the lock file and the ledger, takes the lock, reads the \
             tail, chains, writes one line and `fdatasync`s. The floor writes a line of the \
             same length to an `O_APPEND` file and `fdatasync`s; the two loops run \
             interleaved on the same file system. Group commit: {} `append_all` calls of {GROUP} \
             receipts, against one {GROUP}-line write + `fdatasync` per call.\n",
            num(a.group.0.len() as f64, 0)
        );
        let row = |name: &str, l: &Lat, floor: &Lat, per: usize, unit: &str| {
            vec![
                name.to_owned(),
                us(l.p(50.0)),
                us(l.p(90.0)),
                us(l.p(99.0)),
                us(l.max()),
                format!("{} {unit}", rate(l.per_sec(per))),
                ratio(l.p(50.0) / floor.p(50.0)),
            ]
        };
        let per_receipt = Lat::new(a.group.0.iter().map(|x| x / GROUP as f64).collect());
        let per_floor_line = Lat::new(a.group_floor.0.iter().map(|x| x / GROUP as f64).collect());
        let rows = [
            row(
                "write + `fdatasync`, `O_APPEND` (floor)",
                &a.floor,
                &a.floor,
                1,
                "lines/s",
            ),
            row(
                "`Ledger::append` (one receipt)",
                &a.append,
                &a.floor,
                1,
                "receipts/s",
            ),
            row(
                &format!("{GROUP}-line write + `fdatasync` (floor), per call"),
                &a.group_floor,
                &a.group_floor,
                GROUP,
                "lines/s",
            ),
            row(
                &format!("`Ledger::append_all` ({GROUP} receipts), per call"),
                &a.group,
                &a.group_floor,
                GROUP,
                "receipts/s",
            ),
            row(
                &format!("`Ledger::append_all` ({GROUP} receipts), amortized per receipt"),
                &per_receipt,
                &per_floor_line,
                1,
                "receipts/s",
            ),
        ];
        table(
            out,
            &[
                "Operation",
                "p50",
                "p90",
                "p99",
                "max",
                "Throughput",
                "p50 vs floor",
            ],
            &rows,
        );
    }

    fn cli_section(&self, out: &mut String) {
        let c = &self.cli;
        let a = &self.appends;
        let _ = writeln!(
            out,
            "### 4. One CLI append ({} processes)\n",
            num(c.append.0.len() as f64, 0)
        );
        let _ = writeln!(
            out,
            "Each run spawns `vnx receipts append --ledger FILE --receipt JSON` and waits for \
             it (peak RSS {}). The three process loops run interleaved; the write + \
             `fdatasync` row is the floor loop of §3.\n",
            rss_mb(c.append_rss_kib)
        );
        let floor50 = c.spawn_true.p(50.0) + a.floor.p(50.0);
        let floor99 = c.spawn_true.p(99.0) + a.floor.p(99.0);
        let row = |name: String, l: &Lat| {
            vec![
                name,
                ms(l.p(50.0)),
                ms(l.p(90.0)),
                ms(l.p(99.0)),
                ms(l.max()),
                ratio(l.p(50.0) / floor50),
            ]
        };
        let rows = [
            row(
                format!(
                    "spawn + wait `{}` (process-start floor)",
                    c.true_path.display()
                ),
                &c.spawn_true,
            ),
            row("write + `fdatasync` (from §3)".into(), &a.floor),
            vec![
                "**floor: process start + write + `fdatasync`**".into(),
                ms(floor50),
                "–".into(),
                ms(floor99),
                "–".into(),
                ratio(1.0),
            ],
            row(
                "spawn + wait `vnx --version` (vnx binary start, no ledger work)".into(),
                &c.version,
            ),
            row(
                "**`vnx receipts append --ledger FILE --receipt JSON`**".into(),
                &c.append,
            ),
        ];
        table(
            out,
            &["Step", "p50", "p90", "p99", "max", "p50 vs floor"],
            &rows,
        );
    }
}
