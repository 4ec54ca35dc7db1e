//! The stand-in's agent-sandbox extensions (`extensions.agents.x-k8s.io/v1beta1`), made as
//! their controllers make them (`extensions/controllers/`): a `SandboxTemplate` is kept; a
//! `SandboxWarmPool` keeps `spec.replicas` (default 1) ready `Sandbox`es of its template's
//! spec, each named `POOL-` and five random characters, labelled with the pool's name hash
//! and owned by the pool (`sandboxwarmpool_controller.go`, `buildSandboxCR`); a
//! `SandboxClaim` on a pool takes a ready one of them (adopted: the pool's label removed,
//! owned by the claim, its pod's name annotated, the claim's pod annotations merged), and the
//! pool makes another; with none ready, the claim gets a `Sandbox` named as itself from the
//! pool's template (`sandboxclaim_controller.go`, `getOrCreateSandbox`, `createSandbox`). The
//! claim's `status.sandbox.name` names its `Sandbox`, and its `Ready` condition is the
//! `Sandbox`'s. Deleting the claim deletes the `Sandbox` it owns (the garbage collector's
//! cascade); the pool's replicas lowered deletes its extra unclaimed ones.

use serde_json::{Value, json};

use super::{Call, list, sandbox};

/// The group and version of the kinds here.
const API_VERSION: &str = "extensions.agents.x-k8s.io/v1beta1";

/// The label a pool's unclaimed `Sandbox`es carry: the pool's name hash.
const POOL_LABEL: &str = "agents.x-k8s.io/warm-pool-sandbox";

/// The annotation that names a `Sandbox`'s pod.
const POD_NAME: &str = "agents.x-k8s.io/pod-name";

/// `apply -f` of a template, a pool or a claim.
pub(super) fn apply(call: &Call, manifest: &Value) -> Result<(), String> {
    let name = manifest["metadata"]["name"]
        .as_str()
        .ok_or("no metadata.name")?;
    let (plural, shown) = match manifest["kind"].as_str() {
        Some("SandboxTemplate") => ("sandboxtemplates", "sandboxtemplate"),
        Some("SandboxWarmPool") => ("sandboxwarmpools", "sandboxwarmpool"),
        Some("SandboxClaim") => ("sandboxclaims", "sandboxclaim"),
        other => return Err(format!("the stand-in makes no {other:?}")),
    };
    let old = list::stored(call, plural, name)?;
    let mut new = manifest.clone();
    if let Some(status) = old.as_ref().and_then(|o| o.get("status")) {
        new["status"] = status.clone();
    }
    let verb = match &old {
        None => "created",
        Some(o) if o["spec"] == new["spec"] => "unchanged",
        Some(_) => "configured",
    };
    list::keep(call, plural, &new)?;
    match plural {
        "sandboxwarmpools" => reconcile_pool(call, &new)?,
        "sandboxclaims" => reconcile_claim(call, &new)?,
        _ => {}
    }
    println!("{shown}.extensions.agents.x-k8s.io/{name} {verb}");
    Ok(())
}

