//! A worker binary's help text (`BINARY [SUBCOMMAND…] --help`, 60 s limit), cached by binary
//! path, size and modification time in `help.json` beside the version cache (and in the
//! user's, which every project reads, as the version's is), so `vnx doctor` pays for a CLI's
//! slow start once per installed version; a probe says how long the CLI took to answer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cache::{Cache, fingerprint};
use crate::process::{self, Cmd, ProcessError};

/// How long `--help` may take. Node CLIs start in about a second, but several seconds on a
/// loaded 2-core machine (a CI run under the whole test suite once took over 5 s for one of them,
/// and a Python CLI's start over 20 s beside the real-CLI tier): a slow answer is not a broken
/// CLI, only a hung one is.
const LIMIT: Duration = Duration::from_secs(60);

/// Why a help text could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HelpError {
    /// The binary cannot be read (so its help is not cached).
    #[error("{binary} cannot be read")]
    Unreadable {
        /// The binary.
        binary: PathBuf,
    },
    /// `--help` could not be run.
    #[error("`{command}` could not be run")]
    Run {
        /// The command line.
        command: String,
        /// What running it said.
        #[source]
        source: ProcessError,
    },
    /// `--help` exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// How it exited, in words.
        status: String,
        /// What it wrote to stderr.
        stderr: String,
    },
    /// `--help` printed nothing.
    #[error("`{command}` printed nothing")]
    Empty {
        /// The command line.
        command: String,
    },
}

/// A help text, and how long the CLI took to print it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Help {
    /// What it printed.
    pub text: String,
    /// How long `--help` ran; `None` when the text came from a cache.
    pub took: Option<Duration>,
}

/// What `binary args… --help` prints (stdout, or stderr when stdout is empty), from the
/// cache in `cache_dir` when the binary is unchanged, else from the one in `shared_dir` (the
/// user's, which every project reads), else run and timed; what is run or found only in the
/// shared cache is kept in both. `None` for both caches nothing.
pub fn probe_shared(
    binary: &Path,
    args: &[&str],
    cache_dir: Option<&Path>,
    shared_dir: Option<&Path>,
) -> Result<Help, HelpError> {
    let fp = fingerprint(binary).ok_or_else(|| HelpError::Unreadable {
        binary: binary.to_owned(),
    })?;
    let key = format!("{fp}\u{0}{}", args.join(" "));
    let cache = cache_dir.map(|d| Cache::new(d, "help.json"));
    let shared = shared_dir
        .filter(|s| Some(*s) != cache_dir)
        .map(|d| Cache::new(d, "help.json"));
    if let Some(text) = cache.as_ref().and_then(|c| c.get(&key)) {
        return Ok(Help { text, took: None });
    }
    if let Some(text) = shared.as_ref().and_then(|c| c.get(&key)) {
        if let Some(c) = &cache {
            c.put(&key, &text);
        }
        return Ok(Help { text, took: None });
    }
    let cmd = Cmd::new(binary).args(args).arg("--help").timeout(LIMIT);
    let command = cmd.display();
    let began = std::time::Instant::now();
    let out = process::run(&cmd).map_err(|source| HelpError::Run {
        command: command.clone(),
        source,
    })?;
    let took = began.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if !out.status.success() {
        return Err(HelpError::Failed {
            command,
            status: out.status.to_string(),
            stderr,
        });
    }
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let text = if stdout.is_empty() { stderr } else { stdout };
    if text.is_empty() {
        return Err(HelpError::Empty { command });
    }
    for c in cache.iter().chain(&shared) {
        c.put(&key, &text);
    }
    Ok(Help {
        text,
        took: Some(took),
    })
}

impl HelpError {
    /// How long the CLI was given when it did not answer in time: it may be slow (a busy
    /// machine) or hung, which a probe cannot tell apart.
    pub fn timed_out(&self) -> Option<u64> {
        match self {
            HelpError::Run {
                source: ProcessError::TimedOut { seconds, .. },
                ..
            } => Some(*seconds),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// What `binary args… --help` prints, with no shared cache.
    fn probe(binary: &Path, args: &[&str], cache_dir: Option<&Path>) -> Result<String, HelpError> {
        probe_shared(binary, args, cache_dir, None).map(|h| h.text)
    }

    fn script(path: &Path, body: &str) {
        fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn help_is_probed_once_per_binary_state_and_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        let calls = dir.path().join("calls");
        script(
            &bin,
            &format!(
                "echo \"$*\" >> {}\necho \"usage: tool $1 [--flag]\"",
                calls.display()
            ),
        );
        let cache = dir.path().join("cache");
        let once = probe(&bin, &[], Some(&cache)).unwrap();
        assert_eq!(once, "usage: tool --help [--flag]");
        assert_eq!(probe(&bin, &[], Some(&cache)).unwrap(), once, "cached");
        let sub = probe(&bin, &["exec"], Some(&cache)).unwrap();
        assert_eq!(sub, "usage: tool exec [--flag]");
        assert_eq!(probe(&bin, &["exec"], Some(&cache)).unwrap(), sub);
        assert_eq!(fs::read_to_string(&calls).unwrap(), "--help\nexec --help\n");
        // Without a cache directory every call runs the binary.
        probe(&bin, &[], None).unwrap();
        assert_eq!(fs::read_to_string(&calls).unwrap().lines().count(), 3);
    }

    #[test]
    fn help_probed_in_one_project_is_found_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        let calls = dir.path().join("calls");
        script(
            &bin,
            &format!("echo run >> {}\necho \"usage: tool\"", calls.display()),
        );
        let shared = dir.path().join("shared");
        let one = probe_shared(&bin, &[], Some(&dir.path().join("one")), Some(&shared)).unwrap();
        assert!(one.took.is_some(), "probed");
        let two = probe_shared(&bin, &[], Some(&dir.path().join("two")), Some(&shared)).unwrap();
        assert_eq!((two.text.as_str(), two.took), ("usage: tool", None));
        assert_eq!(fs::read_to_string(&calls).unwrap(), "run\n");
    }

    #[test]
    fn failures_are_named_and_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        script(&bin, "echo broken >&2; exit 3");
        let cache = dir.path().join("cache");
        let err = probe(&bin, &[], Some(&cache)).unwrap_err();
        assert!(matches!(err, HelpError::Failed { .. }), "{err}");
        assert!(err.to_string().contains("broken"), "{err}");
        assert!(!cache.join("help.json").exists());
        script(&bin, "echo on stderr only >&2");
        assert_eq!(probe(&bin, &[], Some(&cache)).unwrap(), "on stderr only");
        let missing = probe(&dir.path().join("nope"), &[], Some(&cache)).unwrap_err();
        assert!(matches!(missing, HelpError::Unreadable { .. }));
    }
}
