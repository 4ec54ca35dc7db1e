//! What the kubernetes kind registers in `kinds`: under `kubernetes`, its factory (a
//! [`Pod`] per dispatch) and its orphan listing (the pods and claims, `Sandbox`es or
//! `SandboxClaim`s `kubectl` shows with the project's label, read as hostile).

use serde_json::Value;

use super::Pod;
use crate::config::hosts::kubernetes::KubernetesHost;
use crate::config::{HostConfig, HostKind};
use crate::ids::DispatchId;
use crate::remote::RemoteError;
use crate::remote::made::{MAX_FOUND, Seen, listing};
use crate::remote::place::{Here, Kind, Place};

/// The kubernetes kind, as the registry holds it.
pub(in crate::remote) static KIND: Kind = Kind {
    name: "kubernetes",
    per_dispatch: true,
    place,
    listed,
};

/// The kubernetes section of `host`, when it is a kubernetes host.
fn spec(host: &HostConfig) -> Option<&KubernetesHost> {
    match &host.kind {
        HostKind::Kubernetes(k) => Some(k),
        _ => None,
    }
}

/// Its factory: dispatch `id`'s pod on `host`.
fn place(
    host: &HostConfig,
    id: Option<&DispatchId>,
    here: Here<'_>,
) -> Result<Option<Box<dyn Place>>, RemoteError> {
    let made = spec(host)
        .zip(id)
        .map(|(k, id)| Pod::new(host, k, id, here));
    Ok(made.map(|m| Box::new(m) as Box<dyn Place>))
}

/// Its orphan listing (see [`Kind::listed`]).
fn listed(host: &HostConfig, key: &str) -> Result<Vec<Seen>, RemoteError> {
    let Some(k) = spec(host) else {
        return Ok(Vec::new());
    };
    let kinds = if k.warm_pool.is_some() {
        "sandboxclaims"
    } else if k.sandbox_object {
        "sandboxes"
    } else {
        "pods,persistentvolumeclaims"
    };
    let selector = format!("{},{}={key}", super::LABEL, super::PROJECT_LABEL);
    let cmd = super::kubectl(k).args(["get", kinds, "-l", &selector, "-o", "json"]);
    Ok(parse_kubectl(&listing(host, cmd)?))
}

/// What `kubectl get … -o json` lists: each Pod, claim, `Sandbox` or `SandboxClaim` vnx made, by its
/// dispatch annotation, when its name and label are the ones vnx gives that dispatch's.
pub(in crate::remote) fn parse_kubectl(text: &[u8]) -> Vec<Seen> {
    let Ok(list) = serde_json::from_slice::<Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .take(MAX_FOUND)
    {
        let meta = &item["metadata"];
        let Some(Ok(id)) = meta["annotations"][super::ANNOTATION]
            .as_str()
            .map(DispatchId::parse)
        else {
            continue;
        };
        let expected = super::object_name(&id);
        if meta["name"].as_str() != Some(&expected)
            || meta["labels"][super::LABEL].as_str() != Some(&expected)
        {
            continue;
        }
        let (what, running) = match item["kind"].as_str() {
            Some("Pod") => ("pod", item["status"]["phase"].as_str() == Some("Running")),
            Some("PersistentVolumeClaim") => ("persistentvolumeclaim", false),
            Some("Sandbox") => (
                "sandbox",
                item["spec"]["operatingMode"].as_str() == Some("Running"),
            ),
            // A claim cannot be suspended: its pod runs while it is there.
            Some("SandboxClaim") => ("sandboxclaim", true),
            _ => continue,
        };
        out.push(Seen {
            object: format!("{what} {expected}"),
            id,
            running,
        });
    }
    out
}
