//! A kubernetes place as one agent-sandbox `Sandbox` object (`objects: sandbox`;
//! kubernetes-sigs/agent-sandbox, `agents.x-k8s.io/v1beta1`) instead of a claim and a Pod:
//! its controller makes the claim from the object's one claim template (named
//! `work-NAME`) and the pod, named as the object, from its pod template — the same pod spec
//! and claim spec as the Pod form's. The object is made `Suspended` (the claim only) and
//! switched to `Running` to start the pod; `Suspended` again deletes the pod and keeps the
//! claim; deleting the object deletes both. Only the fields vnx writes are typed here.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::{Pod, READY_WITHIN, VOLUME};
use crate::remote::RemoteError;
use crate::remote::made::Made;

/// The `Sandbox` kind's group and version, as the controller's CRD serves it.
pub const API_VERSION: &str = "agents.x-k8s.io/v1beta1";

/// How long the pod of a suspended `Sandbox` may take to be gone (its grace period is 5 s).
const GONE_WITHIN: Duration = Duration::from_secs(60);

/// An agent-sandbox object as vnx writes it: its group and version, its kind, its name,
/// namespace, labels and annotation (the dispatch's, as every object's), and its `spec`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<Spec> {
    /// The group and version ([`API_VERSION`], or the extensions').
    pub api_version: &'static str,
    /// `Sandbox`, `SandboxClaim`.
    pub kind: &'static str,
    /// Its name, namespace, labels and annotation.
    pub metadata: ObjectMeta,
    /// What its controller makes of it.
    pub spec: Spec,
}

/// An agent-sandbox `Sandbox` (its name the pod's too).
pub type Sandbox = Object<SandboxSpec>;

/// A `Sandbox`'s `spec`: the pod's template, the claims' templates and whether the pod runs.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxSpec {
    /// The pod the controller makes, named as the `Sandbox`.
    pub pod_template: PodTemplate,
    /// The claims the controller makes, each `TEMPLATE-SANDBOX`, and mounts in the pod as
    /// the volume named as the template.
    pub volume_claim_templates: Vec<ClaimTemplate>,
    /// Whether the pod runs; the claims stay either way.
    pub operating_mode: OperatingMode,
}

/// A `Sandbox`'s `spec.podTemplate`.
#[derive(Clone, Debug, Serialize)]
pub struct PodTemplate {
    /// The pod's labels and annotations (the controller takes no other metadata).
    pub metadata: PodMetadata,
    /// The pod's spec.
    pub spec: core::PodSpec,
}

/// The labels and annotations of a `Sandbox`'s pod.
#[derive(Clone, Debug, Serialize)]
pub struct PodMetadata {
    /// The pod's labels.
    pub labels: BTreeMap<String, String>,
    /// The pod's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// One of a `Sandbox`'s `spec.volumeClaimTemplates`.
#[derive(Clone, Debug, Serialize)]
pub struct ClaimTemplate {
    /// Its name (the pod's volume's; the claim is `NAME-SANDBOX`).
    pub metadata: TemplateName,
    /// The claim's spec.
    pub spec: core::PersistentVolumeClaimSpec,
}

/// A claim template's `metadata`.
#[derive(Clone, Debug, Serialize)]
pub struct TemplateName {
    /// The template's name.
    pub name: String,
}

/// A `Sandbox`'s `spec.operatingMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum OperatingMode {
    /// The controller keeps a pod.
    Running,
    /// The controller deletes the pod and keeps the claims.
    Suspended,
}

impl Pod {
    /// Whether this place is a `Sandbox` rather than a claim and a Pod.
    pub(super) fn is_sandbox(&self) -> bool {
        self.spec.sandbox_object
    }

    /// The name the controller gives the claim of the `Sandbox`'s one template.
    pub fn sandbox_claim_name(&self) -> String {
        format!("{VOLUME}-{}", self.object)
    }

