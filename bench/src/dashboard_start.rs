//! Part of benchmark 10: `vnx dashboard` starting on a project with tens of thousands of
//! dispatches on record, each with its directory left behind, as a person starts it: in a
//! terminal (a tmux pane), timed from `tmux new-session` to the first frame that shows the
//! verified ledger, with the inotify watches the process then holds and its peak RSS.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::Result;
use crate::dispatch_bench::BenchRepo;
use crate::reads_bench::Read;
use crate::timing::{Lat, micros};

/// Gives each of `ids` a dispatch directory shaped as the template dispatch `template_id`'s:
/// the same subdirectories, its files hard-linked (a directory per dispatch and what is in
/// it is what a watcher of the history pays for; the bytes are not).
pub fn make_dispatch_dirs(root: &Path, template_id: &str, ids: &[String]) -> Result<()> {
    let dispatches = root.join(".vnx-data/dispatches");
    let template = dispatches.join(template_id);
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    walk(&template, Path::new(""), &mut dirs, &mut files)?;
    for id in ids {
        let dir = dispatches.join(id);
        std::fs::create_dir_all(&dir)?;
        for d in &dirs {
            std::fs::create_dir_all(dir.join(d))?;
        }
        for f in &files {
            std::fs::hard_link(template.join(f), dir.join(f))?;
        }
    }
    Ok(())
}

/// The subdirectories and regular files under `base/rel`, relative to `base` (no links).
fn walk(
    base: &Path,
    rel: &Path,
    dirs: &mut Vec<std::path::PathBuf>,
    files: &mut Vec<std::path::PathBuf>,
) -> Result<()> {
    for entry in std::fs::read_dir(base.join(rel))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = rel.join(entry.file_name());
        if kind.is_dir() {
            dirs.push(path.clone());
            walk(base, &path, dirs, files)?;
        } else if kind.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// Starts `vnx dashboard` in a 200×50 pane (wide enough for the whole header) `runs` times after a warm-up, each time until
/// its first frame shows the verified ledger.
pub fn time_dashboard_start(repo: &BenchRepo, vnx: &Path, runs: usize) -> Result<Read> {
    crate::note("timing the dashboard's start");
    let socket = format!("vnx-bench-dash-{}", std::process::id());
    let tmux = |args: &[&str]| -> Result<String> {
        let out = repo
            .cmd("tmux")
            .args(["-f", "/dev/null", "-L", &socket])
            .args(args)
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "tmux {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    // A server already up (its start is not the dashboard's), and what the panes inherit.
    tmux(&["new-session", "-d", "-s", "idle", "sleep", "86400"])?;
    let result = (|| -> Result<Read> {
        let root = repo.root.to_string_lossy().into_owned();
        let (mut us, mut rss_kib, mut watches) = (Vec::new(), 0, Vec::new());
        for i in 0..=runs {
            let t = Instant::now();
            let pid = tmux(&[
                "new-session",
                "-d",
                "-s",
                "dash",
                "-x",
                "200",
                "-y",
                "50",
                "-c",
                &root,
                "-P",
                "-F",
                "#{pane_pid}",
                &vnx.to_string_lossy(),
                "dashboard",
            ])?;
            let pid: u32 = pid.trim().parse()?;
            loop {
                if tmux(&["capture-pane", "-p", "-t", "=dash:"])?.contains("ledger verified") {
                    break;
                }
                if t.elapsed() > Duration::from_secs(120) {
                    let screen = tmux(&["capture-pane", "-p", "-t", "=dash:"])?;
                    return Err(
                        format!("the dashboard showed no verified ledger:\n{screen}").into(),
                    );
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            let elapsed = micros(t);
            let held = inotify_watches(pid);
            let hwm = peak_rss_kib(pid);
            let _ = Command::new("tmux")
                .args(["-L", &socket, "send-keys", "-t", "=dash:", "q"])
                .status();
            let quit = Instant::now();
            while std::path::Path::new(&format!("/proc/{pid}")).exists()
                && quit.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = tmux(&["kill-session", "-t", "=dash"]);
            if i > 0 {
                us.push(elapsed);
                rss_kib = rss_kib.max(hwm);
                watches.push(held);
            }
        }
        let held = watches.iter().max().copied().unwrap_or(0);
        Ok(Read {
            name: format!(
                "`vnx dashboard` start, to the first frame (inotify watches held: {})",
                crate::report::format::num(held as f64, 0)
            ),
            lat: Lat::new(us),
            rss_kib,
            cpu: None,
        })
    })();
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .status();
    result
}

/// How many inotify watches process `pid` holds (the `inotify wd:` lines of its fdinfo).
fn inotify_watches(pid: u32) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return 0;
    };
    fds.filter_map(|fd| std::fs::read_to_string(fd.ok()?.path()).ok())
        .map(|info| {
            info.lines()
                .filter(|l| l.starts_with("inotify wd:"))
                .count()
        })
        .sum()
}

/// The peak RSS of process `pid` so far, in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
