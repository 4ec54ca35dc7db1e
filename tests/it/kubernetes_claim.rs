//! A kubernetes host whose dispatches are agent-sandbox `SandboxClaim`s on a warm pool
//! (`objects: claim`), through the stand-in kubectl (testing/fake-kubectl/, the claim and
//! warm-pool controllers modelled in `claim.rs`): the test applies a `SandboxTemplate` and a
//! `SandboxWarmPool` of one, as a user would; the doctor's place is a claim too; a dispatch
//! takes the pool's ready sandbox, comes back, is followed up in the same pod (parking keeps
//! the claim), and merging deletes the claim with its sandbox; with the pool emptied, the next
//! dispatch gets a sandbox made from the template. The claim vnx makes, and the template and
//! pool applied here, are checked against the CRDs' schemas. A claim with no record here is
//! found by its labels and kept, pod and all, while its clone holds work this repository
//! lacks. And a pod of an `objects: sandbox` dispatch deleted (as a drain does; the
//! controller makes it again) loses no work.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::common::container::{exists, worker_image};
use crate::common::{Repo, completion, configure, gate_check, run};

/// The stand-in kubectl the tests name as the host's `kubectl:`.
const STAND_IN: &str = env!("CARGO_BIN_EXE_vnx-fake-kubectl");

/// The warm pool the host names, and the template it names.
const POOL: &str = "agents-pool";
const TEMPLATE: &str = "vnx-worker";

/// The user's template: the worker image idling, its home on the `work` claim at `/work`.
fn template(image: &str) -> Value {
    json!({
        "apiVersion": "extensions.agents.x-k8s.io/v1beta1",
        "kind": "SandboxTemplate",
        "metadata": {"name": TEMPLATE, "namespace": "agents"},
        "spec": {
            "podTemplate": {
                "metadata": {"labels": {"app": "vnx-worker"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "worker",
                        "image": image,
                        "command": ["/bin/sh", "-c",
                            "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"],
                        "env": [{"name": "HOME", "value": "/work/home"}],
                        "volumeMounts": [{"name": "work", "mountPath": "/work"}],
                    }],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "work"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}},
            }],
        },
    })
}

/// The user's warm pool of `replicas` sandboxes of [`TEMPLATE`].
fn pool(replicas: u32) -> Value {
    json!({
        "apiVersion": "extensions.agents.x-k8s.io/v1beta1",
        "kind": "SandboxWarmPool",
        "metadata": {"name": POOL, "namespace": "agents"},
        "spec": {"replicas": replicas, "sandboxTemplateRef": {"name": TEMPLATE}},
    })
}

/// The stand-in kubectl in namespace `agents`, with the repository's HOME (its store).
fn kubectl(repo: &Repo) -> Command {
    let mut cmd = Command::new(STAND_IN);
    cmd.env("HOME", repo.env.home())
        .args(["--namespace", "agents"]);
    cmd
}

/// `object` applied through the stand-in, as the user would.
fn apply(repo: &Repo, object: &Value) {
    let file = repo.env.home().join(format!(
        "{}.json",
        object["kind"].as_str().unwrap().to_ascii_lowercase()
    ));
    std::fs::write(&file, serde_json::to_vec(object).unwrap()).unwrap();
    let out = kubectl(repo)
        .arg("apply")
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The names of the `Sandbox`es the stand-in keeps now.
fn sandboxes(repo: &Repo) -> Vec<String> {
    let dir = repo.env.home().join(".vnx-fake-kubectl/agents/sandboxes");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some(e.file_name().to_str()?.strip_suffix(".json")?.to_owned()))
        .collect();
    names.sort();
    names
}

/// A repository whose host `cluster` makes claims on [`POOL`] through the stand-in.
fn repo_with_claims() -> Repo {
    let repo = Repo::new();
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    configure(
        &repo,
        &format!(
            "hosts:\n  cluster:\n    kubernetes:\n      kubectl: {STAND_IN}\n      namespace: agents\n      objects: claim\n      warm_pool: {POOL}\n    capacity: 2\nroles:\n  implementer: {{gates: []}}\n"
        ),
    );
    repo
}

