//! A kubernetes place as one agent-sandbox `SandboxClaim` (`objects: claim`;
//! `extensions.agents.x-k8s.io/v1beta1`) on a `SandboxWarmPool` the user keeps (`warm_pool:`):
//! the claim controller hands it a ready `Sandbox` of the pool's (a warm start) or makes one,
//! named as the claim, from the pool's `SandboxTemplate`, and names it in the claim's
//! `status.sandbox.name`; its pod is named as that `Sandbox`. vnx waits for the claim's
//! `Ready` condition, learns the pod's name from the status (kept under
//! `.vnx-data/kubernetes/`, checked to be a name before it reaches an argv or git's `ext::`
//! line) and execs into the pod's default container. A claim cannot be suspended (its
//! lifecycle only expires it, deleting the `Sandbox`), so parking keeps it and its pod
//! running until it is removed; deleting the claim deletes the `Sandbox` and the pod it owns
//! (ADR 0088). Only the fields vnx writes are typed here.

use std::path::PathBuf;

use serde::Serialize;

use super::sandbox::PodMetadata;
use super::{ANNOTATION, FOREGROUND, Pod, READY_WITHIN};
use crate::remote::RemoteError;

/// The `SandboxClaim` kind's group and version, as the extensions' CRD serves it.
pub const API_VERSION: &str = "extensions.agents.x-k8s.io/v1beta1";

/// How kubectl is told the kind.
const KIND: &str = "sandboxclaim";

/// The longest pod name vnx takes from a claim's status (a DNS subdomain's).
const MAX_NAME: usize = 253;

/// An agent-sandbox `SandboxClaim` ([`API_VERSION`]): the pool it takes a `Sandbox` of.
pub type SandboxClaim = super::sandbox::Object<ClaimSpec>;

/// A `SandboxClaim`'s `spec`: the pool, and what the pod is given besides the template's.
/// No `lifecycle` (a claim that expires deletes its `Sandbox`, and the work with it), no
/// `env` or `volumeClaimTemplates` (either forces a cold start, and templates refuse both
/// unless they allow them).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimSpec {
    /// The `SandboxWarmPool` (whose template a cold start uses).
    pub warm_pool_ref: WarmPoolRef,
    /// The pod's annotation with the dispatch's id. No labels: the controller takes labels
    /// only of the domains its operator allows.
    pub additional_pod_metadata: PodMetadata,
}

/// A `SandboxClaim`'s `spec.warmPoolRef`.
#[derive(Clone, Debug, Serialize)]
pub struct WarmPoolRef {
    /// The pool's name.
    pub name: String,
}

