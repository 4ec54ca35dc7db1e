//! A screenshots gate (ADR 0125): the project's preview command started in the checkout of
//! the head on the dispatch's port (`VNX_PORT`), in the dispatch's sandbox when it ran in one,
//! waited for until it listens, each page photographed by headless Chromium at each window
//! size, the preview's group stopped, and each image kept in the gate's directory (where the
//! worker cannot write) with its SHA-256 for the signed `gate_result`. In a sandbox without a
//! network the preview and Chromium run together inside one (`vnx __capture`, [`Capture`]),
//! and the images are read back and hashed outside. Everything runs within
//! the gate's `timeout`; a preview that never listens or a Chromium that leaves no image is
//! an error, never a pass.

use std::ffi::OsString;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::exec::Shared;
use super::run::{self, Ended, Limits};
use super::{GateOutcome, Status};
use crate::process::{Cmd, Group};
use crate::receipts::{Network, Screenshot};
use crate::sandbox::{Shape, ShapeExt};

/// The largest image kept: a page photographed at 4096×4096 fits well below it.
pub const MAX_IMAGE_BYTES: u64 = 32 << 20;

/// What a screenshots gate photographs.
pub(super) struct Wanted<'a> {
    pub preview: &'a [String],
    pub paths: &'a [String],
    pub sizes: &'a [(u32, u32)],
    pub chromium: Option<&'a str>,
}

/// Runs the preview in `checkout`, photographs it, and fills `o` (its status, reason and
/// images).
pub(super) fn capture(
    s: &Shared<'_>,
    w: &Wanted<'_>,
    timeout: Duration,
    checkout: &Path,
    o: &mut GateOutcome,
) {
    o.argv = w.preview.to_vec();
    let deadline = Instant::now() + timeout;
    let shots = o.dir.join("shots");
    match photograph(s, w, deadline, checkout, &shots, o) {
        Ok(images) => {
            o.screenshots = images;
            o.status = Status::Pass;
        }
        Err(why) => (o.status, o.reason) = (Status::Error, Some(why)),
    }
    let _ = std::fs::remove_dir_all(shots.join("profile"));
}

fn photograph(
    s: &Shared<'_>,
    w: &Wanted<'_>,
    deadline: Instant,
    checkout: &Path,
    shots: &Path,
    o: &mut GateOutcome,
) -> Result<Vec<Screenshot>, String> {
    let chromium = chromium(w.chromium, s.ctx.find_program)
        .map_err(|why| format!("{why}, so the preview was not started"))?;
    crate::files::private_dir(shots)
        .map_err(|e| format!("could not make {}: {e}", shots.display()))?;
    // The worker's sandbox, for both the preview (the worker's code) and Chromium (which runs
    // the worker's scripts): its shape with the checkout writable, and Chromium's directory.
    let shapes = match s.sandbox {
        None => None,
        Some(shape) => {
            let preview = shape.for_gate(checkout);
            crate::sandbox::probe::check(Some(&preview.program)).map_err(|e| {
                format!("the dispatch ran sandboxed, so its preview runs in its sandbox, and {e}")
            })?;
            let mut browser = preview.clone();
            browser.writable.push(shots.to_owned());
            Some((preview, browser))
        }
    };
    o.sandbox = shapes.as_ref().map(|(preview, _)| preview.clone());
    let port = free_port(s.port).map_err(|e| format!("no free port for the preview: {e}"))?;
    let c = Capture {
        preview: w.preview.to_vec(),
        env: vec![
            ("VNX_DISPATCH_ID".into(), s.id.to_string()),
            ("VNX_HEAD_COMMIT".into(), s.head.to_string()),
            ("VNX_PORT".into(), port.to_string()),
        ],
        checkout: checkout.to_owned(),
        paths: w.paths.to_vec(),
        sizes: w.sizes.to_vec(),
        chromium,
        port,
        shots: shots.to_owned(),
        output: o.output_path.clone(),
    };
    match &shapes {
        // Without a network each sandbox has a loopback of its own: the preview and
        // Chromium run in one, driven by vnx inside it.
        Some((_, browser)) if browser.network == Network::Off => {
            within(s.ctx.vnx, browser, &c, deadline)
        }
        _ => {
            let (preview, browser) = (
                shapes.as_ref().map(|(p, _)| p),
                shapes.as_ref().map(|(_, b)| b),
            );
            run_capture(&c, deadline, &|a| wrap(preview, a), &|a| wrap(browser, a))
        }
    }
}