/// A demo dispatch that commits on `cluster`: done, its branch here; its id.
fn commit_on_cluster(repo: &Repo) -> String {
    let r = repo.dispatch(
        "commit",
        &["--host", "cluster", "--instruction", "add the demo output"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let done = completion(&r);
    let id = done["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(done["status"], "done", "{done:#}");
    assert_eq!(done["remote"]["host"], format!("cluster.{id}"), "{done:#}");
    assert!(!repo.on_branch(&id, "demo-output.txt").is_empty());
    id
}

/// The name vnx gives dispatch `id`'s objects.
fn object_name(id: &str) -> String {
    vnx::remote::kinds::kubernetes::object_name(&vnx::ids::DispatchId::parse(id).unwrap())
}

/// The pod vnx learnt dispatch `id`'s claim was given.
fn claimed_pod(repo: &Repo, id: &str) -> String {
    let file = repo.env.path().join(format!(
        ".vnx-data/kubernetes/{}.claimed-pod",
        object_name(id)
    ));
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .to_owned()
}

/// Merges `id` (checkpoint, gate, merge).
fn merge(repo: &Repo, id: &str) {
    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (r, report) = gate_check(repo, id);
    assert_eq!(r.code, 0, "{} {report:#}", r.stderr);
    let merged = run(repo.vnx().args(["merge", id]));
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_claim_takes_the_warm_sandbox_keeps_it_for_a_follow_up_and_goes_at_merge() {
    let repo = repo_with_claims();
    apply(&repo, &template(worker_image()));
    apply(&repo, &pool(1));
    // The doctor's place is a claim too: it takes the pool's sandbox, checks it, deletes it,
    // and the pool makes another.
    let doctor = run(repo.vnx().args(["doctor", "--host", "cluster"]));
    assert_eq!(doctor.code, 0, "{}{}", doctor.stdout, doctor.stderr);
    for check in ["PASS  engine", "PASS  vnx", "PASS  git", "PASS  tmux"] {
        assert!(doctor.stdout.contains(check), "{check}: {}", doctor.stdout);
    }
    let warm = sandboxes(&repo);
    assert_eq!(warm.len(), 1, "{warm:?}");
    let warm = warm[0].clone();
    assert!(warm.starts_with(&format!("{POOL}-")), "{warm}");
    let warm_pod = format!("k8s-agents-{warm}");
    assert!(exists("container", &warm_pod), "the pool's pod {warm_pod}");

    let id = commit_on_cluster(&repo);
    // The claim took the pool's ready sandbox: vnx ran in its pod, which parking keeps (a
    // claim cannot be suspended); the pool made another.
    assert_eq!(claimed_pod(&repo, &id), warm);
    assert!(
        exists("container", &warm_pod),
        "parked, the claim's pod is kept"
    );
    let now = sandboxes(&repo);
    assert_eq!(now.len(), 2, "the pool made another: {now:?}");
    let claim: Value = serde_json::from_slice(
        &std::fs::read(repo.env.path().join(format!(
            ".vnx-data/kubernetes/{}.sandboxclaim.json",
            object_name(&id)
        )))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(claim["spec"]["warmPoolRef"]["name"], POOL);

    // A follow-up runs in the same pod, on the work the dispatch left there.
    let f = run(repo.vnx().args([
        "follow-up",
        &id,
        "--json",
        "--model",
        "commit",
        "--instruction",
        "once more",
    ]));
    assert_eq!(f.code, 0, "{}{}", f.stdout, f.stderr);
    let follow = completion(&f);
    let follow_id = follow["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(follow["status"], "done", "{follow:#}");
    assert_eq!(
        follow["remote"]["host"],
        format!("cluster.{id}"),
        "{follow:#}"
    );
    assert_eq!(claimed_pod(&repo, &id), warm);

    // Merged, the claim goes, with the sandbox it was given, its pod and its claim.
    merge(&repo, &follow_id);
    assert!(
        !exists("container", &warm_pod),
        "pod {warm_pod} still exists"
    );
    assert!(!exists("volume", &format!("k8s-agents-work-{warm}")));
    assert!(!sandboxes(&repo).contains(&warm));
    let left = kubectl(&repo)
        .args([
            "get",
            "sandboxclaim",
            &object_name(&id),
            "--ignore-not-found",
        ])
        .args(["-o", "jsonpath={.metadata.name}"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&left.stdout), "");

    // The pool emptied, the next claim gets a sandbox made from the template, named as
    // itself.
    apply(&repo, &pool(0));
    assert!(sandboxes(&repo).is_empty(), "{:?}", sandboxes(&repo));
    let second = commit_on_cluster(&repo);
    assert_eq!(claimed_pod(&repo, &second), object_name(&second));
    let cold_pod = format!("k8s-agents-{}", object_name(&second));
    assert!(exists("container", &cold_pod));
    merge(&repo, &second);
    assert!(
        !exists("container", &cold_pod),
        "pod {cold_pod} still exists"
    );
}

/// `validate-crd-object.py` from bin/test's virtualenv (its `jsonschema`), when installed.
fn crd_validator() -> Option<PathBuf> {
    let cache = std::env::var_os("VNX_CLI_CACHE")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".cache/vnx-clis")))?;
    let python = cache.join("kube-validate/bin/python");
    python.exists().then_some(python)
}

#[test]
#[ignore = "needs kubernetes-validate (bin/test --all installs it)"]
fn the_claim_and_the_template_and_pool_its_tests_apply_validate_against_the_crds() {
    let python = crd_validator().expect("kubernetes-validate's virtualenv is not installed");
    let dir = tempfile::tempdir().unwrap();
    let yaml = "hosts:\n  cluster:\n    kubernetes: {objects: claim, warm_pool: agents-pool}\n";
    let config = vnx::config::parse(yaml, Path::new(".vnx/config.yaml")).unwrap();
    let host = &config.hosts["cluster"];
    let vnx::config::HostKind::Kubernetes(spec) = &host.kind else {
        panic!("{host:?}")
    };
    let id = vnx::ids::DispatchId::parse("D-1a2b3c4d5e6f").unwrap();
    let here = vnx::remote::place::Here {
        data_dir: dir.path(),
        home: None,
        key: None,
    };
    let pod = vnx::remote::kinds::kubernetes::Pod::new(host, spec, &id, here);
    let claim = serde_json::to_value(pod.sandbox_claim_manifest()).unwrap();
    let check = |schema: &str, object: &Value, name: &str| {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(object).unwrap()).unwrap();
        Command::new(&python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/validate-crd-object.py"))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
                "tests/data/agent-sandbox/{schema}.v1beta1.schema.json"
            )))
            .arg(&path)
            .output()
            .unwrap()
    };
    for (schema, object) in [
        ("sandboxclaim", claim.clone()),
        ("sandboxtemplate", template("registry.example/vnx-worker:1")),
        ("sandboxwarmpool", pool(1)),
    ] {
        let out = check(schema, &object, schema);
        assert!(
            out.status.success(),
            "{schema}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A wrong claim fails: no pool, a field the CRD does not know, a policy it does not have.
    for (n, (pointer, value)) in [
        ("/spec/warmPoolRef", Value::Null),
        ("/spec/colour", json!("red")),
        ("/spec/lifecycle", json!({"shutdownPolicy": "Suspend"})),
    ]
    .into_iter()
    .enumerate()
    {
        let mut bad = claim.clone();
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        let parent = bad.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        if value.is_null() {
            parent.remove(field);
        } else {
            parent.insert(field.to_owned(), value);
        }
        let out = check("sandboxclaim", &bad, &format!("bad-{n}"));
        assert!(
            !out.status.success(),
            "{pointer}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_sandboxs_deleted_pod_made_again_by_its_controller_loses_no_work() {
    let image = worker_image();
    let repo = Repo::new();
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    configure(
        &repo,
        &format!(
            "hosts:\n  cluster:\n    kubernetes:\n      kubectl: {STAND_IN}\n      namespace: agents\n      image: \"{image}\"\n      objects: sandbox\n    capacity: 2\nroles:\n  implementer: {{gates: []}}\n"
        ),
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
    let started: Value = serde_json::from_str(&r.stdout).unwrap();
    let id = started["dispatch_id"].as_str().unwrap().to_owned();
    let object = object_name(&id);
    let pod = format!("k8s-agents-{object}");
    // Uncommitted work in the dispatch's worktree, on the Sandbox's claim.
    let wip = format!("/work/repo/.vnx-data/worktrees/dispatch-{id}/wip.txt");
    let podman = |args: &[&str]| Command::new("podman").args(args).output().unwrap();
    let wrote = podman(&["exec", &pod, "sh", "-c", &format!("echo wip > {wip}")]);
    assert!(
        wrote.status.success(),
        "{}",
        String::from_utf8_lossy(&wrote.stderr)
    );
    let before = podman(&["inspect", "--format", "{{.Id}}", &pod]);
    // Deleted (a drain, an eviction): the controller makes a new pod on the same claim at once.
    let deleted = kubectl(&repo)
        .args(["delete", "pod", &object, "--grace-period=0"])
        .output()
        .unwrap();
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    let after = podman(&["inspect", "--format", "{{.Id}}", &pod]);
    assert!(after.status.success(), "the controller made the pod again");
    assert_ne!(before.stdout, after.stdout, "a new pod, not the old one");
    // The dispatch's supervisor went with the old pod: lost at once, though a pod of the
    // same name runs, its work on the claim kept.
    let w = run(repo.vnx().args(["wait", &id, "--json"]));
    assert_ne!(w.code, 0, "{}{}", w.stdout, w.stderr);
    assert!(w.stdout.contains("\"lost\""), "{}{}", w.stdout, w.stderr);
    let kept = podman(&["exec", &pod, "cat", &wip]);
    assert_eq!(
        String::from_utf8_lossy(&kept.stdout),
        "wip\n",
        "the work is on the claim"
    );
    // Resumed on the claim, in the new pod, where the work is.
    let resumed = run(repo.vnx().args(["resume", &id]));
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    let list = run(repo.vnx().args(["status", "--all", "--json"]));
    let list: Value = serde_json::from_str(&list.stdout).unwrap();
    let follow = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["continues"] == id.as_str())
        .unwrap_or_else(|| panic!("no follow-up of {id}: {list:#}"));
    assert_eq!(follow["host"], format!("cluster.{id}"), "{follow:#}");
    let kept = podman(&["exec", &pod, "cat", &wip]);
    assert_eq!(String::from_utf8_lossy(&kept.stdout), "wip\n");
    let cancelled = run(repo
        .vnx()
        .args(["cancel", follow["dispatch_id"].as_str().unwrap()]));
    assert_eq!(
        cancelled.code, 0,
        "{}{}",
        cancelled.stdout, cancelled.stderr
    );
    let gone = kubectl(&repo)
        .args(["delete", "sandbox", &object, "--ignore-not-found"])
        .output()
        .unwrap();
    assert!(
        gone.status.success(),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_claim_with_no_record_here_is_found_by_its_labels_and_kept_while_it_holds_work() {
    let repo = repo_with_claims();
    apply(&repo, &template(worker_image()));
    apply(&repo, &pool(1));
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
    let started: Value = serde_json::from_str(&r.stdout).unwrap();
    let id = started["dispatch_id"].as_str().unwrap().to_owned();
    let object = object_name(&id);
    let pod = format!("k8s-agents-{}", claimed_pod(&repo, &id));
    // A launch killed after making its place and before keeping its record, as it were.
    let record = repo
        .env
        .path()
        .join(format!(".vnx-data/remote/dispatches/{id}.json"));
    std::fs::remove_file(&record).unwrap();
    let status = run(repo.vnx().args(["status", "--json"]));
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    let listed: Value = serde_json::from_str(&status.stdout).unwrap();
    let orphan = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["orphan"] == true)
        .unwrap_or_else(|| panic!("no orphan: {listed:#}"));
    assert_eq!(orphan["dispatch_id"], id.as_str(), "{orphan:#}");
    assert_eq!(orphan["objects"], json!([format!("sandboxclaim {object}")]));
    // Work in its clone that is not here keeps the claim, and so its pod.
    let work = Command::new("podman")
        .args([
            "exec",
            &pod,
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
    assert!(
        exists("container", &pod),
        "the claim's pod {pod} was removed"
    );
    // Once nothing there is missing here, cleaning again deletes the claim and its pod.
    let dropped = Command::new("podman")
        .args([
            "exec",
            &pod,
            "git",
            "-C",
            "/work/repo",
            "branch",
            "-D",
            "extra",
        ])
        .output()
        .unwrap();
    assert!(dropped.status.success(), "{dropped:?}");
    let clean = run(repo.vnx().args(["clean", "--orphans", "--yes"]));
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean.stdout.contains("removed cluster."),
        "{}",
        clean.stdout
    );
    assert!(!exists("container", &pod), "pod {pod} still runs");
    let status = run(repo.vnx().args(["status", "--json"]));
    assert!(!status.stdout.contains("\"orphan\""), "{}", status.stdout);
    apply(&repo, &pool(0));
}
