//! Benchmarks 1 and 2: verify throughput, through the CLI and in-process, against `sha256sum`
//! and in-process SHA-256 of the same file, and against the Python reference verifier.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use vnx::ledger::{ChainStatus, VerifyOptions, verify};

use crate::generate::{Rng, make_vnx_format};
use crate::machine::find_on_path;
use crate::spawn::{Cmd, Spawner};
use crate::timing::{Timing, time_fn};
use crate::{Config, Result, note};

pub struct VerifyBench {
    /// How the ledger was made.
    pub how: String,
    pub bytes: u64,
    pub lines: u64,
    /// Lines that needed a full parse (not already canonical).
    pub parsed: u64,
    pub sha256sum: Option<Timing>,
    pub sha_inproc: Timing,
    pub cli_one: Timing,
    pub cli_default: Timing,
    pub default_threads: usize,
    pub lib_one: Timing,
    pub lib_two: Timing,
}

pub fn verify_clean(path: &Path, threads: usize) -> Result<vnx::ledger::VerifyReport> {
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

pub fn bench_verify(
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

pub enum Python {
    Ran(PythonBench),
    Skipped(String),
}

pub struct PythonBench {
    pub version: String,
    pub bytes: u64,
    pub python: Timing,
    pub vnx_one: Timing,
}

pub fn bench_python(
    sp: &mut Spawner,
    dir: &Path,
    vnx: &Path,
    cfg: &Config,
    rng: &mut Rng,
) -> Result<Python> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../receipts/reference/vnx_chain.py");
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
