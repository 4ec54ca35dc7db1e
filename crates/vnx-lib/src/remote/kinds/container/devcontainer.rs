//! A project's dev container definition (`.devcontainer/devcontainer.json`, JSON with comments)
//! as a container host takes it when its config names the file: the `image`, the
//! `containerEnv`, the user (`remoteUser`, else `containerUser`), and the `mounts` the host's
//! own `mounts:` in `.vnx/config.yaml` lists too (the repository's files never choose a mount
//! alone). What needs a registry or a build (`build`, `dockerFile`, `features`, compose), what
//! would choose the engine's flags from the repository's files (`runArgs`, `privileged`,
//! `capAdd`, `securityOpt`, `workspaceMount`), and what runs on this machine
//! (`initializeCommand`) are refused by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{Mount, parse_mount};
use crate::remote::RemoteError;

/// The most a definition file may hold.
const MAX_BYTES: u64 = 256 * 1024;

/// Why a build is refused.
const BUILD: &str = "a build needs a registry for its base; name a built image in `image`";

/// Why what would choose the engine's flags is refused.
const FLAGS: &str = "the engine's flags come from .vnx/config.yaml, not the repository";

/// The keys vnx refuses, and why.
const REFUSED: &[(&str, &str)] = &[
    ("build", BUILD),
    ("dockerFile", BUILD),
    ("dockerfile", BUILD),
    ("dockerComposeFile", "compose is not a place vnx runs"),
    (
        "features",
        "features are fetched from a registry; build them into the image",
    ),
    ("runArgs", FLAGS),
    (
        "workspaceMount",
        "the clone is on the dispatch's own volume",
    ),
    ("privileged", FLAGS),
    ("capAdd", FLAGS),
    ("securityOpt", FLAGS),
    ("initializeCommand", "it would run on this machine"),
];

/// What vnx takes of a dev container definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    /// The image.
    pub image: String,
    /// The variables set in the container.
    pub env: BTreeMap<String, String>,
    /// Who the place's commands run as: `remoteUser`, else `containerUser`.
    pub user: Option<String>,
    /// Its mounts, `${localWorkspaceFolder}` made the project's root: each taken only when
    /// the host's config lists the same ([`Definition::unlisted_mount`]).
    pub mounts: Vec<Mount>,
}

impl Definition {
    /// The first of its mounts that `listed` (the host's own `mounts:`) does not list, in
    /// words, with how to allow it (`host` is the host's name).
    pub fn unlisted_mount(&self, listed: &[Mount], host: &str) -> Option<String> {
        let m = self
            .mounts
            .iter()
            .find(|m| !listed.iter().any(|l| l.same_as(m)))?;
        let ro = if m.readonly { ", readonly: true" } else { "" };
        Some(format!(
            "vnx takes its mount `{}` only when .vnx/config.yaml lists it: add \
             `{{type: {}, source: {}, target: {}{ro}}}` under hosts.{host}.container.mounts",
            m.engine_arg(),
            m.kind.name(),
            m.source,
            m.target,
        ))
    }
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
    parse(&text, root).map_err(bad)
}

/// The definition in `text` (JSON with comments and trailing commas), of the project at
/// `root`.
fn parse(text: &str, root: &Path) -> Result<Definition, String> {
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
    let mut users = Vec::new();
    for key in ["remoteUser", "containerUser"] {
        if let Some(user) = object.get(key) {
            match user.as_str().filter(|u| crate::config::is_user(u)) {
                Some(user) => users.push(user.to_owned()),
                None => {
                    return Err(format!(
                        "`{key}` must be a user's name, a uid or uid:gid, not {user}"
                    ));
                }
            }
        }
    }
    let mounts = match object.get("mounts") {
        None => Vec::new(),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|m| mount(m, root))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("`mounts` is not a list".into()),
    };
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
        user: users.into_iter().next(),
        mounts,
    })
}

