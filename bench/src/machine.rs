//! The machine the benchmark runs on: the scratch directory, the CPU, memory, kernel and file
//! system it reports, and CPU samples that tell how busy other processes kept the machine.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Result, note};

/// A fresh directory for the run's files, removed on drop unless kept.
pub struct WorkDir {
    pub path: PathBuf,
    keep: bool,
}

impl WorkDir {
    pub fn create(base: Option<&Path>, keep: bool) -> Result<WorkDir> {
        let base = base.map_or_else(std::env::temp_dir, Path::to_owned);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = base.join(format!("vnx-bench-{}-{stamp:08x}", std::process::id()));
        fs::create_dir_all(&base)
            .and_then(|()| fs::create_dir(&path))
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(WorkDir { path, keep })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            note(&format!("kept {}", self.path.display()));
        } else if let Err(e) = fs::remove_dir_all(&self.path) {
            note(&format!("could not remove {}: {e}", self.path.display()));
        }
    }
}

pub fn machine_context(dir: &Path) -> Vec<(String, String)> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_owned())
        })
    };
    let sha_ni = field("flags").map(|f| f.split_whitespace().any(|x| x == "sha_ni"));
    let nproc = std::thread::available_parallelism().map_or(1, usize::from);
    let mut cpu = format!(
        "{} × {}",
        nproc,
        field("model name").unwrap_or_else(|| "unknown CPU".into())
    );
    if let Some(sha) = sha_ni {
        cpu += if sha { ", SHA-NI" } else { ", no SHA-NI" };
    }
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let kb: f64 = m
                .lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB RAM", kb / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "RAM unknown".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let mut out = vec![
        ("CPU".into(), format!("{cpu}; {mem}")),
        ("Kernel".into(), format!("Linux {kernel}")),
    ];
    out.push(("Scratch dir".into(), filesystem(dir)));
    let sha256sum = find_on_path("sha256sum")
        .and_then(|p| Command::new(p).arg("--version").output().ok())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        });
    if let Some(v) = sha256sum {
        out.push(("sha256sum".into(), v));
    }
    out.push((
        "Date".into(),
        jiff::Timestamp::now().strftime("%Y-%m-%d").to_string(),
    ));
    out
}

/// The file system holding `dir`, from `df -PT` and /proc/mounts.
fn filesystem(dir: &Path) -> String {
    let Some(out) = Command::new("df")
        .arg("-PT")
        .arg(dir)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
    else {
        return format!("`{}` (df unavailable)", dir.display());
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(fields) = text
        .lines()
        .nth(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() >= 7)
    else {
        return format!("`{}`", dir.display());
    };
    let (device, fstype, mount) = (fields[0], fields[1], fields[6]);
    let options = fs::read_to_string("/proc/mounts").ok().and_then(|m| {
        m.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[0] == device && f[1] == mount).then(|| f[3].to_owned())
        })
    });
    let options = options.map(|o| format!(", {o}")).unwrap_or_default();
    format!(
        "`{}`: {fstype} on {device} (mounted at {mount}{options})",
        dir.display()
    )
}

/// CPU time from /proc: the whole machine's, and this process tree's (its own plus that of
/// the children it has reaped, which includes theirs).
#[derive(Clone, Copy)]
pub struct CpuSample {
    busy: u64,
    total: u64,
    own: u64,
}

impl CpuSample {
    pub fn take() -> Option<CpuSample> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        let total: u64 = ticks.iter().take(8).sum();
        let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
        let own_stat = fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<u64> = own_stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .skip(11)
            .take(4)
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        Some(CpuSample {
            busy: total - idle,
            total,
            own: fields.iter().sum(),
        })
    }

    /// Percent of the machine's CPU capacity other processes used since `earlier`.
    pub fn others_since(&self, earlier: &CpuSample) -> f64 {
        let total = self.total.saturating_sub(earlier.total).max(1) as f64;
        let busy = self.busy.saturating_sub(earlier.busy) as f64;
        let own = self.own.saturating_sub(earlier.own) as f64;
        ((busy - own) / total * 100.0).max(0.0)
    }
}

pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}
