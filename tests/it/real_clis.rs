//! The real claude, codex and gemini driven by `vnx dispatch-agent`, offline: each CLI talks
//! to `tests/support/model_server.py` on 127.0.0.1, whose "model" follows `@model` lines in
//! the prompt. `#[ignore]`d (run with `--include-ignored`): the CLIs are ~740 MB from the npm
//! registry, installed by `tests/support/install-clis.sh` into `$VNX_CLI_CACHE` (`.ci/run`
//! includes these tests when the registry is reachable); without them the tests fail. Each
//! failure names the CLI and step. `remote` runs them on a host over a real loopback sshd;
//! `container` claude and codex in a container per dispatch (podman, the worker image), `pod`
//! in a pod per dispatch (the stand-in kubectl), both on the image `image` builds;
//! `sessions` follows a dispatch's session past its first turn (blocked, cancelled, followed
//! up); `needs_you` a dispatch that needs a person (its question, the foreground blocked, a
//! denial, `vnx resume`); `daily_loop` merges their work with the gates run by `vnx merge` itself; `posture`
//! shows the default posture against real work (allowlists, gemini's prompts, claude's
//! model); `qwen` and `opencode` (with a local model through it, as `--provider ollama`)
//! their own; `pr_fix` fixes a pull request forward with the real gh; `review` sends
//! a review comment on a diff to each of claude, codex and gemini; `across` runs
//! best-of, compare, replay, budgets and `vnx mcp` with all seven; `planted` a sandboxed
//! worker's hook, MCP server or plugin planted in its CLI's home, which stays in its sandbox;
//! `starts` every CLI in every lane and posture; `limits` claude and gemini stopped by a usage
//! limit, waited out and continued in their session.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::{Repo, Run, completion, repo_dir, run};

/// Whether `cond` holds within `secs` seconds (polled every half second: a real CLI's steps
/// take seconds).
fn within(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    cond()
}

mod across;
mod aider;
mod background;
mod budget;
mod conflict;
mod container;
mod copilot;
mod daily_loop;
mod image;
mod limits;
mod memory;
mod needs_you;
mod notice_links;
mod opencode;
mod pause;
mod plan;
mod planted;
mod pod;
mod posture;
mod pr_fix;
mod qwen;
mod relay;
mod remote;
mod review;
mod sessions;
mod starts;
mod transcripts;
mod versions;

/// The bin directory of the pinned CLIs (installing them if needed), found once a test run:
/// the script's up-to-date check starts node six times, which every real-CLI test paid again.
pub(crate) fn cli_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new(repo_dir().join("tests/support/install-clis.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run install-clis.sh");
        assert!(
            out.status.success(),
            "install-clis.sh failed: the real-CLI tests need npm and its registry, or a filled \
             $VNX_CLI_CACHE (see tests/support/README.md)"
        );
        let text = String::from_utf8(out.stdout).unwrap();
        PathBuf::from(
            text.lines()
                .last()
                .expect("install-clis.sh prints the bin dir")
                .trim(),
        )
    })
    .clone()
}

