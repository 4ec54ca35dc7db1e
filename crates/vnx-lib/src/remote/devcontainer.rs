//! A project's dev container definition (`.devcontainer/devcontainer.json`, JSON with comments)
//! as a container host takes it when its config names the file: the `image` and the
//! `containerEnv`, nothing else. What needs a registry or a build (`build`, `dockerFile`,
//! `features`, compose), what would choose the engine's flags from the repository's files
//! (`runArgs`, `mounts`, `privileged`, `capAdd`, `securityOpt`, `workspaceMount`), a user other
//! than root, and what runs on this machine (`initializeCommand`) are refused by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::RemoteError;

/// The most a definition file may hold.
const MAX_BYTES: u64 = 256 * 1024;

/// The keys vnx refuses, and why.
const REFUSED: &[(&str, &str)] = &[
    (
        "build",
        "a build needs a registry for its base; name a built image in `image`",
    ),
    (
        "dockerFile",
        "a build needs a registry for its base; name a built image in `image`",
    ),
    (
        "dockerfile",
        "a build needs a registry for its base; name a built image in `image`",
    ),
    ("dockerComposeFile", "compose is not a place vnx runs"),
    (
        "features",
        "features are fetched from a registry; build them into the image",
    ),
    (
        "runArgs",
        "the engine's flags come from .vnx/config.yaml, not the repository",
    ),
    (
        "mounts",
        "the engine's mounts come from .vnx/config.yaml, not the repository",
    ),
    (
        "workspaceMount",
        "the clone is on the dispatch's own volume",
    ),
    (
        "privileged",
        "the engine's flags come from .vnx/config.yaml, not the repository",
    ),
    (
        "capAdd",
        "the engine's flags come from .vnx/config.yaml, not the repository",
    ),
    (
        "securityOpt",
        "the engine's flags come from .vnx/config.yaml, not the repository",
    ),
    ("initializeCommand", "it would run on this machine"),
];

/// What vnx takes of a dev container definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    /// The image.
    pub image: String,
    /// The variables set in the container.
    pub env: BTreeMap<String, String>,
}

/// Reads the definition at `rel` in the project at `root` (a committed file: never through a
/// link, bounded).
pub fn read(root: &Path, rel: &str) -> Result<Definition, RemoteError> {
    let path = root.join(rel);
    let bad = |detail: String| RemoteError::Devcontainer {
        path: PathBuf::from(rel),
        detail,
    };
    let levels = Path::new(rel).components().count();
    let file = crate::files::open_untrusted(&path, levels).map_err(|e| bad(e.to_string()))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_BYTES + 1), &mut text)
        .map_err(|e| bad(e.to_string()))?;
    if text.len() as u64 > MAX_BYTES {
        return Err(bad(format!("it is larger than {MAX_BYTES} bytes")));
    }
    parse(&text).map_err(bad)
}

/// The definition in `text` (JSON with comments and trailing commas).
fn parse(text: &str) -> Result<Definition, String> {
    let options = jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        ..Default::default()
    };
    let value: serde_json::Value =
        jsonc_parser::parse_to_serde_value(text, &options).map_err(|e| e.to_string())?;
    let object = value.as_object().ok_or("it is not a JSON object")?;
    if let Some((key, why)) = REFUSED.iter().find(|(key, _)| object.contains_key(*key)) {
        return Err(format!("vnx does not take `{key}`: {why}"));
    }
    for key in ["remoteUser", "containerUser"] {
        if let Some(user) = object.get(key)
            && user.as_str() != Some("root")
        {
            return Err(format!(
                "vnx does not take `{key}` other than root yet: the clone's volume is root's"
            ));
        }
    }
    let image = object
        .get("image")
        .and_then(|i| i.as_str())
        .ok_or("it names no `image` (vnx takes an image, not a build)")?;
    if image.is_empty()
        || image.starts_with('-')
        || image.contains(|c: char| c.is_whitespace() || c.is_control())
    {
        return Err(format!("`image` is not an image name: {image:?}"));
    }
    let mut env = BTreeMap::new();
    for (key, value) in object
        .get("containerEnv")
        .and_then(|e| e.as_object())
        .into_iter()
        .flatten()
    {
        let value = value
            .as_str()
            .filter(|v| !v.contains('\0') && !v.contains("${"))
            .ok_or_else(|| format!("`containerEnv.{key}` is not a plain string"))?;
        if !crate::config::is_variable(key) {
            return Err(format!("`containerEnv` names no variable: {key:?}"));
        }
        env.insert(key.clone(), value.to_owned());
    }
    Ok(Definition {
        image: image.to_owned(),
        env,
    })
}

