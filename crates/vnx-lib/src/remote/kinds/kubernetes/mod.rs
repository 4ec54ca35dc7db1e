//! A pod per dispatch in the user's cluster (a [`Place`]), through the user's own `kubectl`
//! and kubeconfig (vnx keeps no token, as with `gh`): a PersistentVolumeClaim that holds the
//! clone and the place's ledger (so the work outlives the pod), a Pod on it running the
//! host's image, both typed (`k8s-openapi`), labelled and annotated with the dispatch's id and
//! written under `.vnx-data/kubernetes/` before they are applied; commands and git reach the
//! pod with `kubectl exec`; the pod is deleted once the dispatch's work is fetched here, the
//! claim once it is merged (ADR 0086). The logins the host names are one Secret, applied
//! before the pod, mounted read-only where the place's start copies them into its home, and
//! deleted with the claim. The cluster places, limits and restarts; vnx decides nothing from its word but that
//! a pod no longer runs ([`RemoteError::Gone`]). With `objects: sandbox` the claim and pod
//! are an agent-sandbox `Sandbox`'s ([`sandbox`]); with `objects: claim` the pod is the one a
//! `SandboxClaim` on the user's warm pool is handed ([`claim`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub mod claim;
mod registered;
pub mod sandbox;

pub(in crate::remote) use registered::KIND;
#[cfg(test)]
pub(in crate::remote) use registered::parse_kubectl;

use crate::config::hosts::kubernetes::KubernetesHost;
use crate::config::{HostConfig, MADE_CLONE};
use crate::ids::DispatchId;
use crate::process::{Cmd, Output};
use crate::remote::RemoteError;
use crate::remote::made::{self, ENGINE_LIMIT, HOME, IDLE, LOGINS_AT, Made};
use crate::remote::place::{Here, Place};

/// The pod's one container.
const CONTAINER: &str = "worker";

/// Where the claim is mounted (the clone is [`MADE_CLONE`], below it).
const CLAIM_AT: &str = "/work";

/// The pod's volume that is the claim (and the `Sandbox`'s claim template, so named).
const VOLUME: &str = "work";

/// The label every object vnx makes carries (its value: the object's name), and the
/// annotation that holds the dispatch's id as it is.
pub(super) const LABEL: &str = "vnx.dev/dispatch";
pub(super) const ANNOTATION: &str = "vnx.dev/dispatch-id";

/// The label that says which project made it (see [`crate::remote::made::project_key`]).
pub(super) const PROJECT_LABEL: &str = "vnx.dev/project";

/// The pod's volume that is the logins' Secret.
const LOGINS_VOLUME: &str = "logins";

/// The most a Secret holds (the API server's limit on one object).
pub const MAX_LOGINS_BYTES: u64 = 1024 * 1024;

/// How long a pod may take to be ready (an image pulled, a node found).
const READY_WITHIN: Duration = Duration::from_secs(300);

/// How an object vnx owns itself is deleted: its pod's grace period.
const GRACE: &str = "--grace-period=5";

/// How an object whose controller owns others is deleted: in the foreground, so that the
/// deletion is done once what it owns is deleted too.
const FOREGROUND: &str = "--cascade=foreground";

/// One dispatch's pod (and claim) on a kubernetes host.
#[derive(Clone, Debug)]
pub struct Pod {
    host: HostConfig,
    spec: KubernetesHost,
    id: DispatchId,
    /// The place's name (`HOST.ID`).
    place: String,
    /// The pod's and its claim's name (see [`object_name`]).
    object: String,
    /// Where the manifests are written before they are applied.
    manifests: PathBuf,
    /// The home directory here the CLIs' logins are made available from.
    home: Option<PathBuf>,
    /// The project's key, a label of everything made.
    project: String,
}

