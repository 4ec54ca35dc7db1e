//! `vnx doctor --host NAME`: what a host needs, checked in its place (over ssh, or in a
//! container made for the checks) — the link, the clone, the host's vnx and its version, git,
//! tmux, and the worker CLIs there.

use std::time::Duration;

use serde::Serialize;

use super::launch::check_vnx;
use super::sync::Link;

/// One check on a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostCheck {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// Whether it passed with a warning (a worker CLI the host does not have).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warn: bool,
    /// What was found, in words.
    pub detail: String,
}

impl HostCheck {
    /// Check `name`, passed or failed (`ok`), with a warning or not, having found `detail`.
    fn new(name: &str, ok: bool, warn: bool, detail: String) -> HostCheck {
        HostCheck {
            name: name.to_owned(),
            ok,
            warn,
            detail,
        }
    }
}

/// The programs looked for on the host, besides vnx: git, tmux and each built-in CLI's, once
/// (a local model runs in another CLI's program).
fn tools() -> Vec<&'static str> {
    REQUIRED
        .into_iter()
        .chain(crate::provider::cli::programs())
        .collect()
}

/// The programs that are required (the CLIs are as the dispatches need them).
const REQUIRED: [&str; 2] = ["git", "tmux"];

/// Runs every check on the link's host; for a host that makes a place per dispatch, in a
/// place made for them (a container host's: one container from its image, removed after),
/// the making first.
pub fn check(link: &Link<'_>) -> Vec<HostCheck> {
    if link.place.made().is_none() {
        return checks(link);
    }
    let engine = |ok, detail| HostCheck::new("engine", ok, false, detail);
    if let Err(e) = link.place.make(&link.project.root, true) {
        return vec![engine(
            false,
            format!("{e} ({})", link.place.when_make_fails(&e)),
        )];
    }
    let mut out = vec![engine(
        true,
        format!("{} made for the checks", link.place.name()),
    )];
    if let Some(relayed) = link.place.relayed() {
        let detail = if relayed {
            "every step goes over one channel into it"
        } else {
            "the image's vnx cannot relay: each step is an engine call of its own, several \
             times slower; build the image again with this vnx (bin/worker-image)"
        };
        out.push(HostCheck::new("relay", true, !relayed, detail.into()));
    }
    out.extend(checks(link));
    if let Err(e) = link.place.remove() {
        out.push(engine(false, format!("could not remove it: {e}")));
    }
    out
}

/// The checks of the link's place, once it is there.
fn checks(link: &Link<'_>) -> Vec<HostCheck> {
    let limit = Duration::from_secs(30);
    let mut out = Vec::new();
    let host = link.place.host();
    let toplevel = ["git", "rev-parse", "--show-toplevel"].map(String::from);
    let reach = link.place.run(link.place.in_clone(&toplevel, false), limit);
    let reached = |ok, detail| HostCheck::new(reach_name(link), ok, false, detail);
    let o = match reach {
        Err(e) => return vec![reached(false, e.to_string())],
        Ok(o) => o,
    };
    out.push(reached(true, format!("{} answers", link.place.name())));
    let clone = if o.status.success() {
        format!("{} is a git clone", host.clone)
    } else {
        let said = String::from_utf8_lossy(&o.stderr);
        format!("{} is not a git clone: {}", host.clone, said.trim())
    };
    out.push(HostCheck::new("clone", o.status.success(), false, clone));
    out.push(match check_vnx(link) {
        Ok(v) => HostCheck::new("vnx", true, false, v),
        Err(e) => HostCheck::new("vnx", false, false, e.to_string()),
    });
    if host.relay_credentials {
        out.push(key_relay(link, limit));
    }
    for tool in tools() {
        // `command -v` is a shell builtin: run through `sh -c` with the name as its argument.
        let probe = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            "command -v \"$1\" && { \"$1\" --version || \"$1\" -V; } 2>/dev/null | head -n 1"
                .to_owned(),
            "sh".to_owned(),
            tool.to_owned(),
        ];
        let found = link.place.run(link.place.in_clone(&probe, false), limit);
        let optional = !REQUIRED.contains(&tool);
        let (ok, warn, detail) = match found {
            Ok(o) if o.status.success() => (true, false, o.text().replace('\n', " ")),
            Ok(_) => (
                optional,
                optional,
                format!("{tool} is not on the host's PATH"),
            ),
            Err(e) => (false, false, e.to_string()),
        };
        out.push(HostCheck::new(tool, ok, warn, detail));
    }
    out
}

