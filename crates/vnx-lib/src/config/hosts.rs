//! The `hosts:` section of `.vnx/config.yaml`: the places dispatches can run besides this
//! machine, each of one kind — a machine reached over OpenSSH (a destination, extra `ssh`
//! arguments and the path of the project's clone there), or a container engine that makes a
//! fresh container per dispatch (the engine, the image, its resources and network) — with its
//! capacity and the `vnx` it runs; validated with line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::Entries;
use super::checked::{Checked, Validator, is_name, q};
use super::kubernetes::{KubernetesHost, RawKubernetes};
use super::mounts::{Mount, RawMount};

/// One place dispatches can run.
#[derive(Clone, Debug, PartialEq)]
pub struct HostConfig {
    /// Its name in vnx (`--host NAME`, `refs/vnx/hosts/NAME/…`).
    pub name: String,
    /// How it is reached, and who makes it.
    pub kind: HostKind,
    /// The absolute path of the project's clone there (a container's is
    /// [`CONTAINER_CLONE`]).
    pub clone: String,
    /// How many dispatches it runs at once.
    pub capacity: u32,
    /// The `vnx` program there (a name on its `PATH`, or an absolute path).
    pub vnx: String,
    /// Seconds it may stay unreachable before its running dispatches count as lost.
    pub lost_after_seconds: u64,
}

/// How a host is reached, and who makes and removes it.
#[derive(Clone, Debug, PartialEq)]
pub enum HostKind {
    /// A machine the user set up, reached over OpenSSH.
    Ssh {
        /// The `ssh` destination (`user@host`, or a `Host` alias of the ssh configuration).
        destination: String,
        /// Extra `ssh` arguments before the destination (`["-F", "path"]`, `["-p", "2222"]`).
        args: Vec<String>,
    },
    /// A fresh container per dispatch, made and removed by vnx.
    Container(ContainerHost),
    /// A pod per dispatch in the user's cluster, made and removed by vnx through `kubectl`.
    Kubernetes(Box<KubernetesHost>),
}

/// A container host: the user's own engine client and an image with git, tmux and vnx.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerHost {
    /// The engine's client.
    pub engine: Engine,
    /// The image each dispatch's container starts from; none when `devcontainer` names it.
    pub image: Option<String>,
    /// The project's dev container definition the image (and variables) come from, relative
    /// to the project's root (see `remote::devcontainer`).
    pub devcontainer: Option<String>,
    /// CPUs the container may use (`--cpus`), when limited.
    pub cpus: Option<f64>,
    /// Memory the container may use (`--memory`, e.g. `4g`), when limited.
    pub memory: Option<String>,
    /// Whether the container has a network.
    pub network: Network,
    /// Variables set in the container (`--env`), for its CLIs (a model server's address).
    pub env: BTreeMap<String, String>,
    /// Variables the container gets from vnx's own environment, by name (`--env NAME`: the
    /// engine's client reads the value, which never is an argument; one not set is not set
    /// there): an API key kept out of the repository.
    pub env_from_host: Vec<String>,
    /// The CLIs whose login and settings files in the home directory here are made
    /// available, read-only, and copied into the container's home.
    pub logins: Vec<String>,
    /// Who the place's commands run as (`--user`), and whose its volume's files are; none:
    /// the dev container definition's `remoteUser`, else the image's user.
    pub user: Option<String>,
    /// What the engine mounts besides the dispatch's volume (`--mount`): the user's own
    /// list, which alone lets a dev container definition's mount through.
    pub mounts: Vec<Mount>,
}

/// A container engine's client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// `podman`.
    Podman,
    /// `docker`, which takes the same arguments.
    Docker,
}

impl Engine {
    /// The client's program name.
    pub fn program(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Docker => "docker",
        }
    }
}

/// A container's network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// None at all (`--network=none`): the worker reaches nothing.
    None,
    /// The engine's default network.
    Default,
    /// This machine's own network (`--network=host`): the worker reaches what this machine
    /// reaches, loopback services included (a model server here).
    Host,
}