/// The name of dispatch `id`'s pod and claim: `vnx-` and the id in lowercase for an id of
/// vnx's own form (`D-` and lowercase hex) or one already a DNS label; else `vnx-`, what of
/// it is one, and 10 hex digits of its hash (other ids that differ only in case or `_` get
/// different names).
pub fn object_name(id: &DispatchId) -> String {
    let lower = id.as_str().to_ascii_lowercase().replace('_', "-");
    let vnx_made = id.as_str().strip_prefix("D-").is_some_and(|hex| {
        hex.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    });
    if (vnx_made || lower == id.as_str()) && !lower.ends_with('-') && lower.len() <= 59 {
        return format!("vnx-{lower}");
    }
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(id.as_str()));
    let stem: String = lower.chars().take(40).collect();
    format!("vnx-{}-{}", stem.trim_end_matches('-'), &digest[..10])
}

impl Pod {
    /// Dispatch `id`'s pod on `host`, as `spec` makes it; its manifests under `here`'s data
    /// directory, the logins the host names from its home.
    pub fn new(host: &HostConfig, spec: &KubernetesHost, id: &DispatchId, here: Here<'_>) -> Pod {
        Pod {
            host: host.clone(),
            spec: spec.clone(),
            id: id.clone(),
            place: crate::place_name::PlaceName::made(&host.name, id).to_string(),
            object: object_name(id),
            manifests: here.data_dir.join("kubernetes"),
            home: here.home.map(Path::to_path_buf),
            project: crate::remote::made::project_key(here.data_dir),
        }
    }

    /// The name of the Secret that holds the logins.
    pub fn logins_name(&self) -> String {
        format!("{}-logins", self.object)
    }

    /// The login files the host names, here, each with its key in the Secret.
    fn login_files(&self) -> Vec<(made::Login, String)> {
        made::login_files(&self.spec.logins, self.home.as_deref())
            .into_iter()
            .map(|login| {
                let key = login_key(&login.rel);
                (login, key)
            })
            .collect()
    }

    /// The Secret that carries the login files the host names (the file's bytes, base64 by
    /// the type), labelled and annotated as the pod; `None` when there are none. Refused
    /// when they come to more than [`MAX_LOGINS_BYTES`].
    pub fn logins_manifest(&self) -> Result<Option<core::Secret>, RemoteError> {
        let files = self.login_files();
        if files.is_empty() {
            return Ok(None);
        }
        let total: u64 = (files.iter())
            .map(|(login, _)| match &login.part {
                Some(part) => part.len() as u64,
                None => login.from.symlink_metadata().map_or(0, |m| m.len()),
            })
            .sum();
        if total > MAX_LOGINS_BYTES {
            return Err(RemoteError::LoginsTooLarge {
                host: self.host.name.clone(),
                bytes: total,
                most: MAX_LOGINS_BYTES,
            });
        }
        let mut data = BTreeMap::new();
        for (login, key) in files {
            let bytes = match login.part {
                Some(part) => part,
                // Bounded again: a file that grew since is refused, not carried whole.
                None => crate::files::read_bounded(&login.from, MAX_LOGINS_BYTES)
                    .map_err(crate::remote::io(&login.from))?,
            };
            data.insert(key, k8s_openapi::ByteString(bytes));
        }
        let mut metadata = self.metadata();
        metadata.name = Some(self.logins_name());
        Ok(Some(core::Secret {
            metadata,
            data: Some(data),
            type_: Some("Opaque".into()),
            immutable: None,
            ..Default::default()
        }))
    }

    /// `kubectl [--context C] --namespace NS`.
    fn kubectl(&self) -> Cmd {
        kubectl(&self.spec)
    }

    /// The pod commands run in: the object's name, or the claim's pod.
    fn runner(&self) -> String {
        if self.is_claim() {
            return self.claimed_pod();
        }
        self.object.clone()
    }

