//! The stand-in's `get KIND[,KIND…] -l SELECTOR -o json`: the objects of those kinds in the
//! namespace whose labels match (`KEY` or `KEY=VALUE`, all of them), as a `List` the API
//! server answers, from the manifests kept when they were applied (a pod or claim only while
//! its container or volume is there, a pod with its phase); and the store the agent-sandbox
//! objects share (`stored`, `all`, `forget`).

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{Call, engine_out, phase};

fn dir(call: &Call, plural: &str) -> Result<PathBuf, String> {
    let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
    Ok(PathBuf::from(home)
        .join(".vnx-fake-kubectl")
        .join(&call.namespace)
        .join(plural))
}

/// Keeps `manifest`, an object of kind `plural`, for listings.
pub(super) fn keep(call: &Call, plural: &str, manifest: &Value) -> Result<(), String> {
    let name = manifest["metadata"]["name"]
        .as_str()
        .ok_or("no metadata.name")?;
    let dir = dir(call, plural)?;
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let text = serde_json::to_vec_pretty(manifest).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(format!("{name}.json")), text).map_err(|e| e.to_string())
}

/// The kept object `name` of kind `plural`, if there is one.
pub(super) fn stored(call: &Call, plural: &str, name: &str) -> Result<Option<Value>, String> {
    match std::fs::read(dir(call, plural)?.join(format!("{name}.json"))) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Every kept object of kind `plural`, by name.
pub(super) fn all(call: &Call, plural: &str) -> Result<Vec<Value>, String> {
    let Ok(entries) = std::fs::read_dir(dir(call, plural)?) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    Ok(paths
        .iter()
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect())
}

/// Forgets the kept object `name` of kind `plural` (none is fine).
pub(super) fn forget(call: &Call, plural: &str, name: &str) -> Result<(), String> {
    match std::fs::remove_file(dir(call, plural)?.join(format!("{name}.json"))) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
        _ => Ok(()),
    }
}

fn matches(object: &Value, selector: &str) -> bool {
    let labels = &object["metadata"]["labels"];
    selector.split(',').all(|part| match part.split_once('=') {
        Some((k, v)) => labels[k].as_str() == Some(v),
        None => labels.get(part).is_some(),
    })
}

pub(super) fn get(call: &Call, kinds: &str, selector: &str) -> Result<u8, String> {
    let mut items = Vec::new();
    for kind in kinds.split(',') {
        let (plural, kind_name) = match kind {
            "pod" | "pods" => ("pods", "Pod"),
            "persistentvolumeclaim" | "persistentvolumeclaims" | "pvc" => {
                ("persistentvolumeclaims", "PersistentVolumeClaim")
            }
            "sandbox" | "sandboxes" => ("sandboxes", "Sandbox"),
            "sandboxclaim" | "sandboxclaims" => ("sandboxclaims", "SandboxClaim"),
            other => return Err(format!("the stand-in lists no {other:?}")),
        };
        let Ok(entries) = std::fs::read_dir(dir(call, plural)?) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Ok(mut object) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let engine_name = call.object(&name);
            match kind_name {
                "Pod" => match phase(&engine_name) {
                    Some(p) => object["status"] = json!({"phase": p}),
                    None => continue,
                },
                "PersistentVolumeClaim"
                    if engine_out(&["volume", "inspect", &engine_name]).is_err() =>
                {
                    continue;
                }
                _ => {}
            }
            object["kind"] = kind_name.into();
            if matches(&object, selector) {
                items.push(object);
            }
        }
    }
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    println!(
        "{}",
        serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?
    );
    Ok(0)
}
