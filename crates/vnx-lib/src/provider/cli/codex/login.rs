//! What logs Codex in, for a place's `logins:`: `$CODEX_HOME/auth.json` (its ChatGPT login or
//! API key), and `config.toml` (the model and the provider a key is for) with only the
//! folder it works in there left of its `projects` (the trust of every other project it was
//! run in stays here): never `history.jsonl`, its sessions or anything else of `~/.codex`.

use crate::provider::cli::login::LoginFile;

/// The files.
pub(super) const FILES: &[LoginFile] = &[
    LoginFile::whole(".codex/auth.json"),
    LoginFile::part(".codex/config.toml", config),
];

/// `config.toml` with only `workdir`'s entry left of `projects` (its trust there).
fn config(bytes: &[u8], workdir: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut doc: toml_edit::DocumentMut = text.parse().ok()?;
    if let Some(projects) = doc.get_mut("projects").and_then(|p| p.as_table_like_mut()) {
        let others: Vec<String> = (projects.iter())
            .map(|(k, _)| k.to_owned())
            .filter(|k| k != workdir)
            .collect();
        for k in others {
            projects.remove(&k);
        }
    }
    Some(doc.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_trust_of_the_folder_there_is_left_of_its_projects() {
        let text = "model = \"gpt-5.5\"\n\n[model_providers.mock]\nbase_url = \"http://x\"\n\n[projects.\"/home/me/secret-project\"]\ntrust_level = \"trusted\"\n\n[projects.\"/work/repo\"]\ntrust_level = \"trusted\"\n";
        let kept = String::from_utf8(config(text.as_bytes(), "/work/repo").unwrap()).unwrap();
        assert!(!kept.contains("secret-project"), "{kept}");
        assert!(kept.contains("[projects.\"/work/repo\"]"), "{kept}");
        assert!(kept.contains("[model_providers.mock]"), "{kept}");
        assert!(kept.starts_with("model = \"gpt-5.5\""), "{kept}");
        let inline = "projects = { \"/a\" = { trust_level = \"trusted\" } }\n";
        let kept = String::from_utf8(config(inline.as_bytes(), "/work/repo").unwrap()).unwrap();
        assert!(!kept.contains("/a"), "{kept}");
        assert!(config(b"= not toml", "/work/repo").is_none());
    }
}
