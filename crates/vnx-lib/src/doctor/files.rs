//! The governed repository's own files: initialised by `vnx init`, `.vnx/config.yaml` and the
//! providers it declares, `provider_constraints.yaml`, the skills' front matter, and the git
//! hooks.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::check::{Check, count, rel};
use crate::config::ConfigError;
use crate::project::{CONFIG, Project};
use crate::yaml::{self, Spot, YamlError};

/// Constraints and skill files larger than this are not read.
const MAX_BYTES: u64 = 1024 * 1024;

/// Whether `cwd` is in a repository that `vnx init` set up; the checks of the project's
/// files can run when it passes.
pub(super) fn project(cwd: &Path, project: Option<&Project>) -> Check {
    let Some(project) = project else {
        return Check::fail(
            "project",
            format!("{} is not inside a git repository", cwd.display()),
            "run vnx doctor inside the repository vnx governs (after `git init` and `vnx init`)",
        );
    };
    let config = project.config_path();
    if let Ok(meta) = config.symlink_metadata()
        && !meta.is_file()
    {
        let what = if meta.is_dir() {
            "a directory"
        } else if meta.file_type().is_symlink() {
            "a symbolic link"
        } else {
            "not a regular file"
        };
        return Check::fail(
            "project",
            format!(
                "{} is {what}, not vnx's configuration file",
                config.display()
            ),
            format!(
                "replace it with a regular file (`vnx init` writes {CONFIG} when it is missing)"
            ),
        );
    }
    if !config.is_file() {
        return Check::fail(
            "project",
            format!(
                "{} is not initialised: {CONFIG} is missing",
                project.root.display()
            ),
            "run `vnx init` in the repository (it never overwrites your edits)",
        );
    }
    Check::pass(
        "project",
        format!("{} (initialised)", project.root.display()),
    )
}

