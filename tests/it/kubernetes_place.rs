//! A pod per dispatch (`hosts: {cluster: {kubernetes: …}}`). No cluster runs on the machines
//! the suite runs on, so: the manifests vnx submits are validated against the published
//! Kubernetes schemas (`kubernetes-validate`, strict); the whole loop runs through the
//! stand-in kubectl (testing/fake-kubectl/, pods and claims as podman containers and volumes)
//! with the worker image — a demo dispatch made in a pod, its branch and receipts brought back,
//! its pod deleted and its claim kept until it is merged; a pod killed mid-dispatch is `lost` at once and `resume`d on its
//! claim; the same demo dispatch with `objects: sandbox`, through an agent-sandbox `Sandbox`
//! (made as its controller makes it; the object checked against its CRD's schema); and the
//! real kubectl, with no cluster to reach, fails a dispatch with nothing left; the logins as a
//! Secret; a place with no record here found by its labels and cleaned without losing work.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::container::{exists, remove_volume, worker_image};
use crate::common::{Repo, completion, configure, gate_check, run};

/// The stand-in kubectl the tests name as the host's `kubectl:`.
pub(crate) const STAND_IN: &str = env!("CARGO_BIN_EXE_vnx-fake-kubectl");

/// The engine's name for dispatch `id`'s pod and claim (namespace `agents`), as vnx names
/// them (`vnx::remote::kinds::kubernetes::object_name`) and the stand-in prefixes them.
pub(crate) fn object_of(id: &str) -> String {
    let id = vnx::ids::DispatchId::parse(id).unwrap();
    format!(
        "k8s-agents-{}",
        vnx::remote::kinds::kubernetes::object_name(&id)
    )
}

/// A repository whose config declares the kubernetes host `cluster` through the stand-in.
pub(crate) fn repo_with_cluster() -> Repo {
    repo_with_cluster_making("")
}

/// [`repo_with_cluster`], its host's `kubernetes:` with `more` (lines of its own) too.
fn repo_with_cluster_making(more: &str) -> Repo {
    let image = worker_image();
    let repo = Repo::new();
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    configure(
        &repo,
        &format!(
            "hosts:\n  cluster:\n    kubernetes:\n      kubectl: {STAND_IN}\n      namespace: agents\n      image: \"{image}\"\n{more}    capacity: 2\nroles:\n  implementer: {{gates: []}}\n"
        ),
    );
    repo
}

