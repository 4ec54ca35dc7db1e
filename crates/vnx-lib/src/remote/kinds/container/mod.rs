//! A container per dispatch (a [`Place`]): made by vnx from the host's image when the
//! dispatch starts, with a volume of its own that holds the clone and the place's ledger (so
//! the work outlives the container). The process that starts it keeps the container's first
//! process, a relay, as one channel for every later step (ADR 0087); any other reaches it
//! with the engine's `exec` (git too, through its `ext::` transport over the same `exec`).
//! It is removed with its volume once the dispatch's work is fetched here. A container the
//! engine no longer runs is [`RemoteError::Gone`] at once: no waiting as for an ssh host out
//! of reach. Every engine call is an argv (never a
//! shell line) and bounded in time; nothing of the container's own chooses its flags. It runs
//! as the host's user, or its definition's (`run --user`, so that every `exec` does too), the
//! volume's files given to that user when it is made; and it gets the host's own mounts,
//! never one that would show the worker this machine's home, `.vnx-data` or signing key.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod devcontainer;
mod registered;

pub(in crate::remote) use registered::KIND;
#[cfg(test)]
pub(in crate::remote) use registered::parse_engine;

use crate::config::hosts::container::{ContainerHost, Engine, Network};
use crate::config::{HostConfig, MADE_CLONE, Mount, MountKind};
use crate::ids::DispatchId;
use crate::process::{self, Cmd, Output};
use crate::remote::RemoteError;
use crate::remote::made::{self, ENGINE_LIMIT, HOME, LOGINS_AT, Made};
use crate::remote::place::{Here, Place};
use crate::remote::relay::{Relay, RelayError};
use crate::remote::relayed;
use crate::remote::wire::MAX_ANSWER;

/// Where the container's volume is mounted (the clone is [`MADE_CLONE`], below it).
const VOLUME_AT: &str = "/work";

/// The label every container and volume vnx makes carries: the dispatch's id.
pub(super) const LABEL: &str = "io.vnx.dispatch";

