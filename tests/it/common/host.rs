//! `Remote`: a local repository and a host reachable over a real OpenSSH server — `sshd` on a
//! loopback port with generated host and client keys and a private config, and a directory
//! standing in for the remote machine (its own HOME, its own clone, its own tmux socket, this
//! build's `vnx`). The host's sessions get their environment from its sshd (`SetEnv`), as a
//! machine's own configuration gives it; vnx sends none over ssh.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{Repo, Run, Server, configure, git, run, wait_for};

const SSHD: &str = "/usr/sbin/sshd";

/// A local repository, and a host reachable over ssh holding a clone of it.
pub struct Remote {
    pub repo: Repo,
    dir: tempfile::TempDir,
    port: u16,
    sshd: Option<Child>,
    pub host_tmux: Server,
    /// The `capacity` hosts are declared with.
    capacity: u32,
}

impl Remote {
    pub fn new() -> Remote {
        Remote::with_capacity(2)
    }

    /// A host `box` that runs at most `capacity` dispatches of this machine at once.
    pub fn with_capacity(capacity: u32) -> Remote {
        Remote::build(capacity, |_, _| Vec::new())
    }

    /// A host whose sessions get, besides the basics (HOME, the host's tmux socket, a git
    /// identity), the variables `login` returns; `login` gets the host's HOME and clone to
    /// prepare them (as a user sets up their machine: their tools' config in HOME).
    pub fn with_login(login: impl FnOnce(&Path, &Path) -> Vec<(String, String)>) -> Remote {
        Remote::build(2, login)
    }

