//! The worker image recipe (`bin/worker-image`, `images/worker/Containerfile`): built offline
//! from Debian's packages, it holds git, tmux and this vnx, and a demo dispatch runs to `done`
//! inside it with no network, its worker and supervisor in the container's own tmux. Needs
//! podman and mmdebstrap, so `#[ignore]`d; `bin/test --all` installs them and runs it.

use std::process::Command;

use crate::common::container::worker_image;
use crate::common::run;

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn the_worker_image_runs_a_demo_dispatch_offline() {
    let image = worker_image();
    // Everything in one container run: a repository, vnx's files, one dispatch, its end.
    let script = r#"set -e
export HOME=/root GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com \
  GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
git --version >/dev/null; tmux -V >/dev/null
git init -q -b main /work && cd /work && git commit -q --allow-empty -m base
vnx init >/dev/null && git add -A && git commit -q -m vnx
vnx dispatch-agent --provider demo --model commit --agent implementer \
  --instruction "add a line" --id D-0123456789ab --json >/dev/null
vnx status --json"#;
    let inside = run(Command::new("podman").args([
        "run",
        "--rm",
        "--network=none",
        image,
        "sh",
        "-c",
        script,
    ]));
    assert_eq!(inside.code, 0, "in the container: {}", inside.stderr);
    let states: serde_json::Value = serde_json::from_str(&inside.stdout).unwrap();
    assert_eq!(states[0]["dispatch_id"], "D-0123456789ab", "{states}");
    assert_eq!(states[0]["status"], "done", "{states}");
}
