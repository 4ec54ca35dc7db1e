//! The worker CLIs vnx starts itself (the registry's CLIs that are a program of their own):
//! installed or not, their version, and whether every flag vnx passes is still listed in their
//! `--help`.

use std::path::Path;

use super::Check;
use crate::provider::{Provider, flags, help, version};

/// The built-in providers that are a separate binary (the demo is vnx itself), in the
/// registry's order.
pub(super) fn worker_clis() -> impl Iterator<Item = Provider> {
    Provider::ALL
        .into_iter()
        .filter(|p| crate::provider::cli::of(*p).separate_binary())
}

/// `not installed`: the worker CLIs PATH does not find, in one line (a user of one CLI is not
/// told about each other one). Only a warning when no worker CLI is installed (`alone`); the
/// project's config, checked elsewhere, warns about a CLI it names.
pub(super) fn absent(providers: &[Provider], alone: bool) -> Option<Check> {
    const NAME: &str = "not installed";
    if providers.is_empty() {
        return None;
    }
    let listed = providers
        .iter()
        .map(|p| {
            let program = crate::provider::cli::of(*p).program();
            if program == p.name() {
                p.name().to_owned()
            } else {
                format!("{} (`{program}`)", p.name())
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    if !alone {
        return Some(Check::pass(
            NAME,
            format!("{listed}: not on PATH; dispatches to them are refused"),
        ));
    }
    Some(Check::warn(
        NAME,
        format!("no worker CLI is on PATH ({listed}): only the offline `demo` provider runs"),
        "install the CLI you dispatch to (the README's Install section), or put it on PATH",
    ))
}

/// Checks one installed CLI; `binary` is where PATH finds it.
pub(super) fn check(provider: Provider, binary: &Path, cache_dir: Option<&Path>) -> Check {
    let name = provider.name();
    let program = crate::provider::cli::of(provider).program();
    let groups = flags::passed(provider);
    // `--version` and each `--help` at once: a cold probe costs one CLI start, not three.
    let (version, helps) = std::thread::scope(|s| {
        let helps: Vec<_> = groups
            .iter()
            .map(|g| {
                s.spawn(move || {
                    let args: Vec<&str> = g.subcommand.iter().map(String::as_str).collect();
                    help::probe(binary, &args, cache_dir)
                })
            })
            .collect();
        let version = match cache_dir {
            Some(dir) => version::probe(binary, dir),
            None => version::read(binary),
        };
        let helps: Vec<_> = helps
            .into_iter()
            .map(|h| h.join().expect("help probes do not panic"))
            .collect();
        (version, helps)
    });
    let seen = format!(
        "{}: {}",
        binary.display(),
        version.as_deref().unwrap_or("version unknown")
    );
    let mut commands = Vec::new();
    let mut flag_count = 0;
    for (group, help) in groups.iter().zip(helps) {
        let command = group.command(program);
        let text = match help {
            Ok(text) => text,
            Err(e) => {
                let cause = std::error::Error::source(&e)
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                return Check::fail(
                    name,
                    format!("{seen}; {e}{cause}"),
                    format!(
                        "run `{command}` yourself to see what is wrong; vnx checks the flags it \
                         passes {name} against it"
                    ),
                );
            }
        };
        let missing = flags::missing(&text, group);
        if !missing.is_empty() {
            return Check::fail(
                name,
                format!("{seen}; `{command}` does not list {}", missing.join(", ")),
                format!(
                    "vnx passes {} when dispatching to {name}: update {name} (or vnx, if {name} \
                     renamed {}); dispatches to {name} fail until they agree",
                    if missing.len() == 1 {
                        "this flag"
                    } else {
                        "these flags"
                    },
                    if missing.len() == 1 { "it" } else { "them" },
                ),
            );
        }
        flag_count += group.flags.len();
        commands.push(format!("`{command}`"));
    }
    let flags_seen = if commands.is_empty() {
        "vnx passes it no flags".to_owned()
    } else {
        let listed = match commands.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => commands.join(""),
        };
        format!("all {flag_count} flags vnx passes are listed in {listed}")
    };
    if version.is_none() {
        return Check::warn(
            name,
            format!("{seen}; {flags_seen}"),
            format!("`{name} --version` printed no version; check the installation"),
        );
    }
    Check::pass(name, format!("{seen}; {flags_seen}"))
}