/// A demo dispatch that commits, on host `cluster`, each kubectl call logged to `log`: done,
/// its branch here and the ledger verified; its id.
fn commit_on_cluster(repo: &Repo, log: &Path) -> String {
    let mut dispatch = repo.dispatch_cmd("commit");
    dispatch.env("VNX_FAKE_KUBECTL_LOG", log).args([
        "--json",
        "--host",
        "cluster",
        "--instruction",
        "add the demo output",
    ]);
    let r = run(dispatch);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let done = completion(&r);
    let id = done["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(done["status"], "done", "{done:#}");
    assert_eq!(done["remote"]["host"], format!("cluster.{id}"), "{done:#}");
    assert!(!repo.on_branch(&id, "demo-output.txt").is_empty());
    repo.verify_ok();
    id
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_demo_dispatch_runs_in_a_pod_of_its_own_and_comes_back() {
    let repo = repo_with_cluster();
    let log = repo.env.path().join("kubectl.log");
    let doctor = run(repo
        .vnx()
        .env("VNX_FAKE_KUBECTL_LOG", &log)
        .args(["doctor", "--host", "cluster"]));
    assert_eq!(doctor.code, 0, "{}{}", doctor.stdout, doctor.stderr);
    for check in ["PASS  engine", "PASS  vnx", "PASS  git", "PASS  tmux"] {
        assert!(doctor.stdout.contains(check), "{check}: {}", doctor.stdout);
    }
    let id = commit_on_cluster(&repo, &log);
    let name = object_of(&id);
    assert!(!exists("container", &name), "pod {name} still exists");
    assert!(
        exists("volume", &name),
        "claim {name} deleted before a merge"
    );
    // Merged, its claim goes too.
    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{} {report:#}", r.stderr);
    let merged = run(repo.vnx().args(["merge", &id]));
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    assert!(!exists("volume", &name), "claim {name} still exists");
    // Every kubectl call named the namespace; the pod was applied from the manifest vnx
    // wrote, and both objects were deleted.
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls
            .lines()
            .all(|l| l.contains("\"--namespace\",\"agents\"")),
        "{calls}"
    );
    for verb in ["\"apply\"", "\"wait\"", "\"exec\"", "\"delete\",\"pod\""] {
        assert!(calls.contains(verb), "{verb}: {calls}");
    }
    let manifests = repo.env.path().join(".vnx-data/kubernetes");
    let pod: serde_json::Value = serde_json::from_slice(
        &std::fs::read(manifests.join(format!(
            "{}.pod.json",
            name.trim_start_matches("k8s-agents-")
        )))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        pod["metadata"]["annotations"]["vnx.dev/dispatch-id"],
        id.as_str()
    );
    assert_eq!(pod["spec"]["automountServiceAccountToken"], false);
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_demo_dispatch_runs_in_a_sandbox_objects_pod_and_comes_back() {
    let repo = repo_with_cluster_making("      objects: sandbox\n");
    let log = repo.env.path().join("kubectl.log");
    let id = commit_on_cluster(&repo, &log);
    // The Sandbox's pod is named as the Sandbox, its claim `work-` and the Sandbox's name.
    let object =
        vnx::remote::kinds::kubernetes::object_name(&vnx::ids::DispatchId::parse(&id).unwrap());
    let pod = object_of(&id);
    let claim = format!("k8s-agents-work-{object}");
    assert!(!exists("container", &pod), "pod {pod} still exists");
    assert!(
        exists("volume", &claim),
        "claim {claim} deleted before a merge"
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    for verb in [
        "\"apply\"",
        "\"patch\",\"sandbox\"",
        "\"--for=condition=Ready\",\"sandbox/",
        "\"--for=delete\",\"pod/",
        "\"exec\"",
    ] {
        assert!(calls.contains(verb), "{verb}: {calls}");
    }
    assert!(
        !calls.contains("\"delete\",\"pod\""),
        "vnx deleted the Sandbox's pod: {calls}"
    );
    // The Sandbox was applied from the manifest vnx wrote, suspended, with the dispatch's id.
    let manifests = repo.env.path().join(".vnx-data/kubernetes");
    let sandbox: serde_json::Value = serde_json::from_slice(
        &std::fs::read(manifests.join(format!("{object}.sandbox.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(sandbox["kind"], "Sandbox");
    assert_eq!(sandbox["spec"]["operatingMode"], "Suspended");
    assert_eq!(
        sandbox["metadata"]["annotations"]["vnx.dev/dispatch-id"],
        id.as_str()
    );
    assert!(!manifests.join(format!("{object}.pod.json")).exists());
    // Merged, the Sandbox goes, and its claim with it.
    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{} {report:#}", r.stderr);
    let merged = run(repo
        .vnx()
        .env("VNX_FAKE_KUBECTL_LOG", &log)
        .args(["merge", &id]));
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    assert!(!exists("volume", &claim), "claim {claim} still exists");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains("\"delete\",\"sandbox\""), "{calls}");
    assert!(
        calls
            .lines()
            .all(|l| l.contains("\"--namespace\",\"agents\"")),
        "{calls}"
    );
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_killed_pod_is_lost_at_once_and_resumed_on_its_claim() {
    let repo = repo_with_cluster_making(
        "      env: {MODEL_URL: 'http://models:1'}\n      network: host\n",
    );
    let r = repo.dispatch(
        "slow",
        &[
            "--host",
            "cluster",
            "--detach",
            "--instruction",
            "take your time",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let started: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let id = started["dispatch_id"].as_str().unwrap().to_owned();
    let name = object_of(&id);
    // The host's variables reach the pod's container, beside its home on the claim.
    let env = Command::new("podman")
        .args(["exec", &name, "printenv", "MODEL_URL", "HOME"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&env.stdout),
        "http://models:1\n/work/home\n"
    );
    // `network: host` is `hostNetwork: true`, which the stand-in makes this machine's network.
    let network = Command::new("podman")
        .args(["inspect", "--format", "{{.HostConfig.NetworkMode}}", &name])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&network.stdout).trim(), "host");
    let killed = Command::new("podman")
        .args(["kill", &name])
        .output()
        .unwrap();
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let w = run(repo.vnx().args(["wait", &id, "--json"]));
    assert_ne!(w.code, 0, "{}{}", w.stdout, w.stderr);
    assert!(w.stdout.contains("lost"), "{}{}", w.stdout, w.stderr);
    assert!(
        exists("volume", &name),
        "its claim, and so its work, is kept"
    );
    let resumed = run(repo.vnx().args(["resume", &id]));
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(exists("container", &name), "a new pod on the claim");
    let list = run(repo.vnx().args(["status", "--all", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let follow = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["continues"] == id.as_str())
        .unwrap_or_else(|| panic!("no follow-up of {id}: {list:#}"));
    assert_eq!(follow["host"], format!("cluster.{id}"), "{follow:#}");
    let cancelled = run(repo
        .vnx()
        .args(["cancel", follow["dispatch_id"].as_str().unwrap()]));
    assert_eq!(
        cancelled.code, 0,
        "{}{}",
        cancelled.stdout, cancelled.stderr
    );
    assert!(!exists("container", &name), "pod {name} still exists");
    assert!(
        exists("volume", &name),
        "claim {name} deleted before a merge"
    );
    remove_volume(&name);
}

/// The first built-in CLI (the registry's order) with a state directory it writes: its name,
/// and that directory's path under the home directory.
/// A built-in CLI with a login file in a directory of its state, carried whole: its name,
/// the directory and the file's name there.
fn cli_with_a_login() -> (&'static str, &'static str, &'static str) {
    vnx::provider::cli::CLIS
        .iter()
        .find_map(|cli| {
            let file = (cli.login_files().iter())
                .find(|f| matches!(f.carry, vnx::provider::cli::login::Carry::Whole))?;
            let (dir, name) = file.rel.rsplit_once('/')?;
            Some((cli.provider().name(), dir, name))
        })
        .expect("a built-in CLI with a login file in its state directory")
}

/// What the stand-in answers `get secret NAME` in namespace `agents`, for `repo`'s home.
pub(crate) fn secret_of(repo: &Repo, name: &str) -> String {
    let out = Command::new(STAND_IN)
        .env("HOME", repo.env.home())
        .args(["--namespace", "agents", "get", "secret", name])
        .args(["--ignore-not-found", "-o", "jsonpath={.metadata.name}"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_pods_logins_come_as_a_secret_read_only_and_go_with_its_claim() {
    for more in ["", "      objects: sandbox\n"] {
        let (cli, dir, login) = cli_with_a_login();
        let repo = repo_with_cluster_making(&format!("      logins: [{cli}]\n{more}"));
        // The user's login here, and files of the state directory it must not be handed: one
        // below it, one beside the login (the CLI's history of every project, issue 69).
        let home = repo.env.home();
        std::fs::create_dir_all(home.join(dir).join("projects")).unwrap();
        std::fs::write(home.join(dir).join(login), "LOGIN").unwrap();
        std::fs::write(home.join(dir).join("projects/other.jsonl"), "SECRET").unwrap();
        std::fs::write(home.join(dir).join("history.jsonl"), "SECRET").unwrap();
        let log = repo.env.path().join("kubectl.log");
        let id = commit_on_cluster(&repo, &log);
        let object =
            vnx::remote::kinds::kubernetes::object_name(&vnx::ids::DispatchId::parse(&id).unwrap());
        let claim = if more.is_empty() {
            format!("k8s-agents-{object}")
        } else {
            format!("k8s-agents-work-{object}")
        };
        let secret = format!("{object}-logins");
        // Ended, its pod is gone and the Secret stays with the claim, which holds the pod's
        // home: the login copied there, nothing else of the state directory.
        assert!(
            !exists("container", &object_of(&id)),
            "{more}: the pod is still there"
        );
        assert_eq!(secret_of(&repo, &secret), secret, "{more}");
        let volume = Command::new("podman")
            .args(["volume", "inspect", "--format", "{{.Mountpoint}}", &claim])
            .output()
            .unwrap();
        let volume = PathBuf::from(String::from_utf8_lossy(&volume.stdout).trim());
        let copied = volume.join("home").join(dir);
        assert_eq!(
            std::fs::read_to_string(copied.join(login)).unwrap(),
            "LOGIN"
        );
        assert!(!copied.join("projects").exists(), "{more}");
        assert!(!copied.join("history.jsonl").exists(), "{more}");
        // Copied as files, not as the kubelet's links into its `..data` directory.
        assert!(copied.symlink_metadata().unwrap().is_dir(), "{more}");
        assert!(!volume.join("home/..data").exists(), "{more}");
        // Mounted read-only where the place's start copies it from.
        let pod: serde_json::Value = if more.is_empty() {
            let path = format!("{object}.pod.json");
            serde_json::from_slice(
                &std::fs::read(repo.env.path().join(".vnx-data/kubernetes").join(path)).unwrap(),
            )
            .unwrap()
        } else {
            let path = format!("{object}.sandbox.json");
            let sandbox: serde_json::Value = serde_json::from_slice(
                &std::fs::read(repo.env.path().join(".vnx-data/kubernetes").join(path)).unwrap(),
            )
            .unwrap();
            sandbox["spec"]["podTemplate"].clone()
        };
        let mount = &pod["spec"]["containers"][0]["volumeMounts"][1];
        assert_eq!(mount["mountPath"], "/run/vnx/logins", "{pod:#}");
        assert_eq!(mount["readOnly"], true, "{pod:#}");
        // The manifest vnx applied carries the file, base64, by a key of the API's form.
        let manifests = repo.env.path().join(".vnx-data/kubernetes");
        let applied: serde_json::Value = serde_json::from_slice(
            &std::fs::read(manifests.join(format!("{secret}.logins.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(applied["kind"], "Secret");
        assert_eq!(
            applied["metadata"]["annotations"]["vnx.dev/dispatch-id"],
            id.as_str()
        );
        let data = applied["data"].as_object().unwrap();
        assert!(data.values().any(|v| v == "TE9HSU4="), "{applied:#}");
        // Merged, the claim goes, and the Secret with it.
        let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (r, report) = gate_check(&repo, &id);
        assert_eq!(r.code, 0, "{more}{} {report:#}", r.stderr);
        let merged = run(repo.vnx().args(["merge", &id]));
        assert_eq!(merged.code, 0, "{more}{}{}", merged.stdout, merged.stderr);
        assert_eq!(
            secret_of(&repo, &secret),
            "",
            "{more}: the Secret is still there"
        );
        assert!(
            !exists("volume", &claim),
            "{more}: the claim is still there"
        );
    }
}

/// `kubectl` on PATH, when there is one.
fn real_kubectl() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

#[test]
#[ignore = "needs kubectl (bin/test --all installs it)"]
fn with_no_cluster_to_reach_the_real_kubectl_fails_a_dispatch_with_nothing_left() {
    assert!(real_kubectl().is_some(), "kubectl is not on PATH");
    let repo = Repo::new();
    // A kubeconfig whose one cluster is a loopback port nothing listens on.
    let kubeconfig = repo.env.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:9\"}\ncontexts:\n- name: lab\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: none}\ncurrent-context: lab\n",
    )
    .unwrap();
    configure(
        &repo,
        "hosts:\n  cluster:\n    kubernetes: {context: lab, image: \"localhost/vnx-worker:test\"}\n",
    );
    let doctor = run(repo
        .vnx()
        .env("KUBECONFIG", &kubeconfig)
        .args(["doctor", "--host", "cluster"]));
    assert_eq!(doctor.code, 1, "{}{}", doctor.stdout, doctor.stderr);
    assert!(doctor.stdout.contains("FAIL  engine"), "{}", doctor.stdout);
    assert!(doctor.stdout.contains("kubeconfig"), "{}", doctor.stdout);
    let _fresh = crate::common::container::FreshPlace::named(object_of("D-0c0c0c0c0c0d"));
    let mut dispatch = repo.dispatch_cmd("commit");
    dispatch.env("KUBECONFIG", &kubeconfig).args([
        "--json",
        "--host",
        "cluster",
        "--id",
        "D-0c0c0c0c0c0d",
        "--instruction",
        "x",
    ]);
    let r = run(dispatch);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("kubectl get"), "{}", r.stderr);
    let ledger = repo.env.path().join(".vnx-data/state/t0_receipts.ndjson");
    assert!(!ledger.exists() || repo.receipts("D-0c0c0c0c0c0d").is_empty());
    eprintln!("{}\n{}", doctor.stdout, r.stderr);
}

/// `kubernetes-validate`, from bin/test's virtualenv or PATH.
fn kubernetes_validate() -> Option<PathBuf> {
    let cache = std::env::var_os("VNX_CLI_CACHE")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".cache/vnx-clis")))?;
    let venv = cache.join("kube-validate/bin/kubernetes-validate");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("kubernetes-validate"))
        .find(|p| p.is_file())
}

/// The host `cluster` of `yaml`'s config.
fn host(yaml: &str) -> vnx::config::HostConfig {
    let config = vnx::config::parse(yaml, Path::new(".vnx/config.yaml")).unwrap();
    config.hosts["cluster"].clone()
}

#[test]
#[ignore = "needs kubernetes-validate (bin/test --all installs it)"]
fn every_manifest_vnx_makes_validates_against_the_kubernetes_schemas() {
    let validate = kubernetes_validate().expect("kubernetes-validate is not installed");
    let dir = tempfile::tempdir().unwrap();
    let id = vnx::ids::DispatchId::parse("D-1a2b3c4d5e6f").unwrap();
    let mut files = Vec::new();
    let mut sandboxes = Vec::new();
    // A home with a login file of the CLI the last host names.
    let (cli, state_dir, login) = cli_with_a_login();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(state_dir)).unwrap();
    std::fs::write(home.join(state_dir).join(login), "{}").unwrap();
    let with_logins =
        format!("hosts:\n  cluster:\n    kubernetes: {{image: i, logins: [{cli}]}}\n");
    for (n, yaml) in [
        "hosts:\n  cluster:\n    kubernetes: {image: i}\n",
        "hosts:\n  cluster:\n    kubernetes:\n      image: registry.example/vnx-worker:1\n      context: prod\n      namespace: agents\n      cpu: 500m\n      memory: 4Gi\n      storage: 20Gi\n      storage_class: fast\n      node_selector: {pool: agents, kubernetes.io/arch: amd64}\n      tolerations: [{key: dedicated, operator: Equal, value: agents, effect: NoSchedule}, {operator: Exists, effect: NoExecute, toleration_seconds: 60}]\n      service_account: vnx-worker\n      runtime_class: gvisor\n      network: host\n      env: {MODEL_URL: 'http://models:1', HTTPS_PROXY: 'http://proxy:3128'}\n",
        "hosts:\n  cluster:\n    kubernetes: {image: i, cpu: 2, memory: 512Mi}\n",
        with_logins.as_str(),
    ]
    .iter()
    .enumerate()
    {
        let host = host(yaml);
        let vnx::config::HostKind::Kubernetes(spec) = &host.kind else {
            panic!("not a kubernetes host: {host:?}");
        };
        let here = vnx::remote::place::Here {
            data_dir: dir.path(),
            home: Some(&home),
            key: None,
        };
        let pod = vnx::remote::kinds::kubernetes::Pod::new(&host, spec, &id, here);
        if let Some(secret) = pod.logins_manifest().unwrap() {
            let json = serde_json::to_value(secret).unwrap();
            assert_eq!(json["kind"], "Secret", "{json:#}");
            let path = dir.path().join(format!("{n}.secret.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
            files.push(path);
        }
        let sandbox = serde_json::to_value(pod.sandbox_manifest()).unwrap();
        // What the Sandbox embeds, as the Pod and claim its controller makes of it.
        let template = &sandbox["spec"]["podTemplate"];
        let embedded_pod = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": sandbox["metadata"]["name"], "labels": template["metadata"]["labels"],
                         "annotations": template["metadata"]["annotations"]},
            "spec": template["spec"],
        });
        let claim = &sandbox["spec"]["volumeClaimTemplates"][0];
        let embedded_claim = serde_json::json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": pod.sandbox_claim_name()},
            "spec": claim["spec"],
        });
        for (kind, json) in [
            ("pod", serde_json::to_value(pod.pod_manifest()).unwrap()),
            ("claim", serde_json::to_value(pod.claim_manifest()).unwrap()),
            ("sandbox-pod", embedded_pod),
            ("sandbox-claim", embedded_claim),
        ] {
            let path = dir.path().join(format!("{n}.{kind}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
            files.push(path);
        }
        let path = dir.path().join(format!("{n}.sandbox.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&sandbox).unwrap()).unwrap();
        sandboxes.push(path);
    }
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().ends_with(".secret.json")),
        "no Secret was made for the host with logins"
    );
    // The earliest API version vnx's types are of (k8s-openapi's `earliest`), and the latest
    // the validator has.
    for version in ["1.33.0", "1.37.0"] {
        let out = Command::new(&validate)
            .args(["--strict", "--kubernetes-version", version])
            .args(&files)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{version}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The Sandbox itself against its CRD's schema (agent-sandbox's, copied in tests/data/).
    let crd = |files: &[PathBuf]| {
        Command::new(validate.with_file_name("python"))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/validate-crd-object.py"))
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/data/agent-sandbox/sandbox.v1beta1.schema.json"),
            )
            .args(files)
            .output()
            .unwrap()
    };
    let out = crd(&sandboxes);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A wrong Sandbox fails: a mode the CRD does not have, a field it does not know.
    for (n, (pointer, value)) in [
        ("/spec/operatingMode", serde_json::json!("Paused")),
        (
            "/spec/podTemplate/spec/containers/0/colour",
            serde_json::json!("red"),
        ),
        (
            "/spec/volumeClaimTemplates/0/spec/resources",
            serde_json::json!("10Gi"),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut sandbox: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&sandboxes[0]).unwrap()).unwrap();
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        sandbox.pointer_mut(parent).unwrap()[field] = value;
        let bad = dir.path().join(format!("bad-{n}.sandbox.json"));
        std::fs::write(&bad, serde_json::to_vec(&sandbox).unwrap()).unwrap();
        let out = crd(&[bad]);
        assert!(
            !out.status.success(),
            "{pointer}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // A wrong manifest fails, so the check can fail.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"w","image":"i","restartPolicy":3}]}}"#,
    )
    .unwrap();
    let out = Command::new(&validate)
        .arg("--strict")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_pod_with_no_record_here_is_found_by_its_labels_and_cleaned_without_losing_work() {
    for more in ["", "      objects: sandbox\n"] {
        orphan_found_and_cleaned(more);
    }
}

/// [`a_pod_with_no_record_here_is_found_by_its_labels_and_cleaned_without_losing_work`] with
/// the host's `kubernetes:` given `more`.
fn orphan_found_and_cleaned(more: &str) {
    let repo = repo_with_cluster_making(more);
    let r = repo.dispatch(
        "slow",
        &[
            "--host",
            "cluster",
            "--detach",
            "--instruction",
            "take your time",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let started: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let id = started["dispatch_id"].as_str().unwrap().to_owned();
    let name = object_of(&id);
    // A launch killed after making its place and before keeping its record, as it were.
    let record = repo
        .env
        .path()
        .join(format!(".vnx-data/remote/dispatches/{id}.json"));
    std::fs::remove_file(&record).unwrap();
    let log = repo.env.path().join("kubectl.log");
    let status = run(repo
        .vnx()
        .env("VNX_FAKE_KUBECTL_LOG", &log)
        .args(["status", "--json"]));
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    let listed: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let orphan = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["orphan"] == true)
        .unwrap_or_else(|| panic!("no orphan: {listed:#}"));
    assert_eq!(orphan["dispatch_id"], id.as_str(), "{orphan:#}");
    assert_eq!(orphan["host"], format!("cluster.{id}"), "{orphan:#}");
    let object = name.trim_start_matches("k8s-agents-").to_owned();
    let (objects, listed_as, claim) = if more.is_empty() {
        (
            serde_json::json!([
                format!("pod {object}"),
                format!("persistentvolumeclaim {object}")
            ]),
            "pods,persistentvolumeclaims",
            name.clone(),
        )
    } else {
        (
            serde_json::json!([format!("sandbox {object}")]),
            "sandboxes",
            format!("k8s-agents-work-{object}"),
        )
    };
    assert_eq!(orphan["objects"], objects, "{orphan:#}");
    // Listed by label, in the host's namespace.
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.contains(&format!("\"get\",\"{listed_as}\",\"-l\"")),
        "{calls}"
    );
    // Work in its clone that is not here keeps its claim; the pod goes.
    let work = Command::new("podman")
        .args([
            "exec",
            &name,
            "sh",
            "-c",
            "cd /work/repo && git branch extra \"$(git commit-tree 'HEAD^{tree}' -p HEAD -m work)\"",
        ])
        .output()
        .unwrap();
    assert!(work.status.success(), "{work:?}");
    let clean = run(repo.vnx().args(["clean", "--orphans", "--yes"]));
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(clean.stdout.contains("storage is kept"), "{}", clean.stdout);
    assert!(!exists("container", &name), "pod {name} still runs");
    assert!(exists("volume", &claim), "claim {claim}'s work was lost");
    // Once nothing there is missing here, cleaning again (on a new pod) removes the claim.
    let mountpoint = Command::new("podman")
        .args(["volume", "inspect", "--format", "{{.Mountpoint}}", &claim])
        .output()
        .unwrap();
    let clone = PathBuf::from(String::from_utf8_lossy(&mountpoint.stdout).trim()).join("repo");
    let deleted = Command::new("git")
        .arg("-C")
        .arg(&clone)
        .args(["branch", "-D", "extra"])
        .output()
        .unwrap();
    assert!(deleted.status.success(), "{deleted:?}");
    let clean = run(repo.vnx().args(["clean", "--orphans", "--yes"]));
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean.stdout.contains("removed cluster."),
        "{}",
        clean.stdout
    );
    assert!(!exists("container", &name) && !exists("volume", &claim));
    let status = run(repo.vnx().args(["status", "--json"]));
    assert!(!status.stdout.contains("\"orphan\""), "{}", status.stdout);
}

#[test]
fn a_cluster_that_cannot_be_listed_is_a_note_of_status_not_an_error() {
    let repo = Repo::new();
    configure(
        &repo,
        "hosts:\n  cluster:\n    kubernetes: {kubectl: /nonexistent/kubectl, image: i}\n",
    );
    for args in [&["status"][..], &["status", "--json"]] {
        let status = run(repo.vnx().args(args));
        assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
        assert!(
            status
                .stderr
                .contains("places of host `cluster` could not be listed"),
            "{}",
            status.stderr
        );
    }
    let clean = run(repo.vnx().args(["clean", "--orphans", "--yes"]));
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean.stderr.contains("could not be listed"),
        "{}",
        clean.stderr
    );
}