/// A host that relays credentials (ADR 0128): its vnx carries the tunnel, and it gives no CLI's
/// relayable key variable itself.
fn key_relay(link: &Link<'_>, limit: Duration) -> HostCheck {
    let given: Vec<String> = (link.place.gives_env().into_iter())
        .filter(|v| {
            (crate::provider::cli::CLIS.iter()).any(|c| c.relayed_key().is_some_and(|k| k.key == v))
        })
        .collect();
    let answered = link.place.vnx(
        &["__key-tunnel".to_owned(), "--help".to_owned()],
        None,
        limit,
    );
    let (ok, detail) = match answered {
        Ok(o) if !o.status.success() => (
            false,
            "the place's vnx has no `__key-tunnel`: install this vnx there (or build the image \
             again with it)"
                .to_owned(),
        ),
        Err(e) => (false, e.to_string()),
        Ok(_) if !given.is_empty() => (
            false,
            format!(
                "it gives its places {} itself, so a worker there would hold the key: take \
                 it out of the host's env",
                given.join(", ")
            ),
        ),
        Ok(_) => (
            true,
            "the place's vnx carries the tunnel; keys stay on this machine".to_owned(),
        ),
    };
    HostCheck::new("credential relay", ok, false, detail)
}

/// What reaching the place is called: `ssh`, or the engine's `exec`.
fn reach_name(link: &Link<'_>) -> &'static str {
    if link.place.made().is_some() {
        "exec"
    } else {
        "ssh"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::kinds::container::podman_ulimits;

    #[test]
    fn a_limit_the_engine_could_not_set_is_answered_with_the_lines_that_fix_it() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             4096                 96364                processes \n\
                      Max open files            1024                 20000                files     \n";
        let said = "Error: runc: runc create failed: unable to start container process: error \
                    during container init: error setting rlimits for ready process: error \
                    setting rlimit type 7: operation not permitted: OCI permission denied";
        // Seen here: nofile at the hard limit starts, nproc only at most pid_max (32768).
        let hint = podman_ulimits(said, limits, Some(32768)).unwrap();
        assert!(
            hint.contains("default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]"),
            "{hint}"
        );
        let hint = podman_ulimits(said, limits, None).unwrap();
        assert!(hint.contains("\"nproc=96364:96364\""), "{hint}");
        assert!(
            hint.contains("~/.config/containers/containers.conf"),
            "{hint}"
        );
        let crun = "Error: crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted: OCI \
                    permission denied";
        let unlimited = "Max processes             unlimited            unlimited            processes \n\
                         Max open files            1024                 4096                 files     \n";
        let hint = podman_ulimits(crun, unlimited, Some(32768)).unwrap();
        assert!(
            hint.contains("[\"nofile=4096:4096\", \"nproc=32768:32768\"]"),
            "{hint}"
        );
        let hint = podman_ulimits(crun, unlimited, None).unwrap();
        assert!(hint.contains("[\"nofile=4096:4096\"]"), "{hint}");
        assert_eq!(podman_ulimits("Error: no such image", limits, None), None);
    }

    #[test]
    fn the_host_is_asked_for_each_clis_program_once() {
        let tools = tools();
        assert_eq!(tools[..2], REQUIRED);
        for cli in crate::provider::cli::CLIS
            .iter()
            .filter(|c| c.separate_binary())
        {
            assert_eq!(
                tools.iter().filter(|t| **t == cli.program()).count(),
                1,
                "{tools:?}"
            );
        }
        // Only programs a dispatch runs: a CLI that runs in another's adds no name of its own.
        for tool in &tools[2..] {
            assert!(
                crate::provider::cli::CLIS
                    .iter()
                    .any(|c| c.separate_binary() && c.program() == *tool),
                "{tool}"
            );
        }
    }
}
