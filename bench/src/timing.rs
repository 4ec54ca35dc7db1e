//! Measurements and their statistics: wall times of repeated runs (median, best, MB/s) and
//! single-operation latencies (nearest-rank percentiles).

use std::time::Instant;

use crate::{MB, Result, note};

/// Wall times of repeated runs, and the largest peak RSS of a timed child process.
pub struct Timing {
    pub secs: Vec<f64>,
    pub rss_kib: Option<u64>,
}

impl Timing {
    fn sorted(&self) -> Vec<f64> {
        let mut s = self.secs.clone();
        s.sort_by(f64::total_cmp);
        s
    }

    pub fn median(&self) -> f64 {
        let s = self.sorted();
        let n = s.len();
        if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        }
    }

    pub fn best(&self) -> f64 {
        self.sorted()[0]
    }

    pub fn mbps(&self, bytes: u64) -> f64 {
        bytes as f64 / MB / self.median()
    }

    pub fn best_mbps(&self, bytes: u64) -> f64 {
        bytes as f64 / MB / self.best()
    }
}

/// One warm-up call, then `runs` timed calls of `f` in this process.
pub fn time_fn(what: &str, runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<Timing> {
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
pub struct Lat(pub Vec<f64>);

impl Lat {
    pub fn new(mut us: Vec<f64>) -> Lat {
        us.sort_by(f64::total_cmp);
        Lat(us)
    }

    /// Nearest-rank percentile.
    pub fn p(&self, q: f64) -> f64 {
        let n = self.0.len();
        let rank = ((q / 100.0 * n as f64).ceil() as usize).clamp(1, n);
        self.0[rank - 1]
    }

    pub fn max(&self) -> f64 {
        self.0[self.0.len() - 1]
    }

    /// Operations per second over the whole loop.
    pub fn per_sec(&self, items_per_op: usize) -> f64 {
        (self.0.len() * items_per_op) as f64 / (self.0.iter().sum::<f64>() / 1e6)
    }
}

pub fn micros(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e6
}
