//! The report's per-benchmark tables: each verify run, the Python reference, the in-process
//! append latencies and the CLI append.

use std::fmt::Write as _;

use super::Report;
use super::format::{ms, num, rate, ratio, rss_mb, secs_ms, table, us};
use crate::timing::{Lat, Timing};
use crate::verify_bench::{Python, VerifyBench};
use crate::{GROUP, MB};

impl Report<'_> {
    pub(super) fn verify_section(&self, out: &mut String, title: &str, b: &VerifyBench) {
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

    pub(super) fn python_section(&self, out: &mut String) {
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

    pub(super) fn append_section(&self, out: &mut String) {
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

    pub(super) fn cli_section(&self, out: &mut String) {
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
