//! The source scan behind `forbid_import` rules (enforcement `ci_grep`): the project's own files
//! must not mention a vendor SDK. A pattern matches a line case-insensitively, any run of
//! whitespace matching any other (as VNX compiles its patterns). Not a dispatch-time rule.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{Constraints, Rule};
use crate::process::{self, Cmd, ProcessError};

/// What a scan found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScanReport {
    /// Text files scanned.
    pub files: usize,
    /// Every match, in file order.
    pub hits: Vec<ImportHit>,
}

/// One forbidden pattern found in a file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ImportHit {
    /// The `forbid_import` constraint matched.
    pub constraint_id: String,
    /// Relative to the scanned root.
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    /// The pattern that matched.
    pub pattern: String,
}

/// Why a scan could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A tracked file could not be read.
    #[error("could not read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// git could not list the tracked files.
    #[error("could not list the files git tracks in {root}")]
    Git {
        /// The repository.
        root: PathBuf,
        /// What running git said.
        #[source]
        source: ProcessError,
    },
}

/// Scans `paths` (files or directories, relative to `root` or absolute) for every
/// `forbid_import` pattern. Directories are walked in name order, skipping `.git`; symbolic
/// links, binary files (a NUL byte, or not UTF-8) and the constraints file itself are skipped.
pub fn scan_imports(
    constraints: &Constraints,
    root: &Path,
    paths: &[PathBuf],
) -> Result<ScanReport, ScanError> {
    let rules: Vec<(&str, Vec<(String, &str)>)> = constraints
        .constraints
        .iter()
        .filter_map(|c| match &c.rule {
            Rule::ForbidImport { patterns } => Some((
                c.id.as_str(),
                patterns
                    .iter()
                    .map(|p| (squash(p), p.as_str()))
                    .collect::<Vec<_>>(),
            )),
            _ => None,
        })
        .collect();
    let mut files = Vec::new();
    for p in paths {
        collect(&root.join(p), &mut files)?;
    }
    let own = std::fs::canonicalize(&constraints.path).ok();
    let mut report = ScanReport::default();
    for file in files {
        if own.is_some() && std::fs::canonicalize(&file).ok() == own {
            continue;
        }
        let bytes = std::fs::read(&file).map_err(|source| ScanError::Io {
            path: file.clone(),
            source,
        })?;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        if text.contains('\0') {
            continue;
        }
        report.files += 1;
        let shown = file.strip_prefix(root).unwrap_or(&file).to_owned();
        for (n, line) in text.lines().enumerate() {
            let line = squash(line);
            for (id, patterns) in &rules {
                if let Some((_, pattern)) = patterns.iter().find(|(p, _)| line.contains(p)) {
                    report.hits.push(ImportHit {
                        constraint_id: (*id).to_owned(),
                        path: shown.clone(),
                        line: n + 1,
                        pattern: (*pattern).to_owned(),
                    });
                }
            }
        }
    }
    Ok(report)
}

/// The files git tracks in `root` (`git ls-files`), relative to it.
pub fn tracked_files(root: &Path) -> Result<Vec<PathBuf>, ScanError> {
    let cmd = Cmd::git().arg("-C").arg(root).args(["ls-files", "-z"]);
    let out = process::run(&cmd)
        .and_then(|out| out.ok(cmd.display()))
        .map_err(|source| ScanError::Git {
            root: root.to_owned(),
            source,
        })?;
    Ok(out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(OsStr::from_bytes(p)))
        .collect())
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), ScanError> {
    let io = |source| ScanError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        // A tracked file deleted from the working tree has nothing to scan.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    if meta.is_file() {
        out.push(path.to_owned());
    } else if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort();
        for entry in entries {
            if entry.file_name() != Some(OsStr::new(".git")) {
                collect(&entry, out)?;
            }
        }
    }
    Ok(())
}

/// Lowercase, with every run of whitespace made one space and the ends trimmed.
fn squash(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