    /// The `Sandbox`, made `Suspended`: the claim only, until it is switched to `Running`.
    pub fn sandbox_manifest(&self) -> Sandbox {
        let metadata = self.metadata();
        Sandbox {
            api_version: API_VERSION,
            kind: "Sandbox",
            spec: SandboxSpec {
                pod_template: PodTemplate {
                    metadata: PodMetadata {
                        labels: metadata.labels.clone().unwrap_or_default(),
                        annotations: metadata.annotations.clone().unwrap_or_default(),
                    },
                    spec: self.pod_spec(None),
                },
                volume_claim_templates: vec![ClaimTemplate {
                    metadata: TemplateName {
                        name: VOLUME.into(),
                    },
                    spec: self.claim_spec(),
                }],
                operating_mode: OperatingMode::Suspended,
            },
            metadata,
        }
    }

    /// `kubectl patch sandbox NAME --type=merge` to `mode`; when `Running`, waits until the
    /// `Sandbox` is `Ready` (its pod running and ready), when `Suspended`, until its pod is
    /// gone (the claim stays). A `Sandbox` that is not there is suspended already.
    pub(super) fn sandbox_mode(&self, mode: OperatingMode) -> Result<(), RemoteError> {
        if mode == OperatingMode::Suspended && !self.storage_exists()? {
            return Ok(());
        }
        let patch = serde_json::json!({"spec": {"operatingMode": mode}});
        self.must(
            self.kubectl()
                .args(["patch", "sandbox"])
                .arg(&self.object)
                .args(["--type=merge", "-p"])
                .arg(patch.to_string()),
            "patch",
        )?;
        let (condition, target, within) = match mode {
            OperatingMode::Running => ("condition=Ready", "sandbox", READY_WITHIN),
            OperatingMode::Suspended => ("delete", "pod", GONE_WITHIN),
        };
        self.wait_for(condition, target, within)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Pod;
    use crate::config::HostKind;
    use crate::ids::DispatchId;

    #[test]
    fn a_sandbox_carries_the_pods_spec_and_the_claims_template() {
        let yaml = "hosts:\n  cluster:\n    kubernetes: {image: i, objects: sandbox, cpu: 1}\n";
        let config = crate::config::parse(yaml, Path::new(".vnx/config.yaml")).unwrap();
        let host = &config.hosts["cluster"];
        let HostKind::Kubernetes(spec) = &host.kind else {
            panic!("{host:?}")
        };
        let id = DispatchId::parse("D-1a2b").unwrap();
        let here = crate::remote::place::Here {
            data_dir: Path::new("/d"),
            home: None,
            key: None,
        };
        let pod = Pod::new(host, spec, &id, here);
        let sandbox = serde_json::to_value(pod.sandbox_manifest()).unwrap();
        let manifest = serde_json::to_value(pod.pod_manifest()).unwrap();
        assert_eq!(sandbox["apiVersion"], "agents.x-k8s.io/v1beta1");
        assert_eq!(sandbox["kind"], "Sandbox");
        assert_eq!(sandbox["metadata"]["name"], "vnx-d-1a2b");
        assert_eq!(sandbox["spec"]["operatingMode"], "Suspended");
        let template = &sandbox["spec"]["podTemplate"];
        assert_eq!(
            template["metadata"]["annotations"]["vnx.dev/dispatch-id"],
            "D-1a2b"
        );
        // The Pod's spec, but for the volume, which the controller adds from the template.
        let mut spec = manifest["spec"].clone();
        let volumes = spec.as_object_mut().unwrap().remove("volumes").unwrap();
        assert_eq!(template["spec"], spec);
        let claims = &sandbox["spec"]["volumeClaimTemplates"];
        assert_eq!(claims[0]["metadata"]["name"], volumes[0]["name"]);
        assert_eq!(pod.sandbox_claim_name(), "work-vnx-d-1a2b");
        assert_eq!(
            claims[0]["spec"],
            serde_json::to_value(pod.claim_manifest()).unwrap()["spec"]
        );
    }
}
