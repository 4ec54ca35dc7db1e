//! Console transcripts: the `$ command` examples of the documentation, run one after another
//! in one shell session against the demo provider, each checked against the output written
//! under it.
//!
//! The format is trycmd's: in a ```` ```console ```` block, `$ ` starts a command, `> ` lines
//! (the shell's continuation prompt) and lines after a trailing `\` continue it, an optional
//! `? N` line right after it gives the exit status (0 when absent), and the lines up to the
//! next command are what it prints, stdout and stderr as a terminal shows them. In expected
//! output `[..]` matches the rest of a line's text up to what follows it, a line `...`
//! matches any number of lines, and `~` stands for the session's home directory. Two things
//! trycmd cannot do are why this is not trycmd: the commands run in a real shell (pipes,
//! redirections, variables and `cd` carry over, as for a reader typing them), and dispatch
//! and group ids (`D-1a2b3c4d`, `G-1a2b3c4d`) are bound: the first time a documented id
//! appears in a command's expected output it matches whatever fresh id the program printed
//! there, and from then on the documented id means that one, in later commands and outputs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use regex::Regex;

use super::Server;

/// What the shell prints after each step: a marker line with the step's exit status.
const DONE: &str = "printf '\\n__vnx_docs_done %s\\n' \"$?\"\n";

/// How long one documented command may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(180);

/// One documented command and what it should print.
#[derive(Debug, Clone)]
pub struct Step {
    /// The 1-based line of its `$ `.
    pub line: usize,
    /// The command as a shell reads it (continuation lines joined by newlines).
    pub command: String,
    /// The exit status it should end with.
    pub status: i32,
    /// Run in a terminal: the keys typed once the screen shows the expected output.
    pub screen: Option<Vec<String>>,
    /// What it should print, one line per line, with the wildcards above.
    pub expected: Vec<String>,
    /// The 0-based lines of the file its `? ` line and expected output occupy.
    pub answer_lines: std::ops::Range<usize>,
}

/// The steps of every ```` ```console ```` block of `markdown`, in order.
pub fn steps(markdown: &str) -> Vec<Step> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut steps = Vec::new();
    let mut in_block = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if !in_block {
            in_block = line.trim_end() == "```console";
            i += 1;
            continue;
        }
        if line.trim_end() == "```" {
            in_block = false;
            i += 1;
            continue;
        }
        let Some(first) = line.strip_prefix("$ ") else {
            panic!(
                "line {}: output before any `$ ` command in a console block",
                i + 1
            );
        };
        let start = i;
        let mut command = first.to_owned();
        i += 1;
        while i < lines.len() {
            if let Some(more) = lines[i].strip_prefix("> ") {
                command.push('\n');
                command.push_str(more);
            } else if command.ends_with('\\') && lines[i] != "```" {
                command.push('\n');
                command.push_str(lines[i]);
            } else {
                break;
            }
            i += 1;
        }
        let answer_start = i;
        let mut status = 0;
        let mut screen = None;
        if let Some(code) = lines.get(i).and_then(|l| l.strip_prefix("? ")) {
            if let Some(keys) = code.strip_prefix("screen") {
                screen = Some(keys.split_whitespace().map(str::to_owned).collect());
            } else {
                status = code.trim().parse().unwrap_or_else(|_| {
                    panic!("line {}: `? N` needs an exit status, got {code:?}", i + 1)
                });
            }
            i += 1;
        }
        let out_start = i;
        while i < lines.len() && !lines[i].starts_with("$ ") && lines[i].trim_end() != "```" {
            i += 1;
        }
        steps.push(Step {
            line: start + 1,
            command,
            status,
            screen,
            expected: lines[out_start..i]
                .iter()
                .map(|l| l.trim_end().to_owned())
                .collect(),
            answer_lines: answer_start..i,
        });
    }
    assert!(!in_block, "a console block is not closed");
    steps
}

/// A documented id: a dispatch (`D-`) or best-of group (`G-`) id.
fn id_pattern() -> &'static Regex {
    static ID: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    ID.get_or_init(|| Regex::new(r"\b[DG]-(?:[0-9a-f]{12}|[0-9a-f]{8})\b").unwrap())
}