/// Whether `name`, as a cluster said it, is a pod's name vnx may pass on: lowercase letters,
/// digits, `-` and `.`, starting and ending with a letter or digit.
fn is_pod_name(name: &str) -> bool {
    let edge = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    name.len() <= MAX_NAME
        && edge(name.bytes().next())
        && edge(name.bytes().last())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

impl Pod {
    /// Whether this place is a `SandboxClaim` on a warm pool.
    pub(super) fn is_claim(&self) -> bool {
        self.spec.warm_pool.is_some()
    }

    /// The `SandboxClaim` for this dispatch.
    pub fn sandbox_claim_manifest(&self) -> SandboxClaim {
        let metadata = self.metadata();
        SandboxClaim {
            api_version: API_VERSION,
            kind: "SandboxClaim",
            spec: ClaimSpec {
                warm_pool_ref: WarmPoolRef {
                    name: self.spec.warm_pool.clone().unwrap_or_default(),
                },
                additional_pod_metadata: PodMetadata {
                    labels: Default::default(),
                    annotations: [(ANNOTATION.to_owned(), self.id.as_str().to_owned())]
                        .into_iter()
                        .collect(),
                },
            },
            metadata,
        }
    }

    /// Where the name of the claim's pod is kept once learnt.
    fn claimed_file(&self) -> PathBuf {
        self.manifests.join(format!("{}.claimed-pod", self.object))
    }

    /// The claim's pod as last learnt (the claim's own name, a cold start's, when never).
    pub(super) fn claimed_pod(&self) -> String {
        crate::files::read_bounded(&self.claimed_file(), MAX_NAME as u64 + 1)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| is_pod_name(s))
            .unwrap_or_else(|| self.object.clone())
    }

    /// The pod the claim's status names now (kept for [`Pod::claimed_pod`]); `None` while it
    /// names none, or a name vnx would not pass on.
    pub(super) fn learn_claimed_pod(&self) -> Result<Option<String>, RemoteError> {
        let name = self.get(KIND, "{.status.sandbox.name}")?;
        let name = name.trim();
        if !is_pod_name(name) {
            return Ok(None);
        }
        let kept = crate::files::read_bounded(&self.claimed_file(), MAX_NAME as u64 + 1);
        if kept.ok().as_deref() != Some(name.as_bytes()) {
            self.keep(&self.claimed_file(), name.as_bytes())?;
        }
        Ok(Some(name.to_owned()))
    }

    /// Whether the claim is there.
    pub(super) fn claim_exists(&self) -> Result<bool, RemoteError> {
        Ok(!self.get(KIND, "{.metadata.name}")?.is_empty())
    }

    /// The phase of the claim's pod; `None` while the claim names none or it has none.
    pub(super) fn claimed_pod_phase(&self) -> Result<Option<String>, RemoteError> {
        let Some(pod) = self.learn_claimed_pod()? else {
            return Ok(None);
        };
        let phase = self.get_named("pod", &pod, "{.status.phase}")?;
        Ok((!phase.is_empty()).then_some(phase))
    }

    /// The claim applied (again: unchanged when it is there), then waited for until its
    /// `Ready` condition (its `Sandbox`'s: the pod running and ready), and its pod learnt.
    /// A pod of the claim's that has ended is never waited for: the controller does not make
    /// it again while it is there, and its files may hold the work.
    pub(super) fn start_claim(&self) -> Result<(), RemoteError> {
        self.apply("sandboxclaim", &self.sandbox_claim_manifest())?;
        if let Some(phase) = self.claimed_pod_phase()?
            && !matches!(phase.as_str(), "Running" | "Pending")
        {
            return Err(RemoteError::Gone {
                place: self.place.clone(),
                state: format!("its claim's pod is {phase}; the claim is kept"),
            });
        }
        self.wait_for("condition=Ready", KIND, READY_WITHIN)?;
        if self.learn_claimed_pod()?.is_none() {
            return Err(RemoteError::Gone {
                place: self.place.clone(),
                state: "ready, its claim naming no sandbox vnx can reach".into(),
            });
        }
        Ok(())
    }

    /// `kubectl delete sandboxclaim NAME`, in the foreground: done once the `Sandbox` and the
    /// pod it owns are deleted too; then what vnx kept of it.
    pub(super) fn delete_claim(&self) -> Result<(), RemoteError> {
        self.delete(KIND, &self.object, FOREGROUND)?;
        match std::fs::remove_file(self.claimed_file()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(crate::remote::io(&self.claimed_file())(e))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Pod;
    use super::is_pod_name;
    use crate::config::HostKind;
    use crate::ids::DispatchId;

    fn pod(data: &Path) -> Pod {
        let yaml = "hosts:\n  cluster:\n    kubernetes: {objects: claim, warm_pool: agents}\n";
        let config = crate::config::parse(yaml, Path::new(".vnx/config.yaml")).unwrap();
        let host = &config.hosts["cluster"];
        let HostKind::Kubernetes(spec) = &host.kind else {
            panic!("{host:?}")
        };
        let id = DispatchId::parse("D-1a2b").unwrap();
        let here = crate::remote::place::Here {
            data_dir: data,
            home: None,
            key: None,
        };
        Pod::new(host, spec, &id, here)
    }

    #[test]
    fn a_claim_names_the_pool_and_carries_the_dispatch_id() {
        let dir = tempfile::tempdir().unwrap();
        let pod = pod(dir.path());
        assert!(pod.is_claim() && !pod.is_sandbox());
        let claim = serde_json::to_value(pod.sandbox_claim_manifest()).unwrap();
        assert_eq!(claim["apiVersion"], "extensions.agents.x-k8s.io/v1beta1");
        assert_eq!(claim["kind"], "SandboxClaim");
        assert_eq!(claim["metadata"]["name"], "vnx-d-1a2b");
        assert_eq!(
            claim["metadata"]["labels"]["vnx.dev/dispatch"],
            "vnx-d-1a2b"
        );
        assert_eq!(claim["spec"]["warmPoolRef"]["name"], "agents");
        let extra = &claim["spec"]["additionalPodMetadata"];
        assert_eq!(extra["annotations"]["vnx.dev/dispatch-id"], "D-1a2b");
        assert_eq!(extra["labels"], serde_json::json!({}));
        assert!(claim["spec"].get("lifecycle").is_none(), "{claim:#}");
    }

    #[test]
    fn the_claimed_pod_is_the_claims_name_until_learnt_and_only_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let pod = pod(dir.path());
        assert_eq!(pod.claimed_pod(), "vnx-d-1a2b");
        std::fs::create_dir_all(dir.path().join("kubernetes")).unwrap();
        let file = dir.path().join("kubernetes/vnx-d-1a2b.claimed-pod");
        std::fs::write(&file, "agents-x7k2p\n").unwrap();
        assert_eq!(pod.claimed_pod(), "agents-x7k2p");
        for bad in ["-c", "a b", "a%20", "A", "a\nb", ""] {
            std::fs::write(&file, bad).unwrap();
            assert_eq!(pod.claimed_pod(), "vnx-d-1a2b", "{bad:?}");
            assert!(!is_pod_name(bad), "{bad:?}");
        }
        assert!(is_pod_name("agents-x7k2p.1"));
        assert!(!is_pod_name(&"a".repeat(254)));
    }
}
