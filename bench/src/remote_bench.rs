//! Benchmark 8, a remote host (`--remote-only`): one no-op `demo` dispatch on a host reached
//! over ssh (`dispatch-agent --host`, waited for: version check, catch-up, base pushed, the
//! host's own dispatch, its completion mirrored, the branch fetched) against its floor — one
//! no-op dispatch here plus one `ssh true` through the shared master connection. The host is
//! this machine: `sshd` on a loopback port with generated keys, a clone in the scratch
//! directory, its own tmux socket (so the figures are vnx's overhead, not a network's). Needs
//! root (sshd's privilege separation directory) and `/usr/sbin/sshd`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Result;
use crate::dispatch_bench::{BenchRepo, NOOP_DISPATCH};
use crate::report::format::num;
use crate::timing::{Lat, micros};

/// What the remote benchmark measured (each in ms).
pub struct RemoteBench {
    pub runs: usize,
    pub ssh: Lat,
    pub local: Lat,
    pub remote: Lat,
}

struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn check(out: std::process::Output, what: &str) -> Result<String> {
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs `runs` timed no-op dispatches of each kind (after one warm-up each).
pub fn bench_remote(vnx: &Path, dir: &Path, runs: usize) -> Result<RemoteBench> {
    let dir = dir.join("remote-bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::create_dir_all("/run/sshd")
        .map_err(|e| format!("sshd needs /run/sshd (run as root): {e}"))?;
    let repo = BenchRepo::create(&dir, vnx)?;
    let host = dir.join("host");
    let home = host.join("home");
    std::fs::create_dir_all(&home)?;
    for key in ["hostkey", "clientkey"] {
        check(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(host.join(key))
                .output()?,
            "ssh-keygen",
        )?;
    }
    std::fs::copy(host.join("clientkey.pub"), host.join("authorized_keys"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let socket = format!("{}-host", repo.socket);
    let h = host.display();
    std::fs::write(
        host.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {h}/hostkey\n\
             AuthorizedKeysFile {h}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nPidFile {h}/sshd.pid\n\
             SetEnv HOME={h}/home XDG_CONFIG_HOME={h}/home/.config VNX_TMUX_SOCKET={socket} \
             GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=b@example.com \
             GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=b@example.com\n"
        ),
    )?;
    let host_key = std::fs::read_to_string(host.join("hostkey.pub"))?;
    std::fs::write(
        host.join("known_hosts"),
        format!("[127.0.0.1]:{port} {host_key}"),
    )?;
    std::fs::write(
        host.join("ssh_config"),
        format!(
            "Host benchhost\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  \
             IdentityFile {h}/clientkey\n  IdentitiesOnly yes\n  UserKnownHostsFile {h}/known_hosts\n  \
             StrictHostKeyChecking yes\n"
        ),
    )?;
    let _sshd = Sshd(
        Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(host.join("sshd_config"))
            .arg("-E")
            .arg(host.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()?,
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > Duration::from_secs(10) {
            return Err("sshd did not start listening".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let clone = host.join("clone");
    check(
        Command::new("git")
            .args(["clone", "-q"])
            .arg(&repo.root)
            .arg(&clone)
            .output()?,
        "git clone",
    )?;
    check(
        Command::new(vnx)
            .arg("init")
            .current_dir(&clone)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .output()?,
        "vnx init on the host",
    )?;
    let config = repo.root.join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config)?;
    text.push_str(&format!(
        "hosts:\n  bench:\n    ssh: benchhost\n    ssh_args: [\"-F\", \"{h}/ssh_config\"]\n    \
         clone: {}\n    vnx: {}\n",
        clone.display(),
        vnx.display()
    ));
    std::fs::write(&config, text)?;
    repo.run("git", &["commit", "-q", "-am", "a host"])?;
    // The ssh floor: `true` through a shared master connection, as vnx's calls share one
    // (its own, in a short directory: a socket path has a length limit).
    let control_dir = std::env::temp_dir().join(format!("vnx-bench-ssh-{}", std::process::id()));
    std::fs::create_dir_all(&control_dir)?;
    let control = format!("ControlPath={}/%C", control_dir.display());
    let ssh_true = || -> Result<()> {
        check(
            Command::new("ssh")
                .arg("-F")
                .arg(host.join("ssh_config"))
                .args([
                    "-o",
                    "ControlMaster=auto",
                    "-o",
                    &control,
                    "-o",
                    "ControlPersist=60",
                ])
                .args(["-o", "BatchMode=yes", "benchhost", "true"])
                .output()?,
            "ssh true",
        )
        .map(drop)
    };
    let mut remote_args = NOOP_DISPATCH.to_vec();
    remote_args.extend(["--host", "bench"]);
    let time = |f: &dyn Fn() -> Result<()>| -> Result<Lat> {
        f()?;
        let mut us = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            f()?;
            us.push(micros(t));
        }
        Ok(Lat::new(us))
    };
    // The remote dispatch first: it opens the master connection the ssh floor reuses.
    let remote = time(&|| repo.run(vnx, &remote_args).map(drop))?;
    let ssh = time(&ssh_true)?;
    let local = time(&|| repo.run(vnx, &NOOP_DISPATCH).map(drop))?;
    let verified = repo.run(vnx, &["audit-chain", "verify"])?;
    if !verified.starts_with("verified") {
        return Err(format!("the remote benchmark's ledger does not verify: {verified}").into());
    }
    let _ = Command::new("ssh")
        .arg("-F")
        .arg(host.join("ssh_config"))
        .args(["-o", &control, "-O", "exit", "benchhost"])
        .stderr(Stdio::null())
        .status();
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .output();
    let _ = std::fs::remove_dir_all(&control_dir);
    Ok(RemoteBench {
        runs,
        ssh,
        local,
        remote,
    })
}

impl RemoteBench {
    /// The section's Markdown.
    pub fn render(&self) -> String {
        let ms = |us: f64| num(us / 1000.0, 1);
        let floor = self.ssh.p(50.0) + self.local.p(50.0);
        format!(
            "\n### 8. A remote host ({} no-op dispatches of each kind; the host is this machine over \
             loopback ssh)\n\n\
             `dispatch-agent --host` waits for the host's completion: the host's vnx checked, its \
             ledger caught up with, the base pushed, its own no-op dispatch, its completion \
             mirrored and re-attested here, the branch fetched. The floor is one no-op dispatch \
             here plus one `ssh true` through the shared master connection.\n\n\
             | Run | p50 | p90 | max |\n|---|---:|---:|---:|\n\
             | `ssh HOST true` (shared connection) | {} ms | {} ms | {} ms |\n\
             | local no-op dispatch | {} ms | {} ms | {} ms |\n\
             | **floor** (sum of p50s) | {} ms | | |\n\
             | remote no-op dispatch | {} ms | {} ms | {} ms |\n\
             | remote / floor | {}× | | |\n",
            self.runs,
            ms(self.ssh.p(50.0)),
            ms(self.ssh.p(90.0)),
            ms(self.ssh.max()),
            ms(self.local.p(50.0)),
            ms(self.local.p(90.0)),
            ms(self.local.max()),
            ms(floor),
            ms(self.remote.p(50.0)),
            ms(self.remote.p(90.0)),
            ms(self.remote.max()),
            num(self.remote.p(50.0) / floor, 2),
        )
    }
}
