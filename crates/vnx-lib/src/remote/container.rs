//! A container per dispatch (a [`Place`]): made by vnx from the host's image when the
//! dispatch starts, with a volume of its own that holds the clone and the place's ledger (so
//! the work outlives the container), reached with the engine's `exec` (git too, through its
//! `ext::` transport over the same `exec`), and removed with its volume once the dispatch's
//! work is fetched here. A container the engine no longer runs is [`RemoteError::Gone`] at
//! once: no waiting as for an ssh host out of reach. Every engine call is an argv (never a
//! shell line) and bounded in time; nothing of the container's own chooses its flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::RemoteError;
use super::made::{self, ENGINE_LIMIT, HOME, IDLE, LOGINS_AT, Made};
use super::place::{Here, Place};
use crate::config::{CONTAINER_CLONE, ContainerHost, HostConfig, Network};
use crate::ids::DispatchId;
use crate::process::{self, Cmd, Output};

/// Where the container's volume is mounted (the clone is [`CONTAINER_CLONE`], below it).
const VOLUME_AT: &str = "/work";

/// The label every container and volume vnx makes carries: the dispatch's id.
pub(super) const LABEL: &str = "io.vnx.dispatch";

/// The label that says which project made it (see [`super::orphans::project_key`]).
pub(super) const PROJECT_LABEL: &str = "io.vnx.project";

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
    /// The home directory here the CLIs' logins are made available from.
    home: Option<PathBuf>,
    /// The project's key, a label of everything made.
    project: String,
    /// The image and variables of the project's dev container definition, when the host
    /// names one: read when the container is made.
    defined: std::sync::OnceLock<super::devcontainer::Definition>,
}

impl Container {
    /// Dispatch `id`'s container on `host`, as `spec` makes it; the logins it names from
    /// `here`'s home.
    pub fn new(
        host: &HostConfig,
        spec: &ContainerHost,
        id: &DispatchId,
        here: Here<'_>,
    ) -> Container {
        Container {
            host: host.clone(),
            spec: spec.clone(),
            id: id.clone(),
            place: super::place::name_for(host, id),
            container: format!("vnx-{}", id.as_str().to_ascii_lowercase()),
            home: here.home.map(Path::to_path_buf),
            project: super::orphans::project_key(here.data_dir),
            defined: std::sync::OnceLock::new(),
        }
    }

    /// The image: the host's, or its dev container definition's.
    fn image(&self) -> &str {
        match (&self.spec.image, self.defined.get()) {
            (Some(image), _) => image,
            (None, Some(d)) => &d.image,
            (None, None) => "",
        }
    }

    fn engine(&self) -> Cmd {
        Cmd::new(self.spec.engine.program())
    }

    fn exec_in(&self, argv: &[String], tty: bool, workdir: Option<&str>) -> Cmd {
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

    /// `--label DISPATCH --label PROJECT`, as the engine takes them.
    fn labels(&self) -> [String; 4] {
        [
            "--label".into(),
            format!("{LABEL}={}", self.id),
            "--label".into(),
            format!("{PROJECT_LABEL}={}", self.project),
        ]
    }
}

impl Made for Container {
    fn place_name(&self) -> &str {
        &self.place
    }

    fn program(&self) -> &str {
        self.spec.engine.program()
    }

    fn storage_exists(&self) -> Result<bool, RemoteError> {
        let cmd = self
            .engine()
            .args(["volume", "inspect"])
            .arg(&self.container);
        Ok(process::run(&cmd.timeout(ENGINE_LIMIT))?.status.success())
    }

    /// `running`, `exited`, `paused`, … as the engine says it.
    fn state(&self) -> Result<Option<String>, RemoteError> {
        let cmd = self
            .engine()
            .args(["container", "inspect", "--format", "{{.State.Status}}"])
            .arg(&self.container)
            .timeout(ENGINE_LIMIT);
        let out = process::run(&cmd)?;
        Ok(out.status.success().then(|| out.text()))
    }

    fn is_running(&self, state: &str) -> bool {
        state == "running"
    }

    fn make_storage(&self) -> Result<(), RemoteError> {
        let cmd = self.engine().args(["volume", "create"]).args(self.labels());
        self.must(cmd.arg(&self.container), "volume create")?;
        Ok(())
    }