/// `.vnx/config.yaml` loads and validates; one check more per declared provider, whose binary
/// must be found (declared CLIs are never run by doctor: they may be any script).
pub(super) fn config(root: &Path, find_program: &dyn Fn(&str) -> Option<PathBuf>) -> Vec<Check> {
    let config = match Project::at(root).load_config() {
        Ok(c) => c,
        Err(e) => {
            let detail = match &e {
                ConfigError::Invalid(Spot {
                    path,
                    line,
                    column,
                    message,
                })
                | ConfigError::Yaml(YamlError::Invalid(Spot {
                    path,
                    line,
                    column,
                    message,
                })) => {
                    let path = Path::new(path.strip_prefix(root).unwrap_or(path));
                    format!("{}: {message}", yaml::at(path, *line, *column))
                }
                ConfigError::Yaml(YamlError::Io { path, source }) => {
                    format!("could not read {}: {source}", rel(path, root))
                }
            };
            let hint = e.hint().unwrap_or_else(|| "fix the file".into());
            return vec![Check::fail("config", detail, hint)];
        }
    };
    let mut parts = vec![match &config.project_id {
        Some(id) => format!("project id {id}"),
        None => "no project id".into(),
    }];
    parts.push(count(
        config.providers.len(),
        "declared provider",
        "declared providers",
    ));
    if !config.concurrency.is_empty() {
        parts.push(format!(
            "concurrency for {}",
            config
                .concurrency
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    parts.push(count(config.roles.len(), "role", "roles"));
    let mut checks = vec![Check::pass(
        "config",
        format!("{CONFIG}: {}", parts.join(", ")),
    )];
    for (name, def) in &config.providers {
        let check_name = format!("provider {name}");
        let found = find_program(&def.binary).filter(|p| p.is_file());
        checks.push(match found {
            Some(path) => Check::pass(
                check_name,
                format!(
                    "declared; `{}` is {} (declared CLIs are not run by doctor)",
                    def.binary,
                    path.display()
                ),
            ),
            None => Check::warn(
                check_name,
                format!(
                    "declared with binary `{}`, which is not found; dispatches to {name} fail",
                    def.binary
                ),
                format!("install it, or fix `binary:` of {name} in {CONFIG}"),
            ),
        });
    }
    // A screenshots gate needs its Chromium (ADR 0125).
    for (name, def) in &config.gates {
        let crate::config::GateKind::Screenshots { chromium, .. } = &def.kind else {
            continue;
        };
        let check_name = format!("gate {name}");
        checks.push(
            match crate::gate::shots::chromium(chromium.as_deref(), find_program) {
                Ok(path) => Check::pass(check_name, format!("screenshots with {}", path.display())),
                Err(why) => Check::warn(
                    check_name,
                    format!("{why}: the gate cannot pass"),
                    format!("install Chromium, or fix `chromium:` of gate {name} in {CONFIG}"),
                ),
            },
        );
    }
    checks
}

/// Reads a small text file; `Ok(None)` when it does not exist.
fn read_small(path: &Path, shown: &str) -> Result<Option<String>, String> {
    match fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("could not read {shown}: {e}")),
        Ok(m) if m.len() > MAX_BYTES => {
            return Err(format!("{shown} is larger than 1 MiB"));
        }
        Ok(_) => {}
    }
    fs::read_to_string(path)
        .map(Some)
        .map_err(|e| format!("could not read {shown}: {e}"))
}

/// `provider_constraints.yaml` loads with the same strict loader dispatches use.
pub(super) fn constraints(root: &Path) -> Check {
    const NAME: &str = "constraints";
    let path = root.join(crate::constraints::FILE);
    match crate::constraints::load(&path) {
        Ok(c) => Check::pass(
            NAME,
            format!(
                "{}: {}",
                crate::constraints::FILE,
                count(c.constraints.len(), "constraint", "constraints")
            ),
        ),
        Err(e) => {
            let hint = e
                .hint()
                .unwrap_or_else(|| format!("fix {}", crate::constraints::FILE));
            Check::fail(NAME, rel_error(&e.to_string(), root), hint)
        }
    }
}

/// An error message with the repository's root path shortened away.
fn rel_error(message: &str, root: &Path) -> String {
    message.replace(&format!("{}/", root.display()), "")
}

#[derive(Deserialize)]
struct FrontMatter {
    name: Option<String>,
    description: Option<String>,
}

/// Every `skills/*/SKILL.md` opens with YAML front matter naming and describing the skill.
pub(super) fn skills(root: &Path) -> Check {
    const NAME: &str = "skills";
    let dir = root.join("skills");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Check::warn(
            NAME,
            "no skills/ directory",
            "run `vnx init` to install the shipped skills",
        );
    };
    let mut dirs: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut names = Vec::new();
    let mut problems = Vec::new();
    for d in &dirs {
        let shown = format!("skills/{d}/SKILL.md");
        match skill(&dir.join(d).join("SKILL.md"), &shown) {
            Ok(name) => names.push(name),
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Check::fail(
            NAME,
            problems.join("; "),
            "each skills/<name>/SKILL.md starts with front matter: a `---` line, `name: …`, \
             `description: …`, and a closing `---` line",
        );
    }
    if names.is_empty() {
        return Check::warn(
            NAME,
            "skills/ holds no skill",
            "run `vnx init` to install the shipped skills",
        );
    }
    Check::pass(
        NAME,
        format!(
            "{}: {}",
            count(names.len(), "skill", "skills"),
            names.join(", ")
        ),
    )
}

/// A skill's name from its front matter, or what is wrong with it.
fn skill(path: &Path, shown: &str) -> Result<String, String> {
    let text = read_small(path, shown)?.ok_or_else(|| format!("{shown} is missing"))?;
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some("---") {
        return Err(format!("{shown} does not start with `---` (front matter)"));
    }
    let mut body = Vec::new();
    let mut closed = false;
    for line in lines {
        if line.trim_end() == "---" {
            closed = true;
            break;
        }
        body.push(line);
    }
    if !closed {
        return Err(format!("{shown}: the front matter has no closing `---`"));
    }
    let text = format!("{}\n", body.join("\n"));
    let front: FrontMatter =
        yaml::parse_front_matter(&text, Path::new(shown)).map_err(|e| e.to_string())?;
    let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    match (present(&front.name), present(&front.description)) {
        (true, true) => Ok(front.name.unwrap_or_default()),
        (false, _) => Err(format!("{shown}: the front matter has no `name`")),
        (true, false) => Err(format!("{shown}: the front matter has no `description`")),
    }
}

/// Whether vnx's hooks (`git_hooks::HOOKS`) are in place and find a vnx to run; a hook of the
/// user's own that calls `vnx audit-chain verify` counts too.
pub(super) fn hooks(root: &Path, find_program: &dyn Fn(&str) -> Option<PathBuf>) -> Check {
    use crate::init::git_hooks::{self, HookState};
    const NAME: &str = "git hooks";
    const HINT: &str = "run `vnx init`: it installs them (a hook already there keeps running, \
                        renamed to <hook>.pre-vnx); `vnx init --force` rewrites an edited one";
    let Some(dir) = git_hooks::hooks_dir(root) else {
        return Check::warn(NAME, "git did not name the hooks directory", HINT);
    };
    let shown = rel(&dir, root);
    let found = git_hooks::inspect(&dir);
    let calls_vnx =
        |p: &Path| fs::read_to_string(p).is_ok_and(|t| t.contains("vnx audit-chain verify"));
    let mut problems = Vec::new();
    for f in &found {
        match f.state {
            HookState::Installed => {}
            HookState::Foreign if calls_vnx(&f.path) => {}
            HookState::Missing => problems.push(format!("{} is missing", f.hook)),
            HookState::Foreign => problems.push(format!("{} is not vnx's", f.hook)),
            HookState::Edited => problems.push(format!("{} was edited since vnx wrote it", f.hook)),
            HookState::NotExecutable => {
                problems.push(format!("{} is not executable, so git skips it", f.hook));
            }
        }
    }
    if !problems.is_empty() {
        return Check::warn(
            NAME,
            format!(
                "in {shown}: {}; merges and pushes are not verified",
                problems.join(", ")
            ),
            HINT,
        );
    }
    let runnable = |f: &git_hooks::Found| {
        f.state != HookState::Installed
            || f.vnx.as_deref().is_some_and(|p| p.is_file())
            || find_program("vnx").is_some()
    };
    if let Some(f) = found.iter().find(|f| !runnable(f)) {
        return Check::warn(
            NAME,
            format!(
                "{shown}/{} finds no vnx ({} is gone and none is on PATH), so it refuses to {}",
                f.hook,
                f.vnx
                    .as_deref()
                    .map_or("the recorded binary".into(), |p| p.display().to_string()),
                git_hooks::HOOKS
                    .iter()
                    .find(|h| h.name == f.hook)
                    .map_or("go on", |h| h.guards)
            ),
            "put vnx on PATH, or run `vnx init` with the vnx you use",
        );
    }
    let chained: Vec<String> = found
        .iter()
        .filter_map(|f| {
            let c = f
                .chained
                .as_ref()?
                .file_name()?
                .to_string_lossy()
                .into_owned();
            Some(if f.chained_executable {
                c
            } else {
                format!("{c} (not executable, so skipped)")
            })
        })
        .collect();
    Check::pass(
        NAME,
        format!(
            "pre-merge-commit, pre-commit (concluding a merge) and pre-push in {shown} run \
             `vnx audit-chain verify`{}",
            if chained.is_empty() {
                String::new()
            } else {
                format!(", then {}", chained.join(" and "))
            }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn skills_need_front_matter_with_name_and_description() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(skills(root).status, Status::Warn);
        write(
            root,
            "skills/a/SKILL.md",
            "---\nname: a\ndescription: does a\n---\n# A\n",
        );
        let ok = skills(root);
        assert_eq!(ok.detail, "1 skill: a");
        write(root, "skills/b/SKILL.md", "---\nname: b\n---\n");
        write(root, "skills/c/SKILL.md", "# no front matter\n");
        write(
            root,
            "skills/d/SKILL.md",
            "---\nname: d\ndescription: [unclosed\n---\n",
        );
        write(root, "skills/e/SKILL.md", "---\nname: e\n");
        fs::create_dir_all(root.join("skills/f")).unwrap();
        let bad = skills(root);
        assert_eq!(bad.status, Status::Fail);
        for want in [
            "skills/b/SKILL.md: the front matter has no `description`",
            "skills/c/SKILL.md does not start with `---`",
            "skills/d/SKILL.md:3:",
            "skills/e/SKILL.md: the front matter has no closing `---`",
            "skills/f/SKILL.md is missing",
        ] {
            assert!(bad.detail.contains(want), "{want}: {}", bad.detail);
        }
    }

    #[test]
    fn constraints_are_parsed_with_located_errors() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert!(constraints(root).detail.contains("missing"));
        write(
            root,
            "provider_constraints.yaml",
            "version: 1\nconstraints:\n  - id: no-opus\n    rule: forbid_route\n    \
             forbidden_route: {model: opus}\n    reason: too dear\n    enforcement: code_raise\n    \
             audit_severity: blocking\n",
        );
        let ok = constraints(root);
        assert_eq!(ok.status, Status::Pass, "{}", ok.detail);
        assert!(ok.detail.ends_with(": 1 constraint"), "{}", ok.detail);
        // The strict loader: an entry missing its fields is located, not just parsed.
        write(
            root,
            "provider_constraints.yaml",
            "version: 1\nconstraints:\n  - id: a\n",
        );
        let bad = constraints(root);
        assert_eq!(bad.status, Status::Fail);
        assert!(
            bad.detail.starts_with("provider_constraints.yaml:3:"),
            "{}",
            bad.detail
        );
        write(root, "provider_constraints.yaml", "version: 2\n");
        assert!(constraints(root).detail.contains("version `2`"));
        write(
            root,
            "provider_constraints.yaml",
            "version: 1\nconstraints: {a: [\n",
        );
        let bad = constraints(root);
        assert!(
            bad.detail.starts_with("provider_constraints.yaml:"),
            "{}",
            bad.detail
        );
    }
}
