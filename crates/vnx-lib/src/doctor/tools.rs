//! git and tmux: installed, and at least the versions whose features vnx uses; curl, when
//! `serve.notify:` lists where notices are posted.

use std::time::Duration;

use super::Check;
use crate::process::{self, Cmd, ProcessError};

/// git 2.36 added `git worktree list --porcelain -z`, which vnx reads to find the main
/// checkout from a linked worktree; it also uses `rev-parse --path-format=absolute` (2.31)
/// and `worktree lock --reason` (2.10).
pub const GIT_MIN: (u32, u32) = (2, 36);
/// tmux 3.2 added `new-session -e`, which starts each dispatch's session with an explicit
/// environment.
pub const TMUX_MIN: (u32, u32) = (3, 2);

const LIMIT: Duration = Duration::from_secs(5);

pub(super) fn git() -> Check {
    tool(
        "git",
        "--version",
        GIT_MIN,
        "`git worktree list --porcelain -z`",
    )
}

pub(super) fn tmux() -> Check {
    tool("tmux", "-V", TMUX_MIN, "`tmux new-session -e`")
}

/// curl, which posts the notices `serve.notify:` lists (`endpoints` of them).
pub(super) fn curl(curl: Option<&std::path::Path>, endpoints: usize) -> Check {
    match curl {
        Some(path) => Check::pass(
            "curl",
            format!(
                "{} posts the notices to the {endpoints} address(es) serve.notify lists",
                path.display()
            ),
        ),
        None => Check::fail(
            "curl",
            "`curl` is not on PATH: the notices serve.notify lists cannot be posted",
            "install curl (Debian: apt-get install curl)",
        ),
    }
}

fn tool(name: &str, flag: &str, min: (u32, u32), feature: &str) -> Check {
    let needs = format!("{}.{}", min.0, min.1);
    let install = format!("install {name} {needs} or later");
    let out = match process::run(&Cmd::new(name).arg(flag).timeout(LIMIT)) {
        Err(ProcessError::NotFound { .. }) => {
            return Check::fail(name, format!("`{name}` is not on PATH"), install);
        }
        Err(e) => return Check::fail(name, e.to_string(), install),
        Ok(out) if !out.status.success() => {
            return Check::fail(
                name,
                format!("`{name} {flag}` failed ({})", out.status),
                install,
            );
        }
        Ok(out) => out.text(),
    };
    let line = out.lines().next().unwrap_or_default().trim().to_owned();
    match parse_version(&line) {
        Some(v) if v >= min => Check::pass(name, format!("{line} (vnx needs {needs} or later)")),
        Some(_) => Check::fail(
            name,
            format!("{line} is older than {needs}, which vnx needs for {feature}"),
            format!("upgrade {name} to {needs} or later"),
        ),
        None => Check::warn(
            name,
            format!("cannot tell the version from `{name} {flag}`: {line:?}"),
            format!("vnx needs {name} {needs} or later for {feature}; make sure this one is"),
        ),
    }
}

/// The first `MAJOR.MINOR` in a version line: `git version 2.47.3` → (2, 47),
/// `tmux 3.3a` → (3, 3), `tmux next-3.5` → (3, 5).
fn parse_version(line: &str) -> Option<(u32, u32)> {
    let b = line.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = 0;
    while i < b.len() {
        let starts =
            b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_digit() || b[i - 1] == b'.'));
        if starts {
            let n = digits(i);
            let dot = i + n;
            if dot < b.len() && b[dot] == b'.' && digits(dot + 1) > 0 {
                let m = digits(dot + 1);
                return Some((
                    line[i..dot].parse().ok()?,
                    line[dot + 1..dot + 1 + m].parse().ok()?,
                ));
            }
            i += n;
        } else {
            i += 1;
        }
    }
    None
}

