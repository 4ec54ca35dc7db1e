//! Benchmark 11, launch speed (`--launch-only`): a detached dispatch of a real coding CLI
//! (`vnx dispatch-agent --detach --provider X`) against `workmux add NAME -a X -p …`, which
//! makes the same git worktree and tmux pane running the same CLI. Each CLI found (on PATH,
//! else in the real-CLI tests' cache) gets one repository both tools launch in, and
//! interleaved pairs, the order alternating; each launch's session is killed and its worktree
//! removed (untimed) before the next. The CLIs talk to `tests/support/model_server.py` on
//! 127.0.0.1 with a HOME seeded by `tests/support/seed_home.py`, as the real-CLI tests do:
//! nothing reaches the network.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::machine::find_on_path;
use crate::report::format::num;
use crate::timing::{Lat, micros};
use crate::{Result, note};

/// The CLIs both vnx and workmux launch, in the order they are measured.
pub const CLIS: [&str; 4] = ["claude", "codex", "gemini", "opencode"];

/// The instruction both tools hand the CLI (the model server answers it with text).
const PROMPT: &str = "Say hello.";

/// What the launch benchmark measured.
pub struct LaunchBench {
    pub pairs: usize,
    pub rows: Vec<Row>,
    /// CLIs left out, and why.
    pub skipped: Vec<(String, String)>,
    /// The 1-minute load average before and after.
    pub load: (Option<f64>, Option<f64>),
    pub workmux_version: String,
}

/// One CLI's launches (µs).
pub struct Row {
    pub cli: String,
    pub vnx: Lat,
    pub workmux: Lat,
    /// The first launch of each in a fresh repository and HOME (vnx probes the CLI's
    /// `--version` then): not in the percentiles.
    pub vnx_first: f64,
    pub workmux_first: f64,
    /// vnx's first launch in a second fresh repository with the same HOME: the CLI's
    /// version comes from the user's cache.
    pub vnx_second_repo: f64,
}

/// The scripted model server, killed on drop.
struct ModelServer(Child);

impl Drop for ModelServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the real-CLI tests install the CLIs: `$VNX_CLI_CACHE`, else `~/.cache/vnx-clis`.
fn cli_cache_bin() -> Option<PathBuf> {
    let cache = std::env::var_os("VNX_CLI_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/vnx-clis")))?;
    Some(cache.join("node_modules/.bin"))
}

/// The directory holding `cli`: PATH first, then the real-CLI tests' cache.
fn find_cli(cli: &str) -> Option<PathBuf> {
    find_on_path(cli)
        .or_else(|| cli_cache_bin().map(|b| b.join(cli)).filter(|p| p.is_file()))
        .and_then(|p| p.parent().map(Path::to_owned))
}

