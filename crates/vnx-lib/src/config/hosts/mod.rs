//! The `hosts:` section of `.vnx/config.yaml`, the config schema of the place kinds: the
//! places dispatches can run besides this machine, each of one kind — its section, under the
//! kind's name, read by the kind's module below (`ssh`, `container`, `kubernetes`; their
//! places are registered in `remote::kinds`) — with its capacity and the `vnx` it runs;
//! validated with line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub mod container;
pub mod kubernetes;
pub mod ssh;

use super::checked::Entries;
use super::checked::{Checked, Validator, is_name, is_variable, q};
use container::{ContainerHost, RawContainer};
use kubernetes::{KubernetesHost, RawKubernetes};

/// One place dispatches can run.
#[derive(Clone, Debug, PartialEq)]
pub struct HostConfig {
    /// Its name in vnx (`--host NAME`, `refs/vnx/hosts/NAME/…`).
    pub name: String,
    /// How it is reached, and who makes it.
    pub kind: HostKind,
    /// The absolute path of the project's clone there (a container's is
    /// [`MADE_CLONE`]).
    pub clone: String,
    /// How many dispatches it runs at once.
    pub capacity: u32,
    /// The `vnx` program there (a name on its `PATH`, or an absolute path).
    pub vnx: String,
    /// Seconds it may stay unreachable before its running dispatches count as lost.
    pub lost_after_seconds: u64,
    /// `credentials: relay`: a worker there gets a placeholder for its CLI's key and reaches
    /// its provider through a relay on this machine (ADR 0128); `pass` (the default): the
    /// place's own environment is the worker's.
    pub relay_credentials: bool,
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

impl HostKind {
    /// Every kind's name: its section's key under a host, and what `remote::kinds`
    /// registers it under.
    pub const NAMES: [&'static str; 3] = ["ssh", "container", "kubernetes"];

    /// Its name, one of [`HostKind::NAMES`].
    pub fn name(&self) -> &'static str {
        Self::NAMES[match self {
            HostKind::Ssh { .. } => 0,
            HostKind::Container(_) => 1,
            HostKind::Kubernetes(_) => 2,
        }]
    }
}

/// Where the project's clone is in a dispatch's container (on its volume).
pub const MADE_CLONE: &str = "/work/repo";

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
    credentials: Option<Spanned<String>>,
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
            if !is_name(&name.value, u8::is_ascii_lowercase, b"-_", 1..=32)
                || crate::place_name::RESERVED.contains(&name.value.as_str())
            {
                let msg = format!(
                    "{} is not a valid host name: use 1-32 lowercase letters, digits, `-` or \
                     `_`, starting with a letter (`any` is reserved, and `here` is this machine)",
                    q(&name.value)
                );
                return self.err(&name.referenced, msg);
            }
            let at = format!("hosts.{}", name.value);
            let (kind, clone) = match (h.ssh, h.container, h.kubernetes) {
                (Some(ssh), None, None) => {
                    let (destination, args, clone) =
                        self.ssh_host(&at, ssh, h.ssh_args, h.clone)?;
                    (HostKind::Ssh { destination, args }, clone)
                }
                (None, Some(container), None) => {
                    self.ssh_fields_absent(&at, &h.ssh_args, &h.clone, &container.referenced)?;
                    let c = self.container_host(&at, container.value, &container.referenced)?;
                    (HostKind::Container(c), MADE_CLONE.to_owned())
                }
                (None, None, Some(kubernetes)) => {
                    self.ssh_fields_absent(&at, &h.ssh_args, &h.clone, &kubernetes.referenced)?;
                    let k = self.kubernetes_host(&at, kubernetes.value, &kubernetes.referenced)?;
                    (HostKind::Kubernetes(Box::new(k)), MADE_CLONE.to_owned())
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
                Some(c) => self.between(&format!("{at}.capacity"), &c, 1..=MAX_CAPACITY)?,
            };
            let lost_after_seconds = match h.lost_after_seconds {
                None => 3600,
                Some(s) => {
                    let what = format!("{at}.lost_after_seconds");
                    self.between(&what, &s, 1..=super::checked::MAX_DEADLINE_SECS)?
                }
            };
            let vnx = match h.vnx {
                None => "vnx".to_owned(),
                Some(v) if !v.value.is_empty() && !v.value.contains('\n') => v.value,
                Some(v) => {
                    let msg = format!("{at}.vnx must name the vnx program on the host");
                    return self.err(&v.referenced, msg);
                }
            };
            let relay_credentials = match h.credentials {
                None => false,
                Some(c) if c.value == "relay" => true,
                Some(c) if c.value == "pass" => false,
                Some(c) => {
                    let msg = format!(
                        "{at}.credentials must be relay or pass, not {}",
                        q(&c.value)
                    );
                    return self.err(&c.referenced, msg);
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
                    relay_credentials,
                },
            );
        }
        Ok(hosts)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError};
    use super::container::{ContainerHost, Engine, Network};
    use super::{HostKind, MADE_CLONE};

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
                "hosts:\n  here:\n    ssh: a\n    clone: /c\n",
                "`here` is this machine",
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
            (MADE_CLONE, 4, "vnx")
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
                err.contains(
                    "env_from_host names variables of vnx's environment, each once and not \
                     also in env, not"
                ),
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
