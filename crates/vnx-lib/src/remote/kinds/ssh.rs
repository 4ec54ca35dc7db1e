//! A host the user set up, reached over OpenSSH (a [`Place`]): one `ssh` argv per call,
//! sharing one master connection per host (`ControlMaster`/`ControlPath`/`ControlPersist`, the socket in a private directory
//! under `.vnx-data/ssh/`), remote commands quoted element by element for the host's shell,
//! and the same options handed to git for its pushes and fetches.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{HostConfig, HostKind};
use crate::process::{self, Cmd, Output};
use crate::remote::RemoteError;
use crate::remote::place::{Kind, Place};
use crate::remote::quote::{command_line, quote};

/// How long the shared master connection outlives its last use.
const PERSIST: &str = "ControlPersist=600";

/// ssh to one host, through its shared connection.
#[derive(Clone, Debug)]
pub struct Ssh {
    host: HostConfig,
    destination: String,
    args: Vec<String>,
    control_dir: PathBuf,
}

/// The longest socket path a `sockaddr_un` holds, less what ssh appends while it sets the
/// master up (a dot and 16 random characters).
const MAX_SOCKET_PATH: usize = 103 - 17;

impl Ssh {
    /// ssh to `host`, its master socket under `data_dir/ssh/` (a private directory), or, when
    /// that path is too long for a socket, under a private directory in `/tmp`.
    pub fn new(host: &HostConfig, data_dir: &Path) -> Result<Ssh, RemoteError> {
        let HostKind::Ssh { destination, args } = &host.kind else {
            return Err(RemoteError::UnknownHost {
                host: host.name.clone(),
            });
        };
        let mut control_dir = data_dir.join("ssh");
        // `%C` is 40 hex digits.
        if control_dir.as_os_str().len() + 41 > MAX_SOCKET_PATH {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
            control_dir = PathBuf::from(format!(
                "/tmp/vnx-ssh-{}-{}",
                rustix::process::geteuid().as_raw(),
                &hex::encode(digest)[..12]
            ));
        }
        crate::files::private_dir(&control_dir).map_err(crate::remote::io(&control_dir))?;
        check_private(&control_dir)?;
        Ok(Ssh {
            host: host.clone(),
            destination: destination.clone(),
            args: args.clone(),
            control_dir,
        })
    }

    /// The options every ssh call (and git's) passes: the shared connection, no prompts,
    /// keep-alives that notice a dead link within 15 s, then the host's own `ssh_args`.
    pub fn options(&self) -> Vec<String> {
        let mut o: Vec<String> = [
            "-o",
            "ControlMaster=auto",
            "-o",
            &format!("ControlPath={}/%C", self.control_dir.display()),
            "-o",
            PERSIST,
            "-o",
            "BatchMode=yes",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            "-o",
            "ConnectTimeout=10",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        o.extend(self.args.iter().cloned());
        o
    }

    /// `GIT_SSH_COMMAND` for git's pushes and fetches to this host: `ssh` and the same
    /// options, each quoted (git hands the variable to a shell).
    pub fn git_ssh_command(&self) -> String {
        let mut argv = vec!["ssh".to_owned()];
        argv.extend(self.options());
        command_line(&argv)
    }
}

/// The ssh kind, as the registry (`kinds`) holds it: a host the user made, one place for
/// all its dispatches, and no places of vnx's to list.
pub(super) static KIND: Kind = Kind {
    name: "ssh",
    per_dispatch: false,
    place: |host, _id, here| Ok(Some(Box::new(Ssh::new(host, here.data_dir)?))),
    listed: |_host, _key| Ok(Vec::new()),
};

impl Place for Ssh {
    fn host(&self) -> &HostConfig {
        &self.host
    }

    fn name(&self) -> &str {
        &self.host.name
    }

    /// `ssh … DEST 'cd CLONE && exec ARGV…'` (`ssh -t` with a terminal): each element quoted
    /// for the host's shell.
    fn in_clone(&self, argv: &[String], tty: bool) -> Cmd {
        let line = format!(
            "cd {} && exec {}",
            quote(&self.host.clone),
            command_line(argv)
        );
        let mut cmd = Cmd::new("ssh").args(self.options());
        if tty {
            cmd = cmd.arg("-t");
        }
        cmd.arg("--").arg(&self.destination).arg(line)
    }

    /// [`RemoteError::Unreachable`] when ssh itself failed (exit 255: no connection,
    /// authentication refused, the link dropped) or the time ran out.
    fn run(&self, cmd: Cmd, limit: Duration) -> Result<Output, RemoteError> {
        let out = crate::remote::place::run_within(&self.host.name, cmd, limit)?;
        if out.status.code() == Some(255) {
            return Err(RemoteError::Unreachable {
                host: self.host.name.clone(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(out)
    }

    /// Through the shared connection (`GIT_SSH_COMMAND`).
    fn git(&self, repo: &Path, args: &[&str]) -> Cmd {
        Cmd::git()
            .cwd(repo)
            .env("GIT_SSH_COMMAND", self.git_ssh_command())
            .env("GIT_SSH_VARIANT", "ssh")
            .args(args)
    }

    /// `DEST:PATH`.
    fn git_url(&self) -> String {
        format!("{}:{}", self.destination, self.host.clone)
    }

    /// `ssh -O exit`, if a shared connection is open.
    fn close(&self) {
        let cmd = Cmd::new("ssh")
            .args(self.options())
            .args(["-O", "exit", "--"])
            .arg(&self.destination)
            .timeout(Duration::from_secs(10));
        let _ = process::run(&cmd);
    }
}

/// The control directory must be a directory of this user that nobody else can enter: the
/// master socket in it is a logged-in shell on the host.
fn check_private(dir: &Path) -> Result<(), RemoteError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).map_err(crate::remote::io(dir))?;
    if !meta.is_dir()
        || meta.uid() != rustix::process::geteuid().as_raw()
        || meta.mode() & 0o077 != 0
    {
        return Err(crate::remote::io(dir)(std::io::Error::other(
            "the ssh control directory must be a directory of this user, mode 0700",
        )));
    }
    Ok(())
}
