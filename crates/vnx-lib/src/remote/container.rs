//! A container per dispatch (a [`Place`]): made by vnx from the host's image when the
//! dispatch starts, with a volume of its own that holds the clone and the place's ledger (so
//! the work outlives the container), reached with the engine's `exec` (git too, through its
//! `ext::` transport over the same `exec`), and removed with its volume once the dispatch's
//! work is fetched here. A container the engine no longer runs is [`RemoteError::Gone`] at
//! once: no waiting as for an ssh host out of reach. Every engine call is an argv (never a
//! shell line) and bounded in time; nothing of the container's own chooses its flags.

use std::path::Path;
use std::time::Duration;

use super::RemoteError;
use super::place::Place;
use crate::config::{CONTAINER_CLONE, ContainerHost, HostConfig, Network};
use crate::ids::DispatchId;
use crate::process::{self, Cmd, Output};

/// Where the container's volume is mounted (the clone is [`CONTAINER_CLONE`], below it).
const VOLUME_AT: &str = "/work";

/// How long one engine call that makes, inspects or removes may take.
const ENGINE_LIMIT: Duration = Duration::from_secs(120);

/// What the container runs while the dispatch's commands are `exec`ed into it: it waits, and
/// ends at once when stopped (a shell as PID 1 would ignore TERM without the trap).
const IDLE: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

/// The label every container and volume vnx makes carries: the dispatch's id.
const LABEL: &str = "io.vnx.dispatch";

/// One dispatch's container on a container host.
#[derive(Clone, Debug)]
pub struct Container {
    host: HostConfig,
    spec: ContainerHost,
    id: DispatchId,
    /// The place's name (`HOST.ID`).
    place: String,
    /// The container's and its volume's name (`vnx-ID`).
    container: String,
}

impl Container {
    /// Dispatch `id`'s container on `host`, as `spec` makes it.
    pub fn new(host: &HostConfig, spec: &ContainerHost, id: &DispatchId) -> Container {
        Container {
            host: host.clone(),
            spec: spec.clone(),
            id: id.clone(),
            place: super::place::name_for(host, id),
            container: format!("vnx-{}", id.as_str().to_ascii_lowercase()),
        }
    }

    /// The container's (and its volume's) name.
    pub fn container_name(&self) -> &str {
        &self.container
    }

    fn engine(&self) -> Cmd {
        Cmd::new(self.spec.engine.program())
    }