    fn build(capacity: u32, login: impl FnOnce(&Path, &Path) -> Vec<(String, String)>) -> Remote {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (bin/test does)"
        );
        // sshd refuses to start without its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd (run the tests as root)");
        let repo = Repo::new();
        let dir = tempfile::Builder::new()
            .prefix("vnx-host-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for (name, key) in [("host", "hostkey"), ("client", "clientkey")] {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(d.join(key))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::fs::copy(d.join("clientkey.pub"), d.join("authorized_keys")).unwrap();
        let home = d.join("home");
        std::fs::create_dir_all(&home).unwrap();
        // The host's clone, initialised there as a user would.
        git(
            &repo.env.home(),
            d,
            &["clone", "-q", repo.env.path().to_str().unwrap(), "clone"],
        );
        let r = run(host_cmd(&home, &d.join("clone")).arg("init"));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let port = free_port();
        let host_tmux = Server::new();
        let mut env: Vec<(String, String)> = [
            ("HOME", home.display().to_string()),
            ("XDG_CONFIG_HOME", format!("{}/.config", home.display())),
            ("XDG_STATE_HOME", format!("{}/.state", home.display())),
            ("VNX_TMUX_SOCKET", host_tmux.0.socket().to_owned()),
            ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_AUTHOR_NAME", "h".into()),
            ("GIT_AUTHOR_EMAIL", "h@example.com".into()),
            ("GIT_COMMITTER_NAME", "h".into()),
            ("GIT_COMMITTER_EMAIL", "h@example.com".into()),
            ("LC_ALL", "C".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in login(&home, &d.join("clone")) {
            env.retain(|(old, _)| *old != k);
            env.push((k, v));
        }
        let set_env: Vec<String> = env
            .iter()
            .map(|(k, v)| {
                assert!(
                    !v.contains(|c: char| c.is_whitespace() || c == '"' || c == '\''),
                    "{k}={v:?} does not fit sshd_config's SetEnv unquoted"
                );
                format!("{k}={v}")
            })
            .collect();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\nStrictModes no\n\
                 UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nSetEnv {}\n",
                set_env.join(" "),
                d = d.display(),
            ),
        )
        .unwrap();
        let host_key = std::fs::read_to_string(d.join("hostkey.pub")).unwrap();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_key}"),
        )
        .unwrap();
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host testhost\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  \
                 IdentityFile {d}/clientkey\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking yes\n",
                d = d.display()
            ),
        )
        .unwrap();
        let mut remote = Remote {
            repo,
            dir,
            port,
            sshd: None,
            host_tmux,
            capacity,
        };
        remote.start_sshd();
        remote.declare("box", env!("CARGO_BIN_EXE_vnx"));
        remote
    }

    /// The directory standing in for the host (keys, configs, `home/`, `clone/`).
    pub fn d(&self) -> &Path {
        self.dir.path()
    }

    pub fn clone_dir(&self) -> PathBuf {
        self.d().join("clone")
    }

    pub fn host_ledger(&self) -> PathBuf {
        self.clone_dir().join(".vnx-data/state/t0_receipts.ndjson")
    }

    pub fn ledger(&self) -> PathBuf {
        self.repo
            .env
            .path()
            .join(".vnx-data/state/t0_receipts.ndjson")
    }

    /// Declares host `name` (this sshd, the clone) whose vnx is `vnx`, and commits it.
    pub fn declare(&self, name: &str, vnx: &str) {
        self.declare_with(name, vnx, "");
    }

    /// [`Remote::declare`] with more of the host's settings (indented YAML lines).
    pub fn declare_with(&self, name: &str, vnx: &str, more: &str) {
        let path = self.repo.env.path().join(".vnx/config.yaml");
        let first = !std::fs::read_to_string(path)
            .unwrap()
            .contains("\nhosts:\n");
        let yaml = format!(
            "{hosts}  {name}:\n    ssh: testhost\n    ssh_args: [\"-F\", \"{d}/ssh_config\"]\n    \
             clone: {clone}\n    capacity: {capacity}\n    vnx: {vnx}\n{more}",
            hosts = if first { "hosts:\n" } else { "" },
            capacity = self.capacity,
            d = self.d().display(),
            clone = self.clone_dir().display(),
        );
        configure(&self.repo, &yaml);
    }

    pub fn start_sshd(&mut self) {
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(self.d().join("sshd_config"))
            .arg("-E")
            .arg(self.d().join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.sshd = Some(child);
        assert!(
            wait_for(|| TcpStream::connect(("127.0.0.1", self.port)).is_ok()),
            "sshd did not listen: {}",
            std::fs::read_to_string(self.d().join("sshd.log")).unwrap_or_default()
        );
    }

    /// Kills sshd (and with it every connection it serves: the shared master's too).
    pub fn kill_sshd(&mut self) {
        if let Some(mut c) = self.sshd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Its per-connection children end with the master connection they serve.
        self.close_master();
    }

    /// `ssh -O exit` on the shared master connection.
    fn close_master(&self) {
        let _ = Command::new("ssh")
            .arg("-F")
            .arg(self.d().join("ssh_config"))
            .arg("-o")
            .arg(format!(
                "ControlPath={}/.vnx-data/ssh/%C",
                self.repo.env.path().display()
            ))
            .args(["-O", "exit", "testhost"])
            .stderr(Stdio::null())
            .status();
    }

    pub fn dispatch(&self, host: &str, model: &str, extra: &[&str]) -> Run {
        run(self.dispatch_cmd(host, model, extra))
    }

    pub fn dispatch_cmd(&self, host: &str, model: &str, extra: &[&str]) -> Command {
        let mut cmd = self.repo.dispatch_cmd(model);
        cmd.args(["--host", host, "--json"]).args(extra);
        if !extra.contains(&"--instruction") && !extra.contains(&"--instruction-file") {
            cmd.args(["--instruction", "add the demo output"]);
        }
        cmd
    }

    /// The local ledger's lines.
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.ledger())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn host_has_completion(&self, id: &str) -> bool {
        std::fs::read_to_string(self.host_ledger())
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("\"dispatch_completed\"") && l.contains(id))
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Whatever still runs on the host is stopped there (a supervisor outlives its tmux
        // server).
        let _ = host_cmd(&self.d().join("home"), &self.clone_dir())
            .args(["cancel", "--all"])
            .env("VNX_TMUX_SOCKET", self.host_tmux.0.socket())
            .output();
        self.close_master();
        if let Some(mut c) = self.sshd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = &self.host_tmux;
    }
}

/// The host's vnx as a user on the host runs it.
fn host_cmd(home: &Path, clone: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vnx"));
    super::hermetic(&mut cmd, home);
    cmd.current_dir(clone);
    cmd
}

pub(super) fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