/// Where the project's clone is in a dispatch's container (on its volume).
pub const CONTAINER_CLONE: &str = "/work/repo";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHost {
    ssh: Option<Spanned<String>>,
    ssh_args: Option<Vec<Spanned<String>>>,
    clone: Option<Spanned<String>>,
    container: Option<Spanned<RawContainer>>,
    kubernetes: Option<Spanned<RawKubernetes>>,
    capacity: Option<Spanned<i64>>,
    vnx: Option<Spanned<String>>,
    lost_after_seconds: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContainer {
    engine: Option<Spanned<String>>,
    image: Option<Spanned<String>>,
    devcontainer: Option<Spanned<String>>,
    cpus: Option<Spanned<f64>>,
    memory: Option<Spanned<String>>,
    network: Option<Spanned<String>>,
    env: Option<Spanned<BTreeMap<String, String>>>,
    env_from_host: Option<Vec<Spanned<String>>>,
    logins: Option<Vec<Spanned<String>>>,
    user: Option<Spanned<String>>,
    mounts: Option<Vec<Spanned<RawMount>>>,
}

/// Whether `s` is an environment variable's name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_variable(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The most dispatches one host may run at once.
const MAX_CAPACITY: u32 = 256;

impl Validator<'_> {
    /// A place's `env:` (at `at`): variables vnx can set, by name and value.
    pub(super) fn env(
        &self,
        at: &str,
        env: Option<Spanned<BTreeMap<String, String>>>,
    ) -> Checked<BTreeMap<String, String>> {
        let Some(env) = env else {
            return Ok(BTreeMap::new());
        };
        match (env.value.iter()).find(|(k, v)| !is_variable(k) || v.contains('\0')) {
            Some((k, _)) => {
                let msg = format!("{at}.env has a variable vnx cannot set: {}", q(k));
                self.err(&env.referenced, msg)
            }
            None => Ok(env.value),
        }
    }

    /// A place's `logins:` (at `at`): built-in CLIs, by the registry's names.
    pub(super) fn logins(
        &self,
        at: &str,
        logins: Option<Vec<Spanned<String>>>,
    ) -> Checked<Vec<String>> {
        let mut out = Vec::new();
        for cli in logins.unwrap_or_default() {
            if crate::provider::cli::named(&cli.value).is_none() {
                let msg = format!(
                    "{at}.logins names {}, which is not a built-in CLI",
                    q(&cli.value)
                );
                return self.err(&cli.referenced, msg);
            }
            out.push(cli.value);
        }
        Ok(out)
    }

    /// `hosts:`.
    pub(super) fn hosts(&self, raw: Entries<RawHost>) -> Checked<BTreeMap<String, HostConfig>> {
        let mut hosts = BTreeMap::new();
        for (name, h) in raw.0 {
            if !is_name(&name.value, u8::is_ascii_lowercase, b"-_", 1..=32) || name.value == "any" {
                let msg = format!(
                    "{} is not a valid host name: use 1-32 lowercase letters, digits, `-` or \
                     `_`, starting with a letter (`any` is reserved)",
                    q(&name.value)
                );
                return self.err(&name.referenced, msg);
            }
            let at = format!("hosts.{}", name.value);
            let (kind, clone) = match (h.ssh, h.container, h.kubernetes) {
                (Some(ssh), None, None) => self.ssh_host(&at, ssh, h.ssh_args, h.clone)?,
                (None, Some(container), None) => {
                    self.ssh_fields_absent(&at, &h.ssh_args, &h.clone, &container.referenced)?;
                    let c = self.container_host(&at, container.value, &container.referenced)?;
                    (HostKind::Container(c), CONTAINER_CLONE.to_owned())
                }
                (None, None, Some(kubernetes)) => {
                    self.ssh_fields_absent(&at, &h.ssh_args, &h.clone, &kubernetes.referenced)?;
                    let k = self.kubernetes_host(&at, kubernetes.value, &kubernetes.referenced)?;
                    (
                        HostKind::Kubernetes(Box::new(k)),
                        CONTAINER_CLONE.to_owned(),
                    )
                }
                (None, None, None) => {
                    let msg = format!(
                        "{at} needs `ssh:` (a machine reached over OpenSSH), `container:` (a \
                         fresh container per dispatch) or `kubernetes:` (a pod per dispatch)"
                    );
                    return self.err(&name.referenced, msg);
                }
                _ => {
                    let msg = format!(
                        "{at} is one kind of host: `ssh:`, `container:` or `kubernetes:`, not \
                         two of them"
                    );
                    return self.err(&name.referenced, msg);
                }
            };
            let capacity = match h.capacity {
                None => 1,
                Some(c) => match u32::try_from(c.value)
                    .ok()
                    .filter(|n| (1..=MAX_CAPACITY).contains(n))
                {
                    Some(n) => n,
                    None => {
                        let msg = format!(
                            "{at}.capacity must be between 1 and {MAX_CAPACITY}, not {}",
                            c.value
                        );
                        return self.err(&c.referenced, msg);
                    }
                },
            };
            let lost_after_seconds = match h.lost_after_seconds {
                None => 3600,
                Some(s) => match u64::try_from(s.value)
                    .ok()
                    .filter(|n| (1..=super::MAX_DEADLINE_SECS).contains(n))
                {
                    Some(n) => n,
                    None => {
                        let msg = format!(
                            "{at}.lost_after_seconds must be between 1 and {}, not {}",
                            super::MAX_DEADLINE_SECS,
                            s.value
                        );
                        return self.err(&s.referenced, msg);
                    }
                },
            };
            let vnx = match h.vnx {
                None => "vnx".to_owned(),
                Some(v) if !v.value.is_empty() && !v.value.contains('\n') => v.value,
                Some(v) => {
                    let msg = format!("{at}.vnx must name the vnx program on the host");
                    return self.err(&v.referenced, msg);
                }
            };
            hosts.insert(
                name.value.clone(),
                HostConfig {
                    name: name.value,
                    kind,
                    clone,
                    capacity,
                    vnx,
                    lost_after_seconds,
                },
            );
        }
        Ok(hosts)
    }

    /// Refuses an ssh host's fields on a host of another kind.
    fn ssh_fields_absent(
        &self,
        at: &str,
        args: &Option<Vec<Spanned<String>>>,
        clone: &Option<Spanned<String>>,
        spot: &serde_saphyr::Location,
    ) -> Checked<()> {
        for (given, field) in [(args.is_some(), "ssh_args"), (clone.is_some(), "clone")] {
            if given {
                let msg = format!("{at}.{field} is for an ssh host only");
                return self.err(spot, msg);
            }
        }
        Ok(())
    }

    /// An ssh host's destination, arguments and clone.
    fn ssh_host(
        &self,
        at: &str,
        ssh: Spanned<String>,
        args: Option<Vec<Spanned<String>>>,
        clone: Option<Spanned<String>>,
    ) -> Checked<(HostKind, String)> {
        // A destination starting with `-` would be read by ssh as an option.
        if ssh.value.is_empty()
            || ssh.value.starts_with('-')
            || ssh.value.contains(char::is_whitespace)
        {
            let msg = format!(
                "{at}.ssh must be an ssh destination (user@host or a Host alias), not {}",
                q(&ssh.value)
            );
            return self.err(&ssh.referenced, msg);
        }
        let Some(clone) = clone else {
            let msg = format!("{at}.clone must name the project's clone on the host");
            return self.err(&ssh.referenced, msg);
        };
        if !clone.value.starts_with('/') || clone.value.contains('\n') {
            let msg = format!(
                "{at}.clone must be the absolute path of the project's clone on the host, not {}",
                q(&clone.value)
            );
            return self.err(&clone.referenced, msg);
        }
        let kind = HostKind::Ssh {
            destination: ssh.value,
            args: args
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.value)
                .collect(),
        };
        Ok((kind, clone.value))
    }

    /// A container host's engine, image, resources and network. The image and the memory are
    /// passed to the engine as arguments of their own, so neither may look like an option.
    fn container_host(
        &self,
        at: &str,
        c: RawContainer,
        at_spot: &serde_saphyr::Location,
    ) -> Checked<ContainerHost> {
        let engine = match &c.engine {
            None => Engine::Podman,
            Some(e) if e.value == "podman" => Engine::Podman,
            Some(e) if e.value == "docker" => Engine::Docker,
            Some(e) => {
                let msg = format!(
                    "{at}.container.engine must be podman or docker, not {}",
                    q(&e.value)
                );
                return self.err(&e.referenced, msg);
            }
        };
        let plain = |v: &str| {
            !v.is_empty()
                && v.len() <= 255
                && !v.starts_with('-')
                && !v.contains(|c: char| c.is_whitespace() || c.is_control())
        };
        match (&c.image, &c.devcontainer) {
            (Some(image), None) if !plain(&image.value) => {
                let msg = format!(
                    "{at}.container.image must name an image (e.g. localhost/vnx-worker), not {}",
                    q(&image.value)
                );
                return self.err(&image.referenced, msg);
            }
            (None, Some(file))
                if !file.value.ends_with(".json")
                    || !std::path::Path::new(&file.value)
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_))) =>
            {
                let msg = format!(
                    "{at}.container.devcontainer must be a .json file in the project, such as \
                     .devcontainer/devcontainer.json, not {}",
                    q(&file.value)
                );
                return self.err(&file.referenced, msg);
            }
            (Some(_), None) | (None, Some(_)) => {}
            (Some(image), Some(_)) => {
                let msg = format!("{at}.container takes `image` or `devcontainer`, not both");
                return self.err(&image.referenced, msg);
            }
            (None, None) => {
                let msg = format!("{at}.container needs `image` (or `devcontainer`)");
                return self.err(at_spot, msg);
            }
        }
        if let Some(cpus) = &c.cpus
            && !(cpus.value > 0.0 && cpus.value <= 1024.0)
        {
            let msg = format!(
                "{at}.container.cpus must be more than 0 and at most 1024, not {}",
                cpus.value
            );
            return self.err(&cpus.referenced, msg);
        }
        if let Some(memory) = &c.memory {
            let digits = memory.value.trim_end_matches(['b', 'k', 'm', 'g']);
            let unit_len = memory.value.len() - digits.len();
            if digits.is_empty() || unit_len > 1 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                let msg = format!(
                    "{at}.container.memory must be a size such as 512m or 4g, not {}",
                    q(&memory.value)
                );
                return self.err(&memory.referenced, msg);
            }
        }
        let network = match &c.network {
            None => Network::None,
            Some(n) if n.value == "none" => Network::None,
            Some(n) if n.value == "default" => Network::Default,
            Some(n) if n.value == "host" => Network::Host,
            Some(n) => {
                let msg = format!(
                    "{at}.container.network must be none, default or host, not {}",
                    q(&n.value)
                );
                return self.err(&n.referenced, msg);
            }
        };
        let env = self.env(&format!("{at}.container"), c.env)?;
        let mut env_from_host = Vec::new();
        for name in c.env_from_host.unwrap_or_default() {
            if !is_variable(&name.value) || env.contains_key(&name.value) {
                let msg = format!(
                    "{at}.container.env_from_host names variables of vnx's environment, each                      once and not also in env, not {}",
                    q(&name.value)
                );
                return self.err(&name.referenced, msg);
            }
            if !env_from_host.contains(&name.value) {
                env_from_host.push(name.value);
            }
        }
        let logins = self.logins(&format!("{at}.container"), c.logins)?;
        let user = self.user(&format!("{at}.container"), c.user)?;
        let mounts = self.mounts(&format!("{at}.container"), c.mounts)?;
        Ok(ContainerHost {
            engine,
            image: c.image.map(|i| i.value),
            devcontainer: c.devcontainer.map(|d| d.value),
            cpus: c.cpus.map(|c| c.value),
            memory: c.memory.map(|m| m.value),
            network,
            env,
            env_from_host,
            logins,
            user,
            mounts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError};
    use super::{CONTAINER_CLONE, ContainerHost, Engine, HostKind, Network};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        super::super::parse(text, std::path::Path::new(".vnx/config.yaml"))
    }

    #[test]
    fn hosts_are_read_with_their_defaults() {
        let c = parse("hosts:\n  gpu1:\n    ssh: dev@gpu1\n    clone: /srv/app\n").unwrap();
        let h = &c.hosts["gpu1"];
        assert_eq!(
            (h.clone.as_str(), h.capacity, h.vnx.as_str()),
            ("/srv/app", 1, "vnx")
        );
        assert_eq!(h.lost_after_seconds, 3600);
        assert_eq!(
            h.kind,
            HostKind::Ssh {
                destination: "dev@gpu1".into(),
                args: Vec::new()
            }
        );
        let c = parse(
            "hosts:\n  b:\n    ssh: b\n    ssh_args: [-p, '2222']\n    clone: /c\n    capacity: 3\n    vnx: /opt/vnx\n    lost_after_seconds: 60\n",
        )
        .unwrap();
        let h = &c.hosts["b"];
        assert!(matches!(&h.kind, HostKind::Ssh { args, .. } if args == &["-p", "2222"]));
        assert_eq!(
            (h.capacity, h.vnx.as_str(), h.lost_after_seconds),
            (3, "/opt/vnx", 60)
        );
    }

    #[test]
    fn bad_hosts_are_refused_with_where() {
        for (yaml, says) in [
            (
                "hosts:\n  Any:\n    ssh: a\n    clone: /c\n",
                "not a valid host name",
            ),
            (
                "hosts:\n  any:\n    ssh: a\n    clone: /c\n",
                "`any` is reserved",
            ),
            (
                "hosts:\n  a:\n    ssh: -oProxyCommand=x\n    clone: /c\n",
                "hosts.a.ssh must be",
            ),
            (
                "hosts:\n  a:\n    ssh: a\n    clone: relative\n",
                "hosts.a.clone must be",
            ),
            (
                "hosts:\n  a:\n    ssh: a\n    clone: /c\n    capacity: 0\n",
                "capacity must be",
            ),
            (
                "hosts:\n  a:\n    ssh: a\n    clone: /c\n    colour: red\n",
                "unknown field",
            ),
            ("hosts:\n  a:\n    capacity: 2\n", "needs `ssh:`"),
            ("hosts:\n  a:\n    ssh: a\n", "hosts.a.clone must name"),
            (
                "hosts:\n  a:\n    ssh: a\n    clone: /c\n    container: {image: i}\n",
                "not two of them",
            ),
            (
                "hosts:\n  a:\n    container: {image: i}\n    clone: /c\n",
                "hosts.a.clone is for an ssh host",
            ),
            (
                "hosts:\n  a:\n    container: {image: --privileged}\n",
                "container.image must name an image",
            ),
            (
                "hosts:\n  a:\n    container: {image: i, engine: lxc}\n",
                "engine must be podman or docker",
            ),
            (
                "hosts:\n  a:\n    container: {image: i, memory: lots}\n",
                "memory must be a size",
            ),
            (
                "hosts:\n  a:\n    container: {image: i, cpus: 0}\n",
                "cpus must be more than 0",
            ),
            (
                "hosts:\n  a:\n    container: {image: i, network: bridge}\n",
                "network must be none, default or host",
            ),
            (
                "hosts:\n  a:\n    container: {image: i, privileged: true}\n",
                "unknown field",
            ),
        ] {
            let e = parse(yaml).unwrap_err().to_string();
            assert!(e.contains(says), "{yaml}: {e}");
        }
    }

    #[test]
    fn a_container_host_is_read_with_its_defaults() {
        let c = parse(
            "hosts:\n  box:\n    container: {image: localhost/vnx-worker}\n    capacity: 4\n",
        )
        .unwrap();
        let h = &c.hosts["box"];
        assert_eq!(
            (h.clone.as_str(), h.capacity, h.vnx.as_str()),
            (CONTAINER_CLONE, 4, "vnx")
        );
        assert_eq!(
            h.kind,
            HostKind::Container(ContainerHost {
                engine: Engine::Podman,
                image: Some("localhost/vnx-worker".into()),
                devcontainer: None,
                cpus: None,
                memory: None,
                network: Network::None,
                env: Default::default(),
                env_from_host: Vec::new(),
                logins: Vec::new(),
                user: None,
                mounts: Vec::new(),
            })
        );
        let c = parse(
            "hosts:\n  d:\n    container:\n      engine: docker\n      image: w\n      cpus: 1.5\n      memory: 4g\n      network: default\n",
        )
        .unwrap();
        let HostKind::Container(d) = &c.hosts["d"].kind else {
            panic!("a container host")
        };
        assert_eq!(
            (d.engine, d.cpus, d.memory.as_deref(), d.network),
            (Engine::Docker, Some(1.5), Some("4g"), Network::Default)
        );
        // Two built-in CLIs, by the registry's names.
        let names: Vec<&str> = crate::provider::cli::CLIS[..2]
            .iter()
            .map(|c| c.provider().name())
            .collect();
        let c = parse(&format!(
            "hosts:\n  d:\n    container:\n      image: w\n      env: {{MODEL_URL: 'http://h:1'}}\n      logins: [{}]\n",
            names.join(", ")
        ))
        .unwrap();
        let HostKind::Container(d) = &c.hosts["d"].kind else {
            panic!("a container host")
        };
        assert_eq!(d.env["MODEL_URL"], "http://h:1");
        assert_eq!(d.logins, names);
        // Variables of vnx's own environment, by name: a key kept out of the repository.
        let c = parse(
            "hosts:\n  d:\n    container:\n      image: w\n      env_from_host: [ANTHROPIC_API_KEY, OPENAI_API_KEY]\n",
        )
        .unwrap();
        let HostKind::Container(d) = &c.hosts["d"].kind else {
            panic!("a container host")
        };
        assert_eq!(d.env_from_host, ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]);
        for bad in ["[\"A=B\"]", "[MODEL_URL]"] {
            let text = format!(
                "hosts:\n  d:\n    container:\n      image: w\n      env: {{MODEL_URL: x}}\n      env_from_host: {bad}\n"
            );
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.contains("env_from_host names variables"),
                "{bad}: {err}"
            );
        }
        let c =
            parse("hosts:\n  d:\n    container: {devcontainer: .devcontainer/devcontainer.json}\n")
                .unwrap();
        let HostKind::Container(d) = &c.hosts["d"].kind else {
            panic!("a container host")
        };
        assert_eq!(
            (d.image.as_deref(), d.devcontainer.as_deref()),
            (None, Some(".devcontainer/devcontainer.json"))
        );
        for (yaml, says) in [
            ("env: {'A B': x}", "env has a variable"),
            ("logins: [vim]", "logins names `vim`"),
            ("devcontainer: x.json", "not both"),
        ] {
            let text = format!("hosts:\n  d:\n    container: {{image: w, {yaml}}}\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(says), "{yaml}: {err}");
        }
        for (yaml, says) in [
            (
                "{devcontainer: ../outside.json}",
                "must be a .json file in the project",
            ),
            (
                "{devcontainer: /etc/x.json}",
                "must be a .json file in the project",
            ),
            (
                "{devcontainer: .devcontainer/Dockerfile}",
                "must be a .json file",
            ),
            ("{cpus: 1}", "needs `image`"),
            ("{image: ''}", "must name an image"),
        ] {
            let text = format!("hosts:\n  d:\n    container: {yaml}\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(says), "{yaml}: {err}");
        }
    }
}