    fn start(&self) -> Result<(), RemoteError> {
        let mut run = self
            .engine()
            .args(["run", "--detach", "--name", &self.container])
            .args(self.labels())
            .arg("--volume")
            .arg(format!("{}:{VOLUME_AT}", self.container));
        match self.spec.network {
            Network::None => run = run.arg("--network=none"),
            Network::Host => run = run.arg("--network=host"),
            Network::Default => {}
        }
        if let Some(cpus) = self.spec.cpus {
            run = run.arg(format!("--cpus={cpus}"));
        }
        if let Some(memory) = &self.spec.memory {
            run = run.arg(format!("--memory={memory}"));
        }
        // The home on the volume, so the CLIs' state outlives the container as the work does;
        // the host's own variables after it (theirs win).
        run = run.arg("--env").arg(format!("HOME={HOME}"));
        let defined = self.defined.get().map(|d| &d.env);
        for (key, value) in defined.into_iter().flatten().chain(&self.spec.env) {
            run = run.arg("--env").arg(format!("{key}={value}"));
        }
        for (from, rel) in made::login_files(&self.spec.logins, self.home.as_deref()) {
            let mut volume = std::ffi::OsString::from(from.as_os_str());
            volume.push(format!(":{LOGINS_AT}/{rel}:ro"));
            run = run.arg("--volume").arg(volume);
        }
        let run = run
            .arg("--")
            .arg(self.image())
            .args(["/bin/sh", "-c", IDLE]);
        self.must(run, "run")?;
        Ok(())
    }

    fn stop(&self) -> Result<(), RemoteError> {
        // Removed once nothing in it is needed (its work fetched, or it had stopped): its
        // first process ends on the engine's TERM at once ([`IDLE`]), and with it the rest.
        // (`--time` is podman's own: docker's `rm` takes no such flag.)
        let cmd = self.engine().args(["rm", "--force"]);
        self.must(cmd.arg(&self.container), "rm")?;
        Ok(())
    }

    fn drop_storage(&self) -> Result<(), RemoteError> {
        let cmd = self.engine().args(["volume", "rm", "--force"]);
        self.must(cmd.arg(&self.container), "volume rm")?;
        Ok(())
    }

    fn exec(&self, argv: &[String]) -> Cmd {
        self.exec_in(argv, false, None)
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
        self.exec_in(argv, tty, Some(CONTAINER_CLONE))
    }

    /// The engine fails an exec into a container that is not running with 125 or 255
    /// (podman: "container state improper"), the docker client with 1 ("Error response from
    /// daemon"); the command itself may exit so too, so the container's state tells which.
    fn run(&self, cmd: Cmd, limit: Duration) -> Result<Output, RemoteError> {
        made::run(
            self,
            cmd,
            limit,
            |code| matches!(code, 1 | 125 | 255),
            |out| out.status.code() == Some(125),
        )
    }

    /// Over `ext::ENGINE exec -i NAME %S CLONE` (git runs the engine itself, no shell); the
    /// `ext` transport allowed for this one command only.
    fn git(&self, repo: &Path, args: &[&str]) -> Cmd {
        made::git(repo, args)
    }

    fn git_url(&self) -> String {
        format!(
            "ext::{} exec -i {} %S {CONTAINER_CLONE}",
            self.spec.engine.program(),
            self.container
        )
    }

    /// The dev container definition read first, when the host names one.
    fn make(&self, project_root: &Path, fresh: bool) -> Result<(), RemoteError> {
        if let Some(rel) = &self.spec.devcontainer
            && self.defined.get().is_none()
        {
            let _ = self
                .defined
                .set(super::devcontainer::read(project_root, rel)?);
        }
        made::make(self, project_root, fresh)
    }

    fn seed(&self, base_ref: &str) -> Result<(), RemoteError> {
        made::seed(self, &self.host.vnx, base_ref)
    }

    fn park(&self) -> Result<(), RemoteError> {
        self.stop()
    }

    fn remove(&self) -> Result<bool, RemoteError> {
        made::remove(self)
    }

    fn when_make_fails(&self) -> &'static str {
        "when the engine fails to start any container here, its own configuration may need \
         changing: podman reads containers.conf, or the file CONTAINERS_CONF names"
    }
}
