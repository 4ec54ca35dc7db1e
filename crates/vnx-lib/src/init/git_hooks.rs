//! The git hooks `vnx init` installs — `pre-merge-commit`, `pre-commit` (for a commit that
//! concludes a merge) and `pre-push`, each running `vnx audit-chain verify` and then the hook
//! that was there before vnx (kept as `<hook>.pre-vnx`) — and reading back whether they are in
//! place, for `vnx doctor`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Action, InitError, Step, io_err};
use crate::process::{self, Cmd};

/// A hook vnx installs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hook {
    /// Its file name under `.git/hooks/`.
    pub name: &'static str,
    /// What it guards, for messages ("merge", "push").
    pub guards: &'static str,
    /// The git command `--no-verify` skips it on.
    pub command: &'static str,
    /// Only when a merge is being concluded (`MERGE_HEAD` exists): git runs `pre-commit`,
    /// not `pre-merge-commit`, for a merge committed after its conflicts were resolved.
    pub merges_only: bool,
}

/// The hooks vnx installs.
pub const HOOKS: &[Hook] = &[
    Hook {
        name: "pre-merge-commit",
        guards: "merge",
        command: "merge",
        merges_only: false,
    },
    Hook {
        name: "pre-commit",
        guards: "commit this merge",
        command: "commit",
        merges_only: true,
    },
    Hook {
        name: "pre-push",
        guards: "push",
        command: "push",
        merges_only: false,
    },
];
/// The line that marks a hook file as vnx's.
pub const MARKER: &str = "# vnx-managed-hook";
/// What a hook that was in place before vnx is renamed to (`pre-push.pre-vnx`).
pub const CHAINED_SUFFIX: &str = ".pre-vnx";

/// Where the repository's hooks live: `core.hooksPath` if set (as git resolves it), else
/// `hooks/` in the git common directory. `None` when git cannot say.
pub fn hooks_dir(root: &Path) -> Option<PathBuf> {
    // Plain `git`: asked where the repository's hooks live, [`Cmd::git`] would say /dev/null.
    let out = process::run_ok(&Cmd::new("git").arg("-C").arg(root).args([
        "rev-parse",
        "--path-format=absolute",
        "--git-path",
        "hooks",
    ]))
    .ok()?;
    let dir = PathBuf::from(out.lines().next()?);
    dir.is_absolute().then_some(dir)
}

/// Whether `dir` lies inside the repository (its working tree or its git directory): vnx
/// installs hooks only there, never in a hooks directory shared with other repositories.
pub fn is_own_hooks_dir(dir: &Path, root: &Path, common_dir: &Path) -> bool {
    // The directory may not exist yet: resolve its nearest existing ancestor.
    let mut existing = dir.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => return false,
        }
    }
    let Ok(mut resolved) = fs::canonicalize(&existing) else {
        return false;
    };
    resolved.extend(rest.iter().rev());
    let canon = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    resolved.starts_with(canon(root)) || resolved.starts_with(canon(common_dir))
}

/// Quotes a string for POSIX sh (single quotes), or `None` for text no script should carry.
fn sh_quote(text: &str) -> Option<String> {
    if text.contains(['\n', '\r', '\0']) {
        return None;
    }
    Some(format!("'{}'", text.replace('\'', r"'\''")))
}

/// The hook script for `hook`. `vnx` is the binary that installed it, tried before `vnx` on
/// PATH.
pub fn script(hook: &Hook, vnx: Option<&Path>) -> String {
    let installed = vnx
        .and_then(|p| p.to_str())
        .and_then(sh_quote)
        .unwrap_or_else(|| "''".into());
    let Hook {
        name,
        guards,
        command,
        merges_only,
    } = *hook;
    let when = if merges_only {
        "# Ordinary commits pass unchecked; a commit that concludes a merge is verified.\n\
         git rev-parse -q --verify MERGE_HEAD >/dev/null 2>&1 || run_chained \"$@\"\n"
    } else {
        ""
    };
    format!(
        r#"#!/bin/sh
{MARKER}: {name}
# Written by `vnx init`: verifies the receipt ledger's hash chain (`vnx audit-chain verify`)
# before git goes on to {guards}, then runs {name}{CHAINED_SUFFIX} if present (the hook that
# was here before vnx). Without a vnx to run it refuses (fail closed). Skip it once with
# `git {command} --no-verify`; `vnx init --force` rewrites this file.
run_chained() {{
  chained="$(dirname "$0")/{name}{CHAINED_SUFFIX}"
  if [ -x "$chained" ]; then
    exec "$chained" "$@"
  fi
  exit 0
}}
{when}vnx_installed={installed}
if [ -n "$vnx_installed" ] && [ -x "$vnx_installed" ]; then
  vnx=$vnx_installed
elif command -v vnx >/dev/null 2>&1; then
  vnx=vnx
else
  echo "vnx ({name} hook): vnx is not on PATH${{vnx_installed:+ nor at $vnx_installed}}, so the receipt ledger cannot be verified; refusing to {guards}" >&2
  echo "hint: put vnx on PATH, or skip the check: git {command} --no-verify" >&2
  exit 1
fi
if ! out=$("$vnx" audit-chain verify --allow-missing </dev/null 2>&1); then
  printf '%s\n' "$out" >&2
  echo "vnx ({name} hook): the receipt ledger failed verification; refusing to {guards}" >&2
  echo "hint: see \`vnx audit-chain verify\`; skip the check (the evidence stays broken): git {command} --no-verify" >&2
  exit 1
fi
run_chained "$@"
"#
    )
}

