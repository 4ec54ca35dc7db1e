//! What a `--host` request carries and what it may not take: a sandbox asked for here (by
//! flag or by this project's config) is asked for on the host, never dropped; an id in use
//! here, by a local dispatch or a remote one started from here, is refused before anything
//! is pushed, recorded or started, and the first dispatch's record stays.

use crate::common::{Remote, completion, configure};

/// The host's `dispatch_started` of `id`, mirrored here.
fn host_started(remote: &Remote, id: &str) -> serde_json::Value {
    let line = std::fs::read_to_string(remote.host_ledger())
        .unwrap()
        .lines()
        .find(|l| l.contains("\"dispatch_started\"") && l.contains(id))
        .unwrap()
        .to_owned();
    serde_json::from_str(&line).unwrap()
}

#[test]
fn a_sandbox_asked_for_here_is_asked_for_on_the_host() {
    let remote = Remote::new();
    let r = remote.dispatch("box", "commit", &["--sandbox", "--network", "off"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let started = host_started(&remote, &id);
    assert_eq!(started["sandbox"]["network"], "off", "{started:#}");

    // This project's config asks for a sandbox by default: so does the host's dispatch.
    configure(&remote.repo, "sandbox:\n  enabled: true\n");
    let r = remote.dispatch("box", "commit", &[]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    assert!(host_started(&remote, &id)["sandbox"].is_object());
}

#[test]
fn an_id_in_use_here_is_refused_before_anything_is_made() {
    let remote = Remote::new();
    // A local dispatch holds the id.
    let local = remote
        .repo
        .dispatch("commit", &["--instruction", "x", "--id", "D-0000a11ce000"]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    let before = remote.lines().len();
    let r = remote.dispatch("box", "commit", &["--id", "D-0000a11ce000"]);
    assert_eq!(r.code, 2, "{} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("in use"), "{}", r.stderr);
    assert_eq!(remote.lines().len(), before, "nothing recorded");
    assert!(!remote.host_has_completion("D-0000a11ce000"));

    // A remote dispatch started from here holds the id: a second request for it leaves the
    // first's record alone, and the first completes here.
    let first = remote.dispatch("box", "slow", &["--id", "D-0000b0b0b000", "--detach"]);
    assert_eq!(first.code, 0, "{} {}", first.stdout, first.stderr);
    let record = remote
        .repo
        .env
        .path()
        .join(".vnx-data/remote/dispatches/D-0000b0b0b000.json");
    assert!(record.is_file());
    let again = remote.dispatch("box", "commit", &["--id", "D-0000b0b0b000"]);
    assert_eq!(again.code, 2, "{} {}", again.stdout, again.stderr);
    assert!(record.is_file(), "the first dispatch's record was removed");
    let cancel = crate::common::run(remote.repo.vnx().args(["cancel", "D-0000b0b0b000"]));
    assert_eq!(cancel.code, 0, "{} {}", cancel.stdout, cancel.stderr);
}

/// The instruction travels on stdin: as an argument it crossed the host's shell, where one
/// argument may not exceed 128 KiB.
#[test]
fn an_instruction_over_128_kib_reaches_the_host_whole() {
    let remote = Remote::new();
    let instruction = format!("add the demo output\n{}", "x".repeat(200 * 1024));
    let file = remote.repo.env.home().join("long-instruction.md");
    std::fs::write(&file, &instruction).unwrap();
    let file = file.to_str().unwrap();
    let r = remote.dispatch("box", "commit", &["--instruction-file", file]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    use sha2::Digest;
    assert_eq!(
        host_started(&remote, &id)["instruction_sha256"],
        hex::encode(sha2::Sha256::digest(instruction.as_bytes()))
    );
    // The copy made to send it is gone.
    let left = std::fs::read_dir(remote.repo.env.path().join(".vnx-data/remote"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("instruction-")
        })
        .count();
    assert_eq!(left, 0);
}
