//! The worker CLIs vnx starts itself (the registry's CLIs that are a program of their own):
//! installed or not, their version, and whether every flag vnx passes is still listed in their
//! `--help`; one slow to answer (a busy machine, a slow start) is said to be slow, not broken.

use std::path::Path;
use std::time::Duration;

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

/// `budgets`, for a project whose config sets a budget: the worker CLIs whose usage cannot be
/// read while they run (their session store says no live usage, `SessionStore::live_usage`),
/// each held to its end-of-run usage (ADR 0094); where a budget limits dollars, the CLIs that
/// record a running cost (`SessionStore::live_cost`) and the models in use (the default's,
/// the last dispatches' on `ledger`) that `prices:` names no price for (ADR 0098); and how
/// much of the project's day is used, the dispatches running now counted as their
/// supervisors published (in the data directory `data`, ADR 0100).
pub(super) fn live_usage(
    config: &crate::config::Config,
    ledger: Option<&Path>,
    data: Option<&Path>,
) -> Option<Check> {
    let budgets = || {
        (config.budget.project_day.iter())
            .chain(config.roles.values().filter_map(|r| r.budget.as_ref()))
    };
    budgets().next()?;
    let held: Vec<&str> = worker_clis()
        .filter(|p| {
            crate::provider::cli::of(*p)
                .sessions()
                .is_none_or(|s| !s.live_usage())
        })
        .map(|p| p.name())
        .collect();
    let mut said = if held.is_empty() {
        "every worker CLI's usage is read while it runs".to_owned()
    } else {
        format!(
            "{}: no live usage; held to its end-of-run usage",
            held.join(", ")
        )
    };
    if budgets().any(|b| b.cost_usd.is_some()) {
        said.push_str("; ");
        said.push_str(&live_cost(config, ledger));
    }
    if let (Some(day), Some(ledger), Some(data)) = (&config.budget.project_day, ledger, data) {
        said.push_str("; ");
        said.push_str(&day_used(day, ledger, data, &config.prices));
    }
    Some(Check::pass("budgets", said))
}

/// "the project's day: N of M tokens used" (and dollars, where it limits them).
fn day_used(
    day: &crate::receipts::Budget,
    ledger: &Path,
    data: &Path,
    prices: &crate::config::Prices,
) -> String {
    use crate::dispatch::budget::{day, dollars};
    let live = day::live_dir(data);
    let now = jiff::Timestamp::now();
    let Ok(held) = day::of_project_day(ledger, day, now, Some(prices), &live) else {
        return "the project's day: not read (the ledger could not be read)".to_owned();
    };
    let mut used = Vec::new();
    if let Some(limit) = held.tokens {
        used.push(format!(
            "{} of {limit} tokens",
            held.spent_before.unwrap_or(0)
        ));
    }
    if let Some(limit) = held.cost_usd {
        let spent = held.cost_before_usd.unwrap_or(0.0);
        used.push(format!("{} of {}", dollars(spent), dollars(limit)));
    }
    format!("the project's day: {} used", used.join(" and "))
}

/// Which CLIs record a running cost, and which models in use have no price.
fn live_cost(config: &crate::config::Config, ledger: Option<&Path>) -> String {
    let recording: Vec<&str> = worker_clis()
        .filter(|p| {
            crate::provider::cli::of(*p)
                .sessions()
                .is_some_and(|s| s.live_cost())
        })
        .map(|p| p.name())
        .collect();
    let mut models: Vec<String> = config.defaults.model.iter().cloned().collect();
    // The models the last dispatches named (a dispatch of the CLI's default names none).
    if let Some(entries) = ledger.and_then(|l| crate::cost::entries(l).ok()) {
        let recent = entries.iter().rev().take(200);
        models.extend(recent.filter_map(|e| e.model.clone()));
    }
    models.sort();
    models.dedup();
    models.retain(|m| config.prices.of(m).is_none());
    let mut said = match recording.as_slice() {
        [] => "no worker CLI records a running cost".to_owned(),
        [one] => format!("{one} records a running cost"),
        some => format!("{} record a running cost", some.join(", ")),
    };
    if models.is_empty() {
        if config.prices.is_empty() {
            said.push_str("; `prices:` names no price: other CLIs' cost limits hold at the end");
        }
    } else {
        models.truncate(8);
        said.push_str(&format!(
            "; no price in `prices:` for {}: a cost limit holds at the end of their runs",
            models.join(", ")
        ));
    }
    said
}