/// The `Sandbox`es `owner` (of `kind`) controls.
fn owned(call: &Call, kind: &str, owner: &str) -> Result<Vec<Value>, String> {
    Ok(list::all(call, "sandboxes")?
        .into_iter()
        .filter(|s| {
            s["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|o| o["kind"] == kind && o["name"] == owner && o["controller"] == true)
        })
        .collect())
}

fn owner(kind: &str, name: &str) -> Value {
    json!([{"apiVersion": API_VERSION, "kind": kind, "name": name, "uid": name,
            "controller": true, "blockOwnerDeletion": true}])
}

/// A name the API server's `generateName` could give: `PREFIX` and five characters of its
/// alphabet.
fn generated(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        ^ u128::from(std::process::id()) << 64;
    let mut out = prefix.to_owned();
    for _ in 0..5 {
        out.push(char::from(
            ALPHABET[(seed % ALPHABET.len() as u128) as usize],
        ));
        seed /= ALPHABET.len() as u128;
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    }
    out
}

/// The template the pool `pool` names, if it is there.
fn template_of(call: &Call, pool: &Value) -> Result<Option<Value>, String> {
    let name = pool["spec"]["sandboxTemplateRef"]["name"]
        .as_str()
        .ok_or("a SandboxWarmPool names no sandboxTemplateRef")?;
    list::stored(call, "sandboxtemplates", name)
}

/// A `Sandbox` of `template`'s spec (its pod template and claim templates), running.
fn sandbox_of(template: &Value, name: &str, labels: Value, owners: Value) -> Value {
    let mut spec = json!({"operatingMode": "Running"});
    for field in ["podTemplate", "volumeClaimTemplates"] {
        if let Some(v) = template["spec"].get(field) {
            spec[field] = v.clone();
        }
    }
    json!({
        "apiVersion": "agents.x-k8s.io/v1beta1",
        "kind": "Sandbox",
        "metadata": {"name": name, "labels": labels, "ownerReferences": owners},
        "spec": spec,
    })
}

/// The pool keeps `spec.replicas` unclaimed `Sandbox`es: it makes those missing and deletes
/// the extra ones.
fn reconcile_pool(call: &Call, pool: &Value) -> Result<(), String> {
    let name = pool["metadata"]["name"]
        .as_str()
        .ok_or("no metadata.name")?;
    let Some(template) = template_of(call, pool)? else {
        return Ok(());
    };
    let replicas = pool["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let mut have = owned(call, "SandboxWarmPool", name)?;
    while have.len() > replicas {
        let extra = have.pop().ok_or("no sandbox")?;
        let extra = extra["metadata"]["name"].as_str().unwrap_or_default();
        sandbox::delete(call, extra, true)?;
    }
    for _ in have.len()..replicas {
        let labels = json!({POOL_LABEL: sandbox::name_hash(name)});
        let made = sandbox_of(
            &template,
            &generated(&format!("{name}-")),
            labels,
            owner("SandboxWarmPool", name),
        );
        sandbox::keep(call, &made)?;
        sandbox::reconcile(call, &made)?;
    }
    Ok(())
}

/// The claim gets its `Sandbox`: the one its status names, else a ready one of its pool's,
/// else one made from the pool's template; its status then names it.
fn reconcile_claim(call: &Call, claim: &Value) -> Result<(), String> {
    let name = claim["metadata"]["name"]
        .as_str()
        .ok_or("no metadata.name")?;
    if let Some(had) = claim["status"]["sandbox"]["name"].as_str()
        && sandbox::stored(call, had)?.is_some()
    {
        return Ok(());
    }
    let pool_name = claim["spec"]["warmPoolRef"]["name"]
        .as_str()
        .ok_or("a SandboxClaim names no warmPoolRef")?;
    let extra = claim["spec"]["additionalPodMetadata"]["annotations"].clone();
    let Some(pool) = list::stored(call, "sandboxwarmpools", pool_name)? else {
        return set_status(call, claim, None, Some("WarmPoolNotFound"));
    };
    let mut ready = Vec::new();
    for s in owned(call, "SandboxWarmPool", pool_name)? {
        let n = s["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if sandbox::ready(call, &n)? {
            ready.push(s);
        }
    }
    let taken = if let Some(mut warm) = ready.into_iter().next() {
        let n = warm["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(labels) = warm["metadata"]["labels"].as_object_mut() {
            labels.remove(POOL_LABEL);
        }
        warm["metadata"]["ownerReferences"] = owner("SandboxClaim", name);
        warm["metadata"]["annotations"] = json!({POD_NAME: n});
        merge_annotations(&mut warm, &extra);
        sandbox::keep(call, &warm)?;
        reconcile_pool(call, &pool)?;
        n
    } else {
        let Some(template) = template_of(call, &pool)? else {
            return set_status(call, claim, None, Some("TemplateNotFound"));
        };
        let mut cold = sandbox_of(&template, name, json!({}), owner("SandboxClaim", name));
        merge_annotations(&mut cold, &extra);
        sandbox::keep(call, &cold)?;
        sandbox::reconcile(call, &cold)?;
        name.to_owned()
    };
    set_status(call, claim, Some(&taken), None)
}

/// The claim's `additionalPodMetadata.annotations` added to `sandbox`'s pod template.
fn merge_annotations(sandbox: &mut Value, extra: &Value) {
    let template = &mut sandbox["spec"]["podTemplate"]["metadata"]["annotations"];
    if !template.is_object() {
        *template = json!({});
    }
    for (k, v) in extra.as_object().into_iter().flatten() {
        template[k] = v.clone();
    }
}

/// The claim kept with its status: the `Sandbox` it names, or why none (a `Ready` of
/// `False` with that reason).
fn set_status(
    call: &Call,
    claim: &Value,
    sandbox_name: Option<&str>,
    reason: Option<&str>,
) -> Result<(), String> {
    let mut claim = claim.clone();
    claim["status"] = match (sandbox_name, reason) {
        (Some(n), _) => json!({"sandbox": {"name": n}}),
        (None, reason) => json!({"conditions": [{"type": "Ready", "status": "False",
                                  "reason": reason.unwrap_or("SandboxMissing")}]}),
    };
    list::keep(call, "sandboxclaims", &claim)
}

/// The claim's status as the controller writes it: its `Sandbox`'s name and `Ready`.
fn status(call: &Call, claim: &Value) -> Result<Value, String> {
    let mut status = claim["status"].clone();
    if let Some(n) = claim["status"]["sandbox"]["name"].as_str() {
        let ready = sandbox::ready(call, n)?;
        status["conditions"] = json!([{
            "type": "Ready",
            "status": if ready { "True" } else { "False" },
            "reason": if ready { "DependenciesReady" } else { "SandboxNotReady" },
        }]);
    }
    Ok(status)
}

/// Whether claim `name` is `Ready`.
pub(super) fn ready(call: &Call, name: &str) -> Result<bool, String> {
    let Some(claim) = list::stored(call, "sandboxclaims", name)? else {
        return Ok(false);
    };
    Ok(status(call, &claim)?["conditions"][0]["status"] == "True")
}

/// `get sandboxclaim NAME -o jsonpath=PATH`: its name, or its `Sandbox`'s.
pub(super) fn get(call: &Call, name: &str, path: &str, ignore: bool) -> Result<u8, String> {
    let Some(claim) = list::stored(call, "sandboxclaims", name)? else {
        if ignore {
            return Ok(0);
        }
        eprintln!(
            "Error from server (NotFound): sandboxclaims.extensions.agents.x-k8s.io \"{name}\" not found"
        );
        return Ok(1);
    };
    match path {
        "{.metadata.name}" => print!("{name}"),
        "{.status.sandbox.name}" => {
            print!(
                "{}",
                status(call, &claim)?["sandbox"]["name"]
                    .as_str()
                    .unwrap_or_default()
            );
        }
        other => return Err(format!("the stand-in answers no jsonpath {other}")),
    }
    Ok(0)
}

/// `delete sandboxclaim NAME`: the claim, and the `Sandbox` it owns with its pod and claims.
pub(super) fn delete(call: &Call, name: &str, ignore: bool) -> Result<u8, String> {
    if list::stored(call, "sandboxclaims", name)?.is_none() {
        if ignore {
            return Ok(0);
        }
        eprintln!(
            "Error from server (NotFound): sandboxclaims.extensions.agents.x-k8s.io \"{name}\" not found"
        );
        return Ok(1);
    }
    for s in owned(call, "SandboxClaim", name)? {
        sandbox::delete(
            call,
            s["metadata"]["name"].as_str().unwrap_or_default(),
            true,
        )?;
    }
    list::forget(call, "sandboxclaims", name)?;
    println!("sandboxclaim.extensions.agents.x-k8s.io \"{name}\" deleted");
    Ok(0)
}
