//! `vnx-bench`: the benchmark driver behind `bin/bench`. Measures the ledger side by side with
//! its floors in one run and prints Markdown tables to stdout; progress notes go to stderr.
//!
//! 1. Native verify: `vnx audit-chain verify` and in-process `verify()` on a ledger written
//!    through the library, against `sha256sum` and in-process SHA-256 of the same file.
//! 2. VNX-format verify: the same on a ledger in Python VNX's write format, plus the Python
//!    reference verifier (`receipts/reference/vnx_chain.py`) when `python3` is available.
//! 3. In-process appends (single and group commit) against a bare write + `fdatasync` loop.
//! 4. One CLI append per process against process start plus write + `fdatasync`.
//! 5. Dispatch overhead: a no-op `demo` dispatch against the bare git + tmux floor, and 16
//!    dispatches in parallel against 16 in a row.
//! 6. The dashboard with 200 dispatches (`--dashboard-only`).
//! 7. The dispatch queue: 32 no-op dispatches through 4 slots, and the most that ever ran at
//!    once (`--queue-only`).
//! 8. The egress scan of a 1 MiB prompt, against SHA-256 of it (`--egress-only`); 8b. the
//!    credential relay's added latency per model request on loopback (`--relay-only`).
//! 9. A remote host: a no-op dispatch over ssh against one `ssh` round trip plus a local
//!    no-op dispatch (`--remote-only`).
//! 10. Reads at scale: `status`, `show`, the MCP list, a dashboard reload and the dashboard's
//!     start, and `vnx serve`'s list and dispatch pages, on a project with 50,000 recorded
//!     dispatches (`--reads-only`; `--dispatches N`
//!     for another count), for each shape of history `--shape` names: `plain` (each dispatch
//!     one real no-op dispatch's two receipts) and `busy` (as a project used daily records
//!     them: gate runs, constraint decisions, prompts, merges each anchoring a checkpoint).
//! 11. Launch speed: `vnx dispatch-agent --detach` with each real coding CLI installed
//!     against `workmux add` with the same CLI, interleaved (`--launch-only`).
//! 12. The conflict radar over 50 running dispatches' worktrees, in process (`--radar-only`).
//! 13. The project's day across 50 running dispatches: a supervisor's refresh, in process
//!     (`--day-only`).
//! 14. `vnx serve`'s list page asked for alone and by 50 devices at once (`--serve-only`).
//! 15. Idle cost: the CPU of `--dispatches` live dispatches' supervisors (and the tmux
//!     server) over 10 s while their workers sleep (`--idle-only`).
//! 16. Usage limits: three providers waiting out a usage limit and 200 queued behind their
//!     holds, their CPU over 10 s of the wait, and the first launch after each reset
//!     (`--limits-only`).
//! 17. A graph's cost to `vnx status`: a chain of 100 dispatches waiting for each other
//!     against 100 queued plainly (`--graph-only`).

#![expect(
    clippy::disallowed_methods,
    reason = "the benchmark driver times process spawns and runs vnx from outside"
)]