/// The label that says which project made it (see [`crate::remote::made::project_key`]).
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
    /// Where the relayed steps keep their files here.
    scratch: PathBuf,
    /// The project's `.vnx-data/` here, and the signing key's path: no mount may show them.
    data_dir: PathBuf,
    key: Option<PathBuf>,
    /// The project's key, a label of everything made.
    project: String,
    /// The image and variables of the project's dev container definition, when the host
    /// names one: read when the container is made.
    defined: std::sync::OnceLock<devcontainer::Definition>,
    /// The host's mounts, their sources resolved here: checked when the container is made.
    mounts: std::sync::OnceLock<Vec<Mount>>,
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
            place: crate::place_name::PlaceName::made(&host.name, id).to_string(),
            container: format!("vnx-{}", id.as_str().to_ascii_lowercase()),
            home: here.home.map(Path::to_path_buf),
            scratch: here.data_dir.join("remote"),
            data_dir: here.data_dir.to_path_buf(),
            key: here.key.map(Path::to_path_buf),
            project: crate::remote::made::project_key(here.data_dir),
            defined: std::sync::OnceLock::new(),
            mounts: std::sync::OnceLock::new(),
        }
    }

    /// Where the parts of login files it is given are written here (private to the user),
    /// until it is removed.
    fn logins_dir(&self) -> PathBuf {
        self.scratch.join("logins").join(&self.container)
    }

    /// The `--volume`s of the login files the host names, read-only under [`LOGINS_AT`]: a
    /// whole file from where it is, the part of one (what logs in) written under
    /// [`Container::logins_dir`] first.
    fn login_volumes(&self) -> Result<Vec<std::ffi::OsString>, RemoteError> {
        let mut out = Vec::new();
        for login in made::login_files(&self.spec.logins, self.home.as_deref()) {
            let source = match &login.part {
                None => login.from,
                Some(bytes) => {
                    let to = self.logins_dir().join(&login.rel);
                    let io = crate::remote::io;
                    crate::files::private_dir(to.parent().unwrap_or(&to)).map_err(io(&to))?;
                    crate::files::write_atomic_private(&to, bytes, false).map_err(io(&to))?;
                    to
                }
            };
            if source.to_string_lossy().contains([':', ',']) {
                continue;
            }
            let mut volume = std::ffi::OsString::from(source.as_os_str());
            volume.push(format!(":{LOGINS_AT}/{}:ro", login.rel));
            out.push(volume);
        }
        Ok(out)
    }

    /// Its variables as the engine is given them: the home on the volume, so the CLIs' state
    /// outlives the container as the work does; its definition's, then the host's own
    /// (theirs win); last, by name only, those the engine's client takes from vnx's
    /// environment (`env_from_host`), whose values are never an argument.
    fn env_args(&self) -> Vec<String> {
        let mut out = vec!["--env".to_owned(), format!("HOME={HOME}")];
        let defined = self.defined.get().map(|d| &d.env);
        for (key, value) in defined.into_iter().flatten().chain(&self.spec.env) {
            out.extend(["--env".to_owned(), format!("{key}={value}")]);
        }
        for name in &self.spec.env_from_host {
            out.extend(["--env".to_owned(), name.clone()]);
        }
        out
    }

    /// Who its commands run as: the host's user, else its definition's.
    fn user(&self) -> Option<&str> {
        let defined = self.defined.get().and_then(|d| d.user.as_deref());
        self.spec.user.as_deref().or(defined)
    }

    /// The host's mounts as the engine is given them: a bind's source with its links
    /// resolved, refused when it is `/`, holds the home directory, or is or holds the
    /// project's `.vnx-data` or the signing key's directory.
    fn resolved_mounts(&self) -> Result<Vec<Mount>, RemoteError> {
        let mut out = Vec::new();
        for m in &self.spec.mounts {
            let refuse = |detail: String| RemoteError::Mount {
                host: self.host.name.clone(),
                mount: m.engine_arg(),
                detail,
            };
            if m.kind == MountKind::Volume {
                out.push(m.clone());
                continue;
            }
            let source = std::fs::canonicalize(&m.source)
                .map_err(|e| refuse(format!("its source cannot be used here: {e}")))?;
            let (Some(home), Some(key)) = (&self.home, &self.key) else {
                return Err(refuse(
                    "where the home directory and the signing key are is not known here, so \
                     vnx cannot tell what it would show"
                        .into(),
                ));
            };
            let key_dir = key.parent().unwrap_or(key);
            if source == Path::new("/") || real(home).starts_with(&source) {
                return Err(refuse("it would show the worker the home directory".into()));
            }
            for (guarded, what) in [
                (&self.data_dir, "the project's .vnx-data (the ledger)"),
                (&key_dir.to_path_buf(), "the signing key's directory"),
            ] {
                let guarded = real(guarded);
                if guarded.starts_with(&source) || source.starts_with(&guarded) {
                    return Err(refuse(format!("it would show the worker {what}")));
                }
            }
            let source = source.to_str().filter(|s| !s.contains([',', '"']));
            let Some(source) = source else {
                return Err(refuse(
                    "its real path is not one the engine can take".into(),
                ));
            };
            out.push(Mount {
                source: source.to_owned(),
                ..m.clone()
            });
        }
        Ok(out)
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

    /// `argv` run in the container, with a terminal or not, in `workdir` when given, as
    /// `user` (none: the container's own, `run --user`).
    fn exec_as(
        &self,
        argv: &[String],
        tty: bool,
        workdir: Option<&str>,
        user: Option<&str>,
    ) -> Cmd {
        let mut cmd = self.engine().arg("exec").arg("-i");
        if tty {
            cmd = cmd.arg("-t");
        }
        if let Some(user) = user {
            cmd = cmd.arg(format!("--user={user}"));
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

    /// The relay's channel failed under a step: what the engine says of the container tells
    /// whether it is gone.
    fn channel_failed(&self, failed: relayed::Failed) -> RemoteError {
        match made::running(self) {
            Ok(()) => relayed::unreachable(&self.place, failed),
            Err(e) => e,
        }
    }
}

impl Made for Container {
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

    fn is_paused(&self, state: &str) -> bool {
        state == "paused"
    }

    fn make_storage(&self) -> Result<(), RemoteError> {
        let cmd = self.engine().args(["volume", "create"]).args(self.labels());
        self.must(cmd.arg(&self.container), "volume create")?;
        Ok(())
    }

    /// podman's `volume create` refuses a name in use: one call where docker's, which takes
    /// one as made, needs a look first.
    fn make_refuses_a_name_in_use(&self) -> bool {
        self.spec.engine == Engine::Podman
    }

    /// `ENGINE run --rm -i NAME …`, attached: the container's first process serves this
    /// process's relay ([`RELAYED`]) until asked to end (the container ends and is removed)
    /// or until this process lets go (it idles, for the engine's `exec`).
    fn start(&self) -> Result<(), RemoteError> {
        // A container of this name this process just ended is gone first.
        relayed::ended(&self.container);
        let mut run = self
            .engine()
            .args(["run", "--rm", "--interactive", "--sig-proxy=false"])
            .args(["--name", &self.container])
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
        // Every `exec` runs as the container's user: the place's vnx, git's transport,
        // `attach`, from whichever vnx process reaches it.
        if let Some(user) = self.user() {
            run = run.arg(format!("--user={user}"));
        }
        for m in self.mounts.get().into_iter().flatten() {
            run = run.arg("--mount").arg(m.engine_arg());
        }
        run = run.args(self.env_args());
        for volume in self.login_volumes()? {
            run = run.arg("--volume").arg(volume);
        }
        let run = run.arg("--").arg(self.image()).args([
            "/bin/sh",
            "-c",
            RELAYED,
            "sh",
            &self.host.vnx,
            RELAY_SCRATCH,
        ]);
        match Relay::start(&run, ENGINE_LIMIT) {
            Ok(relay) => relayed::keep(&self.container, relay),
            // The image's vnx cannot relay: the container idles, reached by `exec`.
            Err(RelayError::Refused(_)) => {}
            Err(RelayError::EngineFailed { status, said }) => {
                return Err(self.failed("run", status, said.as_bytes()));
            }
            Err(e) => {
                return Err(RemoteError::Unreachable {
                    host: self.place.clone(),
                    detail: e.to_string(),
                });
            }
        }
        Ok(())
    }

    fn stop(&self) -> Result<(), RemoteError> {
        relayed::ended(&self.container);
        // Removed once nothing in it is needed (its work fetched, or it had stopped): its
        // first process ends on the engine's TERM at once ([`RELAYED`]), and with it the rest.
        // (`--time` is podman's own: docker's `rm` takes no such flag.)
        let cmd = self.engine().args(["rm", "--force"]);
        self.must(cmd.arg(&self.container), "rm")?;
        // The parts of logins written for it (its home on the volume has its copies).
        let _ = std::fs::remove_dir_all(self.logins_dir());
        Ok(())
    }

    fn drop_storage(&self) -> Result<(), RemoteError> {
        let cmd = self.engine().args(["volume", "rm", "--force"]);
        self.must(cmd.arg(&self.container), "volume rm")?;
        Ok(())
    }

    fn exec(&self, argv: &[String]) -> Cmd {
        self.exec_as(argv, false, None, None)
    }

    fn run_script(&self, argv: &[String], what: &str) -> Result<String, RemoteError> {
        match relayed::call(&self.container, argv, None, &[], ENGINE_LIMIT, MAX_ANSWER) {
            Some(Ok(out)) if out.status.success() => Ok(out.text()),
            Some(Ok(out)) => Err(self.failed(what, out.status.code(), &out.stderr)),
            Some(Err(relayed::Failed::NotSent)) | None => self.must(self.exec(argv), what),
            Some(Err(f)) => Err(relayed::unreachable(&self.place, f)),
        }
    }

    fn owner(&self) -> Option<String> {
        self.user().map(crate::config::owner_of)
    }

    fn exec_root(&self, argv: &[String]) -> Cmd {
        let root = self.user().map(|_| "0");
        self.exec_as(argv, false, None, root)
    }
}

/// `p` with its links resolved, as far as it exists (the rest as written).
fn real(p: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut at = p;
    loop {
        if let Ok(found) = std::fs::canonicalize(at) {
            return missing.iter().rev().fold(found, |p, part| p.join(part));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_os_string());
                at = parent;
            }
            _ => return p.to_path_buf(),
        }
    }
}

