//! The stand-in's agent-sandbox `Sandbox` (`agents.x-k8s.io/v1beta1`): the object kept as its
//! manifest under `$HOME/.vnx-fake-kubectl/` (the API server's store), and after each change
//! made as the agent-sandbox controller makes it (`controllers/sandbox_controller.go`,
//! `reconcilePVCs` and `reconcilePod`): a claim per claim template, named `TEMPLATE-SANDBOX`
//! and labelled with the name's hash, made whatever the operating mode; when `Running`, a pod
//! named as the `Sandbox` from its pod template, its labels and annotations only, the claims
//! mounted as the volumes named as their templates; when `Suspended`, the pod deleted and the
//! claims kept. `Ready` is `Running` with the pod running; deleting the `Sandbox` deletes
//! what it owns; a pod of a `Running` one that is deleted is made again. The claim templates
//! cannot change (the CRD's rule).

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::{Call, engine_out, flag_value, phase, run_pod};

/// The label the controller gives what it makes: the `Sandbox`'s name's hash.
const NAME_HASH_LABEL: &str = "agents.x-k8s.io/sandbox-name-hash";

/// The annotation the controller gives a pod, naming the labels taken from the template.
const PROPAGATED_LABELS: &str = "agents.x-k8s.io/propagated-labels";

/// How kubectl names the kind.
const SHOWN: &str = "sandbox.agents.x-k8s.io";