    /// Runs an engine command that must succeed.
    fn must(&self, cmd: Cmd, what: &str) -> Result<String, RemoteError> {
        let out = process::run(&cmd.timeout(ENGINE_LIMIT))?;
        if out.status.success() {
            return Ok(out.text());
        }
        Err(RemoteError::Remote {
            host: self.place.clone(),
            command: format!("{} {what}", self.spec.engine.program()),
            status: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }

    /// The container's state as the engine says it (`running`, `exited`, `paused`, …);
    /// `None` when the engine knows no such container.
    pub fn state(&self) -> Result<Option<String>, RemoteError> {
        let cmd = self
            .engine()
            .args(["container", "inspect", "--format", "{{.State.Status}}"])
            .arg(&self.container)
            .timeout(ENGINE_LIMIT);
        let out = process::run(&cmd)?;
        Ok(out.status.success().then(|| out.text()))
    }

    /// `git ARGS` in the clone, in the container.
    fn git_there(&self, args: &[&str]) -> Cmd {
        let mut argv = vec!["git".to_owned(), "-C".into(), CONTAINER_CLONE.into()];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        self.exec(&argv, false, None)
    }

    fn exec(&self, argv: &[String], tty: bool, workdir: Option<&str>) -> Cmd {
        let mut cmd = self.engine().arg("exec").arg("-i");
        if tty {
            cmd = cmd.arg("-t");
        }
        if let Some(dir) = workdir {
            cmd = cmd.args(["-w", dir]);
        }
        // The engine takes everything after the container's name as the command (no `--`:
        // it would be the program); the program is always one of vnx's choosing.
        cmd.arg(&self.container).args(argv)
    }

    /// The container and its volume, made: the volume first (kept when it exists already:
    /// it holds a dispatch's work; required, unless `fresh`), then the container (a stopped
    /// one replaced, a running one kept), then, in a new volume, an empty clone with the
    /// project's git identity (`identity`).
    fn make_with(&self, identity: Option<(&str, &str)>, fresh: bool) -> Result<(), RemoteError> {
        let label = format!("{LABEL}={}", self.id);
        let volume_known = self
            .must(
                self.engine()
                    .args(["volume", "inspect"])
                    .arg(&self.container),
                "volume inspect",
            )
            .is_ok();
        if !fresh && !volume_known {
            return Err(RemoteError::Gone {
                place: self.place.clone(),
                state: "removed with its volume once its work was fetched".into(),
            });
        }
        match self.state()?.as_deref() {
            Some("running") => return Ok(()),
            Some(_) => {
                self.must(
                    self.engine().args(["rm", "--force"]).arg(&self.container),
                    "rm",
                )?;
            }
            None => {}
        }
        if !volume_known {
            self.must(
                self.engine()
                    .args(["volume", "create", "--label", &label])
                    .arg(&self.container),
                "volume create",
            )?;
        }
        let made = self.run_and_init(&label, volume_known, identity);
        if made.is_err() {
            // Nothing half-made stays: the container, and a volume made just now (empty).
            let _ = self.must(
                self.engine().args(["rm", "--force"]).arg(&self.container),
                "rm",
            );
            if !volume_known {
                let _ = self.must(
                    self.engine()
                        .args(["volume", "rm", "--force"])
                        .arg(&self.container),
                    "volume rm",
                );
            }
        }
        made
    }

    /// The container started on its volume; in a new volume, the empty clone; the identity.
    fn run_and_init(
        &self,
        label: &str,
        volume_known: bool,
        identity: Option<(&str, &str)>,
    ) -> Result<(), RemoteError> {
        let mut run = self
            .engine()
            .args([
                "run",
                "--detach",
                "--name",
                &self.container,
                "--label",
                label,
            ])
            .arg("--volume")
            .arg(format!("{}:{VOLUME_AT}", self.container));
        if self.spec.network == Network::None {
            run = run.arg("--network=none");
        }
        if let Some(cpus) = self.spec.cpus {
            run = run.arg(format!("--cpus={cpus}"));
        }
        if let Some(memory) = &self.spec.memory {
            run = run.arg(format!("--memory={memory}"));
        }
        run = run
            .arg("--")
            .arg(&self.spec.image)
            .args(["/bin/sh", "-c", IDLE]);
        self.must(run, "run")?;
        if !volume_known {
            self.must(
                self.exec(
                    &["git", "init", "-q", "-b", "vnx-place", CONTAINER_CLONE].map(String::from),
                    false,
                    None,
                ),
                "exec git init",
            )?;
        }
        if let Some((name, email)) = identity {
            for (key, value) in [("user.name", name), ("user.email", email)] {
                self.must(self.git_there(&["config", key, value]), "exec git config")?;
            }
        }
        Ok(())
    }
}

impl Place for Container {
    fn host(&self) -> &HostConfig {
        &self.host
    }

    fn name(&self) -> &str {
        &self.place
    }

    /// `ENGINE exec -i [-t] -w CLONE NAME ARGV…`: no shell on either side.
    fn in_clone(&self, argv: &[String], tty: bool) -> Cmd {
        self.exec(argv, tty, Some(CONTAINER_CLONE))
    }

    /// [`RemoteError::Gone`] when the engine could not exec because the container is not
    /// running or no longer exists; [`RemoteError::Unreachable`] when the engine failed
    /// otherwise or the time ran out.
    fn run(&self, cmd: Cmd, limit: Duration) -> Result<Output, RemoteError> {
        let out = process::run(&cmd.timeout(limit)).map_err(|e| match e {
            process::ProcessError::TimedOut { .. } => RemoteError::Unreachable {
                host: self.place.clone(),
                detail: format!("no answer within {} s", limit.as_secs()),
            },
            other => RemoteError::Process(other),
        })?;
        // The engine fails an exec into a container that is not running with 125 or 255
        // (podman: "container state improper"); the command itself may exit 255 too.
        if matches!(out.status.code(), Some(125 | 255)) {
            match self.state()? {
                Some(state) if state == "running" => {
                    if out.status.code() == Some(125) {
                        return Err(RemoteError::Unreachable {
                            host: self.place.clone(),
                            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                        });
                    }
                }
                state => {
                    return Err(RemoteError::Gone {
                        place: self.place.clone(),
                        state: state.unwrap_or_else(|| "removed".into()),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Over `ext::ENGINE exec -i NAME %S CLONE` (git runs the engine itself, no shell); the
    /// `ext` transport allowed for this one command only.
    fn git(&self, repo: &Path, args: &[&str]) -> Cmd {
        Cmd::git()
            .cwd(repo)
            .args(["-c", "protocol.ext.allow=always"])
            .args(args)
    }

    fn git_url(&self) -> String {
        format!(
            "ext::{} exec -i {} %S {CONTAINER_CLONE}",
            self.spec.engine.program(),
            self.container
        )
    }

    fn make(&self, project_root: &Path, fresh: bool) -> Result<(), RemoteError> {
        let identity = git2::Repository::open(project_root)
            .and_then(|r| r.config())
            .and_then(|mut c| c.snapshot())
            .ok()
            .and_then(|c| {
                Some((
                    c.get_string("user.name").ok()?,
                    c.get_string("user.email").ok()?,
                ))
            });
        self.make_with(
            identity.as_ref().map(|(n, e)| (n.as_str(), e.as_str())),
            fresh,
        )
    }

    /// The clone's checkout moved to the base just pushed, and vnx's files made there.
    fn seed(&self, base_ref: &str) -> Result<(), RemoteError> {
        self.must(
            self.git_there(&["reset", "-q", "--hard", base_ref]),
            "exec git reset",
        )?;
        self.must(
            self.in_clone(&[self.host.vnx.clone(), "init".into()], false),
            "exec vnx init",
        )?;
        Ok(())
    }

    fn remove(&self) -> Result<bool, RemoteError> {
        self.must(
            self.engine()
                .args(["rm", "--force", "--time", "5"])
                .arg(&self.container),
            "rm",
        )?;
        self.must(
            self.engine()
                .args(["volume", "rm", "--force"])
                .arg(&self.container),
            "volume rm",
        )?;
        Ok(true)
    }
}