/// The fixed part of a session's environment (PATH, HOME, XDG_CONFIG_HOME and
/// VNX_TMUX_SOCKET are the session's own).
const SESSION_ENV: [(&str, &str); 7] = [
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_AUTHOR_NAME", "You"),
    ("GIT_AUTHOR_EMAIL", "you@example.com"),
    ("GIT_COMMITTER_NAME", "You"),
    ("GIT_COMMITTER_EMAIL", "you@example.com"),
    ("LC_ALL", "C"),
];

/// A shell session as a reader of the documentation has one: a fresh home directory (no git
/// or vnx configuration of the user's), vnx first on PATH, git identity set, and a tmux
/// server of its own.
pub struct Session {
    _dir: tempfile::TempDir,
    home: PathBuf,
    outputs: PathBuf,
    bash: Child,
    stdin: ChildStdin,
    done: Receiver<String>,
    count: usize,
    /// Documented id → the id the program printed in its place.
    ids: BTreeMap<String, String>,
    tmux: Server,
    /// The scripted GitHub the documents' `vnx pr` examples use: `origin` at
    /// `https://github.com/o/r.git` pushes to it (a `pushInsteadOf` in the session's git
    /// configuration, through `GIT_CONFIG_COUNT`) and `gh` reaches its API on a socket.
    _forge: super::forge::ScriptedForge,
}

/// Why a step did not do what the documentation says.
pub struct Mismatch {
    pub message: String,
    /// Whether only the output differs (the exit status is the documented one).
    pub output_only: bool,
    /// The exit status it ended with, when it ended.
    pub status: Option<i32>,
    /// What it printed instead, with the session's ids and home written as the documentation
    /// writes them.
    pub actual: Vec<String>,
}