mod append_bench;
mod busy;
mod cli_bench;
mod dashboard_bench;
mod dashboard_start;
mod day_bench;
mod dispatch_bench;
mod egress_bench;
mod generate;
mod graph_bench;
mod idle_bench;
mod launch_bench;
mod limits_bench;
mod machine;
mod pool_bench;
mod queue_bench;
mod radar_bench;
mod reads_bench;
mod relay_bench;
mod remote_bench;
mod report;
mod serve_bench;
mod spawn;
mod timing;
mod verify_bench;

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use append_bench::bench_appends;
use cli_bench::bench_cli;
use generate::{Rng, make_native, make_vnx_format};
use machine::{CpuSample, WorkDir, machine_context};
use report::Report;
use report::format::num;
use spawn::{Spawner, helper_main};
use verify_bench::{bench_python, bench_verify};

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
    /// Only the dashboard benchmark (200 dispatches; quick to reproduce its figures)
    #[arg(long)]
    dashboard_only: bool,
    /// Only the worktree pool benchmark, with its warm-gate part (cargo builds of vnx's own
    /// source: about 15 minutes on 2 cores; not with --quick)
    #[arg(long)]
    pool_only: bool,
    /// Only the queue benchmark (32 no-op dispatches through 4 slots)
    #[arg(long)]
    queue_only: bool,
    /// Only the graph benchmark (`vnx status` with a chain of 100 dispatches of `--after`)
    #[arg(long)]
    graph_only: bool,
    /// Only the no-op dispatch benchmark against its git + tmux floor (30 interleaved pairs, 5
    /// with --quick)
    #[arg(long)]
    dispatch_only: bool,
    /// Only the egress scan benchmark (a 1 MiB prompt, in process)
    #[arg(long)]
    egress_only: bool,
    /// Only the credential relay benchmark (200 model requests on loopback, direct and
    /// relayed; 20 with --quick)
    #[arg(long)]
    relay_only: bool,
    /// Only the conflict radar benchmark (50 dispatches' worktrees, in process)
    #[arg(long)]
    radar_only: bool,
    /// Only the project-day benchmark (50 running dispatches' published use, in process)
    #[arg(long)]
    day_only: bool,
    /// Only the remote-host benchmark (sshd on loopback; needs root and /usr/sbin/sshd)
    #[arg(long)]
    remote_only: bool,
    /// Only the reads benchmark (status, show, MCP list, dashboard reload on a project with
    /// `--dispatches` recorded dispatches)
    #[arg(long)]
    reads_only: bool,
    /// Only `vnx serve`'s list page, asked for alone and by 50 devices at once, on a project
    /// with `--dispatches` recorded dispatches [default: 1000, or 200 with --quick]
    #[arg(long)]
    serve_only: bool,
    /// Only the idle-cost benchmark: the supervisors of `--dispatches` live dispatches whose
    /// workers sleep, watched for 10 s [default: 500, or 20 with --quick]
    #[arg(long)]
    idle_only: bool,
    /// Only the usage-limits benchmark: three providers waiting out a usage limit and
    /// `--dispatches` queued behind their holds [default: 200, or 20 with --quick]
    #[arg(long)]
    limits_only: bool,
    /// Only the launch benchmark: `vnx dispatch-agent --detach` against `workmux add` with
    /// each real CLI installed (claude, codex, gemini, opencode), `--pairs` interleaved pairs
    #[arg(long)]
    launch_only: bool,
    /// Interleaved launch pairs per CLI for the launch benchmark [default: 10, or 3 with
    /// --quick]
    #[arg(long, value_name = "N")]
    pairs: Option<usize>,
    /// The workmux binary for the launch benchmark [default: workmux on PATH]
    #[arg(long, value_name = "PATH")]
    workmux: Option<PathBuf>,
    /// Recorded dispatches for the reads benchmark [default: 50000, or 2000 with --quick]
    #[arg(long, value_name = "N")]
    dispatches: Option<usize>,
    /// The reads benchmark's histories, each in a project of its own (comma-separated):
    /// `plain`, every dispatch one real no-op dispatch's two receipts; `busy`, as a project
    /// used daily records them (gate runs, constraint decisions, permission prompts, one
    /// dispatch in four merged with a checkpoint anchored, a few lost or waiting for a person)
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["plain", "busy"])]
    shape: Vec<generate::Shape>,
    /// Internal: time dashboard reloads of the project at this root (the reads benchmark)
    #[arg(long, hide = true, value_name = "ROOT")]
    reload_probe: Option<PathBuf>,
    /// Internal: reloads the probe times
    #[arg(long, hide = true, default_value_t = 5)]
    probe_runs: usize,
    /// Internal: the probe appends a receipt before each reload it times
    #[arg(long, hide = true)]
    probe_after_change: bool,
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
    dispatches: usize,
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
            dispatches: if args.quick { 5 } else { 30 },
            python_size: size.min(python_mb * 1_000_000),
            keep: args.keep,
        })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if args.spawn_helper {
        helper_main()
    } else if let Some(root) = &args.reload_probe {
        reads_bench::reload_probe(root, args.probe_runs, args.probe_after_change)
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
    if args.egress_only {
        note("timing the egress scan of a 1 MiB prompt");
        let bench = egress_bench::bench_egress(if args.quick { 5 } else { 30 })?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        return Ok(());
    }
    if args.relay_only {
        let bench = relay_bench::bench_relay(if args.quick { 20 } else { 200 })?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        return Ok(());
    }
    if args.day_only {
        let work = WorkDir::create(args.dir.as_deref(), args.keep)?;
        let bench = day_bench::bench_day(&work.path, if args.quick { 5 } else { 30 })?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        return Ok(());
    }
    if args.radar_only {
        let work = WorkDir::create(args.dir.as_deref(), args.keep)?;
        let bench = radar_bench::bench_radar(&work.path, if args.quick { 5 } else { 30 })?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        return Ok(());
    }
    let vnx = std::env::current_exe()?.with_file_name("vnx");
    if !vnx.is_file() {
        return Err(format!(
            "{} is missing; bin/bench builds it (cargo build --release --features bench --bins)",
            vnx.display()
        )
        .into());
    }
    let work = WorkDir::create(args.dir.as_deref(), args.keep)?;
    let dashboard = |work: &std::path::Path| -> Result<()> {
        note("making 200 no-op dispatches for the dashboard benchmark");
        let bench = dashboard_bench::bench_dashboard(&vnx, work, 200, 20)?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        Ok(())
    };
    let reads = |work: &std::path::Path| -> Result<()> {
        let n = args
            .dispatches
            .unwrap_or(if args.quick { 2_000 } else { 50_000 });
        for &shape in &args.shape {
            note(&format!(
                "making a project with {n} recorded dispatches, {} shape",
                shape.name()
            ));
            let bench = reads_bench::bench_reads(&vnx, work, n.max(1), cfg.runs, shape)?;
            print!("{}", bench.render());
            io::stdout().flush()?;
        }
        Ok(())
    };
    let queue = |work: &std::path::Path| -> Result<()> {
        note("starting 32 no-op dispatches through 4 demo slots");
        let bench = queue_bench::bench_queue(&vnx, work, 32, 4)?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        Ok(())
    };
    if args.dashboard_only {
        return dashboard(&work.path);
    }
    if args.idle_only {
        let n = args.dispatches.unwrap_or(if args.quick { 20 } else { 500 });
        note(&format!("starting {n} dispatches whose workers sleep"));
        let bench = idle_bench::bench_idle(&vnx, &work.path, n.max(1))?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        return Ok(());
    }
    if args.limits_only {
        let n = args.dispatches.unwrap_or(if args.quick { 20 } else { 200 });
        note(&format!("three providers limited, {n} queued behind them"));
        let bench = limits_bench::bench_limits(&vnx, &work.path, 3, n)?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        return Ok(());
    }
    if args.reads_only {
        return reads(&work.path);
    }
    if args.serve_only {
        let n = args
            .dispatches
            .unwrap_or(if args.quick { 200 } else { 1_000 });
        let dir = work.path.join("serve");
        fs::create_dir_all(&dir)?;
        let repo = dispatch_bench::BenchRepo::create(&dir, &vnx)?;
        note(&format!("making a project with {n} recorded dispatches"));
        let (real, ids, _) =
            reads_bench::make_project(&repo, &vnx, n.max(1), generate::Shape::Plain)?;
        dashboard_start::make_dispatch_dirs(&repo.root, &real, &ids)?;
        let bench = serve_bench::bench_concurrency(&repo, &vnx, 50, 20, 5)?;
        print!("{}", bench.render(n));
        io::stdout().flush()?;
        return Ok(());
    }
    if args.pool_only {
        note("timing pooled and unpooled dispatches on 20,000 files");
        let bench = pool_bench::bench_pool(&vnx, &work.path, cfg.dispatches.min(10))?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        // The warm-gate part builds vnx twice from nothing: not in a --quick run.
        if !args.quick {
            let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let gate = pool_bench::bench_gate(&vnx, &work.path, &source, 3)?;
            print!("{}", gate.render());
            io::stdout().flush()?;
        }
        return Ok(());
    }
    if args.queue_only {
        return queue(&work.path);
    }
    if args.graph_only {
        let bench = graph_bench::bench_graph(&vnx, &work.path, 100, cfg.runs)?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        return Ok(());
    }
    if args.dispatch_only {
        note(&format!(
            "timing {} no-op dispatches against the git + tmux floor",
            cfg.dispatches
        ));
        let dispatch = dispatch_bench::bench_dispatch(&vnx, &work.path, cfg.dispatches)?;
        print!("{}", dispatch.render());
        io::stdout().flush()?;
        return Ok(());
    }
    if args.launch_only {
        let pairs = args.pairs.unwrap_or(if args.quick { 3 } else { 10 }).max(1);
        let bench = launch_bench::bench_launch(&vnx, args.workmux.as_deref(), &work.path, pairs)?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        return Ok(());
    }
    if args.remote_only {
        note("timing no-op dispatches on a host over loopback ssh");
        let bench = remote_bench::bench_remote(&vnx, &work.path, cfg.dispatches.min(20))?;
        print!("{}", bench.render());
        io::stdout().flush()?;
        return Ok(());
    }
    let mut sp = Spawner::start()?;
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
    note(&format!(
        "timing {} no-op dispatches against the git + tmux floor",
        cfg.dispatches
    ));
    let dispatch = dispatch_bench::bench_dispatch(&vnx, &work.path, cfg.dispatches)?;
    print!("{}", dispatch.render());
    io::stdout().flush()?;
    note("timing pooled and unpooled dispatches on a repository of 20,000 files");
    let pool = pool_bench::bench_pool(&vnx, &work.path, cfg.dispatches.min(10))?;
    print!("{}", pool.render());
    io::stdout().flush()?;
    dashboard(&work.path)?;
    queue(&work.path)?;
    reads(&work.path)
}

fn note(msg: &str) {
    eprintln!("vnx-bench: {msg}");
}