/// The container's first process: the relay (`$1 __place-relay --scratch $2`) on the
/// container's input, as long as the process that started it is there; then, unless the
/// relay was asked to end, an idle wait for the engine's `exec` that ends at once when
/// stopped (a shell as PID 1 would ignore TERM without the trap). A vnx that cannot relay
/// says so on the channel (as a relay's answer whose exit is its own), and the container
/// idles.
const RELAYED: &str = "trap 'exit 0' TERM INT; exec 3<&0; \
                       \"$1\" __place-relay --scratch \"$2\" <&3 3<&- & wait $! && exit 0; \
                       s=$?; exec 3<&-; [ \"$s\" -eq 97 ] || \
                       printf '{\"status\":%d,\"stdout\":0,\"stderr\":0}\\n' \"$s\"; \
                       while :; do sleep 3600 & wait $!; done";

/// Where the relay keeps each request's input, in the container.
const RELAY_SCRATCH: &str = "/tmp/vnx-relay";

impl Place for Container {
    fn host(&self) -> &HostConfig {
        &self.host
    }

    fn name(&self) -> &str {
        &self.place
    }

    fn made(&self) -> Option<&dyn Made> {
        Some(self)
    }

    /// Over the relay when this process has one, else by the engine's `exec`.
    fn call(
        &self,
        argv: &[String],
        stdin: Option<&Path>,
        limit: Duration,
    ) -> Result<Output, RemoteError> {
        if relayed::is_open(&self.container) {
            let body = match stdin {
                Some(path) => std::fs::read(path).map_err(crate::remote::io(path))?,
                None => Vec::new(),
            };
            let at = Some(MADE_CLONE);
            match relayed::call(&self.container, argv, at, &body, limit, MAX_ANSWER) {
                Some(Ok(out)) => return Ok(out),
                Some(Err(relayed::Failed::NotSent)) | None => {}
                Some(Err(f)) => return Err(self.channel_failed(f)),
            }
        }
        crate::remote::place::call_by_exec(self, argv, stdin, limit)
    }

