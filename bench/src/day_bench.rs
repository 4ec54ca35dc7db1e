//! Benchmark 13, the project's day held across running dispatches (`--day-only`, ADR 0100):
//! what each running supervisor spends every 3 s to count the day's other dispatches. 50
//! dispatches publish their use; the ledger holds 100,000 completions of today and gains ten
//! receipts between two refreshes. Timed in process: reading the 50 published files, one
//! supervisor's refresh (the ledger read on from where it stopped, then the files), and one
//! publish of its own use.

use std::io::Write;
use std::path::Path;

use vnx::dispatch::budget::day::{self, DayHold, LiveUse};
use vnx::ids::DispatchId;
use vnx::receipts::Budget;

use crate::Result;
use crate::report::format::num;
use crate::timing::time_fn;

/// Dispatches running side by side.
const RUNNING: usize = 50;
/// Completions of today on the ledger.
const ENDED: usize = 100_000;
/// Receipts appended between two refreshes.
const BETWEEN: usize = 10;

/// What the day benchmark measured, seconds (median, best).
pub struct DayBench {
    /// Reading the 50 published files.
    pub read: (f64, f64),
    /// One refresh.
    pub refresh: (f64, f64),
    /// One publish.
    pub publish: (f64, f64),
    /// The first read of the whole ledger, when a supervisor starts.
    pub start: (f64, f64),
    /// The ledger's size, bytes.
    pub ledger_bytes: u64,
}

fn completed(id: usize, at: &str) -> String {
    format!(
        "{{\"event_type\":\"dispatch_completed\",\"timestamp\":\"{at}\",\
         \"dispatch_id\":\"D-{id:012x}\",\"status\":\"done\",\"token_usage\":\
         {{\"input_tokens\":{id},\"output_tokens\":10,\"total_tokens\":{}}}}}\n",
        id + 10
    )
}

/// Times the day's refresh in `work`, `runs` times each after a warm-up.
pub fn bench_day(work: &Path, runs: usize) -> Result<DayBench> {
    crate::note("writing a ledger of 100,000 completions and 50 published uses");
    let ledger = work.join("ledger.ndjson");
    let live = work.join("live");
    let now = jiff::Timestamp::now();
    let at = now.to_string();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&ledger)?);
    for i in 0..ENDED {
        out.write_all(completed(i, &at).as_bytes())?;
    }
    out.flush()?;
    drop(out);
    for i in 0..RUNNING {
        let used = LiveUse {
            dispatch_id: DispatchId::parse(&format!("D-{:012x}", 0xa000 + i))?,
            tokens: 1000 + i as u64,
            cost_usd: Some(0.01),
            at: now,
        };
        day::publish(&live, &used)?;
    }
    let me = DispatchId::parse("D-00000000beef")?;
    let limit = Budget {
        tokens: Some(u64::MAX / 2),
        ..Budget::default()
    };
    let prices = vnx::config::Prices::default();
    let start = time_fn("a supervisor's first read of the day", runs.min(5), || {
        std::hint::black_box(DayHold::new((&ledger, &live), &me, &limit, &prices, now));
        Ok(())
    })?;
    let mut hold =
        DayHold::new((&ledger, &live), &me, &limit, &prices, now).ok_or("no day to hold")?;
    let read = time_fn("reading 50 published uses", runs, || {
        std::hint::black_box(day::read_live(&live, now));
        Ok(())
    })?;
    let mut next = ENDED;
    let refresh = time_fn("one refresh after ten new receipts", runs, || {
        let mut f = std::fs::OpenOptions::new().append(true).open(&ledger)?;
        for _ in 0..BETWEEN {
            f.write_all(completed(next, &at).as_bytes())?;
            next += 1;
        }
        hold.refresh(now)?;
        Ok(())
    })?;
    let mut tokens = 0;
    let publish = time_fn("one publish of a supervisor's use", runs, || {
        tokens += 1;
        hold.publish(tokens, None, now);
        Ok(())
    })?;
    Ok(DayBench {
        read: (read.median(), read.best()),
        refresh: (refresh.median(), refresh.best()),
        publish: (publish.median(), publish.best()),
        start: (start.median(), start.best()),
        ledger_bytes: std::fs::metadata(&ledger)?.len(),
    })
}

impl DayBench {
    pub fn render(&self) -> String {
        let ms = |s: f64| num(s * 1000.0, 2);
        format!(
            "\n### 13. The project's day across {RUNNING} running dispatches\n\n\
             In process: {RUNNING} dispatches' published use, a ledger of {ENDED} completions \
             of today ({} MB) that gains {BETWEEN} receipts between two refreshes. Each \
             running supervisor refreshes every 3 s and publishes when its use grew.\n\n\
             | Step | median | best |\n|---|---:|---:|\n\
             | reading the {RUNNING} published uses | {} ms | {} ms |\n\
             | one refresh (the ledger read on, then the files) | {} ms | {} ms |\n\
             | one publish of a supervisor's use | {} ms | {} ms |\n\
             | a supervisor's first read of the whole ledger | {} ms | {} ms |\n",
            num(self.ledger_bytes as f64 / 1e6, 1),
            ms(self.read.0),
            ms(self.read.1),
            ms(self.refresh.0),
            ms(self.refresh.1),
            ms(self.publish.0),
            ms(self.publish.1),
            ms(self.start.0),
            ms(self.start.1),
        )
    }
}
