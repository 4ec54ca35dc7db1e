//! Qwen Code's folder trust (seen on qwen 0.15.10): off unless its settings say
//! `security.folderTrust.enabled: true`; then its TUI asks "Do you trust this folder?" in a
//! folder `trustedFolders.json` in its home does not trust, a map of folders to
//! `TRUST_FOLDER` (that folder and those below), `TRUST_PARENT` (the folder above it and
//! those below) or `DO_NOT_TRUST`.

use std::path::Path;

use serde_json::Value;

use super::super::trust::FolderTrust;

/// The most bytes of its settings and trust files read.
const MAX_FILE: u64 = 4 << 20;

/// What qwen's `home` says of `root`: `None` when its folder trust is off (no dialog).
pub(super) fn of(home: &Path, root: &Path) -> Option<FolderTrust> {
    let read = |file: &Path| {
        crate::files::read_named(file, MAX_FILE)
            .ok()
            .and_then(|d| serde_json::from_slice::<Value>(&d).ok())
    };
    let settings = read(&home.join("settings.json"))?;
    if settings.pointer("/security/folderTrust/enabled") != Some(&Value::Bool(true)) {
        return None;
    }
    let file = home.join("trustedFolders.json");
    let rules = read(&file);
    let trusted = rules
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|rules| {
            rules.iter().any(|(folder, level)| {
                let folder = Path::new(folder);
                let covered = match level.as_str() {
                    Some("TRUST_FOLDER") => Some(folder),
                    Some("TRUST_PARENT") => folder.parent(),
                    _ => None,
                };
                covered.is_some_and(|f| f.is_absolute() && root.starts_with(f))
            })
        });
    Some(FolderTrust {
        file,
        trusted,
        dialog: "\"Do you trust this folder?\"",
        answer: "choose \"1. Trust folder\"",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_counts_only_where_its_folder_trust_is_on() {
        let home = tempfile::tempdir().unwrap();
        let root = Path::new("/work/repo");
        assert_eq!(of(home.path(), root), None, "no settings: no dialog");
        std::fs::write(
            home.path().join("settings.json"),
            r#"{"security":{"folderTrust":{"enabled":true}}}"#,
        )
        .unwrap();
        assert!(!of(home.path(), root).unwrap().trusted);
        let rules = home.path().join("trustedFolders.json");
        std::fs::write(&rules, r#"{"/work/repo":"TRUST_FOLDER"}"#).unwrap();
        assert!(of(home.path(), root).unwrap().trusted);
        assert!(
            !of(home.path(), Path::new("/work/other")).unwrap().trusted,
            "a sibling"
        );
        std::fs::write(&rules, r#"{"/work/other":"TRUST_PARENT"}"#).unwrap();
        assert!(of(home.path(), root).unwrap().trusted, "its parent's trust");
        std::fs::write(&rules, r#"{"/work/repo":"DO_NOT_TRUST"}"#).unwrap();
        assert!(!of(home.path(), root).unwrap().trusted);
    }
}