impl Session {
    pub fn new() -> Session {
        let dir = tempfile::Builder::new()
            .prefix("vnx-docs-")
            .tempdir()
            .unwrap();
        let home = dir.path().join("home");
        let outputs = dir.path().join("outputs");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&outputs).unwrap();
        let tmux = Server::new();
        let forge = super::forge::ScriptedForge::start();
        let vnx = Path::new(env!("CARGO_BIN_EXE_vnx")).parent().unwrap();
        let path = std::env::join_paths(std::iter::once(vnx.to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        let mut bash = Command::new("bash");
        bash.args(["--noprofile", "--norc"])
            .env_clear()
            .env("PATH", path)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("VNX_TMUX_SOCKET", tmux.0.socket())
            .envs(SESSION_ENV.iter().copied())
            .env("GIT_CONFIG_COUNT", "1")
            .env(
                "GIT_CONFIG_KEY_0",
                format!("url.{}.pushInsteadOf", forge.bare().display()),
            )
            .env("GIT_CONFIG_VALUE_0", super::forge::URL);
        forge.env(&mut bash);
        bash.current_dir(&home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut bash = bash.spawn().expect("bash");
        let stdin = bash.stdin.take().unwrap();
        let stdout = bash.stdout.take().unwrap();
        let (tx, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut session = Session {
            _dir: dir,
            home,
            outputs,
            bash,
            stdin,
            done,
            count: 0,
            ids: BTreeMap::new(),
            tmux,
            _forge: forge,
        };
        // tmux ends its server with its last session, and a window opened at that moment
        // finds it gone: one idle session (started from the shell, so with its environment)
        // keeps the server up for the whole document.
        let keep = "tmux -L \"$VNX_TMUX_SOCKET\" new-session -d -s docs-keep 'sleep 86400'\n";
        assert_eq!(session.shell(&format!("{keep}{DONE}")), Ok(0), "tmux");
        session
    }

    /// The session's home directory (`~`), where the commands start.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Runs one step and checks its exit status and output.
    pub fn run(&mut self, step: &Step) -> Result<(), Mismatch> {
        self.count += 1;
        let out = self.outputs.join(self.count.to_string());
        let command = self.bind(&step.command);
        if let Some(keys) = &step.screen {
            return self.run_on_screen(step, &command, keys, &out);
        }
        // The command's own stdin is empty, its output goes to a file, and only the marker
        // with its exit status comes back on the shell's stdout.
        let script = format!(
            "{{ {command}\n}} </dev/null >'{}' 2>&1\n{DONE}",
            out.display()
        );
        let status = match self.shell(&script) {
            Ok(status) => status,
            Err(why) => return Err(self.mismatch(&out, why)),
        };
        let actual = self.actual(&out);
        if status != step.status {
            return Err(Mismatch {
                message: format!(
                    "exited {status}, the documentation says {}\n{}",
                    step.status,
                    actual.join("\n")
                ),
                output_only: false,
                status: Some(status),
                actual: self.as_documented(&actual),
            });
        }
        self.compare(&step.expected, &actual)
    }

    /// Feeds `script` to the shell and returns the status its `DONE` marker reports.
    fn shell(&mut self, script: &str) -> Result<i32, String> {
        self.stdin.write_all(script.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
        loop {
            match self.done.recv_timeout(STEP_TIMEOUT) {
                Ok(line) => {
                    if let Some(code) = line.strip_prefix("__vnx_docs_done ") {
                        return Ok(code.trim().parse::<i32>().unwrap());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("did not end within {} s", STEP_TIMEOUT.as_secs()));
                }
                Err(RecvTimeoutError::Disconnected) => return Err("ended the shell".into()),
            }
        }
    }

    /// Runs a command in a tmux window of its own, waits for its screen to show what the
    /// documentation shows, types `keys`, and waits for it to end.
    fn run_on_screen(
        &mut self,
        step: &Step,
        command: &str,
        keys: &[String],
        out: &Path,
    ) -> Result<(), Mismatch> {
        let name = format!("docs-{}", self.count);
        // tmux does not always record a dead pane's status: the shell in the pane writes it.
        let status_file = out.with_extension("status");
        let inner = format!(
            "{command}\nprintf '%s' \"$?\" > '{}'",
            status_file.display()
        );
        let quoted = format!("'{}'", inner.replace('\'', r"'\''"));
        let mut env = String::new();
        for var in ["PATH", "HOME", "XDG_CONFIG_HOME", "VNX_TMUX_SOCKET"]
            .into_iter()
            .chain(SESSION_ENV.iter().map(|(k, _)| *k))
        {
            env.push_str(&format!(" -e {var}=\"${var}\""));
        }
        let script = format!(
            "tmux -L \"$VNX_TMUX_SOCKET\" new-session -d -s {name} -x 100 -y 30 -c \"$PWD\"{env} \
             -- bash --noprofile --norc -c {quoted} \\; set-option -t {name} remain-on-exit on \
             >'{}' 2>&1\n{DONE}",
            out.display()
        );
        match self.shell(&script) {
            Ok(0) => {}
            Ok(status) => return Err(self.mismatch(out, format!("tmux exited {status}"))),
            Err(why) => return Err(self.mismatch(out, why)),
        }
        let socket = self.tmux.0.socket().to_owned();
        let tmux = |args: &[&str]| {
            Command::new("tmux")
                .args(["-L", &socket])
                .args(args)
                .output()
                .unwrap()
        };
        let target = format!("={name}:");
        // A screen is waited for until it shows what is documented; one documented as
        // nothing (being written by VNX_DOCS_UPDATE) is taken once the program had 2 s to draw.
        // `-J`: a line the terminal wrapped is one line, as the program printed it.
        if step.expected.is_empty() {
            std::thread::sleep(Duration::from_secs(2));
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let last = loop {
            let screen = tmux(&["capture-pane", "-p", "-J", "-t", &target]);
            let text = String::from_utf8_lossy(&screen.stdout)
                .replace(&self.home.display().to_string(), "~");
            let mut shown: Vec<String> = text.lines().map(|l| l.trim_end().to_owned()).collect();
            while shown.last().is_some_and(|l| l.is_empty()) {
                shown.pop();
            }
            let done = step.expected.is_empty() || std::time::Instant::now() > deadline;
            if done || self.matches(&step.expected, &shown).is_ok() {
                break shown;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        // The keys are typed even when the screen differs, so that the session goes on as
        // the documentation has it.
        let matched = self.compare(&step.expected, &last);
        let mut args = vec!["send-keys", "-t", &target];
        args.extend(keys.iter().map(String::as_str));
        tmux(&args);
        let ended = super::wait_for(|| {
            let out = tmux(&["display-message", "-p", "-t", &target, "#{pane_dead}"]);
            String::from_utf8_lossy(&out.stdout).trim() == "1"
        });
        let screen = tmux(&["capture-pane", "-p", "-J", "-t", &target]);
        tmux(&["kill-session", "-t", &target]);
        let screen = String::from_utf8_lossy(&screen.stdout)
            .trim_end()
            .to_owned();
        if !ended {
            return Err(Mismatch {
                message: format!("still running 10 s after the keys {keys:?}:\n{screen}"),
                output_only: false,
                status: None,
                actual: self.as_documented(&last),
            });
        }
        // Ended by itself with 0, or by the interrupt the keys sent (which ends the shell
        // too, so that no status is written).
        let end = std::fs::read_to_string(&status_file).ok();
        let interrupted =
            keys.iter().any(|k| k == "C-c") && matches!(end.as_deref(), None | Some("130"));
        if !(end.as_deref() == Some("0") || interrupted) {
            return Err(Mismatch {
                message: format!("ended with status {end:?} after the keys:\n{screen}"),
                output_only: false,
                status: None,
                actual: self.as_documented(&last),
            });
        }
        matched
    }

    /// Checks `actual` against `expected`, with a diff when they differ.
    fn compare(&mut self, expected: &[String], actual: &[String]) -> Result<(), Mismatch> {
        match self.matches(expected, actual) {
            Ok(()) => Ok(()),
            Err(why) => {
                let expected = self.bind(&expected.join("\n"));
                let diff = similar::TextDiff::from_lines(
                    &format!("{expected}\n"),
                    &format!("{}\n", actual.join("\n")),
                )
                .unified_diff()
                .header("documented", "printed")
                .to_string();
                Err(Mismatch {
                    message: format!("{why}\n{diff}"),
                    output_only: true,
                    status: None,
                    actual: self.as_documented(actual),
                })
            }
        }
    }

    fn mismatch(&self, out: &Path, why: String) -> Mismatch {
        let actual = self.actual(out);
        Mismatch {
            message: format!("{why}; it printed:\n{}", actual.join("\n")),
            output_only: false,
            status: None,
            actual: self.as_documented(&actual),
        }
    }

    /// What a step printed, with the home directory as `~` and trailing blanks dropped.
    fn actual(&self, out: &Path) -> Vec<String> {
        let text = String::from_utf8_lossy(&std::fs::read(out).unwrap_or_default()).into_owned();
        let home = self.home.display().to_string();
        let text = text.replace(&home, "~");
        let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_owned()).collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines
    }

    /// `text` with every bound documented id replaced by the id it stands for.
    fn bind(&self, text: &str) -> String {
        id_pattern()
            .replace_all(text, |c: &regex::Captures| {
                self.ids
                    .get(&c[0])
                    .cloned()
                    .unwrap_or_else(|| c[0].to_owned())
            })
            .into_owned()
    }

    /// `actual` written as the documentation would: bound ids replaced by their documented
    /// ones.
    fn as_documented(&self, actual: &[String]) -> Vec<String> {
        let back: BTreeMap<&String, &String> = self.ids.iter().map(|(d, a)| (a, d)).collect();
        actual
            .iter()
            .map(|l| {
                id_pattern()
                    .replace_all(l, |c: &regex::Captures| {
                        back.get(&c[0].to_owned())
                            .map_or_else(|| c[0].to_owned(), |d| (*d).clone())
                    })
                    .into_owned()
            })
            .collect()
    }

    /// Binds each id in `documented` output (as `as_documented` wrote it) that is not bound
    /// yet to the next unused documented id of its kind, and returns the output rewritten
    /// with them: how `VNX_DOCS_UPDATE` names fresh ids.
    fn adopt(&mut self, documented: &[String]) -> Vec<String> {
        const NAMES: [&str; 10] = [
            "1a2b3c4d5e6f",
            "5e6f7a8b9c0d",
            "9c0d1e2f3a4b",
            "3a4b5c6d7e8f",
            "7e8f9a0b1c2d",
            "2c3d4e5f6a7b",
            "6a7b8c9d0e1f",
            "0e1f2a3b4c5d",
            "4c5d6e7f8a9b",
            "8a9b0c1d2e3f",
        ];
        for line in documented {
            for m in id_pattern().find_iter(line) {
                let id = m.as_str();
                if self.ids.contains_key(id) || self.ids.values().any(|v| v == id) {
                    continue;
                }
                let kind = &id[..2];
                if let Some(name) = NAMES
                    .iter()
                    .map(|n| format!("{kind}{n}"))
                    .find(|n| !self.ids.contains_key(n))
                {
                    self.ids.insert(name, id.to_owned());
                }
            }
        }
        let raw: Vec<String> = documented.iter().map(|l| self.bind(l)).collect();
        self.as_documented(&raw)
    }

    /// Whether `actual` matches `expected`, binding the documented ids it meets first.
    fn matches(&mut self, expected: &[String], actual: &[String]) -> Result<(), String> {
        let mut pattern = String::from("^");
        let mut groups = Vec::new();
        for line in expected {
            if line == "..." {
                pattern.push_str(r"(?:[^\n]*\n)*?");
                continue;
            }
            let mut rest = line.as_str();
            while !rest.is_empty() {
                let wildcard = rest.find("[..]");
                let id = id_pattern().find(rest).map(|m| (m.start(), m.end()));
                match (wildcard, id) {
                    (Some(w), Some((s, _))) if w < s => {
                        pattern.push_str(&regex::escape(&rest[..w]));
                        pattern.push_str(r"[^\n]*?");
                        rest = &rest[w + 4..];
                    }
                    (Some(w), None) => {
                        pattern.push_str(&regex::escape(&rest[..w]));
                        pattern.push_str(r"[^\n]*?");
                        rest = &rest[w + 4..];
                    }
                    (_, Some((s, e))) => {
                        pattern.push_str(&regex::escape(&rest[..s]));
                        let documented = &rest[s..e];
                        match self.ids.get(documented) {
                            Some(bound) => pattern.push_str(&regex::escape(bound)),
                            None => {
                                pattern.push_str(&format!(
                                    r"({}-(?:[0-9a-f]{{12}}|[0-9a-f]{{8}}))",
                                    &documented[..1]
                                ));
                                groups.push(documented.to_owned());
                            }
                        }
                        rest = &rest[e..];
                    }
                    (None, None) => {
                        pattern.push_str(&regex::escape(rest));
                        rest = "";
                    }
                }
            }
            pattern.push_str(r"\n");
        }
        pattern.push('$');
        let re = Regex::new(&pattern).map_err(|e| format!("the expected output: {e}"))?;
        let text: String = actual.iter().map(|l| format!("{l}\n")).collect();
        let caps = re
            .captures(&text)
            .ok_or_else(|| "the output differs from the documentation".to_owned())?;
        let mut found: BTreeMap<String, String> = BTreeMap::new();
        for (n, documented) in groups.iter().enumerate() {
            let printed = caps[n + 1].to_owned();
            if let Some(earlier) = found.get(documented)
                && *earlier != printed
            {
                return Err(format!(
                    "{documented} stands for {earlier} and for {printed} in the same output"
                ));
            }
            if self.ids.values().any(|v| *v == printed)
                || found.iter().any(|(d, v)| *v == printed && d != documented)
            {
                return Err(format!(
                    "{printed} is already written as another id in the documentation, not {documented}"
                ));
            }
            found.insert(documented.clone(), printed);
        }
        self.ids.extend(found);
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.bash.kill();
        let _ = self.bash.wait();
    }
}

/// Runs every step of the console blocks of `file` (relative to the repository) in `session`.
/// With `VNX_DOCS_UPDATE=1`, a step whose output differs gets what it printed written into
/// the file instead (wildcards are not guessed: put them back by hand), and the run goes on.
pub fn check_file(session: &mut Session, file: &str) {
    let path = super::repo_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let steps = steps(&text);
    assert!(!steps.is_empty(), "{file} has no console examples");
    let update = std::env::var_os("VNX_DOCS_UPDATE").is_some();
    let mut replacements = Vec::new();
    for step in &steps {
        if let Err(m) = session.run(step) {
            if update && (m.output_only || m.status.is_some()) {
                let mut answer = Vec::new();
                if let Some(keys) = &step.screen {
                    answer.push(format!("? screen {}", keys.join(" ")));
                }
                match m.status {
                    Some(0) | None => {}
                    Some(n) => answer.push(format!("? {n}")),
                }
                if m.output_only && step.status != 0 {
                    answer.push(format!("? {}", step.status));
                }
                answer.extend(session.adopt(&m.actual));
                replacements.push((step.answer_lines.clone(), answer));
                continue;
            }
            panic!(
                "{file}:{}: `{}` does not do what the documentation says: {}\n\
                 (VNX_DOCS_UPDATE=1 writes what it printed into {file})",
                step.line, step.command, m.message
            );
        }
    }
    if !replacements.is_empty() {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for (range, actual) in replacements.into_iter().rev() {
            lines.splice(range, actual);
        }
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        panic!("{file}: outputs rewritten from what the commands printed; review the change");
    }
}