/// The scripted model server, killed on drop.
pub(crate) struct ModelServer {
    child: Child,
    pub(crate) port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ModelServer {
    pub(crate) fn start() -> ModelServer {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let mut child = Command::new("python3")
            .arg(repo_dir().join("tests/support/model_server.py"))
            .args(["--port", "0", "--log"])
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the model server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("model server printed {line:?}"));
        ModelServer {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    pub(crate) fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seeds `home` so that each CLI starts without a dialog, talks only to the model server on
/// `port` and trusts `trust` (resolved here when it is here: a container's clone is not): the
/// environment the CLIs need (HOME included).
pub(crate) fn seed_home(home: &Path, port: u16, trust: &Path) -> Vec<(String, String)> {
    let seeded = Command::new("python3")
        .arg(repo_dir().join("tests/support/seed_home.py"))
        .arg(home)
        .arg(port.to_string())
        .arg("--trust")
        .arg(trust.canonicalize().unwrap_or_else(|_| trust.to_owned()))
        .output()
        .expect("seed_home.py");
    assert!(seeded.status.success(), "seed_home.py failed");
    String::from_utf8(seeded.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `bin`, then this process's PATH.
pub(crate) fn path_with(bin: &Path) -> std::ffi::OsString {
    let mut path = bin.as_os_str().to_owned();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    path
}

/// A repository, the server, and the environment that points every CLI at it.
pub(crate) struct Rig {
    pub(crate) repo: Repo,
    pub(crate) server: ModelServer,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) path: std::ffi::OsString,
}

impl Rig {
    pub(crate) fn new() -> Rig {
        let bin = cli_bin();
        let repo = Repo::new();
        let server = ModelServer::start();
        let env = seed_home(&repo.env.home(), server.port, repo.env.path());
        let path = path_with(&bin);
        Rig {
            repo,
            server,
            env,
            path,
        }
    }

    /// Starts a dispatch with `--detach`: its id.
    fn detach(&self, cli: &str, lane: &str, deadline: u64, instruction: &str) -> String {
        let mut cmd = self.repo.vnx();
        cmd.env("PATH", &self.path)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(["dispatch-agent", "--agent", "implementer", "--detach"])
            .args(["--provider", cli, "--lane", lane])
            .args(["--deadline", &deadline.to_string()])
            .args(["--instruction", instruction]);
        let r = run(cmd);
        assert_eq!(r.code, 0, "[{cli} {lane}: detach] {}", r.stderr);
        r.stdout.trim().to_owned()
    }

    /// A dispatch's worktree, as its processes see it (symlinks resolved).
    fn worktree(&self, id: &str) -> PathBuf {
        self.repo
            .env
            .path()
            .canonicalize()
            .unwrap()
            .join(format!(".vnx-data/worktrees/dispatch-{id}"))
    }

    /// `vnx` in the rig's repository, with the real CLIs first on `PATH` and their offline
    /// environment.
    fn vnx(&self) -> std::process::Command {
        let mut cmd = self.repo.vnx();
        cmd.env("PATH", &self.path)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn dispatch(&self, cli: &str, lane: &str, instruction: &str) -> Run {
        let mut cmd = self.vnx();
        cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
            .args(["--provider", cli, "--lane", lane, "--deadline", "120"])
            .args(["--instruction", instruction]);
        run(cmd)
    }

    /// `vnx follow-up ID` of an earlier dispatch with `instruction`, waited for.
    fn follow_up(&self, id: &str, instruction: &str) -> Run {
        let mut cmd = self.vnx();
        cmd.args(["follow-up", id, "--json", "--deadline", "120"])
            .args(["--instruction", instruction]);
        run(cmd)
    }
}

/// The completion receipt and the end of the worker's log (a remote one's too: its host is
/// this machine in the tests), for a failure message. `c` is a completion or `--json`'s
/// whole answer, which holds it under `completion`.
fn explain(c: &serde_json::Value) -> String {
    let log = [
        &c["worker_log"],
        &c["completion"]["worker_log"],
        &c["remote"]["worker_log"],
    ]
    .iter()
    .filter_map(|p| p.as_str())
    .find_map(|p| std::fs::read_to_string(p).ok())
    .unwrap_or_default();
    let tail: String = log
        .chars()
        .rev()
        .take(3000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{c}\n--- worker.log (end) ---\n{tail}")
}

fn step(cli: &str, lane: &str, what: &str) -> String {
    format!("[{cli} {lane}: {what}]")
}

/// What a model that follows vnx's completion protocol literally, or an old habit, does:
/// write the file, try to commit it, report done.
fn compliant(marker: &str, file: &str, summary: &str) -> String {
    format!(
        "{marker}\n\\@model write {file} {marker}\n\\@model run git add -A && git commit -q -m {summary}\n\\@model run vnx report --status done --summary {summary}\n\\@model say Wrote it."
    )
}

/// What the model does in `lane`: in the interactive lane claude's and gemini's TUIs ask
/// before `git commit` (the blocked tests answer that prompt), so there it only writes and
/// reports; elsewhere it is [`compliant`].
fn in_lane(cli: &str, lane: &str, marker: &str, file: &str, summary: &str) -> String {
    if lane == "interactive" && cli != "codex" {
        format!(
            "{marker}\n\\@model write {file} {marker}\n\\@model run vnx report --status done --summary {summary}\n\\@model say Wrote it."
        )
    } else {
        compliant(marker, file, summary)
    }
}

/// What makes a TUI ask before it goes on: claude and gemini ask before `git commit`; codex's
/// TUI, under the default posture, runs a command in its sandbox without asking, and asks
/// when the model requests to run it outside (as a model does once the sandbox refused
/// `git commit` on the read-only `.git`).
fn asks_before_committing(cli: &str, marker: &str, file: &str) -> String {
    if cli == "codex" {
        format!(
            "{marker}\n\\@model write {file} {marker}\n\\@model escalate git add -A && git commit -q -m blocked-then-done\n\\@model run vnx report --status done --summary blocked-then-done\n\\@model say Wrote it."
        )
    } else {
        compliant(marker, file, "blocked-then-done")
    }
}

/// Checks a dispatch that wrote `file` under the default posture: done by its report, with a
/// session and token usage; nobody could commit, so vnx did, with no manual step;
/// the file is on the branch only, whose commit carries vnx's trailers. Its id.
fn committed_by_vnx(
    repo: &Repo,
    c: &serde_json::Value,
    at: &str,
    (cli, lane): (&str, &str),
    marker: &str,
    file: &str,
) -> String {
    assert_eq!(c["status"], "done", "{at} {}", explain(c));
    assert_eq!(c["completion_signal"], "report", "{at} {c}");
    assert!(c["session_id"].is_string(), "{at} no session id: {c}");
    // Headless from the CLI's output; interactive from the session file its TUI wrote.
    assert!(
        c["token_usage"]["input_tokens"].as_u64().unwrap_or(0) > 0,
        "{at} no token usage: {c}"
    );
    if lane == "interactive" {
        assert_eq!(c["token_usage_source"], "session_file", "{at} {c}");
    }
    assert_eq!(c["teardown_class"], "committed", "{at} {}", explain(c));
    assert_eq!(
        c["vnx_commit"]["files"],
        serde_json::json!([file]),
        "{at} {c}"
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(repo.on_branch(&id, file), format!("{marker}\n"), "{at}");
    assert!(!repo.env.path().join(file).exists(), "{at}");
    let message = repo
        .env
        .git(&["log", "-1", "--format=%B", &format!("dispatch/{id}")]);
    assert!(
        message.contains(&format!("VNX-Dispatch: {id}"))
            && message.contains(&format!("VNX-Provider: {cli}"))
            && message.contains(&format!(
                "VNX-Session: {}",
                c["session_id"].as_str().unwrap()
            )),
        "{at} {message}"
    );
    id
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_clis_in_both_lanes() {
    /// What the scripted model says for `@model ask` (tests/support/model_server.py).
    const ASK_TEXT: &str = "Should I also update the documentation?";
    let rig = Rig::new();
    crate::common::configure(
        &rig.repo,
        "gates:\n  tests: {kind: command, argv: [sh, -c, 'ls *.txt']}\nroles:\n  implementer: {gates: [tests]}\n",
    );
    let mut done = Vec::new();
    for lane in ["headless", "interactive"] {
        for cli in ["claude", "codex", "gemini"] {
            let marker = format!("real {cli} {lane}");
            let file = format!("{cli}-{lane}.txt");
            let r = rig.dispatch(cli, lane, &in_lane(cli, lane, &marker, &file, "wrote-it"));
            let at = step(cli, lane, "write, try to commit, report");
            let c = completion(&r);
            let id = committed_by_vnx(&rig.repo, &c, &at, (cli, lane), &marker, &file);
            done.push((at, id));

            // A question is not success.
            let r = rig.dispatch(cli, lane, &format!("{marker} asks\n\\@model ask"));
            let at = step(cli, lane, "question");
            let c = completion(&r);
            assert_eq!(c["status"], "needs_input", "{at} {c}");
            assert_eq!(r.code, 1, "{at}");
            // Its question is shown, whatever the lane: the CLI's events or its hooks carry it.
            let id = c["dispatch_id"].as_str().unwrap();
            let status = run(rig.repo.vnx().args(["status", id]));
            assert!(
                status.stdout.contains(&format!("asks: {ASK_TEXT}")),
                "{at} {}",
                status.stdout
            );

            // An HTTP error is a failure.
            if lane == "headless" {
                let r = rig.dispatch(cli, lane, &format!("{marker} fails\n\\@model fail 400"));
                let at = step(cli, lane, "HTTP 400");
                let c = completion(&r);
                assert_eq!(c["status"], "failed", "{at} {}", explain(&c));
                assert_ne!(c["exit_code"], 0, "{at}");
                // The reason is the CLI's own message, from its events.
                let reason = c["failure_reason"].as_str().unwrap_or_default();
                assert!(
                    reason.contains("scripted failure") || reason.contains("400"),
                    "{at} {reason}"
                );
            }
        }
    }
    // Each done dispatch passes its gate and lands with `vnx merge`: no manual git step.
    for (at, id) in &done {
        let (r, report) = crate::common::gate_check(&rig.repo, id);
        assert_eq!(r.code, 0, "{at} gate-check: {report}");
        assert_eq!(report["decision"], "GO", "{at} {report}");
        let r = run(rig.repo.vnx().args(["merge", id]));
        assert_eq!(r.code, 0, "{at} merge: {}{}", r.stdout, r.stderr);
    }
    let landed = rig.repo.env.git(&["ls-tree", "--name-only", "HEAD"]);
    for lane in ["headless", "interactive"] {
        for cli in ["claude", "codex", "gemini"] {
            assert!(landed.contains(&format!("{cli}-{lane}.txt")), "{landed}");
        }
    }
    // Every prompt reached the model server from 127.0.0.1 only, and the ledger verifies.
    assert!(!rig.server.requests().is_empty());
    rig.repo.verify_ok();
    assert!(rig.repo.server.sessions_end(), "no tmux session left");
}

/// One sandboxed dispatch per CLI, with the full posture (which the shipped constraints allow
/// only sandboxed): the model writes its file, tries to write the main checkout and to read
/// `~/.ssh`, commits and reports. The CLI runs, talks to the model server, and commits in
/// the sandbox; the two escapes fail, and the tool results the model got say so.
#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_clis_run_sandboxed_with_the_full_posture() {
    let rig = Rig::new();
    let ssh = rig.repo.env.home().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("id_ed25519"), "SANDBOX-SECRET-KEY\n").unwrap();
    let main = rig.repo.env.path().canonicalize().unwrap();
    // A TUI too: claude's, in the terminal of its pane, inside the sandbox.
    let runs = [
        ("claude", "headless"),
        ("codex", "headless"),
        ("gemini", "headless"),
        ("claude", "interactive"),
    ];
    for (cli, lane) in runs {
        let at = step(cli, lane, "sandboxed, full posture");
        let marker = format!("sandboxed {cli} {lane}");
        let file = format!("{cli}-{lane}-sandboxed.txt");
        let escape = main.join(format!("escaped-{cli}-{lane}.txt"));
        let instruction = format!(
            "{marker}\n\\@model write {file} {marker}\n\\@model run echo out > {} || echo ESCAPE-DENIED\n\\@model run cat $HOME/.ssh/id_ed25519 || echo SSH-DENIED\n\\@model run git add -A && git commit -q -m sandboxed-{cli}-{lane} && echo COMMITTED\n\\@model run vnx report --status done --summary sandboxed\n\\@model say Done in the sandbox.",
            escape.display()
        );
        let mut cmd = rig.vnx();
        cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
            .args(["--provider", cli, "--lane", lane, "--deadline", "120"])
            .args(["--sandbox", "--permission", "full"])
            .args(["--instruction", &instruction]);
        let r = run(cmd);
        let c = completion(&r);
        assert_eq!(c["status"], "done", "{at} {} {}", r.stderr, explain(&c));
        // The worker committed itself, in the sandbox; vnx had nothing left to commit.
        assert_eq!(c["teardown_class"], "committed", "{at} {}", explain(&c));
        assert!(c.get("vnx_commit").is_none(), "{at} {c}");
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        assert_eq!(
            rig.repo.on_branch(&id, &file),
            format!("{marker}\n"),
            "{at}"
        );
        let subject = rig
            .repo
            .env
            .git(&["log", "-1", "--format=%s", &format!("dispatch/{id}")]);
        assert_eq!(subject.trim(), format!("sandboxed-{cli}-{lane}"), "{at}");
        assert!(!escape.exists(), "{at} the worker wrote the main checkout");
        let started = &rig.repo.receipts(&id)[0];
        assert_eq!(started["sandbox"]["kind"], "bubblewrap", "{at}");
        assert_eq!(started["permission"], "full", "{at}");
        // What the tools told the model: both escapes denied, the commit made, the key unseen.
        let seen: String = rig
            .server
            .requests()
            .iter()
            .map(|r| r.to_string())
            .filter(|r| r.contains(&marker))
            .collect();
        for word in ["ESCAPE-DENIED", "SSH-DENIED", "COMMITTED"] {
            assert!(seen.contains(word), "{at} no {word} in what the model got");
        }
        assert!(
            !seen.contains("SANDBOX-SECRET-KEY"),
            "{at} the key reached the model"
        );
        // The CLI kept its session in the dispatch's own place (its sandbox showed it where
        // the CLI keeps sessions), which the signed start names; a follow-up resumes it there.
        // gemini has a home of its own in every dispatch (ADR 0126), its sessions in it: the
        // start names that home, and a follow-up's home holds a copy of the chain's.
        let own_home = cli == "gemini";
        let place = match own_home {
            true => main.join(format!(".vnx-data/dispatches/{id}/own-home/.gemini")),
            false => main.join(format!(".vnx-data/dispatches/{id}/sessions")),
        };
        let recorded = match own_home {
            true => &started["cli_homes"][cli],
            false => &started["cli_homes"]["sessions"],
        };
        assert_eq!(recorded, place.to_str().unwrap(), "{at}");
        let sessions = if own_home {
            place.join("tmp")
        } else {
            place.clone()
        };
        assert!(
            files_under(&sessions) > 0,
            "{at} no session file in {}",
            sessions.display()
        );
        let f = rig.follow_up(
            &id,
            &format!("{marker} again\n\\@model run vnx report --status done --summary again\n\\@model say Again."),
        );
        let fc = completion(&f);
        assert_eq!(
            fc["status"],
            "done",
            "{at} follow-up {} {}",
            f.stderr,
            explain(&fc)
        );
        let fid = fc["dispatch_id"].as_str().unwrap().to_owned();
        let fstarted = &rig.repo.receipts(&fid)[0];
        if own_home {
            let theirs = main.join(format!(".vnx-data/dispatches/{fid}/own-home/.gemini"));
            assert_eq!(fstarted["cli_homes"][cli], theirs.to_str().unwrap(), "{at}");
        } else {
            assert_eq!(
                fstarted["cli_homes"]["sessions"],
                place.to_str().unwrap(),
                "{at}"
            );
        }
        assert_eq!(fstarted["session_id"], c["session_id"], "{at} {fstarted}");
    }
    rig.repo.verify_ok();
}

/// How many regular files are under `dir`, not following links.
fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&e.path()),
            Ok(t) if t.is_file() => 1,
            _ => 0,
        })
        .sum()
}

/// Live processes whose working directory is inside `dir`: (pid, argv).
fn processes_in(dir: &std::path::Path) -> Vec<(u32, Vec<String>)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cwd = std::fs::read_link(e.path().join("cwd")).ok()?;
            if !cwd.starts_with(dir) {
                return None;
            }
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            if stat.contains(") Z ") {
                return None;
            }
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let argv = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            Some((pid, argv))
        })
        .collect()
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_clis_get_their_posture_and_die_at_the_deadline() {
    let rig = Rig::new();
    for (cli, lane) in [
        ("claude", "headless"),
        ("codex", "headless"),
        ("gemini", "headless"),
        ("claude", "interactive"),
        ("codex", "interactive"),
        ("gemini", "interactive"),
    ] {
        let at = step(cli, lane, "deadline");
        let id = rig.detach(cli, lane, 8, &format!("{at}\n\\@model sleep 60"));
        let wt = rig.worktree(&id);
        let started = &rig.repo.receipts(&id)[0];
        let flags: Vec<String> = started["permission_flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_owned())
            .collect();
        // While it waits for the model: the CLI's own argv carries the recorded flags.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(6);
        let mut seen = Vec::new();
        while std::time::Instant::now() < deadline {
            seen = processes_in(&wt);
            if seen
                .iter()
                .any(|(_, argv)| argv.windows(flags.len()).any(|w| w == flags.as_slice()))
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        assert!(
            seen.iter()
                .any(|(_, argv)| argv.windows(flags.len()).any(|w| w == flags.as_slice())),
            "{at} no process in the worktree received {flags:?}: {seen:?}"
        );
        let r = run(rig.repo.vnx().args(["wait", "--json", &id]));
        let c = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
        assert_eq!(c["status"], "timeout", "{at} {}", explain(&c));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let left = processes_in(&wt);
        assert!(
            left.is_empty(),
            "{at} processes outlived the deadline: {left:?}"
        );
        let tmp = rig
            .repo
            .env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/tmp"));
        assert!(!tmp.exists(), "{at} the dispatch's temp dir is gone");
    }
    assert!(rig.repo.server.sessions_end(), "no tmux session left");
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn eight_real_dispatches_in_parallel() {
    let rig = Rig::new();
    let clis = ["claude", "codex", "gemini"];
    let ids: Vec<(String, String)> = (0..8)
        .map(|i| {
            let cli = clis[i % 3];
            let marker = format!("parallel task {i} for {cli}");
            let instruction = format!(
                "{marker}\n\\@model write task.txt {marker}\n\\@model run vnx report --status done --summary {i}"
            );
            (rig.detach(cli, "headless", 120, &instruction), marker)
        })
        .collect();
    let r = run(rig
        .repo
        .vnx()
        .arg("wait")
        .args(ids.iter().map(|(id, _)| id.as_str())));
    if r.code != 0 {
        let why: Vec<String> = ids
            .iter()
            .filter_map(|(id, _)| {
                let receipts = rig.repo.receipts(id);
                let c = receipts
                    .iter()
                    .find(|r| r["event_type"] == "dispatch_completed")?;
                (c["status"] != "done").then(|| format!("[{id}] {}", explain(c)))
            })
            .collect();
        panic!("[parallel] not all done: {}\n{}", r.stdout, why.join("\n"));
    }
    for (i, (id, marker)) in ids.iter().enumerate() {
        let receipts = rig.repo.receipts(id);
        let of = |kind: &str| receipts.iter().filter(|r| r["event_type"] == kind).count();
        assert_eq!(of("dispatch_started"), 1, "{id}");
        assert_eq!(of("dispatch_completed"), 1, "{id}");
        let completed = receipts
            .iter()
            .find(|r| r["event_type"] == "dispatch_completed")
            .unwrap();
        assert_eq!(completed["report"]["summary"], i.to_string(), "{id}");
        let written = rig.repo.on_branch(id, "task.txt");
        assert_eq!(written, format!("{marker}\n"), "{id}: no crossed prompts");
    }
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn doctor_checks_the_real_clis_flags() {
    let rig = Rig::new();
    let mut cmd = rig.vnx();
    cmd.args(["doctor", "--json"]);
    let r = run(cmd);
    let report: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    for (cli, version) in [
        ("claude", "2.1.197"),
        ("codex", "0.169.0"),
        ("gemini", "0.61.0"),
        ("opencode", "1.18.33"),
        // A model Ollama serves runs in opencode: doctor probes opencode for it.
        ("ollama", "1.18.33"),
    ] {
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == cli)
            .unwrap_or_else(|| panic!("[{cli} doctor] no check: {report}"));
        assert!(flags_all_listed(check), "[{cli} doctor] {check}");
        assert!(
            check["detail"].as_str().unwrap().contains(version),
            "[{cli} doctor] {check}"
        );
    }
}

/// Whether doctor's check of a CLI found every flag vnx passes in its `--help`: it passed,
/// or it only warned that the machine was slow to answer (`--help` over 20 s, seen under the
/// load of the whole suite: gemini 25.7 s, aider 22.7 s), having listed them all.
pub(crate) fn flags_all_listed(check: &serde_json::Value) -> bool {
    let detail = check["detail"].as_str().unwrap_or_default();
    check["status"] == "pass"
        || (check["status"] == "warn"
            && detail.contains("flags vnx passes are listed")
            && detail.contains("; slow: `"))
}

/// Checks that dispatch `id`'s receipts say blocked, then resumed, then completed.
fn blocked_then_resumed_then_completed(repo: &Repo, id: &str, at: &str) {
    let kinds: Vec<String> = repo
        .receipts(id)
        .iter()
        .map(|r| r["event_type"].as_str().unwrap_or_default().to_owned())
        .collect();
    let pos = |k: &str| kinds.iter().position(|e| e == k);
    let order = [
        pos("dispatch_blocked"),
        pos("dispatch_resumed"),
        pos("dispatch_completed"),
    ];
    assert!(
        order.iter().all(Option::is_some) && order.is_sorted(),
        "{at} {kinds:?}"
    );
}