/// The controller's `NameHash`: FNV-1a (32 bits) of the name, in 8 hex digits.
pub(super) fn name_hash(name: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

fn store(call: &Call, name: &str) -> Result<PathBuf, String> {
    let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
    Ok(PathBuf::from(home)
        .join(".vnx-fake-kubectl")
        .join(&call.namespace)
        .join("sandboxes")
        .join(format!("{name}.json")))
}

/// The stored `Sandbox` `name`, if there is one.
pub(super) fn stored(call: &Call, name: &str) -> Result<Option<Value>, String> {
    match std::fs::read(store(call, name)?) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

pub(super) fn keep(call: &Call, sandbox: &Value) -> Result<(), String> {
    let name = sandbox["metadata"]["name"]
        .as_str()
        .ok_or("no metadata.name")?;
    let path = store(call, name)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let text = serde_json::to_vec_pretty(sandbox).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| e.to_string())
}

/// `spec.operatingMode`, `Running` when unset (the CRD's default).
pub(super) fn mode(sandbox: &Value) -> &str {
    sandbox["spec"]["operatingMode"]
        .as_str()
        .unwrap_or("Running")
}

/// The names of `sandbox`'s claim templates.
fn templates(sandbox: &Value) -> Vec<String> {
    sandbox["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// `apply -f` of a `Sandbox`: kept (its claim templates as they were), then made.
pub(super) fn apply(call: &Call, manifest: &Value) -> Result<(), String> {
    let name = manifest["metadata"]["name"]
        .as_str()
        .ok_or("no metadata.name")?;
    let verb = match stored(call, name)? {
        Some(old) => {
            immutable(name, &old, manifest)?;
            "configured"
        }
        None => "created",
    };
    keep(call, manifest)?;
    reconcile(call, manifest)?;
    println!("{SHOWN}/{name} {verb}");
    Ok(())
}

fn immutable(name: &str, old: &Value, new: &Value) -> Result<(), String> {
    let templates = |s: &Value| s["spec"].get("volumeClaimTemplates").cloned();
    if templates(old) != templates(new) {
        return Err(format!(
            "The Sandbox \"{name}\" is invalid: spec: Invalid value: \"object\": \
             volumeClaimTemplates is immutable"
        ));
    }
    Ok(())
}

/// `patch sandbox NAME --type=merge -p JSON`: the patch merged (RFC 7386), kept, made.
pub(super) fn patch(call: &Call, args: &[String]) -> Result<u8, String> {
    let name = match args {
        [kind, name, ..] if kind == "sandbox" || kind == "sandboxes" => name.as_str(),
        _ => return Err("the stand-in patches sandbox NAME only".into()),
    };
    if flag_value(args, "--type") != Some("merge") {
        return Err("the stand-in takes --type=merge patches only".into());
    }
    let patch: Value = serde_json::from_str(flag_value(args, "-p").ok_or("patch needs -p")?)
        .map_err(|e| e.to_string())?;
    let Some(old) = stored(call, name)? else {
        eprintln!("Error from server (NotFound): sandboxes.agents.x-k8s.io \"{name}\" not found");
        return Ok(1);
    };
    let mut new = old.clone();
    merge(&mut new, &patch);
    immutable(name, &old, &new)?;
    keep(call, &new)?;
    reconcile(call, &new)?;
    println!("{SHOWN}/{name} patched");
    Ok(0)
}

fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(fields) = target else {
        return;
    };
    for (k, v) in patch {
        if v.is_null() {
            fields.remove(k);
        } else {
            merge(fields.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// What the controller makes of `sandbox`: its claims, then its pod as its mode says.
pub(super) fn reconcile(call: &Call, sandbox: &Value) -> Result<(), String> {
    let name = sandbox["metadata"]["name"]
        .as_str()
        .ok_or("no metadata.name")?;
    let hash = name_hash(name);
    for template in sandbox["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let claim = call.object(&format!(
            "{}-{name}",
            template["metadata"]["name"]
                .as_str()
                .ok_or("a template has no name")?
        ));
        if engine_out(&["volume", "inspect", &claim]).is_err() {
            let mut argv = vec!["volume".to_owned(), "create".into()];
            let labels = template["metadata"]["labels"].as_object().cloned();
            for (k, v) in labels.into_iter().flatten() {
                argv.extend([
                    "--label".into(),
                    format!("{k}={}", v.as_str().unwrap_or_default()),
                ]);
            }
            argv.extend(["--label".into(), format!("{NAME_HASH_LABEL}={hash}"), claim]);
            engine_out(&argv.iter().map(String::as_str).collect::<Vec<_>>())?;
        }
    }
    let pod = call.object(name);
    match mode(sandbox) {
        "Suspended" => {
            if phase(&pod).is_some() {
                engine_out(&["rm", "--force", "--time", "5", &pod])?;
            }
        }
        "Running" if phase(&pod).is_none() => run_pod(call, &pod_of(name, &hash, sandbox))?,
        "Running" => {}
        other => {
            return Err(format!(
                "spec.operatingMode {other:?} is not Running or Suspended"
            ));
        }
    }
    Ok(())
}

/// The controller's pod of `sandbox`: the template's labels (and the name's hash) and
/// annotations, its spec with a volume per claim template in place of one so named.
fn pod_of(name: &str, hash: &str, sandbox: &Value) -> Value {
    let template = &sandbox["spec"]["podTemplate"];
    let mut labels = template["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut keys: Vec<&String> = labels.keys().collect();
    keys.sort();
    let propagated = keys
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let mut annotations = template["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if !propagated.is_empty() {
        annotations.insert(PROPAGATED_LABELS.into(), propagated.into());
    }
    labels.insert(NAME_HASH_LABEL.into(), hash.into());
    let mut spec = template["spec"].clone();
    let claims = templates(sandbox);
    let mut volumes: Vec<Value> = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| !claims.iter().any(|c| v["name"] == c.as_str()))
        .cloned()
        .collect();
    volumes.extend(claims.iter().map(
        |c| json!({"name": c, "persistentVolumeClaim": {"claimName": format!("{c}-{name}")}}),
    ));
    spec["volumes"] = Value::Array(volumes);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": spec,
    })
}

/// A deleted pod of a `Running` `Sandbox` made again at once from its template, as the
/// controller does when the deletion reaches it (`reconcilePod`: no pod while `Running`, a
/// new one, named as before); what was on the pod's own filesystem is gone, its claims stay.
pub(super) fn pod_deleted(call: &Call, pod: &str) -> Result<(), String> {
    if let Some(sandbox) = stored(call, pod)?
        && mode(&sandbox) == "Running"
    {
        reconcile(call, &sandbox)?;
    }
    Ok(())
}

/// The controller's `Ready`: `Running`, and its pod running.
pub(super) fn ready(call: &Call, name: &str) -> Result<bool, String> {
    Ok(stored(call, name)?.is_some_and(|s| mode(&s) == "Running")
        && phase(&call.object(name)).as_deref() == Some("Running"))
}

/// `delete sandbox NAME`: the `Sandbox`, its pod and its claims.
pub(super) fn delete(call: &Call, name: &str, ignore: bool) -> Result<u8, String> {
    let Some(sandbox) = stored(call, name)? else {
        if ignore {
            return Ok(0);
        }
        eprintln!("Error from server (NotFound): sandboxes.agents.x-k8s.io \"{name}\" not found");
        return Ok(1);
    };
    let pod = call.object(name);
    if phase(&pod).is_some() {
        engine_out(&["rm", "--force", "--time", "5", &pod])?;
    }
    for template in templates(&sandbox) {
        let claim = call.object(&format!("{template}-{name}"));
        if engine_out(&["volume", "inspect", &claim]).is_ok() {
            engine_out(&["volume", "rm", "--force", &claim])?;
        }
    }
    std::fs::remove_file(store(call, name)?).map_err(|e| e.to_string())?;
    println!("{SHOWN} \"{name}\" deleted");
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_name_hash_is_the_controllers() {
        // FNV-1a of the empty string and of "a", as Go's hash/fnv gives them.
        assert_eq!(super::name_hash(""), "811c9dc5");
        assert_eq!(super::name_hash("a"), "e40c292c");
    }
}
