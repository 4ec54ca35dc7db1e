//! Benchmark 6, the dashboard with 200 dispatches on record: reading everything it shows
//! (the ledger verified, every dispatch's state and last activity), drawing a frame, and a
//! key press (select the next dispatch, read its preview, draw), beside `vnx status --json`
//! on the same project.

use std::path::Path;
use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use vnx::dashboard::{Snapshot, Sources};
use vnx::ledger::{VerifyOptions, verify};
use vnx::tmux::Tmux;
use vnx_cli::tui::App;

use crate::Result;
use crate::dispatch_bench::BenchRepo;
use crate::report::format::num;
use crate::timing::{Lat, micros};

/// What the dashboard benchmark measured.
pub struct DashboardBench {
    pub dispatches: usize,
    pub status: Lat,
    pub load: Lat,
    pub draw: Lat,
    pub key: Lat,
}

/// Makes `n` no-op dispatches (eight at a time), then times the dashboard's work on them.
pub fn bench_dashboard(vnx: &Path, dir: &Path, n: usize, runs: usize) -> Result<DashboardBench> {
    let work = dir.join("dashboard");
    std::fs::create_dir_all(&work)?;
    let repo = BenchRepo::create(&work, vnx)?;
    let mut made = 0;
    while made < n {
        let batch = (n - made).min(8);
        repo.parallel_noops(vnx, batch)?;
        made += batch;
    }
    let src = Sources {
        root: repo.root.clone(),
        ledger: repo.root.join(".vnx-data/state/t0_receipts.ndjson"),
        tmux: Tmux::new(repo.socket.clone()),
    };
    let load = || -> Result<Snapshot> {
        let report = verify(&src.ledger, &VerifyOptions::default())?;
        Ok(Snapshot::load(&src, Some(&report), None)?)
    };
    let snapshot = load()?;
    if snapshot.rows.len() != n {
        return Err(format!("{} dispatches listed, {n} made", snapshot.rows.len()).into());
    }
    let mut app = App::new(snapshot);
    let mut terminal = Terminal::new(TestBackend::new(80, 24))?;
    let (mut status, mut loads, mut draws, mut keys) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let t = Instant::now();
        repo.run(vnx, &["status", "--json"])?;
        status.push(micros(t));
        let t = Instant::now();
        app.update(load()?);
        loads.push(micros(t));
        let t = Instant::now();
        terminal.draw(|f| vnx_cli::tui::ui::draw(f, &app))?;
        draws.push(micros(t));
        let t = Instant::now();
        app.key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
        vnx_cli::tui::load_content(&mut app, &src);
        terminal.draw(|f| vnx_cli::tui::ui::draw(f, &app))?;
        keys.push(micros(t));
    }
    Ok(DashboardBench {
        dispatches: n,
        status: Lat::new(status),
        load: Lat::new(loads),
        draw: Lat::new(draws),
        key: Lat::new(keys),
    })
}

impl DashboardBench {
    /// The section's Markdown.
    pub fn render(&self) -> String {
        let ms = |us: f64| format!("{} ms", num(us / 1000.0, 1));
        let row = |name: &str, l: &Lat| {
            format!(
                "| {name} | {} | {} | {} |\n",
                ms(l.p(50.0)),
                ms(l.p(90.0)),
                ms(l.max())
            )
        };
        let mut out = format!(
            "\n### 6. The dashboard with {} dispatches on record ({} runs, 80×24)\n\n\
             A reload is what the dashboard does when the ledger or a dispatch directory \
             changes: verify the ledger, list every dispatch with its proof and last \
             activity. A key press selects the next dispatch, reads its preview and draws. \
             `vnx status --json` on the same project (a whole process) is the floor.\n\n\
             | Step | p50 | p90 | max |\n|---|---:|---:|---:|\n",
            self.dispatches,
            self.load.0.len()
        );
        out += &row("floor: `vnx status --json`", &self.status);
        out += &row("**reload** (verify + list + activity)", &self.load);
        out += &row("**draw** one frame", &self.draw);
        out += &row("**key press**: select, preview, draw", &self.key);
        out
    }
}
