//! `ScriptedForge`: the scripted GitHub API (`tests/support/github_api.py`) on a Unix socket
//! in a short temporary directory, a bare repository its pushes land in (through
//! `pushInsteadOf`, so `origin` still names `https://github.com/o/r.git` as gh needs), a
//! `GH_CONFIG_DIR` pointing gh at the socket, and the environment the real `gh` needs to run
//! hermetically against it (a proxy tripwire makes any request that leaves the socket fail).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{Repo, git, repo_dir};

/// The repository the scripted forge serves.
pub const REPO: &str = "o/r";
/// Its URL, as `origin` names it.
pub const URL: &str = "https://github.com/o/r.git";
/// The token gh sends, which the API accepts.
pub const TOKEN: &str = "vnx-test-token";

/// A running scripted forge.
pub struct ScriptedForge {
    pub dir: tempfile::TempDir,
    server: Child,
}

impl ScriptedForge {
    /// Starts the API for a fresh bare repository (no branches yet).
    pub fn start() -> ScriptedForge {
        // A socket path has at most 107 bytes: a short directory under /tmp.
        let dir = tempfile::Builder::new()
            .prefix("vnx-gh.")
            .tempdir_in("/tmp")
            .unwrap();
        let bare = dir.path().join("origin.git");
        let out = Command::new("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&bare)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        std::fs::create_dir_all(dir.path().join("gh")).unwrap();
        let sock = dir.path().join("api.sock");
        std::fs::write(
            dir.path().join("gh/config.yml"),
            format!("http_unix_socket: {}\n", sock.display()),
        )
        .unwrap();
        let mut server = Command::new("python3")
            .arg(repo_dir().join("tests/support/github_api.py"))
            .arg("--socket")
            .arg(&sock)
            .args(["--repo", REPO, "--token", TOKEN])
            .arg("--bare")
            .arg(&bare)
            .arg("--log")
            .arg(dir.path().join("api.log"))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(server.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(
            first.starts_with("SOCKET="),
            "the API did not start: {first:?}"
        );
        ScriptedForge { dir, server }
    }

    /// Starts the API and makes `repo`'s `origin` the forge's repository, its `main` pushed.
    pub fn for_repo(repo: &Repo) -> ScriptedForge {
        let forge = ScriptedForge::start();
        forge.connect(repo.env.path(), &repo.env.home());
        forge
    }

    /// Adds `origin` to the repository at `work` and pushes its `main`.
    pub fn connect(&self, work: &Path, home: &Path) {
        git(home, work, &["remote", "add", "origin", URL]);
        let bare = self.bare();
        git(
            home,
            work,
            &[
                "config",
                &format!("url.{}.pushInsteadOf", bare.display()),
                URL,
            ],
        );
        git(home, work, &["push", "-q", "origin", "main"]);
    }

    /// The bare repository pushes land in.
    pub fn bare(&self) -> PathBuf {
        self.dir.path().join("origin.git")
    }

    /// The socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("api.sock")
    }

    /// gh's environment on `cmd`: its config (the socket), the token, no prompts, the tripwire.
    pub fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("GH_CONFIG_DIR", self.dir.path().join("gh"))
            .env("GH_TOKEN", TOKEN)
            .env("GH_HOST", "github.com")
            .env("GH_NO_UPDATE_NOTIFIER", "1")
            .env("GH_PROMPT_DISABLED", "1")
            .env("NO_COLOR", "1")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("https_proxy", "http://127.0.0.1:9")
            .env("http_proxy", "http://127.0.0.1:9")
    }

    /// `vnx` in `repo` with gh's environment.
    pub fn vnx(&self, repo: &Repo) -> Command {
        let mut cmd = repo.vnx();
        self.env(&mut cmd);
        cmd
    }

    /// A control request (`POST` with `body`, or `GET` without): its JSON answer. Sent over
    /// the socket from here, as `github_api.py --control` would send it: a Python process
    /// per request cost a third of a second or more, and some tests make dozens.
    pub fn control(&self, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
        use std::io::{Read, Write};
        let mut sock = std::os::unix::net::UnixStream::connect(self.socket()).unwrap();
        let timeout = Some(std::time::Duration::from_secs(30));
        sock.set_read_timeout(timeout).unwrap();
        sock.set_write_timeout(timeout).unwrap();
        let path = format!("/_control/{}", path.trim_start_matches('/'));
        let body = body.map(|b| b.to_string());
        let method = if body.is_some() { "POST" } else { "GET" };
        let body = body.unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: api.github.com\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        sock.write_all(request.as_bytes()).unwrap();
        // The API closes the connection after its answer.
        let mut answer = Vec::new();
        sock.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer);
        let (head, json) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!((200..300).contains(&status), "control {path}: {answer}");
        serde_json::from_str(json).unwrap_or_default()
    }

    /// `gh ARGS…` (JSON output), run outside any repository.
    pub fn gh(&self, args: &[&str]) -> serde_json::Value {
        let mut cmd = Command::new("gh");
        self.env(&mut cmd).args(args).current_dir(self.dir.path());
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "gh {args:?}: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// What pull request `number` says of itself: its title, description and comments, as
    /// `gh pr view` reads them.
    pub fn pr_words(&self, number: u64) -> serde_json::Value {
        let n = number.to_string();
        self.gh(&[
            "pr",
            "view",
            &n,
            "--repo",
            "o/r",
            "--json",
            "title,body,comments",
        ])
    }

    /// The forge's state.
    pub fn state(&self) -> serde_json::Value {
        self.control("state", None)
    }

    /// The commit `branch` is at in the bare repository, if it exists.
    pub fn branch(&self, branch: &str) -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.bare())
            .args([
                "rev-parse",
                "--verify",
                "-q",
                &format!("refs/heads/{branch}"),
            ])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The subject of the commit `branch` is at in the bare repository.
    pub fn subject(&self, branch: &str) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.bare())
            .args(["log", "-1", "--format=%s", branch])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// How many API requests (not control ones) were made so far.
    pub fn api_requests(&self) -> u64 {
        let all = self.control("requests?limit=200", None);
        all["requests"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter(|e| !e["path"].as_str().unwrap_or("").starts_with("/_control/"))
                    .count() as u64
            })
            .unwrap_or(0)
    }
}

impl Drop for ScriptedForge {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
