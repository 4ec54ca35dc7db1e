//! Benchmark 7, the dispatch queue: 32 no-op `demo` dispatches started at once through a
//! `concurrency:` of 4 — most are queued and started by finishing supervisors — and waited
//! for. Besides the wall time it checks the limit held: sweeping the ledger in order, +1 at
//! each `dispatch_started` and −1 at each `dispatch_completed`, never more than 4 are open.
//! Both receipts are signed by vnx (the worker cannot write them; `audit-chain verify` checks
//! the chain) and a worker runs only between its dispatch's two, so the sweep bounds how many
//! workers ever ran at once.

use std::path::Path;
use std::time::Instant;

use crate::Result;
use crate::dispatch_bench::BenchRepo;
use crate::report::format::num;
use crate::timing::micros;

/// What the queue benchmark measured.
pub struct QueueBench {
    /// Dispatches started.
    pub n: usize,
    /// The demo provider's slots.
    pub slots: usize,
    /// From the first dispatch-agent to the end of `vnx wait`.
    pub wall_ms: f64,
    /// The most dispatches open at once on the ledger.
    pub max_open: usize,
    /// How many were queued (not admitted at once).
    pub queued: usize,
}

/// Runs `n` no-op dispatches through `slots` demo slots.
pub fn bench_queue(vnx: &Path, dir: &Path, n: usize, slots: usize) -> Result<QueueBench> {
    let dir = dir.join("queue-bench");
    std::fs::create_dir_all(&dir)?;
    let repo = BenchRepo::create(&dir, vnx)?;
    let config = repo.root.join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config)?;
    text.push_str(&format!("concurrency:\n  demo: {slots}\n"));
    std::fs::write(&config, text)?;
    repo.run("git", &["commit", "-q", "-am", "demo slots"])?;
    let t = Instant::now();
    repo.parallel_noops(vnx, n)?;
    let wall_ms = micros(t) / 1000.0;
    let verified = repo.run(vnx, &["audit-chain", "verify"])?;
    if !verified.starts_with("verified") {
        return Err(format!("the queue benchmark's ledger does not verify: {verified}").into());
    }
    let ledger = std::fs::read_to_string(repo.root.join(".vnx-data/state/t0_receipts.ndjson"))?;
    let (mut open, mut max_open, mut queued, mut started) = (0usize, 0usize, 0usize, 0usize);
    for line in ledger.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        match v["event_type"].as_str() {
            Some("dispatch_started") => {
                open += 1;
                started += 1;
                max_open = max_open.max(open);
            }
            Some("dispatch_completed") => open = open.saturating_sub(1),
            Some("queue_decision") if v["decision"] == "queued" => queued += 1,
            _ => {}
        }
    }
    if started != n {
        return Err(format!("{started} of {n} queued dispatches started").into());
    }
    if max_open > slots {
        return Err(
            format!("{max_open} dispatches were open at once through {slots} slots").into(),
        );
    }
    Ok(QueueBench {
        n,
        slots,
        wall_ms,
        max_open,
        queued,
    })
}

impl QueueBench {
    /// The section's Markdown: one row.
    pub fn render(&self) -> String {
        format!(
            "\n### 7. Dispatch queue ({} no-op dispatches started at once through {} `demo` slots)\n\n\
             All are started with `--detach` at the same moment, then `vnx wait`ed for; those \
             that find every slot taken are queued and started by finishing supervisors. The \
             most open at once is swept from the ledger's signed `dispatch_started` / \
             `dispatch_completed` receipts, between which each worker runs.\n\n\
             | Run | wall time | per dispatch | queued | most open at once |\n|---|---:|---:|---:|---:|\n\
             | {} dispatches, concurrency {} | {} ms | {} ms | {} | {} (limit {}) |\n",
            self.n,
            self.slots,
            self.n,
            self.slots,
            num(self.wall_ms, 0),
            num(self.wall_ms / self.n as f64, 1),
            self.queued,
            self.max_open,
            self.slots
        )
    }
}
