//! A `kubernetes:` host of `.vnx/config.yaml`: a Pod (and a claim for its work's volume) per
//! dispatch in the user's cluster, through the user's own `kubectl` and kubeconfig context —
//! the namespace, the image, and what a cluster's pod template usually sets (resources, node
//! selector, tolerations, service account, runtime class, the node's network), or an
//! agent-sandbox `Sandbox` object in their place (`objects: sandbox`), or a `SandboxClaim` on the
//! user's warm pool (`objects: claim`, `warm_pool: NAME`: the pod is the pool's template's, so
//! none of the pod's keys is taken); validated with line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use crate::config::checked::{Checked, Validator, is_name, q};

/// A kubernetes host: how vnx reaches the cluster, and the pod it makes per dispatch.
#[derive(Clone, Debug, PartialEq)]
pub struct KubernetesHost {
    /// The `kubectl` program (a name on `PATH`, or an absolute path).
    pub kubectl: String,
    /// The kubeconfig context (`--context`), when not the current one.
    pub context: Option<String>,
    /// The namespace each dispatch's pod and claim are made in.
    pub namespace: String,
    /// The image the pod's one container runs: git, tmux, vnx and the CLIs (empty with
    /// `objects: claim`: the template's).
    pub image: String,
    /// CPU the container requests and is limited to (a quantity: `2`, `500m`).
    pub cpu: Option<String>,
    /// Memory the container requests and is limited to (a quantity: `4Gi`).
    pub memory: Option<String>,
    /// The size of the claim that holds the clone and the place's ledger (`10Gi`).
    pub storage: String,
    /// The claim's storage class, when not the cluster's default.
    pub storage_class: Option<String>,
    /// The pod's node selector.
    pub node_selector: BTreeMap<String, String>,
    /// The pod's tolerations.
    pub tolerations: Vec<Toleration>,
    /// The pod's service account; with none, the pod gets no API token at all.
    pub service_account: Option<String>,
    /// The pod's runtime class (`gvisor`, `kata`), for a sandboxed runtime.
    pub runtime_class: Option<String>,
    /// `objects: sandbox`: one agent-sandbox `Sandbox` object (`agents.x-k8s.io/v1beta1`) per
    /// dispatch, whose controller makes the claim and the pod, instead of the two themselves
    /// (`objects: pod`, the default).
    pub sandbox_object: bool,
    /// `objects: claim`: one agent-sandbox `SandboxClaim` per dispatch on this
    /// `SandboxWarmPool` of the user's (`warm_pool:`), which hands it a ready `Sandbox` of the
    /// pool's `SandboxTemplate` or makes one from it.
    pub warm_pool: Option<String>,
    /// Variables set in the pod's container, for its CLIs (a model server's address).
    pub env: BTreeMap<String, String>,
    /// The CLIs whose login and settings files in the home directory here are made
    /// available, read-only (a Secret per dispatch), and copied into the pod's home.
    pub logins: Vec<String>,
    /// `network: host`: the pod shares its node's network (`hostNetwork: true`), so it
    /// reaches what the node serves on its loopback; else the cluster's pod network
    /// (`network: default`, the default).
    pub host_network: bool,
}

