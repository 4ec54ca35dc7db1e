//! The credential relay for a worker in a container and in a pod (ADR 0128), for real with
//! podman (the pod through the stand-in kubectl, which runs it on podman): with its host's
//! `credentials: relay`, the stand-in claude in the place holds a placeholder and the address
//! of the tunnel on the place's loopback; the provider, on this machine's loopback, sees the
//! user's real key; a request without the placeholder is refused; no process in the place
//! holds the key in its environment or command line; the keeper here ends once the dispatch
//! has ended here; and a host that would give its places the key itself is refused before
//! anything is made. `#[ignore]`d: podman and mmdebstrap, which `bin/test --all` installs.

use crate::common::container::{FreshPlace, container_of, fakes_image};
use crate::common::{Repo, completion, configure, run, wait_for};
use crate::key_relay::{KEY, holding, provider};

/// What the worker runs in the place, with bash's own `/dev/tcp` (the image has no curl): a
/// request with its key, one without, and what its environment and every process of the
/// place (`/proc`: environment and command line) hold.
const PROBE: &str = r#"hp="${ANTHROPIC_BASE_URL#http://}"; hp="${hp%%/*}"
ask() {
  exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}"
  printf 'POST /v1/messages HTTP/1.1\r\nhost: %s\r\nx-api-key: %s\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}' "$hp" "$1" >&3
  cat <&3
  exec 3<&-
}
ask "$ANTHROPIC_API_KEY" > answer.txt 2>&1
ask not-the-placeholder > refused.txt 2>&1
env > env.txt
for p in /proc/[0-9]*; do tr '\0' '\n' < "$p/environ"; tr '\0' ' ' < "$p/cmdline"; echo; done > procs.txt 2>/dev/null
git add answer.txt refused.txt env.txt procs.txt && git commit -qm seen
"#;

/// A repository whose host `place` (`hosts_yaml`, with `credentials: relay`) runs the
/// stand-ins, the probe committed.
fn repo_with(hosts_yaml: &str) -> Repo {
    let repo = Repo::new();
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    std::fs::write(repo.env.path().join("probe.sh"), PROBE).unwrap();
    repo.env.git(&["add", "probe.sh"]);
    configure(
        &repo,
        &format!("{hosts_yaml}roles:\n  implementer:\n    gates: []\n    allow: [\"sh -c\"]\n"),
    );
    repo
}

/// Dispatches the probe as `id` on `host` of `repo` with the key in this machine's
/// environment, and checks what the provider and the place saw.
fn relayed_in(repo: &Repo, host: &str, id: &str) {
    let (port, seen) = provider();
    let r = run(repo
        .vnx()
        .env("ANTHROPIC_API_KEY", KEY)
        .env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{port}"))
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--id", id, "--deadline", "120", "--provider", "claude"])
        .args(["--lane", "headless", "--permission", "edits"])
        .args(["--host", host, "--instruction"])
        .arg(
            "probe the relay\n@fake run sh -c 'bash probe.sh'\n\
             @fake run vnx report --status done --summary probed",
        ));
    assert_eq!(completion(&r)["status"], "done", "{}{}", r.stdout, r.stderr);
    let file = |name: &str| repo.on_branch(id, name);
    assert!(
        file("answer.txt").contains("hello from the provider"),
        "{}",
        file("answer.txt")
    );
    assert!(
        file("refused.txt").contains(" 401 "),
        "{}",
        file("refused.txt")
    );
    let heads = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].contains(&format!("x-api-key: {}\r\n", KEY.to_lowercase())),
        "{heads:?}"
    );
    let (env, procs) = (file("env.txt"), file("procs.txt"));
    assert!(env.contains("ANTHROPIC_API_KEY=vnx-relay-"), "{env}");
    assert!(procs.contains("ANTHROPIC_API_KEY=vnx-relay-"), "{procs}");
    assert!(procs.contains("__key-tunnel"), "{procs}");
    for text in [&env, &procs] {
        assert!(!text.contains(KEY), "{text}");
    }
    let log = (repo.env.path()).join(format!(".vnx-data/remote/keys/{host}.{id}/log"));
    assert!(
        wait_for(|| std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("the relay ends")),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let data = repo.env.path().join(".vnx-data");
    assert_eq!(holding(&data, KEY), Vec::<std::path::PathBuf>::new());
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_worker_in_a_container_holds_a_placeholder_and_the_provider_gets_the_key() {
    let image = fakes_image();
    let repo = repo_with(&format!(
        "hosts:\n  box:\n    container: {{image: \"{image}\"}}\n    credentials: relay\n"
    ));
    let id = "D-k0k1k2k3k4k5";
    let _fresh = FreshPlace::named(container_of(id));
    relayed_in(&repo, "box", id);
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_worker_in_a_pod_holds_a_placeholder_and_the_provider_gets_the_key() {
    let image = fakes_image();
    let repo = repo_with(&format!(
        "hosts:\n  cluster:\n    kubernetes:\n      kubectl: {}\n      namespace: agents\n      \
         image: \"{image}\"\n    credentials: relay\n",
        crate::kubernetes_place::STAND_IN
    ));
    let id = "D-k6k7k8k9kakb";
    let _fresh = FreshPlace::named(crate::kubernetes_place::object_of(id));
    relayed_in(&repo, "cluster", id);
}

#[test]
fn a_host_that_gives_its_places_the_key_itself_is_refused_before_anything_is_made() {
    let repo = repo_with(
        "hosts:\n  box:\n    container: {image: \"localhost/none:x\", env_from_host: \
         [ANTHROPIC_API_KEY]}\n    credentials: relay\n",
    );
    let r = run(repo
        .vnx()
        .env("ANTHROPIC_API_KEY", KEY)
        .args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            "claude",
        ])
        .args(["--host", "box", "--instruction", "anything"]));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("gives its places `ANTHROPIC_API_KEY` itself"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("hint: take ANTHROPIC_API_KEY out of hosts.box"),
        "{}",
        r.stderr
    );
}
