//! The Markdown report: the machine context, the method, and the summary table of every
//! benchmark beside its floor and target; the per-benchmark tables are in `details`.

mod details;
pub mod format;

use std::fmt::Write as _;

use crate::append_bench::AppendBench;
use crate::cli_bench::CliBench;
use crate::timing::Timing;
use crate::verify_bench::{Python, VerifyBench};
use crate::{Config, GROUP, MB};
use format::{check, ms, num, rate, ratio, rss_mb, table, us};

pub struct Report<'a> {
    pub cfg: &'a Config,
    pub machine: Vec<(String, String)>,
    /// Percent of CPU capacity used by other processes in the second before the run, and
    /// during it.
    pub busy_before: Option<f64>,
    pub busy_during: Option<f64>,
    pub helper_hwm_kib: u64,
    pub native: VerifyBench,
    pub vnx_format: VerifyBench,
    pub python: Python,
    pub appends: AppendBench,
    pub cli: CliBench,
}

impl Report<'_> {
    pub fn render(&self) -> String {
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
}
