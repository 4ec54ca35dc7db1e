//! Benchmark 4: one CLI append per process, against process start (`true`) and the start of
//! the vnx binary alone (`vnx --version`).

use std::path::{Path, PathBuf};

use crate::generate::{Fields, Rng};
use crate::machine::find_on_path;
use crate::spawn::{Cmd, Spawner};
use crate::timing::Lat;
use crate::verify_bench::verify_clean;
use crate::{Config, Result, note};

pub struct CliBench {
    pub true_path: PathBuf,
    pub spawn_true: Lat,
    pub version: Lat,
    pub append: Lat,
    pub append_rss_kib: u64,
}

pub fn bench_cli(
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
