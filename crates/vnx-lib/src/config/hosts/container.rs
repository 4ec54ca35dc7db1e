//! A `container:` host of `.vnx/config.yaml`: the user's own engine client (podman or
//! docker) and the image (or the project's dev container definition) a fresh container per
//! dispatch starts from, its resources, network, variables, logins, user and mounts;
//! validated with line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::config::checked::{Checked, Validator, is_variable, q};
use crate::config::mounts::{Mount, RawMount};

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

impl Validator<'_> {
    /// A container host's engine, image, resources and network. The image and the memory are
    /// passed to the engine as arguments of their own, so neither may look like an option.
    pub(super) fn container_host(
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
        let env_from_host = self.distinct(c.env_from_host, |name| {
            if is_variable(&name) && !env.contains_key(&name) {
                return Ok(name);
            }
            Err(format!(
                "{at}.container.env_from_host names variables of vnx's environment, each once and not also in env, not {}",
                q(&name)
            ))
        })?;
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
