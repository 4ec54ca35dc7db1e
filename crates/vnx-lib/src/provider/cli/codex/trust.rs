//! Codex's folder trust: `[projects."<repo>"] trust_level = "trusted"` in
//! `$CODEX_HOME/config.toml`.

use std::path::Path;

use super::super::trust::FolderTrust;

/// What `config.toml` in `codex_home` says of `root`.
pub(super) fn of(codex_home: &Path, root: &Path) -> FolderTrust {
    let file = codex_home.join("config.toml");
    let text = crate::files::read_named(&file, 16 << 20)
        .map(|d| String::from_utf8_lossy(&d).into_owned())
        .unwrap_or_default();
    let header = format!("[projects.\"{}\"]", root.display());
    let mut in_section = false;
    let mut trusted = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == header;
        } else if in_section && line.replace(' ', "").starts_with("trust_level=\"trusted\"") {
            trusted = true;
        }
    }
    FolderTrust {
        file,
        trusted,
        dialog: "\"Trust this folder?\"",
        answer: "choose \"Trust and continue\"",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_of_the_repository_counts() {
        let home = tempfile::tempdir().unwrap();
        let root = Path::new("/work/repo");
        assert!(!of(home.path(), root).trusted);
        std::fs::write(
            home.path().join("config.toml"),
            "model = \"x\"\n[projects.\"/work/repo\"]\ntrust_level = \"trusted\"\n",
        )
        .unwrap();
        assert!(of(home.path(), root).trusted);
    }
}