/// One of `mounts`: a string (`source=…,target=…,type=…`) or an object (`source`,
/// `target`, `type`), with `${localWorkspaceFolder}` made `root`, and no other variable.
fn mount(value: &serde_json::Value, root: &Path) -> Result<Mount, String> {
    let shown = value.to_string();
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(o) => {
            if let Some(key) =
                (o.keys()).find(|k| !["source", "target", "type"].contains(&k.as_str()))
            {
                return Err(format!(
                    "the mount {shown} has `{key}`, which vnx does not take"
                ));
            }
            let field = |k: &str| o.get(k).and_then(|v| v.as_str()).unwrap_or_default();
            let fields = [
                ("type", field("type")),
                ("source", field("source")),
                ("target", field("target")),
            ];
            if let Some((k, _)) = fields.iter().find(|(_, v)| v.contains(',')) {
                return Err(format!("the mount {shown} has a `,` in its `{k}`"));
            }
            fields.map(|(k, v)| format!("{k}={v}")).join(",")
        }
        _ => {
            return Err(format!(
                "the mount {shown} is neither a string nor an object"
            ));
        }
    };
    let root = root
        .to_str()
        .ok_or("the project's path is not UTF-8, so `${localWorkspaceFolder}` cannot be")?;
    let text = text.replace("${localWorkspaceFolder}", root);
    if text.contains("${") {
        return Err(format!(
            "the mount {shown} names a variable vnx does not resolve (only \
             `${{localWorkspaceFolder}}`, the project's root)"
        ));
    }
    parse_mount(&text)
        .and_then(Mount::checked)
        .map_err(|why| format!("the mount {shown}: {why}"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{parse, read};
    use crate::config::{Mount, MountKind};

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
        let d = parse(&text, Path::new("/p")).unwrap();
        assert_eq!(d.image, "localhost/app:1");
        assert_eq!(d.env["MODEL_URL"], "http://m:1");
        assert_eq!(d.user.as_deref(), Some("root"));
        assert!(d.mounts.is_empty());
    }

    #[test]
    fn the_user_is_remote_users_else_container_users() {
        for (text, user) in [
            (
                r#"{"image": "i", "remoteUser": "vscode", "containerUser": "root"}"#,
                Some("vscode"),
            ),
            (
                r#"{"image": "i", "containerUser": "1000:1000"}"#,
                Some("1000:1000"),
            ),
            (r#"{"image": "i"}"#, None),
        ] {
            let d = parse(text, Path::new("/p")).unwrap();
            assert_eq!(d.user.as_deref(), user, "{text}");
        }
    }

    #[test]
    fn mounts_are_read_with_the_workspace_folder_and_taken_only_when_listed() {
        let text = r#"{"image": "i", "mounts": [
            "source=${localWorkspaceFolder}/data,target=/data,type=bind,consistency=cached",
            {"source": "cache", "target": "/cache", "type": "volume"}
        ]}"#;
        let d = parse(text, Path::new("/home/u/app")).unwrap();
        let data = Mount {
            kind: MountKind::Bind,
            source: "/home/u/app/data".into(),
            target: "/data".into(),
            readonly: false,
        };
        let cache = Mount {
            kind: MountKind::Volume,
            source: "cache".into(),
            target: "/cache".into(),
            readonly: false,
        };
        assert_eq!(d.mounts, [data.clone(), cache.clone()]);
        // Listed by the config (read-only there: the config's entry is what is mounted).
        let listed = [
            Mount {
                readonly: true,
                ..data.clone()
            },
            cache.clone(),
        ];
        assert_eq!(d.unlisted_mount(&listed, "box"), None);
        let why = d.unlisted_mount(&listed[1..], "box").unwrap();
        assert!(
            why.contains("type=bind,source=/home/u/app/data,target=/data"),
            "{why}"
        );
        assert!(
            why.contains("add `{type: bind, source: /home/u/app/data, target: /data}` under hosts.box.container.mounts"),
            "{why}"
        );
        for (mounts, says) in [
            (
                r#"["source=${localEnv:HOME},target=/h,type=bind"]"#,
                "names a variable",
            ),
            (
                r#"["source=${localWorkspaceFolder}/../x,target=/h,type=bind"]"#,
                "a bind's source",
            ),
            (
                r#"["source=/a,target=${containerWorkspaceFolder},type=bind"]"#,
                "names a variable",
            ),
            (
                r#"["source=/a,target=/work/repo,type=bind"]"#,
                "a target must be",
            ),
            (r#"["source=/a,target=/b,type=tmpfs"]"#, "not `tmpfs`"),
            (
                r#"[{"source": "/a", "target": "/b", "type": "bind", "x": 1}]"#,
                "`x`",
            ),
            (
                r#"[{"source": "/a,b", "target": "/b", "type": "bind"}]"#,
                "a `,`",
            ),
            (r#"[1]"#, "neither a string"),
            (r#""source=/a""#, "not a list"),
        ] {
            let text = format!(r#"{{"image": "i", "mounts": {mounts}}}"#);
            let err = parse(&text, Path::new("/p")).unwrap_err();
            assert!(err.contains(says), "{mounts}: {err}");
        }
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
                "a bind's source",
            ),
            (
                r#"{"image": "i", "initializeCommand": "curl x | sh"}"#,
                "this machine",
            ),
            (
                r#"{"image": "i", "remoteUser": "a b"}"#,
                "`remoteUser` must be",
            ),
            (
                r#"{"image": "i", "containerUser": 0}"#,
                "`containerUser` must be",
            ),
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
            let err = parse(text, Path::new("/p")).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
