//! The `hosts:` section of `.vnx/config.yaml`: remote machines dispatches can run on, each
//! reached over OpenSSH (a destination and extra `ssh` arguments), with the path of the
//! project's clone there, its capacity, and the `vnx` it runs; validated with line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::schema::Entries;
use super::validation::{Checked, Validator, is_name, q};

/// One remote host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// Its name in vnx (`--host NAME`, `refs/vnx/hosts/NAME/…`).
    pub name: String,
    /// The `ssh` destination (`user@host`, or a `Host` alias of the ssh configuration).
    pub ssh: String,
    /// Extra `ssh` arguments before the destination (`["-F", "path"]`, `["-p", "2222"]`).
    pub ssh_args: Vec<String>,
    /// The absolute path of the project's clone on the host.
    pub clone: String,
    /// How many dispatches it runs at once.
    pub capacity: u32,
    /// The `vnx` program on the host (a name on its `PATH`, or an absolute path).
    pub vnx: String,
    /// Seconds the host may stay unreachable before its running dispatches count as lost.
    pub lost_after_seconds: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHost {
    ssh: Spanned<String>,
    ssh_args: Option<Vec<Spanned<String>>>,
    clone: Spanned<String>,
    capacity: Option<Spanned<i64>>,
    vnx: Option<Spanned<String>>,
    lost_after_seconds: Option<Spanned<i64>>,
}

/// The most dispatches one host may run at once.
const MAX_CAPACITY: u32 = 256;

impl Validator<'_> {
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
            // A destination starting with `-` would be read by ssh as an option.
            if h.ssh.value.is_empty()
                || h.ssh.value.starts_with('-')
                || h.ssh.value.contains(char::is_whitespace)
            {
                let msg = format!(
                    "{at}.ssh must be an ssh destination (user@host or a Host alias), not {}",
                    q(&h.ssh.value)
                );
                return self.err(&h.ssh.referenced, msg);
            }
            if !h.clone.value.starts_with('/') || h.clone.value.contains('\n') {
                let msg = format!(
                    "{at}.clone must be the absolute path of the project's clone on the host, \
                     not {}",
                    q(&h.clone.value)
                );
                return self.err(&h.clone.referenced, msg);
            }
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
                    ssh: h.ssh.value,
                    ssh_args: h
                        .ssh_args
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| a.value)
                        .collect(),
                    clone: h.clone.value,
                    capacity,
                    vnx,
                    lost_after_seconds,
                },
            );
        }
        Ok(hosts)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        super::super::parse(text, std::path::Path::new(".vnx/config.yaml"))
    }

    #[test]
    fn hosts_are_read_with_their_defaults() {
        let c = parse("hosts:\n  gpu1:\n    ssh: dev@gpu1\n    clone: /srv/app\n").unwrap();
        let h = &c.hosts["gpu1"];
        assert_eq!(
            (h.ssh.as_str(), h.clone.as_str(), h.capacity, h.vnx.as_str()),
            ("dev@gpu1", "/srv/app", 1, "vnx")
        );
        assert_eq!(h.lost_after_seconds, 3600);
        assert!(h.ssh_args.is_empty());
        let c = parse(
            "hosts:\n  b:\n    ssh: b\n    ssh_args: [-p, '2222']\n    clone: /c\n    capacity: 3\n    vnx: /opt/vnx\n    lost_after_seconds: 60\n",
        )
        .unwrap();
        let h = &c.hosts["b"];
        assert_eq!(h.ssh_args, ["-p", "2222"]);
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
        ] {
            let e = parse(yaml).unwrap_err().to_string();
            assert!(e.contains(says), "{yaml}: {e}");
        }
    }
}
