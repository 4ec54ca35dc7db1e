//! The project's test command, detected by `vnx init` from the files at the repository's root
//! (Cargo, npm/pnpm/yarn, pytest, Go, make), proposed as the default role's gate.

use std::path::Path;

/// The most of one project file `detect` reads.
const MAX_READ: u64 = 1 << 20;

/// npm's placeholder `test` script, which only fails.
const NPM_PLACEHOLDER: &str = "echo \"Error: no test specified\" && exit 1";

/// A test command found in the project.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TestCommand {
    /// The argv the gate runs.
    pub argv: Vec<String>,
    /// The file it was detected from, relative to the root.
    pub from: String,
}

/// The first test command the root's files name, in the order Cargo, package.json (with a
/// `test` script other than npm's placeholder; pnpm or yarn by their lockfile), pytest
/// (`pytest.ini`, `pyproject.toml`, or `setup.cfg` with a `[tool:pytest]` section), Go,
/// and a Makefile with a `test:` target. Files are read bounded and never through a link.
pub fn detect(root: &Path) -> Option<TestCommand> {
    let found = |argv: &[&str], from: &str| {
        Some(TestCommand {
            argv: argv.iter().map(|a| (*a).to_owned()).collect(),
            from: from.to_owned(),
        })
    };
    let read = |name: &str| {
        crate::files::read_bounded(&root.join(name), MAX_READ)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    if read("Cargo.toml").is_some() {
        return found(&["cargo", "test"], "Cargo.toml");
    }
    if let Some(text) = read("package.json")
        && has_test_script(&text)
    {
        let runner = if read("pnpm-lock.yaml").is_some() {
            "pnpm"
        } else if read("yarn.lock").is_some() {
            "yarn"
        } else {
            "npm"
        };
        return found(&[runner, "test"], "package.json");
    }
    if read("pytest.ini").is_some() {
        return found(&["pytest"], "pytest.ini");
    }
    if read("pyproject.toml").is_some() {
        return found(&["pytest"], "pyproject.toml");
    }
    if read("setup.cfg").is_some_and(|t| t.lines().any(|l| l.trim() == "[tool:pytest]")) {
        return found(&["pytest"], "setup.cfg");
    }
    if read("go.mod").is_some() {
        return found(&["go", "test", "./..."], "go.mod");
    }
    for name in ["GNUmakefile", "makefile", "Makefile"] {
        if read(name).is_some_and(|t| has_make_target(&t, "test")) {
            return found(&["make", "test"], name);
        }
    }
    None
}

/// Whether a `package.json` has a `test` script that is not npm's placeholder.
fn has_test_script(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["scripts"]["test"].as_str().map(str::to_owned))
        .is_some_and(|s| !s.trim().is_empty() && s.trim() != NPM_PLACEHOLDER)
}

/// Whether a Makefile names `target` as a rule's target (`test:`, `test lint:`, not
/// `test := …`).
fn has_make_target(text: &str, target: &str) -> bool {
    text.lines().any(|line| {
        if line.starts_with(['\t', ' ', '#']) {
            return false;
        }
        let Some((targets, rest)) = line.split_once(':') else {
            return false;
        };
        !rest.starts_with('=') && targets.split_whitespace().any(|t| t == target)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn argv(files: &[(&str, &str)]) -> Option<String> {
        detect(project(files).path()).map(|c| format!("{} ({})", c.argv.join(" "), c.from))
    }

    #[test]
    fn each_ecosystem_is_detected() {
        assert_eq!(
            argv(&[("Cargo.toml", "[package]\n")]).as_deref(),
            Some("cargo test (Cargo.toml)")
        );
        let pkg = r#"{"scripts": {"test": "vitest run"}}"#;
        assert_eq!(
            argv(&[("package.json", pkg)]).as_deref(),
            Some("npm test (package.json)")
        );
        assert_eq!(
            argv(&[("package.json", pkg), ("pnpm-lock.yaml", "")]).as_deref(),
            Some("pnpm test (package.json)")
        );
        assert_eq!(
            argv(&[("package.json", pkg), ("yarn.lock", "")]).as_deref(),
            Some("yarn test (package.json)")
        );
        assert_eq!(
            argv(&[("pyproject.toml", "[project]\n")]).as_deref(),
            Some("pytest (pyproject.toml)")
        );
        assert_eq!(
            argv(&[("pytest.ini", "")]).as_deref(),
            Some("pytest (pytest.ini)")
        );
        assert_eq!(
            argv(&[("setup.cfg", "[metadata]\n[tool:pytest]\n")]).as_deref(),
            Some("pytest (setup.cfg)")
        );
        assert_eq!(
            argv(&[("go.mod", "module x\n")]).as_deref(),
            Some("go test ./... (go.mod)")
        );
        assert_eq!(
            argv(&[("Makefile", "all: build\n\ntest lint:\n\tcargo test\n")]).as_deref(),
            Some("make test (Makefile)")
        );
    }

    #[test]
    fn what_is_not_a_test_command_is_not_proposed() {
        assert_eq!(argv(&[]), None);
        let placeholder = format!(r#"{{"scripts": {{"test": {NPM_PLACEHOLDER:?}}}}}"#);
        assert_eq!(argv(&[("package.json", &placeholder)]), None);
        assert_eq!(argv(&[("package.json", "{\"name\": \"x\"}")]), None);
        assert_eq!(argv(&[("package.json", "not json")]), None);
        assert_eq!(argv(&[("setup.cfg", "[metadata]\n")]), None);
        assert_eq!(
            argv(&[("Makefile", "test := 1\nbuild:\n\ttest -f x\n# test:\n")]),
            None
        );
    }

    #[test]
    fn cargo_wins_over_a_makefile_and_links_are_not_read() {
        assert_eq!(
            argv(&[("Makefile", "test:\n\tcargo test\n"), ("Cargo.toml", "")]).as_deref(),
            Some("cargo test (Cargo.toml)")
        );
        let dir = project(&[("elsewhere.toml", "")]);
        std::os::unix::fs::symlink(
            dir.path().join("elsewhere.toml"),
            dir.path().join("Cargo.toml"),
        )
        .unwrap();
        assert_eq!(detect(dir.path()), None);
    }
}