/// bubblewrap, which `--sandbox` dispatches run their worker in: a trial sandbox must start.
/// Missing or unusable, it fails where the config sandboxes every dispatch, else it warns.
pub(super) fn sandbox(bwrap: Option<&std::path::Path>, required: bool) -> Check {
    use crate::sandbox::{SandboxError, probe};
    match probe::check(bwrap) {
        Ok(version) => Check::pass(
            "sandbox",
            format!(
                "{version} makes a sandbox here ({})",
                bwrap.map(|p| p.display().to_string()).unwrap_or_default()
            ),
        ),
        Err(e) => {
            let hint = e.hint().unwrap_or_default();
            let detail = match &e {
                SandboxError::NoBubblewrap if !required => format!(
                    "{e}: --sandbox dispatches (and the full posture under the shipped \
                     constraints) cannot run"
                ),
                _ => e.to_string(),
            };
            if required {
                Check::fail("sandbox", detail, hint)
            } else {
                Check::warn("sandbox", detail, hint)
            }
        }
    }
}

/// `sandbox layout`: a worker CLI whose installation holds the home directory (installed
/// directly in `$HOME`, or by `npm i` run there) is shown to a sandboxed worker narrowed to its
/// package or its binary, never with the home directory; doctor says which were narrowed.
pub(super) fn sandbox_layout(
    installed: &[(&str, &std::path::Path)],
    home: Option<&std::path::Path>,
) -> Option<Check> {
    let narrowed: Vec<String> = installed
        .iter()
        .filter(|(_, bin)| crate::sandbox::too_wide(&crate::sandbox::install_root(bin), &[], home))
        .map(|(name, bin)| format!("{name} ({})", bin.display()))
        .collect();
    (!narrowed.is_empty()).then(|| {
        Check::warn(
            "sandbox layout",
            format!(
                "installed where the home directory is its installation root: {}; a sandbox \
                 shows only the package or the binary, so a CLI that reads files beside it \
                 may fail there",
                narrowed.join(", ")
            ),
            "install the CLI under a prefix of its own (npm i -g with a prefix such as \
             ~/.npm-global, or a version manager) rather than into the home directory",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_is_needed_where_notices_are_posted() {
        let missing = curl(None, 2);
        assert_eq!(missing.status, super::super::Status::Fail);
        assert!(
            missing.detail.contains("cannot be posted"),
            "{}",
            missing.detail
        );
        let here = curl(Some(std::path::Path::new("/usr/bin/curl")), 2);
        assert_eq!(here.status, super::super::Status::Pass);
        assert!(
            here.detail.starts_with("/usr/bin/curl posts"),
            "{}",
            here.detail
        );
    }

    #[test]
    fn a_cli_installed_in_the_home_directory_is_named_as_narrowed() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        std::fs::create_dir_all(home.join("node_modules/cli")).unwrap();
        std::fs::write(home.join("alpha"), "").unwrap();
        std::fs::write(home.join("node_modules/cli/cli.js"), "").unwrap();
        let elsewhere = t.path().join("opt/bin/gamma");
        std::fs::create_dir_all(elsewhere.parent().unwrap()).unwrap();
        std::fs::write(&elsewhere, "").unwrap();
        let npm = home.join("node_modules/cli/cli.js");
        let alpha = home.join("alpha");
        let c = sandbox_layout(
            &[("alpha", &alpha), ("beta", &npm), ("gamma", &elsewhere)],
            Some(&home),
        )
        .unwrap();
        assert!(c.detail.contains("alpha (") && c.detail.contains("beta ("));
        assert!(!c.detail.contains("gamma"));
        assert!(sandbox_layout(&[("gamma", &elsewhere)], Some(&home)).is_none());
    }

    #[test]
    fn versions_are_read_from_what_the_tools_print() {
        assert_eq!(parse_version("git version 2.47.3"), Some((2, 47)));
        assert_eq!(
            parse_version("git version 2.39.5 (Apple Git-154)"),
            Some((2, 39))
        );
        assert_eq!(parse_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(parse_version("tmux next-3.5"), Some((3, 5)));
        assert_eq!(parse_version("tmux 3.2"), Some((3, 2)));
        assert_eq!(parse_version("tmux master"), None);
        assert_eq!(parse_version("v10 only"), None);
        assert!((2, 36) >= GIT_MIN && (2, 35) < GIT_MIN && (3, 1) < TMUX_MIN);
    }
}