/// `tests/support/` of the source tree the benchmark was built from.
fn support_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support")
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn check(out: std::process::Output, what: &str) -> Result<String> {
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Starts the model server: it and the port it listens on.
fn model_server(log: &Path) -> Result<(ModelServer, u16)> {
    let mut child = Command::new("python3")
        .arg(support_dir().join("model_server.py"))
        .args(["--port", "0", "--log"])
        .arg(log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start python3 tests/support/model_server.py: {e}"))?;
    let mut line = String::new();
    let stdout = child
        .stdout
        .take()
        .ok_or("the model server has no stdout")?;
    BufReader::new(stdout).read_line(&mut line)?;
    let server = ModelServer(child);
    let port = line
        .trim()
        .strip_prefix("PORT=")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("the model server printed {line:?}"))?;
    Ok((server, port))
}

/// One CLI's rig: a repository both tools launch in, a seeded HOME, and a tmux server of its
/// own (workmux runs inside it; vnx is pointed at it).
struct Rig {
    root: PathBuf,
    repo: PathBuf,
    socket: String,
    /// The environment both tools (and the tmux server, whose panes workmux's CLIs inherit)
    /// run in.
    env: Vec<(String, String)>,
    vnx: PathBuf,
    workmux: PathBuf,
    /// `TMUX` for workmux: the server's socket path, as a client inside it would see it.
    tmux_var: String,
}

impl Rig {
    fn create(
        dir: &Path,
        cli: &str,
        bin: &Path,
        port: u16,
        vnx: &Path,
        workmux: &Path,
    ) -> Result<Rig> {
        let root = dir.join(format!("launch-{cli}"));
        let (home, repo) = (root.join("home"), root.join("repo"));
        std::fs::create_dir_all(&home)?;
        std::fs::create_dir_all(&repo)?;
        let seeded = check(
            Command::new("python3")
                .arg(support_dir().join("seed_home.py"))
                .arg(&home)
                .arg(port.to_string())
                .arg("--trust")
                .arg(&root)
                .output()?,
            "seed_home.py",
        )?;
        let mut path = bin.as_os_str().to_owned();
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        let mut env: Vec<(String, String)> = seeded
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        env.extend([
            ("PATH".into(), path.to_string_lossy().into_owned()),
            ("TERM".into(), "xterm-256color".into()),
            ("GIT_CONFIG_GLOBAL".into(), "/dev/null".into()),
            ("GIT_AUTHOR_NAME".into(), "bench".into()),
            ("GIT_AUTHOR_EMAIL".into(), "bench@example.com".into()),
            ("GIT_COMMITTER_NAME".into(), "bench".into()),
            ("GIT_COMMITTER_EMAIL".into(), "bench@example.com".into()),
            (
                "XDG_CONFIG_HOME".into(),
                home.join(".config").display().to_string(),
            ),
            (
                "XDG_CACHE_HOME".into(),
                home.join(".cache").display().to_string(),
            ),
            (
                "XDG_STATE_HOME".into(),
                home.join(".local/state").display().to_string(),
            ),
            (
                "XDG_DATA_HOME".into(),
                home.join(".local/share").display().to_string(),
            ),
        ]);
        // workmux's own settings: no first-run question about fonts, and the CLI by its full
        // path (its pane types the command into a login shell, whose PATH is the system's).
        let wm_config = home.join(".config/workmux");
        std::fs::create_dir_all(&wm_config)?;
        std::fs::write(
            wm_config.join("config.yaml"),
            format!(
                "nerdfont: false\nagents:\n  {cli}: {}\n",
                serde_json::to_string(&bin.join(cli).to_string_lossy())?
            ),
        )?;
        let socket = format!("vnx-bench-launch-{}-{cli}", std::process::id());
        let mut rig = Rig {
            root: root.clone(),
            repo,
            env,
            vnx: vnx.to_owned(),
            workmux: workmux.to_owned(),
            tmux_var: String::new(),
            socket,
        };
        rig.env.extend([
            ("VNX_TMUX_SOCKET".into(), rig.socket.clone()),
            (
                "VNX_CHECKPOINT_KEY".into(),
                root.join("checkpoint.key").display().to_string(),
            ),
        ]);
        rig.make_repo(&rig.repo)?;
        // The server workmux adds its windows to, started in the rig's environment (its
        // panes inherit it); vnx's sessions start on the same server.
        rig.run(
            "tmux",
            &[
                "-L",
                &rig.socket,
                "new-session",
                "-d",
                "-s",
                "bench",
                "-x",
                "200",
                "-y",
                "50",
            ],
        )?;
        let socket_path = rig.run(
            "tmux",
            &[
                "-L",
                &rig.socket,
                "display-message",
                "-p",
                "#{socket_path},#{pid},0",
            ],
        )?;
        rig.tmux_var = socket_path;
        Ok(rig)
    }

    /// A repository at `dir` as both tools start from: one commit holding what `vnx init`
    /// writes and a `.workmux.yaml` whose one pane runs the agent (as vnx's runs the CLI).
    fn make_repo(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let run = |program: &Path, args: &[&str]| {
            check(
                self.cmd(program).current_dir(dir).args(args).output()?,
                &format!("{args:?}"),
            )
        };
        let git = Path::new("git");
        run(git, &["init", "-q", "-b", "main"])?;
        std::fs::write(
            dir.join(".workmux.yaml"),
            "panes:\n  - command: <agent>\n    focus: true\n",
        )?;
        run(&self.vnx, &["init"])?;
        run(git, &["add", "-A"])?;
        run(git, &["commit", "-q", "-m", "init"]).map(drop)
    }

    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.repo)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    fn run(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Result<String> {
        let out = self.cmd(program).args(args).output()?;
        check(out, &format!("{args:?}"))
    }

    /// `vnx dispatch-agent --detach` in `repo`, timed: its id and µs.
    fn vnx_launch_in(&self, repo: &Path, cli: &str) -> Result<(String, f64)> {
        let mut c = self.cmd(&self.vnx);
        c.current_dir(repo).args([
            "dispatch-agent",
            "--detach",
            "--provider",
            cli,
            "--instruction",
            PROMPT,
        ]);
        let t = Instant::now();
        let out = c.output()?;
        let us = micros(t);
        Ok((
            check(out, &format!("vnx dispatch-agent --provider {cli}"))?,
            us,
        ))
    }

    fn vnx_launch(&self, cli: &str) -> Result<(String, f64)> {
        self.vnx_launch_in(&self.repo, cli)
    }

    /// Stops a vnx dispatch in `repo` (untimed): `vnx cancel` stops its worker, closes it on
    /// the ledger and removes its worktree; then its session, if still there, is killed.
    fn vnx_clean_in(&self, repo: &Path, id: &str) -> Result<()> {
        check(
            self.cmd(&self.vnx)
                .current_dir(repo)
                .args(["cancel", id])
                .output()?,
            &format!("vnx cancel {id}"),
        )?;
        let _ = self.run(
            "tmux",
            &[
                "-L",
                &self.socket,
                "kill-session",
                "-t",
                &format!("vnx-{id}"),
            ],
        );
        Ok(())
    }

    fn vnx_clean(&self, id: &str) -> Result<()> {
        self.vnx_clean_in(&self.repo, id)
    }

    /// `workmux add NAME -b -a CLI -p PROMPT` inside the rig's tmux server, timed: µs.
    fn workmux_launch(&self, cli: &str, name: &str) -> Result<f64> {
        let mut c = self.cmd(&self.workmux);
        c.env("TMUX", &self.tmux_var)
            .args(["add", name, "-b", "-a", cli, "-p", PROMPT]);
        let t = Instant::now();
        let out = c.output()?;
        let us = micros(t);
        check(out, &format!("workmux add -a {cli}"))?;
        Ok(us)
    }

    /// Removes a workmux worktree, its window and its branch (untimed).
    fn workmux_clean(&self, name: &str) -> Result<()> {
        let mut c = self.cmd(&self.workmux);
        c.env("TMUX", &self.tmux_var)
            .args(["remove", "--force", name]);
        check(c.output()?, &format!("workmux remove {name}")).map(drop)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self
            .cmd("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// Runs `pairs` interleaved launches of each CLI with each tool, after a first launch of each
/// (timed apart). A CLI, or the whole benchmark, is skipped with a note when something it
/// needs is missing.
pub fn bench_launch(
    vnx: &Path,
    workmux: Option<&Path>,
    dir: &Path,
    pairs: usize,
) -> Result<LaunchBench> {
    let workmux = workmux
        .map(Path::to_owned)
        .or_else(|| find_on_path("workmux"))
        .ok_or("workmux is not on PATH (cargo install workmux), nor given with --workmux")?;
    let workmux_version = check(
        Command::new(&workmux).arg("--version").output()?,
        "workmux --version",
    )?;
    let load_before = load_average();
    let dir = dir.join("launch-bench");
    std::fs::create_dir_all(&dir)?;
    let (_server, port) = model_server(&dir.join("requests.jsonl"))?;
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for cli in CLIS {
        let Some(bin) = find_cli(cli) else {
            note(&format!(
                "skipping {cli}: not on PATH nor in the real-CLI cache"
            ));
            skipped.push((cli.to_owned(), "not installed".to_owned()));
            continue;
        };
        note(&format!(
            "timing {pairs} launches of {cli} with vnx and with workmux"
        ));
        let rig = Rig::create(&dir, cli, &bin, port, vnx, &workmux)?;
        let (mut v, mut w) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs));
        let (mut vnx_first, mut workmux_first) = (0.0, 0.0);
        for i in 0..=pairs {
            let name = format!("wm-{i}");
            // The order alternates, so neither tool always meets the other's leftovers.
            let (vus, wus) = if i % 2 == 0 {
                let (id, vus) = rig.vnx_launch(cli)?;
                rig.vnx_clean(&id)?;
                let wus = rig.workmux_launch(cli, &name)?;
                rig.workmux_clean(&name)?;
                (vus, wus)
            } else {
                let wus = rig.workmux_launch(cli, &name)?;
                rig.workmux_clean(&name)?;
                let (id, vus) = rig.vnx_launch(cli)?;
                rig.vnx_clean(&id)?;
                (vus, wus)
            };
            if i == 0 {
                (vnx_first, workmux_first) = (vus, wus);
            } else {
                v.push(vus);
                w.push(wus);
            }
        }
        let verified = rig.run(vnx, &["audit-chain", "verify"])?;
        if !verified.starts_with("verified") {
            return Err(format!("the {cli} rig's ledger does not verify: {verified}").into());
        }
        // A second project of the same user: its first launch finds the CLI's version in the
        // user's cache.
        let second = rig.root.join("second");
        rig.make_repo(&second)?;
        let (id, vnx_second_repo) = rig.vnx_launch_in(&second, cli)?;
        rig.vnx_clean_in(&second, &id)?;
        rows.push(Row {
            cli: cli.to_owned(),
            vnx: Lat::new(v),
            workmux: Lat::new(w),
            vnx_first,
            workmux_first,
            vnx_second_repo,
        });
    }
    Ok(LaunchBench {
        pairs,
        rows,
        skipped,
        load: (load_before, load_average()),
        workmux_version,
    })
}

impl LaunchBench {
    /// The section's Markdown.
    pub fn render(&self) -> String {
        let ms = |us: f64| format!("{} ms", num(us / 1000.0, 0));
        let load = |l: Option<f64>| l.map_or("?".to_owned(), |l| num(l, 2));
        let mut out = format!(
            "\n### 11. Launch speed against workmux ({} interleaved pairs per CLI)\n\n\
             `vnx dispatch-agent --detach --provider X --instruction …` against `workmux add \
             NAME -b -a X -p …` ({}), in the same repository, the CLI talking to the scripted \
             model server; each launch's session and worktree are removed before the next. \
             The first launch of each (fresh repository and HOME: vnx probes the CLI's \
             `--version` then) is shown apart, and vnx's first launch in a second fresh \
             repository of the same HOME (the version from the user's cache). Load average {} \
             before, {} after.\n\n\
             | CLI | vnx p50 | vnx p90 | workmux p50 | workmux p90 | p50 ratio | first launch: vnx / workmux | vnx, second repository |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|\n",
            self.pairs,
            self.workmux_version,
            load(self.load.0),
            load(self.load.1),
        );
        for r in &self.rows {
            out += &format!(
                "| {} | {} | {} | {} | {} | {}× | {} / {} | {} |\n",
                r.cli,
                ms(r.vnx.p(50.0)),
                ms(r.vnx.p(90.0)),
                ms(r.workmux.p(50.0)),
                ms(r.workmux.p(90.0)),
                num(r.vnx.p(50.0) / r.workmux.p(50.0), 2),
                ms(r.vnx_first),
                ms(r.workmux_first),
                ms(r.vnx_second_repo),
            );
        }
        for (cli, why) in &self.skipped {
            out += &format!("\n{cli} was skipped: {why}.\n");
        }
        out
    }
}