/// `argv` in `shape`, when there is one.
fn wrap(shape: Option<&Shape>, argv: Vec<OsString>) -> Vec<OsString> {
    match shape {
        Some(shape) => shape.wrap(&argv),
        None => argv,
    }
}

/// One capture, wherever it runs: here (the preview and Chromium each wrapped in the worker's
/// sandbox when it had one), or inside a sandbox without a network, where `vnx __capture`
/// runs it so that both share that sandbox's loopback.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Capture {
    /// The preview's program and arguments.
    pub preview: Vec<String>,
    /// Its environment beyond the inherited one (`VNX_PORT` among it).
    pub env: Vec<(String, String)>,
    /// The checkout of the head it runs in.
    pub checkout: PathBuf,
    /// The pages.
    pub paths: Vec<String>,
    /// The window sizes.
    pub sizes: Vec<(u32, u32)>,
    /// Chromium's binary.
    pub chromium: PathBuf,
    /// The preview's port on 127.0.0.1.
    pub port: u16,
    /// Where the images (and Chromium's profile and logs) go.
    pub shots: PathBuf,
    /// The preview's output.
    pub output: PathBuf,
}

/// The images of `c`, in the order taken.
fn shots_of(c: &Capture) -> impl Iterator<Item = Shot<'_>> {
    (c.paths.iter().enumerate()).flat_map(move |(n, path)| {
        c.sizes.iter().map(move |&size| Shot {
            n: n + 1,
            path,
            size,
            port: c.port,
        })
    })
}

/// Runs capture `c` until `deadline`: its preview started (its argv through `preview`), waited
/// for, each image taken (Chromium's argv through `browser`), the preview's group stopped.
fn run_capture(
    c: &Capture,
    deadline: Instant,
    preview: &dyn Fn(Vec<OsString>) -> Vec<OsString>,
    browser: &dyn Fn(Vec<OsString>) -> Vec<OsString>,
) -> Result<Vec<Screenshot>, String> {
    let argv = preview(c.preview.iter().map(OsString::from).collect());
    let mut cmd = Cmd::new(&argv[0]).args(&argv[1..]).cwd(&c.checkout);
    for (k, v) in &c.env {
        cmd = cmd.env(k, v);
    }
    let log = File::create(&c.output).map_err(|e| format!("could not write the log: {e}"))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let mut group = Group::spawn(&cmd, |c| {
        c.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err));
    })
    .map_err(|e| format!("the preview could not start: {e}"))?;
    let taken = listening(&mut group, c.port, deadline).and_then(|()| {
        (shots_of(c).map(|shot| shot.take(&c.chromium, &c.shots, deadline, browser))).collect()
    });
    // The preview and whatever it started go with its group.
    let _ = group.stop(crate::dispatch::GRACE);
    taken
}

/// Runs capture `c` here, as `vnx __capture` does inside a sandbox without a network: the
/// number of images taken, or why none.
pub fn capture_here(c: &Capture, seconds: u64) -> Result<usize, String> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    run_capture(c, deadline, &|a| a, &|a| a).map(|images| images.len())
}

/// The file a capture run inside a sandbox is handed, in its images' directory.
const CAPTURE_FILE: &str = "capture.json";

