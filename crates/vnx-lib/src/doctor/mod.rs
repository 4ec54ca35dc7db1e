//! `vnx doctor`: whether this machine and this repository can dispatch and keep evidence. Each
//! check has a name, PASS/WARN/FAIL, what was found, and for WARN and FAIL a hint saying what
//! to do: git and tmux (`tools`), the worker CLIs and the flags vnx passes them (`clis`), the
//! project's committed files (`files`), the ledger, its checkpoints and the signing key
//! (`evidence`), who could forge or tamper with the evidence (`reach`), merges interrupted
//! before their outcome was recorded (`merges`), what dispatches left behind
//! (`leftovers`), with a `forge:` section, the remote and `gh`'s login (`forge`), and with
//! `serve.notify:`, whether workers can read where notices go (`notices`), and this machine's
//! headroom against the floors of `admission:` (`headroom`).

mod check;
mod clis;
mod evidence;
mod files;
mod forge;
mod headroom;
mod leftovers;
mod merges;
mod notices;
mod reach;
mod resumes;
mod tools;
mod trust;

use std::path::{Path, PathBuf};

use crate::project::Project;
use crate::provider::Provider;
use crate::tmux::Tmux;

pub use check::{Check, Report, Status, Summary};
pub use tools::{GIT_MIN, TMUX_MIN};

/// What the caller resolved for doctor.
pub struct Inputs<'a> {
    /// The directory doctor runs in.
    pub cwd: &'a Path,
    /// The governed repository around `cwd`, if any.
    pub project: Option<&'a Project>,
    /// The ledger (`--ledger`, `VNX_LEDGER`, or the project's), if one could be named.
    pub ledger: Option<&'a Path>,
    /// The tmux server dispatches run on.
    pub tmux: &'a Tmux,
    /// Where the checkpoint signing key is (or would be created), if it could be placed.
    pub key_path: Option<&'a Path>,
    /// Where the checkpoint witness is kept, if it could be placed.
    pub witness_dir: Option<&'a Path>,
    /// Finds a program on PATH.
    pub find_program: &'a dyn Fn(&str) -> Option<PathBuf>,
    /// Where worker CLI versions and help texts are cached; `None` probes every time.
    pub cache_dir: Option<&'a Path>,
    /// The user's cache of them, which every project and every launch reads and fills: a CLI
    /// is probed once per installed version.
    pub shared_cache_dir: Option<&'a Path>,
    /// Threads for verifying the ledger.
    pub threads: usize,
    /// The user's home, for the CLIs' folder trust.
    pub home: Option<&'a Path>,
    /// The CLIs' homes, for their folder trust.
    pub homes: &'a crate::provider::session::Homes,
}