/// Installs vnx's hooks in the repository at `root` (for `vnx init`). An existing hook that is
/// not vnx's is renamed to `<hook>.pre-vnx` and chained, never overwritten; if that name is
/// taken too, both are left alone. vnx's own hook is rewritten when pristine (e.g. for another
/// binary), and when edited only with `force`. Nothing is written into a hooks directory
/// outside the repository (a `core.hooksPath` shared by other repositories) or through a link.
pub fn install(root: &Path, vnx: Option<&Path>, force: bool) -> Result<Vec<Step>, InitError> {
    let shown = |p: &Path| {
        p.strip_prefix(root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let skipped = |dir: &Path, note: String| {
        HOOKS
            .iter()
            .map(|hook| Step {
                path: shown(&dir.join(hook.name)),
                action: Action::Skipped,
                note: Some(note.clone()),
            })
            .collect()
    };
    let Some(dir) = hooks_dir(root) else {
        return Ok(skipped(
            Path::new("hooks"),
            "git did not name the repository's hooks directory".into(),
        ));
    };
    let common_dir = git2::Repository::open(root)
        .map(|r| r.commondir().to_path_buf())
        .unwrap_or_else(|_| root.join(".git"));
    if !is_own_hooks_dir(&dir, root, &common_dir) {
        return Ok(skipped(
            &dir,
            "core.hooksPath points outside this repository (hooks shared with others); vnx \
             writes nothing there: call `vnx audit-chain verify` from those hooks yourself"
                .into(),
        ));
    }
    if fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Ok(skipped(
            &dir,
            format!(
                "{} is a symlink; vnx does not write through links",
                dir.display()
            ),
        ));
    }
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    HOOKS
        .iter()
        .map(|hook| {
            let (action, note) = install_one(&dir, hook, vnx, force)?;
            Ok(Step {
                path: shown(&dir.join(hook.name)),
                action,
                note,
            })
        })
        .collect()
}

fn install_one(
    dir: &Path,
    hook: &Hook,
    vnx: Option<&Path>,
    force: bool,
) -> Result<(Action, Option<String>), InitError> {
    let path = dir.join(hook.name);
    let ours = script(hook, vnx);
    let write =
        || crate::files::write_atomic(&path, ours.as_bytes(), 0o755, true).map_err(io_err(&path));
    let meta = match fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write()?;
            return Ok((Action::Created, None));
        }
        Err(e) => return Err(io_err(&path)(e)),
        Ok(m) => m,
    };
    let text = if meta.file_type().is_symlink() {
        None
    } else {
        fs::read(&path)
            .map_err(io_err(&path))
            .map(|b| String::from_utf8(b).ok())?
    };
    match text {
        Some(t) if is_vnx_hook(&t) => {
            let pristine = is_pristine(hook, &t);
            Ok(match (executable(&path), t == ours, pristine) {
                (true, true, _) => (Action::Unchanged, None),
                (true, false, true) => {
                    write()?;
                    (Action::Updated, None)
                }
                _ if force => {
                    write()?;
                    (Action::Overwritten, None)
                }
                (false, _, _) => (
                    Action::Kept,
                    Some("vnx's hook is not executable, so git skips it".into()),
                ),
                _ => (Action::Kept, Some("vnx's hook was edited".into())),
            })
        }
        _ => {
            let hook = hook.name;
            let chained = dir.join(format!("{hook}{CHAINED_SUFFIX}"));
            if fs::symlink_metadata(&chained).is_ok() {
                return Ok((
                    Action::Kept,
                    Some(format!(
                        "{hook} is not vnx's and {hook}{CHAINED_SUFFIX} exists too; vnx \
                         overwrites neither: combine them in {hook}{CHAINED_SUFFIX}, remove \
                         {hook}, and run `vnx init` again"
                    )),
                ));
            }
            // A link is renamed, never followed.
            fs::rename(&path, &chained).map_err(io_err(&path))?;
            if let Err(e) = write() {
                let _ = fs::rename(&chained, &path);
                return Err(e);
            }
            Ok((
                Action::Chained,
                Some(format!(
                    "the hook that was here now runs as {hook}{CHAINED_SUFFIX}, after vnx's check"
                )),
            ))
        }
    }
}

