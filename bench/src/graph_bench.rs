//! Benchmark 17, a graph's cost to `vnx status` (issue 72): two projects, each with one
//! running dispatch holding the only `demo` slot and 99 more queued behind it — in one plain,
//! in the other each waiting for the one before (`--after`), a chain of 100. `vnx status`
//! drains the queue (reading the dependencies' states) and says what waits for what; the
//! difference of the two is what the graph adds.

use std::path::Path;

use crate::Result;
use crate::dispatch_bench::BenchRepo;
use crate::reads_bench::{Read, time_cli};
use crate::report::format::num;

/// What the graph benchmark measured.
pub struct GraphBench {
    /// Dispatches in each project.
    pub n: usize,
    /// `vnx status` with the plain queue, then with the graph.
    pub reads: [Read; 2],
}

/// A project of `n` dispatches: one running `slow` one, then `n - 1` queued behind it
/// (`chained`: each `--after` the one before).
fn project(vnx: &Path, dir: &Path, n: usize, chained: bool) -> Result<BenchRepo> {
    std::fs::create_dir_all(dir)?;
    let repo = BenchRepo::create(dir, vnx)?;
    let config = repo.root.join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config)?;
    text.push_str("concurrency:\n  demo: 1\n");
    std::fs::write(&config, text)?;
    repo.run("git", &["commit", "-q", "-am", "one demo slot"])?;
    let start = |model: &str, after: Option<&str>| -> Result<String> {
        let mut args = vec![
            "dispatch-agent",
            "--agent",
            "bench",
            "--provider",
            "demo",
            "--model",
            model,
            "--instruction",
            "x",
            "--detach",
        ];
        if let Some(a) = after {
            args.extend(["--after", a]);
        }
        Ok(repo.run(vnx, &args)?.trim().to_owned())
    };
    let mut last = start("slow", None)?;
    for _ in 1..n {
        let after = chained.then_some(last.as_str());
        last = start("noop", after)?;
    }
    Ok(repo)
}

/// Times `vnx status` (`runs` each) on a plain queue and on a chain of `n`.
pub fn bench_graph(vnx: &Path, dir: &Path, n: usize, runs: usize) -> Result<GraphBench> {
    let mut reads = Vec::new();
    for (name, chained) in [("plain", false), ("graph", true)] {
        crate::note(&format!("making {n} dispatches, {name}"));
        let repo = project(vnx, &dir.join(format!("graph-bench-{name}")), n, chained)?;
        let what = match chained {
            false => format!("`vnx status`, 1 running and {} queued", n - 1),
            true => format!("`vnx status`, 1 running and a chain of {} after it", n - 1),
        };
        reads.push(time_cli(&repo, vnx, &what, &["status"], runs)?);
        let _ = repo.run(vnx, &["cancel", "--all"]);
    }
    let [plain, graph]: [Read; 2] = reads
        .try_into()
        .map_err(|_| "two reads were timed".to_owned())?;
    Ok(GraphBench {
        n,
        reads: [plain, graph],
    })
}

impl GraphBench {
    /// The section's Markdown.
    pub fn render(&self) -> String {
        let ms = |us: f64| format!("{} ms", num(us / 1000.0, 1));
        let mut out = format!(
            "\n### 17. A graph's cost to `vnx status` ({} dispatches)\n\n\
             One project holds a running dispatch and {} queued behind its `demo` slot; the \
             other the same, each queued one `--after` the one before. Each `vnx status` \
             drains the queue (for the chain: its dependencies' states read from the \
             ledger) and prints what waits for what.\n\n\
             | Read | p50 | p90 | CPU p50 | peak RSS |\n|---|---:|---:|---:|---:|\n",
            self.n,
            self.n - 1
        );
        for r in &self.reads {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} MiB |\n",
                r.name,
                ms(r.lat.p(0.5)),
                ms(r.lat.p(0.9)),
                r.cpu.as_ref().map_or("-".into(), |c| ms(c.p(0.5))),
                num(r.rss_kib as f64 / 1024.0, 1)
            ));
        }
        let added = self.reads[1].lat.p(0.5) - self.reads[0].lat.p(0.5);
        out.push_str(&format!(
            "\nThe graph adds {} to `vnx status` at p50 (goal: under 20 ms).\n",
            ms(added)
        ));
        out
    }
}