/// Runs every check. git, tmux and each worker CLI are probed on threads of their own (a CLI's
/// `--version` and `--help` at once) while the rest runs.
pub fn run(inputs: &Inputs<'_>) -> Report {
    let binaries: Vec<_> = clis::worker_clis()
        .map(|p| {
            (
                p,
                (inputs.find_program)(crate::provider::cli::of(p).program()),
            )
        })
        .collect();
    let root = inputs.project.map(|p| p.root.as_path());
    let caches = clis::Caches {
        dir: inputs.cache_dir,
        shared: inputs.shared_cache_dir,
    };
    let none_installed = binaries.iter().all(|(_, bin)| bin.is_none());
    std::thread::scope(|s| {
        let probes: Vec<_> = binaries
            .iter()
            .filter_map(|(p, bin)| Some((*p, bin.as_deref()?)))
            .map(|(p, bin)| (p, s.spawn(move || clis::check(p, bin, caches, clis::SLOW))))
            .collect();
        let absent: Vec<Provider> = binaries
            .iter()
            .filter(|(_, bin)| bin.is_none())
            .map(|(p, _)| *p)
            .collect();
        let git = s.spawn(tools::git);
        let tmux = s.spawn(tools::tmux);
        let bwrap = (inputs.find_program)("bwrap");
        let sandbox_required = inputs
            .project
            .and_then(|p| p.load_config().ok())
            .is_some_and(|c| c.sandbox.enabled);
        let sandbox = s.spawn(move || tools::sandbox(bwrap.as_deref(), sandbox_required));
        let project = files::project(inputs.cwd, inputs.project);
        // The checks of the project's files run in a repository `vnx init` set up.
        let governed = root.filter(|_| project.status == Status::Pass);
        let mut rest = vec![project];
        if let Some(root) = governed {
            rest.extend(files::config(root, inputs.find_program));
            rest.push(files::constraints(root));
            rest.push(files::skills(root));
            rest.push(files::hooks(root, inputs.find_program));
        }
        if let Some(ledger) = inputs.ledger {
            rest.extend(evidence::ledger(
                ledger,
                inputs.key_path,
                inputs.witness_dir,
                inputs.threads,
            ));
        }
        rest.push(evidence::key(inputs.key_path, root));
        if let Some(ledger) = inputs.ledger {
            if governed.is_some() {
                rest.push(evidence::writable(ledger));
            }
            rest.push(reach::attestations(ledger, inputs.key_path));
        }
        if let Some(root) = governed {
            rest.push(reach::reach(inputs.key_path, inputs.ledger, root));
            if let Some(ledger) = inputs.ledger {
                rest.push(merges::interrupted(root, ledger, inputs.key_path));
                rest.extend(resumes::unfollowed(ledger, inputs.key_path, inputs.tmux));
                rest.extend(resumes::unmoved(ledger, inputs.key_path, inputs.tmux));
            }
            let config = inputs.project.and_then(|p| p.load_config().ok());
            let data = inputs.project.map(crate::project::Project::data_dir);
            rest.extend(data.as_deref().and_then(resumes::pauses));
            rest.extend(
                (config.as_ref()).and_then(|c| clis::live_usage(c, inputs.ledger, data.as_deref())),
            );
            if let Some(forge) = config.as_ref().and_then(|c| c.forge.as_ref()) {
                let gh = (inputs.find_program)("gh");
                rest.push(forge::check(root, forge, gh.as_deref()));
            }
            if let Some(serve) = config.as_ref().map(|c| &c.serve)
                && !serve.notify.is_empty()
            {
                let curl = (inputs.find_program)("curl");
                rest.push(tools::curl(curl.as_deref(), serve.notify.len()));
                rest.extend(notices::addresses(serve, root, inputs.home));
            }
            rest.extend(leftovers::checks(root, inputs.ledger, inputs.tmux));
            rest.extend(leftovers::pool(root));
            if let Some(data) = &data {
                // An unreadable config (its own check fails) is judged by the defaults.
                let floors = config.as_ref().map_or_else(
                    || crate::config::AdmissionConfig::default().floors(),
                    |c| c.admission.floors(),
                );
                rest.push(headroom::check(data, &floors));
            }
        }
        let joined = |name: &str, check: std::thread::Result<Check>| {
            check.unwrap_or_else(|_| {
                Check::fail(name, "the check panicked", "report this as a vnx bug")
            })
        };
        let mut checks = vec![
            joined("git", git.join()),
            joined("tmux", tmux.join()),
            joined("sandbox", sandbox.join()),
        ];
        for (provider, probe) in probes {
            checks.push(joined(provider.name(), probe.join()));
        }
        checks.extend(clis::absent(&absent, none_installed));
        let installed: Vec<(&str, &Path)> = binaries
            .iter()
            .filter_map(|(p, b)| b.as_deref().map(|b| (p.name(), b)))
            .collect();
        checks.extend(tools::sandbox_layout(&installed, inputs.home));
        checks.extend(rest);
        // Trust matters only for CLIs that are installed, in a governed repository.
        if let (Some(root), true) = (root, initialised_root(inputs)) {
            for (provider, binary) in &binaries {
                let cli = crate::provider::cli::of(*provider);
                if binary.is_some()
                    && let Some(t) = cli.folder_trust(inputs.home, inputs.homes, root)
                {
                    let blocks = cli.start_dialogs().iter().any(|d| d.trusts_folder);
                    checks.push(trust::check(provider.name(), &t, root, blocks));
                }
            }
        }
        Report { checks }
    })
}

fn initialised_root(inputs: &Inputs<'_>) -> bool {
    inputs.project.is_some_and(|p| p.config_path().is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_status_wins_and_is_counted() {
        let mut r = Report::default();
        assert_eq!(r.worst(), Status::Pass);
        r.checks.push(Check::pass("a", "ok"));
        r.checks.push(Check::warn("b", "meh", "look"));
        assert_eq!(r.worst(), Status::Warn);
        r.checks.push(Check::fail("c", "bad", "fix"));
        assert_eq!(r.worst(), Status::Fail);
        assert_eq!(
            r.summary(),
            Summary {
                pass: 1,
                warn: 1,
                fail: 1
            }
        );
        assert_eq!(
            serde_json::to_value(&r.checks[1]).unwrap(),
            serde_json::json!({"name": "b", "status": "warn", "detail": "meh", "hint": "look"})
        );
    }
}