    /// As a pack over the relay when this process has one, else over git's transport.
    fn push_ref(&self, repo: &Path, commit: &str, dst: &str) -> Result<(), RemoteError> {
        let to = (self.container.as_str(), self.place.as_str());
        relayed::push(to, &self.scratch, repo, commit, dst)
            .unwrap_or_else(|| crate::remote::place::push_by_git(self, repo, commit, dst))
    }

    /// As a bundle over the relay when this process has one, else over git's transport.
    fn fetch_ref(&self, repo: &Path, src: &str, dst: &str) -> Result<(), RemoteError> {
        let from = (self.container.as_str(), self.place.as_str());
        relayed::fetch(from, &self.scratch, repo, src, dst)
            .unwrap_or_else(|| crate::remote::place::fetch_by_git(self, repo, src, dst))
    }

    /// `ENGINE exec -i [-t] -w CLONE NAME ARGV…`: no shell on either side.
    fn in_clone(&self, argv: &[String], tty: bool) -> Cmd {
        self.exec_as(argv, tty, Some(MADE_CLONE), None)
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

    /// `ext::ENGINE exec -i NAME %S CLONE` (git runs the engine itself, no shell): the
    /// exec's words as `ext::` takes them, joined by spaces.
    fn git_url(&self) -> String {
        let argv = ["%S", MADE_CLONE].map(String::from);
        format!("ext::{}", self.exec_as(&argv, false, None, None).display())
    }

    /// The dev container definition read first, when the host names one (a mount of its
    /// that the host does not list refused), and the host's mounts checked: nothing is made
    /// when either fails.
    fn make(&self, project_root: &Path, fresh: bool) -> Result<(), RemoteError> {
        if let Some(rel) = &self.spec.devcontainer
            && self.defined.get().is_none()
        {
            let defined = devcontainer::read(project_root, rel)?;
            if let Some(detail) = defined.unlisted_mount(&self.spec.mounts, &self.host.name) {
                return Err(RemoteError::Devcontainer {
                    path: PathBuf::from(rel),
                    detail,
                });
            }
            let _ = self.defined.set(defined);
        }
        if self.mounts.get().is_none() {
            let _ = self.mounts.set(self.resolved_mounts()?);
        }
        made::make(self, project_root, fresh)
    }

    /// The relay asked to end when this process has one (the container ends with it and the
    /// engine removes it), else the container removed.
    fn park(&self) -> Result<(), RemoteError> {
        match relayed::end(&self.container, ENGINE_LIMIT) {
            Some(Ok(())) => Ok(()),
            _ => self.stop(),
        }
    }

    fn relayed(&self) -> Option<bool> {
        Some(relayed::is_open(&self.container))
    }

    /// The variables its `--env` arguments give it (its definition's as read so far).
    fn gives_env(&self) -> Vec<String> {
        let defined = self.defined.get().map(|d| &d.env);
        (defined.into_iter().flatten().map(|(k, _)| k))
            .chain(self.spec.env.keys())
            .chain(&self.spec.env_from_host)
            .cloned()
            .collect()
    }

    /// podman that could not set a container's limits: the lines of `containers.conf` that
    /// fix it, at this machine's hard limits.
    fn when_make_fails(&self, failed: &RemoteError) -> String {
        if self.spec.engine == Engine::Podman {
            let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
            let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
                .ok()
                .and_then(|t| t.trim().parse().ok());
            let said = failed.to_string();
            if let Some(fix) = podman_ulimits(&said, &limits, pid_max) {
                return fix;
            }
        }
        "when the engine fails to start any container here, its own configuration may need \
         changing: podman reads containers.conf, or the file CONTAINERS_CONF names"
            .into()
    }
}

/// What to write into podman's `containers.conf` when it cannot give a container its
/// default limits (`error setting rlimit type 7: operation not permitted`, runc; crun's
/// `setrlimit \`RLIMIT_NOFILE\``): `default_ulimits` at this machine's hard limits, read
/// from `limits` (the text of `/proc/self/limits`), those it has at all; processes at most
/// `pid_max` (`/proc/sys/kernel/pid_max`: more was refused as type 6 where it is lower than
/// the hard limit). `None` when the engine's error `said` is not about limits.
pub(in crate::remote) fn podman_ulimits(
    said: &str,
    limits: &str,
    pid_max: Option<u64>,
) -> Option<String> {
    if !said.to_ascii_lowercase().contains("rlimit") {
        return None;
    }
    let hard = |name: &str| {
        let line = limits.lines().find(|l| l.starts_with(name))?;
        let mut fields = line[name.len()..].split_whitespace();
        let (_soft, hard) = (fields.next()?, fields.next()?);
        match hard {
            "unlimited" => Some(u64::MAX),
            n => n.parse::<u64>().ok(),
        }
    };
    let nproc = hard("Max processes").map(|h| pid_max.map_or(h, |p| h.min(p)));
    let ulimits: Vec<String> = [("nofile", hard("Max open files")), ("nproc", nproc)]
        .into_iter()
        .filter_map(|(key, limit)| {
            let h = limit.filter(|h| *h != u64::MAX)?;
            Some(format!("\"{key}={h}:{h}\""))
        })
        .collect();
    Some(format!(
        "podman could not give the container its default limits, which exceed this machine's \
         hard ones: put these lines into ~/.config/containers/containers.conf (as root, \
         /etc/containers/containers.conf; or the file CONTAINERS_CONF names): `[containers]` \
         and `default_ulimits = [{}]`",
        ulimits.join(", ")
    ))
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_first_process_tells_a_relay_let_go_by_its_own_exit_status() {
        let let_go = format!("[ \"$s\" -eq {} ]", crate::remote::relay::LET_GO);
        assert!(super::RELAYED.contains(&let_go), "{}", super::RELAYED);
    }
    use std::path::Path;

    use super::Container;
    use crate::config::{Config, HostKind, Mount, MountKind};
    use crate::ids::DispatchId;
    use crate::remote::RemoteError;
    use crate::remote::place::Here;

    /// The container of a host whose `mounts:` is `mounts`, on a machine whose home, project
    /// and signing key are under `root`.
    fn with_mounts(root: &Path, mounts: &[(&Path, MountKind)]) -> Result<Vec<Mount>, RemoteError> {
        let list: Vec<String> = mounts
            .iter()
            .enumerate()
            .map(|(i, (source, kind))| {
                format!(
                    "{{type: {}, source: '{}', target: /m{i}}}",
                    kind.name(),
                    source.display()
                )
            })
            .collect();
        let text = format!(
            "hosts:\n  box:\n    container: {{image: w, mounts: [{}]}}\n",
            list.join(", ")
        );
        let config: Config = crate::config::parse(&text, Path::new(".vnx/config.yaml")).unwrap();
        let host = &config.hosts["box"];
        let HostKind::Container(spec) = &host.kind else {
            panic!("a container host")
        };
        let (home, data, key) = (
            root.join("home"),
            root.join("proj/.vnx-data"),
            root.join("home/.config/vnx/checkpoint.key"),
        );
        let here = Here {
            data_dir: &data,
            home: Some(&home),
            key: Some(&key),
        };
        let id = DispatchId::parse("D-0c0c0c0c0c0c").unwrap();
        Container::new(host, spec, &id, here).resolved_mounts()
    }

    #[test]
    fn variables_from_vnxs_environment_are_passed_by_name_only() {
        let text = "hosts:\n  box:\n    container:\n      image: w\n      env: {MODEL_URL: 'http://m:1'}\n      env_from_host: [ANTHROPIC_API_KEY]\n";
        let config: Config = crate::config::parse(text, Path::new(".vnx/config.yaml")).unwrap();
        let host = &config.hosts["box"];
        let HostKind::Container(spec) = &host.kind else {
            panic!("a container host")
        };
        let here = Here {
            data_dir: Path::new("/p/.vnx-data"),
            home: None,
            key: None,
        };
        let id = DispatchId::parse("D-0c0c0c0c0c0c").unwrap();
        let args = Container::new(host, spec, &id, here).env_args();
        assert_eq!(
            args,
            [
                "--env",
                "HOME=/work/home",
                "--env",
                "MODEL_URL=http://m:1",
                "--env",
                "ANTHROPIC_API_KEY"
            ]
        );
    }

    #[test]
    fn a_mount_that_would_show_the_home_the_ledger_or_the_key_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        for dir in [
            "home/data",
            "home/.config",
            "proj/.vnx-data/state",
            "proj/src",
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        std::os::unix::fs::symlink(root.join("home"), root.join("link")).unwrap();
        let bind = MountKind::Bind;
        let ok = with_mounts(
            &root,
            &[
                (&root.join("home/data"), bind),
                (&root.join("proj/src"), bind),
                (Path::new("cache"), MountKind::Volume),
            ],
        )
        .unwrap();
        assert_eq!(ok[0].source, root.join("home/data").to_str().unwrap());
        for (source, says) in [
            (root.join("home"), "the home directory"),
            (root.clone(), "the home directory"),
            (root.join("link"), "the home directory"),
            (root.join("proj"), ".vnx-data"),
            (root.join("proj/.vnx-data/state"), ".vnx-data"),
            (root.join("home/.config"), "the signing key's directory"),
            (root.join("missing"), "cannot be used here"),
        ] {
            let err = with_mounts(&root, &[(&source, bind)])
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{}: {err}", source.display());
            assert!(err.contains("host `box`'s mount `type=bind"), "{err}");
        }
    }
}
