//! The stand-in's Secrets: the object kept as its manifest under `$HOME/.vnx-fake-kubectl/`
//! (the API server's store, as for a `Sandbox`), and a pod's `secret` volume made as the
//! kubelet makes it (its atomic writer): a directory of its own holding a timestamped
//! directory with each item's file (`items`' path, or the key), a `..data` link to it, and a
//! link from each top-level name to `..data/NAME`; mounted read-only into the pod's
//! container. A missing Secret or key fails the pod unless the volume is `optional`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Call;

fn home() -> Result<PathBuf, String> {
    Ok(PathBuf::from(
        std::env::var_os("HOME").ok_or("HOME is not set")?,
    ))
}

fn store(call: &Call, name: &str) -> Result<PathBuf, String> {
    Ok(home()?
        .join(".vnx-fake-kubectl")
        .join(&call.namespace)
        .join("secrets")
        .join(format!("{name}.json")))
}

/// The stored Secret `name`, if there is one.
pub(super) fn stored(call: &Call, name: &str) -> Result<Option<Value>, String> {
    match std::fs::read(store(call, name)?) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// `apply -f` of a Secret: its data checked as the API server does (base64, keys of
/// `[-._a-zA-Z0-9]`, at most 1 MiB), then kept.
pub(super) fn apply(call: &Call, manifest: &Value) -> Result<(), String> {
    let name = manifest["metadata"]["name"]
        .as_str()
        .ok_or("no metadata.name")?;
    let mut total = 0;
    for (key, value) in manifest["data"].as_object().into_iter().flatten() {
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(format!(
                "Secret \"{name}\" is invalid: data[{key}]: Invalid value: a valid config key"
            ));
        }
        total += decode(value.as_str().ok_or("data values are strings")?)?.len();
    }
    if total > 1024 * 1024 {
        return Err(format!(
            "Secret \"{name}\" is invalid: data: Too long: must have at most 1048576 bytes"
        ));
    }
    let verb = if stored(call, name)?.is_some() {
        "configured"
    } else {
        "created"
    };
    let path = store(call, name)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let text = serde_json::to_vec_pretty(manifest).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| e.to_string())?;
    println!("secret/{name} {verb}");
    Ok(())
}

/// `delete secret NAME`.
pub(super) fn delete(call: &Call, name: &str, ignore: bool) -> Result<u8, String> {
    if stored(call, name)?.is_none() {
        if ignore {
            return Ok(0);
        }
        eprintln!("Error from server (NotFound): secrets \"{name}\" not found");
        return Ok(1);
    }
    std::fs::remove_file(store(call, name)?).map_err(|e| e.to_string())?;
    println!("secret \"{name}\" deleted");
    Ok(0)
}

/// Where pod `object`'s volume `volume` is made.
fn volume_dir(object: &str, volume: &str) -> Result<PathBuf, String> {
    Ok(home()?
        .join(".vnx-fake-kubectl")
        .join("volumes")
        .join(object)
        .join(volume))
}

/// Pod `object`'s volumes made by the kubelet, removed with it.
pub(super) fn forget_pod(object: &str) {
    if let Ok(dir) = volume_dir(object, "") {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The secret volume `volume` (its `secret` source) of pod `object` made as the kubelet makes
/// it; the directory to mount, or `None` for an optional Secret that is not there.
pub(super) fn materialize(
    call: &Call,
    object: &str,
    volume: &Value,
) -> Result<Option<PathBuf>, String> {
    let source = &volume["secret"];
    let name = source["secretName"].as_str().ok_or("no secretName")?;
    let optional = source["optional"].as_bool().unwrap_or(false);
    let Some(secret) = stored(call, name)? else {
        if optional {
            return Ok(None);
        }
        return Err(format!(
            "MountVolume.SetUp failed for volume {:?}: secret \"{name}\" not found",
            volume["name"]
        ));
    };
    let data = secret["data"].as_object().cloned().unwrap_or_default();
    let items: Vec<(String, String)> = match source["items"].as_array() {
        Some(items) => items
            .iter()
            .map(|i| {
                let key = i["key"].as_str().unwrap_or_default().to_owned();
                let path = i["path"].as_str().unwrap_or_default().to_owned();
                (key, path)
            })
            .collect(),
        None => data.keys().map(|k| (k.clone(), k.clone())).collect(),
    };
    let dir = volume_dir(object, volume["name"].as_str().ok_or("no volume name")?)?;
    let _ = std::fs::remove_dir_all(&dir);
    let stamp = "..2026_01_01_00_00_00.000000001";
    let data_dir = dir.join(stamp);
    std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
    let mut top = Vec::new();
    for (key, path) in items {
        if path.is_empty()
            || path.starts_with("..")
            || Path::new(&path)
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(format!("items path {path:?} is not a relative path"));
        }
        let Some(value) = data.get(&key) else {
            if optional {
                continue;
            }
            return Err(format!(
                "MountVolume.SetUp failed: couldn't find key {key} in Secret {name}"
            ));
        };
        let bytes = decode(value.as_str().unwrap_or_default())?;
        let file = data_dir.join(&path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&file, bytes).map_err(|e| e.to_string())?;
        let first = path.split('/').next().unwrap_or_default().to_owned();
        if !top.contains(&first) {
            top.push(first);
        }
    }
    std::os::unix::fs::symlink(stamp, dir.join("..data")).map_err(|e| e.to_string())?;
    for name in top {
        std::os::unix::fs::symlink(format!("..data/{name}"), dir.join(&name))
            .map_err(|e| e.to_string())?;
    }
    Ok(Some(dir))
}

/// Standard base64, as the API server reads a Secret's `data`.
fn decode(text: &str) -> Result<Vec<u8>, String> {
    let value = |c: u8| -> Result<u32, String> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("illegal base64 data: {:?}", c as char)),
        }
        .into())
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    if !text.len().is_multiple_of(4) || bytes.len() % 4 == 1 {
        return Err("illegal base64 data: wrong length".into());
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let [_, a, b, c] = n.to_be_bytes();
        out.extend(&[a, b, c][..chunk.len() - 1]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes_as_the_api_server_reads_it() {
        assert_eq!(super::decode("").unwrap(), b"");
        assert_eq!(super::decode("TE9HSU4=").unwrap(), b"LOGIN");
        assert_eq!(super::decode("YWI=").unwrap(), b"ab");
        assert_eq!(super::decode("YWJj").unwrap(), b"abc");
        assert!(super::decode("YWI").is_err());
        assert!(super::decode("Y*I=").is_err());
    }
}