/// The installing binary a vnx hook records, as written in it.
fn recorded_vnx(text: &str) -> Option<PathBuf> {
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("vnx_installed="))?;
    let inner = value.strip_prefix('\'')?.strip_suffix('\'')?;
    let unquoted = inner.replace(r"'\''", "'");
    (!unquoted.is_empty()).then(|| PathBuf::from(unquoted))
}

/// Whether `text` is a vnx hook exactly as vnx writes it (for whichever binary it records).
pub fn is_pristine(hook: &Hook, text: &str) -> bool {
    text == script(hook, recorded_vnx(text).as_deref())
}

/// Whether `text` is a vnx hook (written by vnx, perhaps edited since).
pub fn is_vnx_hook(text: &str) -> bool {
    text.lines().nth(1).is_some_and(|l| l.starts_with(MARKER))
}

/// One hook as found on disk.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Found {
    /// Its name.
    pub hook: String,
    /// Its file.
    pub path: PathBuf,
    /// What the file is.
    pub state: HookState,
    /// The binary the hook records (vnx's hooks only).
    pub vnx: Option<PathBuf>,
    /// `<hook>.pre-vnx`, when present: the hook that runs after vnx's check.
    pub chained: Option<PathBuf>,
    /// Whether the chained hook is executable (git, and vnx's hook, skip it otherwise).
    pub chained_executable: bool,
}

/// What a hook file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookState {
    /// No such file.
    Missing,
    /// vnx's hook, as vnx wrote it.
    Installed,
    /// vnx's hook, edited since it was written.
    Edited,
    /// vnx's hook without the executable bit: git skips it.
    NotExecutable,
    /// Someone else's hook (a file or a link).
    Foreign,
}

fn executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The state of each hook vnx installs, in `dir`.
pub fn inspect(dir: &Path) -> Vec<Found> {
    HOOKS
        .iter()
        .map(|hook| {
            let path = dir.join(hook.name);
            let chained = dir.join(format!("{}{CHAINED_SUFFIX}", hook.name));
            let link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
            let text = if link {
                None
            } else {
                fs::read_to_string(&path).ok()
            };
            let state = match &text {
                _ if link => HookState::Foreign,
                None if fs::symlink_metadata(&path).is_err() => HookState::Missing,
                None => HookState::Foreign,
                Some(t) if !is_vnx_hook(t) => HookState::Foreign,
                Some(_) if !executable(&path) => HookState::NotExecutable,
                Some(t) if is_pristine(hook, t) => HookState::Installed,
                Some(_) => HookState::Edited,
            };
            let chained_present = fs::symlink_metadata(&chained).is_ok();
            Found {
                hook: hook.name.to_owned(),
                vnx: text
                    .as_deref()
                    .filter(|t| is_vnx_hook(t))
                    .and_then(recorded_vnx),
                chained_executable: chained_present && executable(&chained),
                chained: chained_present.then_some(chained),
                path,
                state,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_record_their_binary_and_are_recognised() {
        let [merge, commit, push] = [HOOKS[0], HOOKS[1], HOOKS[2]];
        let plain = script(&push, None);
        assert!(plain.contains("vnx_installed=''\n"));
        assert!(is_vnx_hook(&plain) && is_pristine(&push, &plain));
        assert!(!plain.contains("MERGE_HEAD") && script(&commit, None).contains("MERGE_HEAD"));
        let odd = Path::new("/opt/it's here/vnx");
        let with = script(&push, Some(odd));
        assert!(
            with.contains(r"vnx_installed='/opt/it'\''s here/vnx'"),
            "{with}"
        );
        assert_eq!(recorded_vnx(&with).as_deref(), Some(odd));
        assert!(is_pristine(&push, &with));
        assert!(!is_pristine(&merge, &with));
        let edited = with.replace("run_chained \"$@\"\n", "echo mine\n");
        assert!(is_vnx_hook(&edited) && !is_pristine(&push, &edited));
        assert!(!is_vnx_hook("#!/bin/sh\necho vnx\n"));
        // A path no script should carry is not recorded.
        let bad = script(&push, Some(Path::new("/a\nb/vnx")));
        assert!(bad.contains("vnx_installed=''\n"));
    }
}