#[cfg(test)]
mod tests {
    use super::{parse, read};

    #[test]
    fn a_definition_behind_a_link_or_too_large_is_refused_unread() {
        let t = tempfile::tempdir().unwrap();
        let secret = t.path().join("secret.json");
        std::fs::write(&secret, r#"{"image": "from-a-link"}"#).unwrap();
        std::fs::create_dir(t.path().join(".devcontainer")).unwrap();
        let link = t.path().join(".devcontainer/devcontainer.json");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let err = read(t.path(), ".devcontainer/devcontainer.json").unwrap_err();
        assert!(!err.to_string().contains("from-a-link"), "{err}");
        assert!(err.to_string().contains("cannot be used"), "{err}");
        // A linked directory on the way is refused too.
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_dir(t.path().join(".devcontainer")).unwrap();
        std::fs::create_dir(t.path().join("real")).unwrap();
        std::fs::write(t.path().join("real/devcontainer.json"), r#"{"image": "i"}"#).unwrap();
        std::os::unix::fs::symlink(t.path().join("real"), t.path().join(".devcontainer")).unwrap();
        assert!(read(t.path(), ".devcontainer/devcontainer.json").is_err());
        std::fs::write(
            t.path().join("real/big.json"),
            format!(
                "{{\"image\": \"i\", \"x\": \"{}\"}}",
                "a".repeat(300 * 1024)
            ),
        )
        .unwrap();
        let err = read(t.path(), "real/big.json").unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    #[test]
    fn the_image_and_env_are_taken_with_comments_and_trailing_commas() {
        let text = String::from(
            "// the project's container\n{\n  \"name\": \"app\",\n  \"image\": \"localhost/app:1\", /* built by CI */\n  \"containerEnv\": {\"MODEL_URL\": \"http://m:1\",},\n  \"remoteUser\": \"root\",\n  \"customizations\": {},\n}\n",
        );
        let d = parse(&text).unwrap();
        assert_eq!(d.image, "localhost/app:1");
        assert_eq!(d.env["MODEL_URL"], "http://m:1");
    }

    #[test]
    fn what_vnx_does_not_take_is_refused_by_name() {
        for (text, says) in [
            (r#"{"build": {"dockerfile": "Dockerfile"}}"#, "`build`"),
            (r#"{"image": "i", "features": {"x": {}}}"#, "`features`"),
            (
                r#"{"image": "i", "runArgs": ["--privileged"]}"#,
                "`runArgs`",
            ),
            (
                r#"{"image": "i", "mounts": ["source=/,target=/h,type=bind"]}"#,
                "`mounts`",
            ),
            (
                r#"{"image": "i", "initializeCommand": "curl x | sh"}"#,
                "this machine",
            ),
            (r#"{"image": "i", "remoteUser": "vscode"}"#, "`remoteUser`"),
            (r#"{"image": "--privileged"}"#, "not an image name"),
            (
                r#"{"image": "i", "containerEnv": {"A": "${localEnv:HOME}"}}"#,
                "plain string",
            ),
            (
                r#"{"image": "i", "containerEnv": {"A B": "x"}}"#,
                "names no variable",
            ),
            (r#"{"name": "x"}"#, "no `image`"),
            ("[1]", "not a JSON object"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