/// Runs capture `c` inside the sandbox `shape` through vnx's own binary `vnx` (`vnx
/// __capture`), its preview's output in the images' directory (the only one it may write
/// beside the checkout) and copied to the gate's log after; then reads back each image it
/// should have left, as [`Shot::take`] does. Nothing it says decides what was taken: an
/// image is one because its file is there, a PNG, hashed here.
fn within(
    vnx: &Path,
    shape: &Shape,
    c: &Capture,
    deadline: Instant,
) -> Result<Vec<Screenshot>, String> {
    let inside = Capture {
        output: c.shots.join("preview.log"),
        ..c.clone()
    };
    let request = c.shots.join(CAPTURE_FILE);
    let data = serde_json::to_vec(&inside).expect("a capture serializes");
    crate::files::write_private(&request, &data)
        .map_err(|e| format!("could not write {}: {e}", request.display()))?;
    let mut shape = shape.clone();
    shape.read_only.push(vnx.to_owned());
    let left = deadline
        .saturating_duration_since(Instant::now())
        .as_secs()
        .max(1);
    let argv = shape.wrap(&[
        vnx.as_os_str().to_owned(),
        "__capture".into(),
        request.clone().into(),
        left.to_string().into(),
    ]);
    let limits = Limits {
        timeout: Duration::from_secs(left + 5),
        idle: None,
        grace: crate::dispatch::GRACE,
    };
    let log = c.shots.join("capture.log");
    let cmd = Cmd::new(&argv[0]).args(&argv[1..]).cwd(&c.shots);
    let ended = run::run(&cmd, None, &log, None, limits)
        .map_or_else(|e| Ended::NotStarted(e.to_string()), |(ended, _)| ended);
    let said = crate::files::read_bounded(&inside.output, MAX_LOG_BYTES).unwrap_or_default();
    let _ = std::fs::write(&c.output, said);
    let failed = match &ended {
        Ended::Exited(status) if status.success() => None,
        Ended::Exited(status) => Some(format!("exited ({status})")),
        other => other.failure(),
    };
    if let Some(why) = failed {
        let told = crate::files::read_bounded(&log, MAX_LOG_BYTES).unwrap_or_default();
        let told = String::from_utf8_lossy(&told);
        let last = told
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("the capture in the sandbox {why}: {last}"));
    }
    shots_of(c)
        .map(|shot| shot.collected(&c.shots, &log))
        .collect()
}

/// The most of a log read back.
const MAX_LOG_BYTES: u64 = 4 << 20;

/// The Chromium a screenshots gate runs: its `chromium:` (a path, or a name looked up on
/// PATH), else `chromium` on PATH; why none, else.
pub fn chromium(
    named: Option<&str>,
    find_program: &dyn Fn(&str) -> Option<PathBuf>,
) -> Result<PathBuf, String> {
    let name = named.unwrap_or("chromium");
    let found = if name.contains('/') {
        Some(PathBuf::from(name))
    } else {
        find_program(name)
    };
    found.filter(|p| p.is_file()).ok_or_else(|| {
        format!("Chromium was not found (`{name}`; name it with the gate's `chromium:`)")
    })
}

/// The dispatch's own port when it is free now, else one the system gives.
fn free_port(own: Option<u16>) -> std::io::Result<u16> {
    let bind = |port| TcpListener::bind((Ipv4Addr::LOCALHOST, port));
    let listener = own.and_then(|p| bind(p).ok()).map_or_else(|| bind(0), Ok)?;
    Ok(listener.local_addr()?.port())
}

/// Waits until something accepts connections on `port` of 127.0.0.1, or the preview ends, or
/// `deadline` passes.
fn listening(preview: &mut Group, port: u16, deadline: Instant) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let started = Instant::now();
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        let exited = preview
            .wait_until(Instant::now() + Duration::from_millis(100))
            .map_err(|e| e.to_string())?;
        if let Some(status) = exited {
            return Err(format!(
                "the preview did not start: it exited ({status}) before it listened on port \
                 {port}"
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the preview did not start: nothing listened on port {port} within {} s",
                started.elapsed().as_secs()
            ));
        }
    }
}

/// One image: a page at a window size.
struct Shot<'a> {
    n: usize,
    path: &'a str,
    size: (u32, u32),
    port: u16,
}