    /// `-c worker`, but for a claim's pod, whose default container is the template's.
    fn container_args(&self) -> &'static [&'static str] {
        if self.is_claim() {
            return &[];
        }
        &["-c", CONTAINER]
    }

    fn exec_in(&self, argv: &[String], tty: bool) -> Cmd {
        let mut cmd = self.kubectl().args(["exec", "-i"]);
        if tty {
            cmd = cmd.arg("-t");
        }
        cmd.arg(self.runner())
            .args(self.container_args())
            .arg("--")
            .args(argv)
    }

    fn metadata(&self) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.object.clone()),
            namespace: Some(self.spec.namespace.clone()),
            labels: Some(BTreeMap::from([
                (LABEL.to_owned(), self.object.clone()),
                (PROJECT_LABEL.to_owned(), self.project.clone()),
                ("app.kubernetes.io/managed-by".to_owned(), "vnx".to_owned()),
            ])),
            annotations: Some(BTreeMap::from([(
                ANNOTATION.to_owned(),
                self.id.as_str().to_owned(),
            )])),
            ..ObjectMeta::default()
        }
    }

    /// The claim that holds the dispatch's work.
    pub fn claim_manifest(&self) -> core::PersistentVolumeClaim {
        core::PersistentVolumeClaim {
            metadata: self.metadata(),
            spec: Some(self.claim_spec()),
            ..Default::default()
        }
    }

    /// The claim's spec, the one the claim and the `Sandbox`'s claim template both carry.
    fn claim_spec(&self) -> core::PersistentVolumeClaimSpec {
        core::PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: self.spec.storage_class.clone(),
            resources: Some(core::VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(self.spec.storage.clone()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The pod: the pod spec both forms share, on the claim, with the dispatch's labels and annotation.
    pub fn pod_manifest(&self) -> core::Pod {
        core::Pod {
            metadata: self.metadata(),
            spec: Some(self.pod_spec(Some(&self.object))),
            ..Default::default()
        }
    }

    /// The pod's spec, the one the Pod and the `Sandbox`'s pod template both carry: one
    /// container idling on the claim while vnx execs into it; never restarted by the cluster
    /// (a restarted container would look alive with its worker gone), no API token unless the
    /// host names a service account, no service links in its environment; the node's network
    /// with `network: host` (its DNS still the cluster's, as Kubernetes advises). Its volume
    /// [`VOLUME`] is claim `claim`; with none, the Sandbox's controller adds it (named as the
    /// claim template).
    fn pod_spec(&self, claim: Option<&str>) -> core::PodSpec {
        let limits: BTreeMap<String, Quantity> =
            [("cpu", &self.spec.cpu), ("memory", &self.spec.memory)]
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_owned(), Quantity(v.clone()?))))
                .collect();
        let resources = (!limits.is_empty()).then(|| core::ResourceRequirements {
            requests: Some(limits.clone()),
            limits: Some(limits),
            ..Default::default()
        });
        let tolerations = self
            .spec
            .tolerations
            .iter()
            .map(|t| core::Toleration {
                key: t.key.clone(),
                operator: t.operator.clone(),
                value: t.value.clone(),
                effect: t.effect.clone(),
                toleration_seconds: t.toleration_seconds,
            })
            .collect::<Vec<_>>();
        let mut mounts = vec![core::VolumeMount {
            name: VOLUME.into(),
            mount_path: CLAIM_AT.into(),
            ..Default::default()
        }];
        let mut volumes: Vec<core::Volume> = claim
            .map(|claim| core::Volume {
                name: VOLUME.into(),
                persistent_volume_claim: Some(core::PersistentVolumeClaimVolumeSource {
                    claim_name: claim.to_owned(),
                    read_only: None,
                }),
                ..Default::default()
            })
            .into_iter()
            .collect();
        if let Some(logins) = self.logins_volume() {
            mounts.push(core::VolumeMount {
                name: LOGINS_VOLUME.into(),
                mount_path: LOGINS_AT.into(),
                read_only: Some(true),
                ..Default::default()
            });
            volumes.push(logins);
        }
        core::PodSpec {
            restart_policy: Some("Never".into()),
            automount_service_account_token: Some(self.spec.service_account.is_some()),
            service_account_name: self.spec.service_account.clone(),
            enable_service_links: Some(false),
            termination_grace_period_seconds: Some(5),
            host_network: self.spec.host_network.then_some(true),
            dns_policy: self
                .spec
                .host_network
                .then(|| "ClusterFirstWithHostNet".into()),
            runtime_class_name: self.spec.runtime_class.clone(),
            node_selector: (!self.spec.node_selector.is_empty())
                .then(|| self.spec.node_selector.clone()),
            tolerations: (!tolerations.is_empty()).then_some(tolerations),
            containers: vec![core::Container {
                name: CONTAINER.into(),
                image: Some(self.spec.image.clone()),
                command: Some(["/bin/sh", "-c", IDLE].map(String::from).to_vec()),
                // The home on the claim, so the CLIs' state outlives the pod; the host's
                // own variables after it (theirs win).
                env: Some(
                    [("HOME", HOME)]
                        .into_iter()
                        .chain(self.spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                        .map(|(name, value)| core::EnvVar {
                            name: name.into(),
                            value: Some(value.into()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                resources,
                volume_mounts: Some(mounts),
                ..Default::default()
            }],
            volumes: (!volumes.is_empty()).then_some(volumes),
            ..Default::default()
        }
    }

    /// The logins' Secret as a volume, each file at its place under the home directory
    /// (`optional`: a key the Secret no longer has is left out, not a pod that cannot
    /// start); `None` when the host names no login file here.
    fn logins_volume(&self) -> Option<core::Volume> {
        let items: Vec<core::KeyToPath> = self
            .login_files()
            .into_iter()
            .map(|(login, key)| core::KeyToPath {
                key,
                path: login.rel,
                mode: None,
            })
            .collect();
        (!items.is_empty()).then(|| core::Volume {
            name: LOGINS_VOLUME.into(),
            secret: Some(core::SecretVolumeSource {
                secret_name: Some(self.logins_name()),
                items: Some(items),
                default_mode: Some(0o400),
                optional: Some(true),
            }),
            ..Default::default()
        })
    }

    /// `manifest` written under `.vnx-data/kubernetes/` (kept: what vnx asked the cluster
    /// for), then applied.
    fn apply(&self, kind: &str, manifest: &impl serde::Serialize) -> Result<(), RemoteError> {
        self.apply_named(&self.object, kind, manifest)
    }

    /// [`Pod::apply`] of an object named `name`.
    fn apply_named(
        &self,
        name: &str,
        kind: &str,
        manifest: &impl serde::Serialize,
    ) -> Result<(), RemoteError> {
        let path = self.manifests.join(format!("{name}.{kind}.json"));
        let text = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::from);
        self.keep(&path, &text.map_err(crate::remote::io(&path))?)?;
        self.must(self.kubectl().args(["apply", "-f"]).arg(&path), "apply")?;
        Ok(())
    }

    /// Writes `bytes` to `path`, a file of `.vnx-data/kubernetes/` (private).
    fn keep(&self, path: &Path, bytes: &[u8]) -> Result<(), RemoteError> {
        let dir = &self.manifests;
        crate::files::private_dir(dir).map_err(crate::remote::io(dir))?;
        crate::files::write_atomic_private(path, bytes, false).map_err(crate::remote::io(path))
    }

    /// `kubectl get KIND NAME -o jsonpath=PATH --ignore-not-found`: empty when there is none.
    fn get(&self, kind: &str, path: &str) -> Result<String, RemoteError> {
        self.get_named(kind, &self.object, path)
    }

    /// [`Pod::get`] of the object named `name`.
    fn get_named(&self, kind: &str, name: &str, path: &str) -> Result<String, RemoteError> {
        self.must(
            self.kubectl()
                .args(["get", kind])
                .arg(name)
                .args(["--ignore-not-found", "-o"])
                .arg(format!("jsonpath={path}")),
            "get",
        )
    }

    /// `kubectl delete KIND NAME`, waited for: `how` is [`GRACE`] for an object vnx owns,
    /// or [`FOREGROUND`] for one whose controller owns others, done once they are deleted too.
    fn delete(&self, kind: &str, name: &str, how: &str) -> Result<(), RemoteError> {
        let args = ["--ignore-not-found", "--wait=true", how];
        let cmd = self.kubectl().args(["delete", kind]).arg(name).args(args);
        self.must(cmd, "delete")?;
        Ok(())
    }

    /// `kubectl wait --for=CONDITION KIND/NAME` of this place's object, within `within`.
    fn wait_for(&self, condition: &str, kind: &str, within: Duration) -> Result<(), RemoteError> {
        let wait = self
            .kubectl()
            .arg("wait")
            .arg(format!("--for={condition}"))
            .arg(format!("{kind}/{}", self.object))
            .arg(format!("--timeout={}s", within.as_secs()));
        self.must(wait.timeout(within + ENGINE_LIMIT), "wait")?;
        Ok(())
    }
}

impl Made for Pod {
    fn program(&self) -> &str {
        &self.spec.kubectl
    }

    /// The claim, or the `Sandbox` that owns it, or the `SandboxClaim`.
    fn storage_exists(&self) -> Result<bool, RemoteError> {
        if self.is_claim() {
            return self.claim_exists();
        }
        let kind = if self.is_sandbox() {
            "sandbox"
        } else {
            "persistentvolumeclaim"
        };
        Ok(!self.get(kind, "{.metadata.name}")?.is_empty())
    }

    /// The pod's phase (`Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`); a
    /// `Sandbox`'s pod has the `Sandbox`'s name, a `SandboxClaim`'s the one its status names.
    fn state(&self) -> Result<Option<String>, RemoteError> {
        if self.is_claim() {
            return self.claimed_pod_phase();
        }
        let phase = self.get("pod", "{.status.phase}")?;
        Ok((!phase.is_empty()).then_some(phase))
    }

    fn is_running(&self, state: &str) -> bool {
        state == "Running"
    }

    /// The claim; or the `Sandbox`, suspended (its controller makes the claim). Logins too
    /// large for a Secret are refused first.
    fn make_storage(&self) -> Result<(), RemoteError> {
        self.logins_manifest()?;
        if self.is_claim() {
            return self.apply("sandboxclaim", &self.sandbox_claim_manifest());
        }
        if self.is_sandbox() {
            return self.apply("sandbox", &self.sandbox_manifest());
        }
        self.apply("claim", &self.claim_manifest())
    }

    /// The logins' Secret applied (again: a follow-up's pod gets the logins as they are
    /// now), then the pod; or the `Sandbox` switched to `Running`. Either waited for until
    /// ready. The Secret stays with the claim: [`Made::drop_storage`] deletes it.
    fn start(&self) -> Result<(), RemoteError> {
        if let Some(secret) = self.logins_manifest()? {
            self.apply_named(&self.logins_name(), "logins", &secret)?;
        }
        if self.is_claim() {
            return self.start_claim();
        }
        if self.is_sandbox() {
            return self.sandbox_mode(sandbox::OperatingMode::Running);
        }
        self.apply("pod", &self.pod_manifest())?;
        self.wait_for("condition=Ready", "pod", READY_WITHIN)
    }

    /// The pod deleted; or the `Sandbox` suspended, which deletes it and keeps the claim; or,
    /// for a `SandboxClaim`, nothing: it cannot be suspended, and its pod may be all that
    /// holds the work (ADR 0088).
    fn stop(&self) -> Result<(), RemoteError> {
        if self.is_claim() {
            return Ok(());
        }
        if self.is_sandbox() {
            return self.sandbox_mode(sandbox::OperatingMode::Suspended);
        }
        self.delete("pod", &self.object, GRACE)
    }

    /// The claim deleted; or the `Sandbox`, with the pod and claim it owns; then the
    /// logins' Secret (none is fine).
    fn drop_storage(&self) -> Result<(), RemoteError> {
        if self.is_claim() {
            return self.delete_claim();
        }
        if self.is_sandbox() {
            self.delete("sandbox", &self.object, FOREGROUND)?;
        } else {
            self.delete("persistentvolumeclaim", &self.object, GRACE)?;
        }
        self.delete("secret", &self.logins_name(), GRACE)
    }

    fn exec(&self, argv: &[String]) -> Cmd {
        self.exec_in(argv, false)
    }
}

impl Place for Pod {
    fn host(&self) -> &HostConfig {
        &self.host
    }

    /// The variables its pod's container is given.
    fn gives_env(&self) -> Vec<String> {
        self.spec.env.keys().cloned().collect()
    }

    fn name(&self) -> &str {
        &self.place
    }

    fn made(&self) -> Option<&dyn Made> {
        Some(self)
    }

    /// `kubectl exec -i [-t] POD -c worker -- env -C CLONE ARGV…` (exec has no working
    /// directory of its own; `env -C` is no shell).
    fn in_clone(&self, argv: &[String], tty: bool) -> Cmd {
        let mut all = vec!["env".to_owned(), "-C".into(), MADE_CLONE.into()];
        all.extend(argv.iter().cloned());
        self.exec_in(&all, tty)
    }

    /// `kubectl exec` exits with the command's own status, or 1 when it could not exec; a
    /// pod that no longer runs tells the two apart.
    fn run(&self, cmd: Cmd, limit: Duration) -> Result<Output, RemoteError> {
        made::run(self, cmd, limit, |code| code != 0, |_| false)
    }

    /// `ext::kubectl … exec -i POD -c worker -- %S CLONE` (git runs kubectl itself, no
    /// shell): the exec's words as `ext::` takes them, joined by spaces (the host's values
    /// hold none: `config/hosts/kubernetes`).
    fn git_url(&self) -> String {
        let argv = ["%S", MADE_CLONE].map(String::from);
        format!("ext::{}", self.exec_in(&argv, false).display())
    }

    fn when_make_fails(&self, _failed: &RemoteError) -> String {
        "vnx uses your kubectl and kubeconfig: `kubectl get pods` with the host's context and \
         namespace must work, and the cluster must be able to run the image"
            .into()
    }
}

/// `kubectl [--context C] --namespace NS` for the host `spec`.
pub(super) fn kubectl(spec: &KubernetesHost) -> Cmd {
    let mut cmd = Cmd::new(&spec.kubectl);
    if let Some(context) = &spec.context {
        cmd = cmd.args(["--context", context]);
    }
    cmd.args(["--namespace", &spec.namespace])
}

/// A login file's key in the Secret: a name the API takes (`[-._a-zA-Z0-9]`), the same for
/// the same place under the home directory.
fn login_key(rel: &str) -> String {
    use sha2::Digest;
    format!("login-{}", &hex::encode(sha2::Sha256::digest(rel))[..16])
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{MAX_LOGINS_BYTES, Pod, object_name};
    use crate::config::HostKind;
    use crate::ids::DispatchId;
    use crate::remote::RemoteError;
    use crate::remote::place::Here;

    /// The first built-in CLI with a state directory: its name and the directory.
    /// A CLI with two login files carried whole, and their places under the home.
    fn cli_with_whole_logins() -> (&'static str, [&'static str; 2]) {
        use crate::provider::cli::login::Carry;
        crate::provider::cli::CLIS
            .iter()
            .find_map(|cli| {
                let mut whole = (cli.login_files().iter())
                    .filter(|f| matches!(f.carry, Carry::Whole))
                    .map(|f| f.rel);
                Some((cli.provider().name(), [whole.next()?, whole.next()?]))
            })
            .unwrap()
    }

    fn write_in(home: &Path, rel: &str, bytes: &[u8]) {
        let path = home.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn pod(yaml_more: &str, home: &Path) -> Pod {
        let yaml = format!("hosts:\n  cluster:\n    kubernetes: {{image: i{yaml_more}}}\n");
        let config = crate::config::parse(&yaml, Path::new(".vnx/config.yaml")).unwrap();
        let host = &config.hosts["cluster"];
        let HostKind::Kubernetes(spec) = &host.kind else {
            panic!("{host:?}")
        };
        let id = DispatchId::parse("D-1a2b").unwrap();
        let here = Here {
            data_dir: Path::new("/d"),
            home: Some(home),
            key: None,
        };
        Pod::new(host, spec, &id, here)
    }

    #[test]
    fn logins_are_one_secret_mounted_read_only_in_both_forms() {
        let (cli, [file, _]) = cli_with_whole_logins();
        let home = tempfile::tempdir().unwrap();
        // No login file here: no Secret, no volume.
        let none = pod(&format!(", logins: [{cli}]"), home.path());
        assert!(none.logins_manifest().unwrap().is_none());
        let spec = serde_json::to_value(none.pod_manifest()).unwrap();
        assert_eq!(spec["spec"]["volumes"].as_array().unwrap().len(), 1);
        write_in(home.path(), file, b"LOGIN");
        for objects in ["pod", "sandbox"] {
            let pod = pod(
                &format!(", logins: [{cli}], objects: {objects}"),
                home.path(),
            );
            let secret = serde_json::to_value(pod.logins_manifest().unwrap().unwrap()).unwrap();
            assert_eq!(secret["metadata"]["name"], "vnx-d-1a2b-logins");
            assert_eq!(
                secret["metadata"]["labels"]["vnx.dev/dispatch"],
                "vnx-d-1a2b"
            );
            assert_eq!(
                secret["metadata"]["annotations"]["vnx.dev/dispatch-id"],
                "D-1a2b"
            );
            let (key, value) = secret["data"].as_object().unwrap().iter().next().unwrap();
            assert_eq!(value, "TE9HSU4=");
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)),
                "{key}"
            );
            let spec = if objects == "pod" {
                serde_json::to_value(pod.pod_manifest()).unwrap()["spec"].clone()
            } else {
                serde_json::to_value(pod.sandbox_manifest()).unwrap()["spec"]["podTemplate"]["spec"]
                    .clone()
            };
            let volume = spec["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == "logins")
                .unwrap_or_else(|| panic!("{objects}: {spec:#}"));
            assert_eq!(volume["secret"]["secretName"], "vnx-d-1a2b-logins");
            assert_eq!(volume["secret"]["items"][0]["key"], key.as_str());
            assert_eq!(volume["secret"]["items"][0]["path"], file);
            let mount = &spec["containers"][0]["volumeMounts"][1];
            assert_eq!(mount["mountPath"], "/run/vnx/logins");
            assert_eq!(mount["readOnly"], true);
        }
    }

    #[test]
    fn network_host_is_the_nodes_network_in_both_forms() {
        let home = tempfile::tempdir().unwrap();
        let spec = |pod: &Pod, objects: &str| {
            if objects == "pod" {
                serde_json::to_value(pod.pod_manifest()).unwrap()["spec"].clone()
            } else {
                serde_json::to_value(pod.sandbox_manifest()).unwrap()["spec"]["podTemplate"]["spec"]
                    .clone()
            }
        };
        for objects in ["pod", "sandbox"] {
            let plain = spec(&pod(&format!(", objects: {objects}"), home.path()), objects);
            assert!(plain.get("hostNetwork").is_none(), "{plain:#}");
            assert!(plain.get("dnsPolicy").is_none(), "{plain:#}");
            let more = format!(", objects: {objects}, network: host");
            let host = spec(&pod(&more, home.path()), objects);
            assert_eq!(host["hostNetwork"], true, "{host:#}");
            assert_eq!(host["dnsPolicy"], "ClusterFirstWithHostNet", "{host:#}");
        }
    }

    #[test]
    fn logins_too_large_for_a_secret_are_refused_naming_the_host() {
        let (cli, files) = cli_with_whole_logins();
        let home = tempfile::tempdir().unwrap();
        let half = vec![b'x'; (MAX_LOGINS_BYTES / 2 + 1) as usize];
        for file in files {
            write_in(home.path(), file, &half);
        }
        let pod = pod(&format!(", logins: [{cli}]"), home.path());
        let err = pod.logins_manifest().unwrap_err();
        assert!(matches!(&err, RemoteError::LoginsTooLarge { host, .. } if host == "cluster"));
        assert!(err.to_string().contains("host `cluster`"), "{err}");
    }

    #[test]
    fn object_names_are_dns_labels_and_distinct() {
        let id = |s| DispatchId::parse(s).unwrap();
        assert_eq!(object_name(&id("D-1a2b")), "vnx-d-1a2b");
        let long = "a".repeat(64);
        let names: Vec<String> = ["D-1A2B", "d_1a2b", "x-", &long]
            .map(|s| object_name(&id(s)))
            .to_vec();
        for name in &names {
            assert!(name.len() <= 63, "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{name}"
            );
            assert!(!name.ends_with('-'), "{name}");
        }
        assert_ne!(names[0], names[1]);
        assert_ne!(names[0], object_name(&id("D-1a2b")));
    }
}