/// How long a CLI's `--help` may take before doctor says it is slow (each took 3.6–10.9 s
/// alone on a user's machine, over 20 s when it was busy): a warning naming the seconds.
pub(super) const SLOW: Duration = Duration::from_secs(20);

/// Where probes' answers are kept: the project's cache and the user's, which a launch fills
/// too, so a CLI is probed once per installed version.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Caches<'a> {
    /// The project's cache (or the user's, outside one); `None` probes every time.
    pub dir: Option<&'a Path>,
    /// The user's cache every project reads.
    pub shared: Option<&'a Path>,
}

/// Checks one installed CLI; `binary` is where PATH finds it. A `--help` that took `slow`
/// or longer, or did not answer before its limit, is a warning naming the seconds.
pub(super) fn check(
    provider: Provider,
    binary: &Path,
    caches: Caches<'_>,
    slow: Duration,
) -> Check {
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
                    help::probe_shared(binary, &args, caches.dir, caches.shared)
                })
            })
            .collect();
        let version = match caches.dir {
            Some(dir) => version::probe_shared(binary, dir, caches.shared),
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
    // The slowest answer, and the command that gave it.
    let mut slowest: Option<(Duration, String)> = None;
    for (group, help) in groups.iter().zip(helps) {
        let command = group.command(program);
        let text = match help {
            Ok(help) => {
                if let Some(took) = help.took.filter(|t| *t >= slow)
                    && slowest.as_ref().is_none_or(|(s, _)| took > *s)
                {
                    slowest = Some((took, command.clone()));
                }
                help.text
            }
            Err(e) if e.timed_out().is_some() => {
                let seconds = e.timed_out().unwrap_or_default();
                return Check::warn(
                    name,
                    format!(
                        "{seen}; slow: `{command}` gave no answer in {seconds} s, so the flags \
                         vnx passes were not checked"
                    ),
                    format!(
                        "a busy machine starts a CLI slowly, a hung one never answers: run \
                         `{command}` yourself, then `vnx doctor` again (an answer is kept for \
                         this version of {name})"
                    ),
                );
            }
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
    if let Some((took, command)) = slowest {
        return Check::warn(
            name,
            format!(
                "{seen}; {flags_seen}; slow: `{command}` took {:.1} s to answer",
                took.as_secs_f64()
            ),
            format!(
                "a busy machine starts a CLI slowly (its dispatches start as slowly); the \
                 answer is kept for this version of {name}, so the next `vnx doctor` does not \
                 wait for it"
            ),
        );
    }
    Check::pass(name, format!("{seen}; {flags_seen}"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A stand-in for `provider` that lists every flag vnx passes it in each `--help`,
    /// prints a version, and sleeps a second before either.
    fn slow_stand_in(dir: &Path, provider: Provider) -> std::path::PathBuf {
        let flags: Vec<String> = flags::passed(provider)
            .into_iter()
            .flat_map(|g| g.flags)
            .collect();
        let bin = dir.join(crate::provider::cli::of(provider).program());
        std::fs::write(
            &bin,
            format!(
                "#!/bin/sh\nsleep 1\ncase \"$*\" in *--version*) echo 1.0;; *) echo '{}';; esac\n",
                flags.join(" ")
            ),
        )
        .unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }

    #[test]
    fn a_slow_answer_is_a_warning_naming_its_seconds_and_is_asked_once() {
        let dir = tempfile::tempdir().unwrap();
        let provider = worker_clis().next().unwrap();
        let bin = slow_stand_in(dir.path(), provider);
        let caches = Caches {
            dir: Some(&dir.path().join("project")),
            shared: Some(&dir.path().join("user")),
        };
        let c = check(provider, &bin, caches, Duration::from_millis(500));
        assert_eq!(c.status, super::super::Status::Warn, "{c:?}");
        assert!(c.detail.contains("slow: `"), "{c:?}");
        assert!(c.detail.contains(" s to answer"), "{c:?}");
        assert!(c.detail.contains("all "), "its flags were checked: {c:?}");
        // Its answer is kept: another project's doctor asks nothing and passes.
        let other = Caches {
            dir: Some(&dir.path().join("other")),
            ..caches
        };
        let again = check(provider, &bin, other, Duration::from_millis(500));
        assert_eq!(again.status, super::super::Status::Pass, "{again:?}");
        // Under the threshold it passes.
        let quick = check(provider, &bin, Caches::default(), Duration::from_secs(3600));
        assert_eq!(quick.status, super::super::Status::Pass, "{quick:?}");
    }
}