impl Shot<'_> {
    /// Chromium run headless for this page, within what is left of the gate's time; the
    /// image it left, read back bounded and hashed.
    fn take(
        &self,
        chromium: &Path,
        dir: &Path,
        deadline: Instant,
        wrap: &dyn Fn(Vec<OsString>) -> Vec<OsString>,
    ) -> Result<Screenshot, String> {
        let (width, height) = self.size;
        let stem = format!("{}-{width}x{height}", self.n);
        let file = dir.join(format!("{stem}.png"));
        let _ = std::fs::remove_file(&file);
        let url = format!("http://127.0.0.1:{}{}", self.port, self.path);
        // Its own sandbox is off: it runs the worker's scripts with no more than the worker's
        // own code may do, in the worker's sandbox when it had one (ADR 0125).
        let argv = wrap(
            [
                chromium.as_os_str().to_owned(),
                "--headless".into(),
                "--no-sandbox".into(),
                "--disable-gpu".into(),
                "--hide-scrollbars".into(),
                "--no-first-run".into(),
                format!("--user-data-dir={}", dir.join("profile").display()).into(),
                format!("--window-size={width},{height}").into(),
                format!("--screenshot={}", file.display()).into(),
                url.clone().into(),
            ]
            .into(),
        );
        let left = deadline.saturating_duration_since(Instant::now());
        let limits = Limits {
            timeout: left.max(Duration::from_secs(1)),
            idle: None,
            grace: crate::dispatch::GRACE,
        };
        let cmd = Cmd::new(&argv[0]).args(&argv[1..]).cwd(dir);
        let log = dir.join(format!("{stem}.log"));
        let ended = run::run(&cmd, None, &log, None, limits)
            .map_or_else(|e| Ended::NotStarted(e.to_string()), |(ended, _)| ended);
        if let Some(why) = ended.failure() {
            return Err(format!("{} {why}", self.what()));
        }
        self.collected(dir, &log)
    }

    /// `Chromium at URL (WxH)`.
    fn what(&self) -> String {
        let (width, height) = self.size;
        let url = format!("http://127.0.0.1:{}{}", self.port, self.path);
        format!("Chromium at {url} ({width}x{height})")
    }

    /// The image this shot left in `dir` (`log`: where what made it said why not), read back
    /// bounded, checked a PNG and hashed.
    fn collected(&self, dir: &Path, log: &Path) -> Result<Screenshot, String> {
        let (width, height) = self.size;
        let file = dir.join(format!("{}-{width}x{height}.png", self.n));
        let data = crate::files::read_bounded(&file, MAX_IMAGE_BYTES).map_err(|e| {
            format!(
                "{} left no image ({e}; its output is in {})",
                self.what(),
                log.display()
            )
        })?;
        if !data.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Err(format!(
                "{} left a file that is not a PNG image",
                self.what()
            ));
        }
        Ok(Screenshot {
            path: self.path.to_owned(),
            width,
            height,
            file: file.to_string_lossy().into_owned(),
            sha256: hex::encode(Sha256::digest(&data)),
            bytes: data.len() as u64,
        })
    }
}

/// Each screenshots gate's latest result for the dispatch's recorded head, in the order the
/// gates first ran: what the page shows, a pull request links and a merge checks.
pub fn latest(ev: &crate::evidence::Evidence) -> Vec<&crate::receipts::GateResult> {
    let Some(head) = ev.head() else {
        return Vec::new();
    };
    let mut latest: Vec<&crate::receipts::GateResult> = Vec::new();
    for r in ev.results.iter().map(|r| &r.receipt) {
        if r.kind != "screenshots" || &r.head_commit != head {
            continue;
        }
        match latest.iter_mut().find(|l| l.gate == r.gate) {
            Some(l) => *l = r,
            None => latest.push(r),
        }
    }
    latest
}

/// An image's bytes, if its file is still the one its signed receipt hashed; why not, else.
pub fn image(shot: &Screenshot) -> Result<Vec<u8>, String> {
    let data = crate::files::read_bounded(Path::new(&shot.file), MAX_IMAGE_BYTES).map_err(|e| {
        format!(
            "the image of {} at {}x{} cannot be read: {e}",
            shot.path, shot.width, shot.height
        )
    })?;
    if hex::encode(Sha256::digest(&data)) != shot.sha256 {
        return Err(format!(
            "the image of {} at {}x{} ({}) no longer has the bytes its receipt hashed",
            shot.path, shot.width, shot.height, shot.file
        ));
    }
    Ok(data)
}
