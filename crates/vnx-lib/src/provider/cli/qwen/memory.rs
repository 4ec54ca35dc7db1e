//! Its auto memory, kept with its dispatch (ADR 0126). Qwen Code 0.15.10 keeps a memory
//! folder per repository, `<base>/projects/<main checkout, sanitized>/memory/`, whose
//! `MEMORY.md` it loads into every session; the base is its home (`~/.qwen`) unless
//! `QWEN_CODE_MEMORY_BASE_DIR` names another, and the main checkout is the one every worktree
//! of the repository shares. vnx names a base in the dispatch's directory, so the folder is
//! the dispatch's own.

use std::path::{Path, PathBuf};

/// The variable that moves its memory's base (seen on 0.15.10).
pub(super) const BASE_VAR: &str = "QWEN_CODE_MEMORY_BASE_DIR";

/// The base vnx names in the dispatch's directory.
pub(super) fn base(dispatch_dir: &Path) -> PathBuf {
    dispatch_dir.join("qwen-memory")
}

/// The folder it keeps a dispatch's memory in: `projects/<main checkout>/memory` below the
/// base, the checkout's path sanitized as it does (every UTF-16 unit that is not an ASCII
/// letter or digit becomes `-`).
pub(super) fn folder(dispatch_dir: &Path, main_checkout: &Path) -> PathBuf {
    let checkout = main_checkout
        .canonicalize()
        .unwrap_or_else(|_| main_checkout.to_owned());
    let sanitized: String = (checkout.to_string_lossy().chars())
        .flat_map(|c| {
            let kept = c.is_ascii_alphanumeric();
            std::iter::repeat_n(
                if kept { c } else { '-' },
                if kept { 1 } else { c.len_utf16() },
            )
        })
        .collect();
    base(dispatch_dir)
        .join("projects")
        .join(sanitized)
        .join("memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_below_the_dispatchs_base_named_as_qwen_sanitizes_the_checkout() {
        let got = folder(Path::new("/d/D-1"), Path::new("/no/such/r\u{e9}po_1"));
        assert_eq!(
            got,
            Path::new("/d/D-1/qwen-memory/projects/-no-such-r-po-1/memory")
        );
        // Outside the basic plane a character is two UTF-16 units, so two dashes.
        let got = folder(Path::new("/d"), Path::new("/no/such/a\u{1f600}b"));
        assert!(got.ends_with("projects/-no-such-a--b/memory"), "{got:?}");
    }
}