/// One toleration of the pod's, as the Kubernetes API has it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toleration {
    /// The taint key it matches (none: every key, with `operator: Exists`).
    pub key: Option<String>,
    /// `Exists` or `Equal`.
    pub operator: Option<String>,
    /// The taint value it matches (with `Equal`).
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute` (none: every effect).
    pub effect: Option<String>,
    /// How long the pod stays bound to a node tainted `NoExecute`.
    pub toleration_seconds: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKubernetes {
    kubectl: Option<Spanned<String>>,
    context: Option<Spanned<String>>,
    namespace: Option<Spanned<String>>,
    image: Option<Spanned<String>>,
    cpu: Option<Spanned<Quantity>>,
    memory: Option<Spanned<Quantity>>,
    storage: Option<Spanned<Quantity>>,
    storage_class: Option<Spanned<String>>,
    node_selector: Option<Spanned<BTreeMap<String, String>>>,
    tolerations: Option<Spanned<Vec<Toleration>>>,
    service_account: Option<Spanned<String>>,
    runtime_class: Option<Spanned<String>>,
    objects: Option<Spanned<String>>,
    warm_pool: Option<Spanned<String>>,
    env: Option<Spanned<BTreeMap<String, String>>>,
    logins: Option<Vec<Spanned<String>>>,
    network: Option<Spanned<String>>,
}

/// A quantity as YAML gives it: `2` is a number, `500m` a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Quantity {
    Number(f64),
    Text(String),
}

impl Quantity {
    fn text(&self) -> String {
        match self {
            Quantity::Number(n) => n.to_string(),
            Quantity::Text(t) => t.clone(),
        }
    }
}

/// Whether `s` is a Kubernetes quantity vnx passes on: digits, an optional fraction, and an
/// optional suffix (`m`, `k`, `M`, `G`, `T`, `Ki`, `Mi`, `Gi`, `Ti`).
fn is_quantity(s: &str) -> bool {
    let number = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[number.len()..];
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    digits(whole)
        && digits(fraction)
        && ["", "m", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"].contains(&suffix)
}

/// Whether `s` is a DNS label (a namespace's, a runtime class's or a storage class's name).
fn is_dns_name(s: &str) -> bool {
    is_name(
        s,
        |b| b.is_ascii_lowercase() || b.is_ascii_digit(),
        b"-.",
        1..=253,
    ) && !s.ends_with(['-', '.'])
}

/// Whether `s` is a label key (`prefix/name`) or value a node selector may use.
fn is_label_part(s: &str, max: usize) -> bool {
    s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
}

/// A value passed to `kubectl` as an argument of its own and in git's `ext::` line: no
/// whitespace (which `ext::` splits on), no `%` (its escape), never an option.
fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && !s.starts_with('-')
        && !s.contains(|c: char| c.is_whitespace() || c.is_control() || c == '%')
}

impl Validator<'_> {
    /// A kubernetes host's cluster, namespace and pod (`host`: where its `kubernetes:` is).
    pub(super) fn kubernetes_host(
        &self,
        at: &str,
        k: RawKubernetes,
        host: &Location,
    ) -> Checked<KubernetesHost> {
        let at = format!("{at}.kubernetes");
        let warm_pool = self.kubernetes_objects(&at, &k, host)?;
        for (field, value, ok) in [
            ("kubectl", &k.kubectl, is_plain as fn(&str) -> bool),
            ("context", &k.context, is_plain),
            ("image", &k.image, is_plain),
            ("warm_pool", &k.warm_pool, is_dns_name),
            ("namespace", &k.namespace, is_dns_name),
            ("storage_class", &k.storage_class, is_dns_name),
            ("service_account", &k.service_account, is_dns_name),
            ("runtime_class", &k.runtime_class, is_dns_name),
        ] {
            if let Some(v) = value
                && !ok(&v.value)
            {
                let msg = format!("{at}.{field} is not usable here: {}", q(&v.value));
                return self.err(&v.referenced, msg);
            }
        }
        let mut quantities = Vec::new();
        for (field, value) in [
            ("cpu", &k.cpu),
            ("memory", &k.memory),
            ("storage", &k.storage),
        ] {
            let text = value.as_ref().map(|v| v.value.text());
            if let (Some(v), Some(t)) = (value, &text)
                && !is_quantity(t)
            {
                let msg = format!(
                    "{at}.{field} must be a quantity such as 2, 500m or 4Gi, not {}",
                    q(t)
                );
                return self.err(&v.referenced, msg);
            }
            quantities.push(text);
        }
        let (node_selector, selector_at) = match k.node_selector {
            Some(s) => (s.value, s.referenced),
            None => (BTreeMap::new(), *host),
        };
        if let Some((key, value)) = node_selector.iter().find(|(key, value)| {
            key.is_empty() || !is_label_part(key, 317) || !is_label_part(value, 63)
        }) {
            let msg = format!(
                "{at}.node_selector has a label vnx cannot pass: {}={}",
                q(key),
                q(value)
            );
            return self.err(&selector_at, msg);
        }
        let (tolerations, tolerations_at) = match k.tolerations {
            Some(t) => (t.value, t.referenced),
            None => (Vec::new(), *host),
        };
        for t in &tolerations {
            let operator_ok = matches!(t.operator.as_deref(), None | Some("Exists" | "Equal"));
            let effect_ok = matches!(
                t.effect.as_deref(),
                None | Some("NoSchedule" | "PreferNoSchedule" | "NoExecute")
            );
            if !operator_ok || !effect_ok {
                let msg = format!(
                    "{at}.tolerations: operator is Exists or Equal, effect NoSchedule, \
                     PreferNoSchedule or NoExecute"
                );
                return self.err(&tolerations_at, msg);
            }
        }
        let sandbox_object = k.objects.as_ref().is_some_and(|o| o.value == "sandbox");
        let host_network = match &k.network {
            None => false,
            Some(n) if n.value == "default" => false,
            Some(n) if n.value == "host" => true,
            Some(n) => {
                let msg = format!("{at}.network must be default or host, not {}", q(&n.value));
                return self.err(&n.referenced, msg);
            }
        };
        let env = self.env(&at, k.env)?;
        let logins = self.logins(&at, k.logins)?;
        let [cpu, memory, storage] =
            <[Option<String>; 3]>::try_from(quantities).expect("three quantities were read");
        let text = |v: Option<Spanned<String>>| v.map(|v| v.value);
        Ok(KubernetesHost {
            kubectl: text(k.kubectl).unwrap_or_else(|| "kubectl".into()),
            context: text(k.context),
            namespace: text(k.namespace).unwrap_or_else(|| "default".into()),
            image: text(k.image).unwrap_or_default(),
            cpu,
            memory,
            storage: storage.unwrap_or_else(|| "10Gi".into()),
            storage_class: text(k.storage_class),
            node_selector,
            tolerations,
            service_account: text(k.service_account),
            runtime_class: text(k.runtime_class),
            sandbox_object,
            warm_pool,
            env,
            logins,
            host_network,
        })
    }
    /// `objects:` checked against the keys given with it: the warm pool's name with
    /// `objects: claim` (which takes none of the pod's keys: the pool's template has them),
    /// an image without it.
    fn kubernetes_objects(
        &self,
        at: &str,
        k: &RawKubernetes,
        host: &Location,
    ) -> Checked<Option<String>> {
        let claim = match &k.objects {
            None => false,
            Some(o) if matches!(o.value.as_str(), "pod" | "sandbox") => false,
            Some(o) if o.value == "claim" => true,
            Some(o) => {
                let msg = format!("{at}.objects is pod, sandbox or claim, not {}", q(&o.value));
                return self.err(&o.referenced, msg);
            }
        };
        if !claim {
            if let Some(pool) = &k.warm_pool {
                let msg = format!("{at}.warm_pool is for `objects: claim` only");
                return self.err(&pool.referenced, msg);
            }
            if k.image.is_none() {
                let msg =
                    format!("{at} needs an `image:` (or `objects: claim` and a `warm_pool:`)");
                return self.err(host, msg);
            }
            return Ok(None);
        }
        let Some(pool) = &k.warm_pool else {
            let msg = format!(
                "{at}.objects: claim needs a `warm_pool:`, the SandboxWarmPool the claims name"
            );
            return self.err(host, msg);
        };
        let span = |v: &Option<Spanned<String>>| v.as_ref().map(|v| v.referenced);
        let pod_keys = [
            ("image", span(&k.image)),
            ("cpu", k.cpu.as_ref().map(|v| v.referenced)),
            ("memory", k.memory.as_ref().map(|v| v.referenced)),
            ("storage", k.storage.as_ref().map(|v| v.referenced)),
            ("storage_class", span(&k.storage_class)),
            (
                "node_selector",
                k.node_selector.as_ref().map(|v| v.referenced),
            ),
            ("tolerations", k.tolerations.as_ref().map(|v| v.referenced)),
            ("service_account", span(&k.service_account)),
            ("runtime_class", span(&k.runtime_class)),
            ("network", span(&k.network)),
            ("env", k.env.as_ref().map(|v| v.referenced)),
            (
                "logins",
                k.logins
                    .as_ref()
                    .and_then(|l| l.first())
                    .map(|v| v.referenced),
            ),
        ];
        if let Some((field, Some(span))) = pod_keys.into_iter().find(|(_, s)| s.is_some()) {
            let msg = format!(
                "{at}.{field} is the SandboxTemplate's with `objects: claim`: set it in the \
                 template the warm pool names"
            );
            return self.err(&span, msg);
        }
        Ok(Some(pool.value.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::{is_dns_name, is_quantity};
    use crate::config::{Config, ConfigError, HostKind};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        crate::config::parse(text, std::path::Path::new(".vnx/config.yaml"))
    }

    #[test]
    fn a_kubernetes_host_is_read_with_its_defaults() {
        let c = parse("hosts:\n  cluster:\n    kubernetes: {image: i}\n    capacity: 3\n").unwrap();
        let h = &c.hosts["cluster"];
        let HostKind::Kubernetes(k) = &h.kind else {
            panic!("{h:?}")
        };
        assert_eq!(
            (k.kubectl.as_str(), k.namespace.as_str(), k.storage.as_str()),
            ("kubectl", "default", "10Gi")
        );
        assert_eq!(
            (k.context.as_ref(), k.cpu.as_ref(), h.capacity),
            (None, None, 3)
        );
        let c = parse(
            "hosts:\n  cluster:\n    kubernetes:\n      image: i\n      cpu: 2\n      memory: 512Mi\n      tolerations: [{operator: Exists, toleration_seconds: 5}]\n",
        )
        .unwrap();
        let HostKind::Kubernetes(k) = &c.hosts["cluster"].kind else {
            panic!()
        };
        assert_eq!(
            (k.cpu.as_deref(), k.memory.as_deref()),
            (Some("2"), Some("512Mi"))
        );
        assert_eq!(k.tolerations[0].toleration_seconds, Some(5));
        assert!(!k.sandbox_object && !k.host_network);
        for (network, host) in [("default", false), ("host", true)] {
            let text =
                format!("hosts:\n  cluster:\n    kubernetes: {{image: i, network: {network}}}\n");
            let HostKind::Kubernetes(k) = &parse(&text).unwrap().hosts["cluster"].kind else {
                panic!()
            };
            assert_eq!(k.host_network, host, "{network}");
        }
        for (objects, sandbox) in [("pod", false), ("sandbox", true)] {
            let text =
                format!("hosts:\n  cluster:\n    kubernetes: {{image: i, objects: {objects}}}\n");
            let HostKind::Kubernetes(k) = &parse(&text).unwrap().hosts["cluster"].kind else {
                panic!()
            };
            assert_eq!(k.sandbox_object, sandbox, "{objects}");
        }
        let text =
            "hosts:\n  cluster:\n    kubernetes: {image: i, env: {MODEL_URL: 'http://m:1'}}\n";
        let HostKind::Kubernetes(k) = &parse(text).unwrap().hosts["cluster"].kind else {
            panic!()
        };
        assert_eq!(k.env["MODEL_URL"], "http://m:1");
        let text = "hosts:\n  cluster:\n    kubernetes: {objects: claim, warm_pool: agents}\n";
        let HostKind::Kubernetes(k) = &parse(text).unwrap().hosts["cluster"].kind else {
            panic!()
        };
        assert_eq!(
            (k.warm_pool.as_deref(), k.sandbox_object, k.image.as_str()),
            (Some("agents"), false, "")
        );
        // Logins as a container host takes them: built-in CLIs, by the registry's names.
        let name = crate::provider::cli::CLIS[0].provider().name();
        let text = format!("hosts:\n  cluster:\n    kubernetes: {{image: i, logins: [{name}]}}\n");
        let HostKind::Kubernetes(k) = &parse(&text).unwrap().hosts["cluster"].kind else {
            panic!()
        };
        assert_eq!(k.logins, [name]);
    }

    #[test]
    fn bad_kubernetes_hosts_are_refused_with_where() {
        for (yaml, says) in [
            ("kubernetes: {image: -oops}", "image is not usable"),
            (
                "kubernetes: {image: i, env: {'A B': x}}",
                "kubernetes.env has a variable",
            ),
            (
                "kubernetes: {image: i, context: a b}",
                "context is not usable",
            ),
            (
                "kubernetes: {image: i, context: '50%'}",
                "context is not usable",
            ),
            (
                "kubernetes: {image: i, namespace: Agents}",
                "namespace is not usable",
            ),
            (
                "kubernetes: {image: i, cpu: lots}",
                "cpu must be a quantity",
            ),
            (
                "kubernetes: {image: i, memory: 4 Gi}",
                "memory must be a quantity",
            ),
            (
                "kubernetes: {image: i, node_selector: {'a b': c}}",
                "node_selector has a label",
            ),
            (
                "kubernetes: {image: i, tolerations: [{operator: Maybe}]}",
                "tolerations: operator",
            ),
            ("kubernetes: {image: i, colour: red}", "unknown field"),
            (
                "kubernetes: {image: i, logins: [vim]}",
                "kubernetes.logins names `vim`",
            ),
            (
                "kubernetes: {image: i, objects: sandboxes}",
                "objects is pod, sandbox or claim",
            ),
            ("kubernetes: {image: i, sandbox: true}", "unknown field"),
            ("kubernetes: {namespace: a}", "needs an `image:`"),
            (
                "kubernetes: {image: i, warm_pool: p}",
                "warm_pool is for `objects: claim` only",
            ),
            ("kubernetes: {objects: claim}", "needs a `warm_pool:`"),
            (
                "kubernetes: {objects: claim, warm_pool: Pool}",
                "warm_pool is not usable",
            ),
            (
                "kubernetes: {objects: claim, warm_pool: p, image: i}",
                "image is the SandboxTemplate's",
            ),
            (
                "kubernetes: {objects: claim, warm_pool: p, logins: [vim]}",
                "logins is the SandboxTemplate's",
            ),
            (
                "kubernetes: {image: i, network: none}",
                "network must be default or host",
            ),
            (
                "kubernetes: {image: i}\n    clone: /c",
                "clone is for an ssh host only",
            ),
            (
                "kubernetes: {image: i}\n    container: {image: i}",
                "not two of them",
            ),
        ] {
            let text = format!("hosts:\n  cluster:\n    {yaml}\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(says), "{yaml}: {err}");
            assert!(err.contains(".vnx/config.yaml:"), "{yaml}: {err}");
        }
    }

    #[test]
    fn quantities_and_names_are_told_apart() {
        for ok in ["2", "500m", "4Gi", "1.5", "10Gi", "512Mi"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["", "-1", "4 Gi", "1e3x", "Gi", "1..5", "2Xi"] {
            assert!(!is_quantity(bad), "{bad}");
        }
        assert!(is_dns_name("agents-1"));
        for bad in ["Agents", "-a", "a-", "a_b", ""] {
            assert!(!is_dns_name(bad), "{bad}");
        }
    }
}
