//! A worker CLI installed in a Python virtual environment: what of it a sandbox shows (the
//! environment, and the interpreter installation its `pyvenv.cfg` names).

use std::path::{Path, PathBuf};

/// The Python virtual environment whose `bin` holds `real` (a `pyvenv.cfg` beside that
/// `bin`), if it is in one.
pub(super) fn venv_of(real: &Path) -> Option<PathBuf> {
    let root = real.parent().filter(|b| b.ends_with("bin"))?.parent()?;
    root.join("pyvenv.cfg").is_file().then(|| root.to_owned())
}

/// The installation of the interpreter a virtual environment's `binary` runs on (the
/// `home = DIR/bin` line of its `pyvenv.cfg`: DIR), which must be visible too; `None` for a
/// binary in no environment.
pub(super) fn venv_base(binary: &Path) -> Option<PathBuf> {
    let real = binary.canonicalize().ok()?;
    let cfg = crate::files::read_named(&venv_of(&real)?.join("pyvenv.cfg"), 64 * 1024).ok()?;
    let text = String::from_utf8_lossy(&cfg);
    let home = text.lines().find_map(|l| {
        let (key, value) = l.split_once('=')?;
        (key.trim() == "home").then(|| PathBuf::from(value.trim()))
    })?;
    let base = home.canonicalize().ok()?;
    let base = if base.ends_with("bin") {
        base.parent()?.to_owned()
    } else {
        base
    };
    base.is_absolute().then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::install_root;

    #[test]
    fn a_python_cli_shows_its_virtual_environment_and_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("python/3.11/bin");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("python3"), "").unwrap();
        let venv = dir.path().join("venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::create_dir_all(venv.join("lib/site-packages")).unwrap();
        std::fs::write(
            venv.join("pyvenv.cfg"),
            format!("home = {}\nversion = 3.11\n", base.display()),
        )
        .unwrap();
        std::fs::write(venv.join("bin/tool"), "").unwrap();
        let root = dir.path().canonicalize().unwrap();
        assert_eq!(install_root(&venv.join("bin/tool")), root.join("venv"));
        assert_eq!(
            venv_base(&venv.join("bin/tool")),
            Some(root.join("python/3.11"))
        );
        // Not in an environment: the binary's directory, and no interpreter.
        std::fs::remove_file(venv.join("pyvenv.cfg")).unwrap();
        assert_eq!(install_root(&venv.join("bin/tool")), root.join("venv/bin"));
        assert_eq!(venv_base(&venv.join("bin/tool")), None);
    }
}
