//! Screenshots as evidence (ADR 0125) without a browser: a screenshots gate whose preview never
//! listens, or whose Chromium is missing, is an error and holds the merge; with a stand-in
//! Chromium (a Python script that fetches the page from the real preview and writes it after a
//! PNG signature) the gate passes, its signed `gate_result` hashes each image, the page shows
//! and serves them, and an image changed on disk holds the merge (`evidence_present`) and is
//! no longer served. `browser::screenshots_…` photographs with the real Chromium.

use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::common::{Repo, committed, configure, gate_check, run};

/// A stand-in Chromium: fetches the URL it is given and writes the page after a PNG signature
/// to the `--screenshot=` file, with the window size, as Chromium writes its image.
pub(crate) fn stand_in_chromium(dir: &Path) -> PathBuf {
    let path = dir.join("chromium");
    std::fs::write(
        &path,
        "#!/usr/bin/env python3\n\
         import sys, urllib.request\n\
         args = sys.argv[1:]\n\
         out = [a.split('=', 1)[1] for a in args if a.startswith('--screenshot=')][0]\n\
         size = [a for a in args if a.startswith('--window-size=')][0]\n\
         page = urllib.request.urlopen(args[-1], timeout=10).read()\n\
         open(out, 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + size.encode() + b'\\n' + page)\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// A screenshots gate `looks` over a static preview of the checkout, required by the
/// implementer role.
pub(crate) fn configure_looks(repo: &Repo, chromium: &str, preview: &str, timeout: u32) {
    configure(
        repo,
        &format!(
            "gates:\n  looks:\n    kind: screenshots\n    preview: {preview}\n    \
             paths: [/, /demo-output.txt]\n    chromium: {chromium}\n    timeout: {timeout}\n\
             roles:\n  implementer: {{gates: [looks]}}\n"
        ),
    );
}

/// A preview serving the checkout on `$VNX_PORT`.
pub(crate) const STATIC_PREVIEW: &str =
    "[sh, -c, 'exec python3 -m http.server --bind 127.0.0.1 \"$VNX_PORT\"']";

fn sha256(path: &str) -> String {
    hex(&sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `vnx merge ID --check --json`'s condition `name`: whether it holds, and its detail.
pub(crate) fn condition(repo: &Repo, id: &str, name: &str) -> (bool, String) {
    let r = run(repo.vnx().args(["merge", id, "--check", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr));
    let plan = v.as_array().map_or(&v, |a| &a[0]);
    let plan = plan.get("plan").unwrap_or(plan);
    let c = (plan["conditions"].as_array())
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no condition {name}: {v:#}"));
    (c["ok"] == true, c["detail"].as_str().unwrap().to_owned())
}

#[test]
fn a_preview_that_never_listens_or_no_chromium_holds_the_merge() {
    let tools = tempfile::tempdir().unwrap();
    let chromium = stand_in_chromium(tools.path());
    let repo = Repo::new();
    configure_looks(&repo, &chromium.to_string_lossy(), "[sleep, '30']", 2);
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let looks = &report["gates"][0];
    assert_eq!(looks["status"], "error", "{looks:#}");
    let why = looks["reason"].as_str().unwrap();
    assert!(
        why.starts_with("the preview did not start: nothing listened on port"),
        "{why}"
    );
    let result = repo.events("gate_result").pop().unwrap();
    assert_eq!(result["kind"], "screenshots");
    assert!(result.get("screenshots").is_none(), "{result:#}");
    let (ok, detail) = condition(&repo, &id, "evidence_present");
    assert!(!ok);
    assert!(detail.contains("took no screenshots"), "{detail}");
    let r = run(repo.vnx().args(["merge", &id]));
    assert_eq!(r.code, 1, "the merge is held: {}", r.stderr);

    // Without Chromium the preview is not even started.
    let repo = Repo::new();
    configure_looks(&repo, "/nonexistent/chromium", STATIC_PREVIEW, 30);
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let why = report["gates"][0]["reason"].as_str().unwrap();
    assert!(why.starts_with("Chromium was not found"), "{why}");
    let doctor = run(repo.vnx().arg("doctor"));
    let said = format!("{}{}", doctor.stdout, doctor.stderr);
    assert!(
        said.contains("gate looks") && said.contains("Chromium was not found"),
        "doctor names it: {said}"
    );
    assert!(
        !std::fs::read_to_string(report["gates"][0]["output_path"].as_str().unwrap())
            .is_ok_and(|log| !log.is_empty()),
        "no preview ran"
    );
    let r = run(repo.vnx().args(["merge", &id]));
    assert_eq!(r.code, 1, "the merge is held: {}", r.stderr);
}

#[test]
fn screenshots_are_hashed_shown_served_and_checked_at_the_merge() {
    let tools = tempfile::tempdir().unwrap();
    let chromium = stand_in_chromium(tools.path());
    let repo = Repo::new();
    configure_looks(&repo, &chromium.to_string_lossy(), STATIC_PREVIEW, 60);
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{}\n{report:#}", r.stderr);
    let result = repo.events("gate_result").pop().unwrap();
    let shots = result["screenshots"].as_array().unwrap().clone();
    let taken: Vec<String> = shots
        .iter()
        .map(|s| format!("{} {}x{}", s["path"], s["width"], s["height"]))
        .collect();
    assert_eq!(
        taken,
        [
            "\"/\" 390x844",
            "\"/\" 1280x800",
            "\"/demo-output.txt\" 390x844",
            "\"/demo-output.txt\" 1280x800"
        ]
    );
    for s in &shots {
        let file = s["file"].as_str().unwrap();
        assert!(file.contains("/.vnx-data/gates/"), "{file}");
        assert_eq!(s["sha256"].as_str().unwrap(), sha256(file));
        assert_eq!(s["bytes"], std::fs::metadata(file).unwrap().len());
    }
    // The preview served the head: the stand-in wrote what it fetched.
    let page = std::fs::read(shots[2]["file"].as_str().unwrap()).unwrap();
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("--window-size=390,844"), "{page}");
    let head = result["head_commit"].as_str().unwrap();
    let written = repo.env.git(&["show", &format!("{head}:demo-output.txt")]);
    assert!(page.ends_with(&written), "{page}");
    let (ok, detail) = condition(&repo, &id, "evidence_present");
    assert!(ok, "{detail}");

    // The page shows them and serves each while it hashes as recorded.
    let server = crate::common::serve::Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let html = server.get(&format!("/d/{id}"), Some(&cookie)).body;
    assert!(html.contains("<h2>Screenshots</h2>"), "{html}");
    assert!(
        html.contains(&format!("src=\"/d/{id}/shots/looks/3\"")),
        "{html}"
    );
    let image = server.get(&format!("/d/{id}/shots/looks/0"), Some(&cookie));
    assert_eq!(image.status, 200, "{}", image.body);
    assert_eq!(image.header("content-type"), Some("image/png"));
    assert_eq!(
        server
            .get(&format!("/d/{id}/shots/looks/4"), Some(&cookie))
            .status,
        404
    );

    // An image changed since its receipt: not served, and the merge is held.
    let file = shots[0]["file"].as_str().unwrap();
    let kept = std::fs::read(file).unwrap();
    std::fs::write(file, b"\x89PNG\r\n\x1a\nanother picture").unwrap();
    let image = server.get(&format!("/d/{id}/shots/looks/0"), Some(&cookie));
    assert_eq!(image.status, 409, "{}", image.body);
    drop(server);
    let (ok, detail) = condition(&repo, &id, "evidence_present");
    assert!(!ok);
    assert!(
        detail.contains("no longer has the bytes its receipt hashed"),
        "{detail}"
    );
    let r = run(repo.vnx().args(["merge", &id]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no longer has the bytes"), "{}", r.stderr);
    std::fs::write(file, kept).unwrap();
    let r = run(repo.vnx().args(["merge", &id]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn pr_open_pushes_the_screenshots_to_a_ref_and_shows_them_in_the_body() {
    let tools = tempfile::tempdir().unwrap();
    let chromium = stand_in_chromium(tools.path());
    let repo = Repo::new();
    configure_looks(&repo, &chromium.to_string_lossy(), STATIC_PREVIEW, 60);
    configure(&repo, "forge:\n  kind: github\n  remote: origin\n");
    let forge = crate::common::forge::ScriptedForge::for_repo(&repo);
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{}\n{report:#}", r.stderr);
    let result = repo.events("gate_result").pop().unwrap();
    let mut cmd = forge.vnx(&repo);
    cmd.args(["pr", "open", &id, "--json"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let evidence = format!("refs/vnx/evidence/{id}");
    let bare = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(forge.bare())
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let commit = bare(&["rev-parse", &evidence]);
    assert_eq!(
        bare(&["rev-parse", &format!("{commit}^")]),
        result["head_commit"].as_str().unwrap(),
        "its parent is the head"
    );
    let names = bare(&["ls-tree", "--name-only", &commit]);
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        [
            "looks-1-1280x800.png",
            "looks-1-390x844.png",
            "looks-2-1280x800.png",
            "looks-2-390x844.png"
        ]
    );
    let blob = std::process::Command::new("git")
        .arg("-C")
        .arg(forge.bare())
        .args(["cat-file", "blob", &format!("{commit}:looks-1-390x844.png")])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(
        hex(&sha2::Sha256::digest(&blob)),
        result["screenshots"][0]["sha256"]
    );
    let number = forge.state()["pull_requests"][0]["number"]
        .as_u64()
        .unwrap();
    let body = forge.pr_words(number)["body"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(body.contains(&format!("pushed to `{evidence}`")), "{body}");
    assert!(
        body.contains(&format!(
            "(https://github.com/o/r/raw/{commit}/looks-2-1280x800.png)"
        )),
        "{body}"
    );
}

#[test]
#[ignore = "needs Chromium (Debian's /usr/bin/chromium, or VNX_CHROMIUM; bin/test --all installs it)"]
fn real_chromium_photographs_a_static_preview_and_the_merge_passes() {
    let chromium =
        std::env::var_os("VNX_CHROMIUM").map_or("/usr/bin/chromium".into(), PathBuf::from);
    assert!(
        chromium.is_file(),
        "this test needs Chromium at {} (Debian's chromium; bin/test --all installs it)",
        chromium.display()
    );
    let repo = Repo::new();
    configure_looks(&repo, &chromium.to_string_lossy(), STATIC_PREVIEW, 120);
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{}\n{report:#}", r.stderr);
    // A sandboxed dispatch's: the preview and Chromium in its sandbox.
    let r = repo.dispatch_as(
        "implementer",
        "commit",
        &["--sandbox", "--instruction", "more"],
    );
    let sandboxed = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (r, inside) = gate_check(&repo, &sandboxed);
    assert_eq!(r.code, 0, "{}\n{inside:#}", r.stderr);
    assert_eq!(
        inside["gates"][0]["sandbox"]["kind"], "bubblewrap",
        "{inside:#}"
    );
    // Without a network: the preview and Chromium in one sandbox, driven by `vnx __capture`.
    let r = repo.dispatch_as(
        "implementer",
        "commit",
        &[
            "--sandbox",
            "--network",
            "off",
            "--instruction",
            "still more",
        ],
    );
    let offline = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (r, off) = gate_check(&repo, &offline);
    assert_eq!(r.code, 0, "{}\n{off:#}", r.stderr);
    assert_eq!(off["gates"][0]["sandbox"]["network"], "off", "{off:#}");
    let looks = &report["gates"][0];
    // The figure docs/benchmarks.md records: two pages at two sizes, checkout included.
    eprintln!(
        "screenshots gate: {} s; in the dispatch's sandbox: {} s; without a network: {} s",
        looks["duration_seconds"],
        inside["gates"][0]["duration_seconds"],
        off["gates"][0]["duration_seconds"]
    );
    let result = repo.events("gate_result").pop().unwrap();
    let shots = result["screenshots"].as_array().unwrap();
    assert_eq!(shots.len(), 4, "{result:#}");
    for s in shots {
        let file = s["file"].as_str().unwrap();
        let png = std::fs::read(file).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{file}");
        // A PNG's IHDR holds its width and height: the window's.
        let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        assert_eq!(
            (size(16), size(20)),
            (
                s["width"].as_u64().unwrap() as u32,
                s["height"].as_u64().unwrap() as u32
            )
        );
        assert_eq!(s["sha256"].as_str().unwrap(), sha256(file));
    }
    let server = crate::common::serve::Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let image = server.get(&format!("/d/{id}/shots/looks/1"), Some(&cookie));
    assert_eq!(image.status, 200, "{}", image.body);
    drop(server);
    let r = run(repo.vnx().args(["merge", &id]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_sandboxed_dispatchs_preview_runs_in_its_sandbox() {
    let (_repo, result) = sandboxed_capture(&[]);
    assert_eq!(result["sandbox"]["kind"], "bubblewrap", "{result:#}");
    assert_eq!(result["screenshots"].as_array().unwrap().len(), 4);
}

/// A dispatch sandboxed without a network: its preview cannot be reached from outside its
/// sandbox, so vnx runs the preview and Chromium in one (`vnx __capture` inside it), where
/// they share its loopback; the images are read back and hashed outside.
#[test]
fn a_dispatch_without_a_network_has_its_screenshots_taken_inside_its_sandbox() {
    let (_repo, result) = sandboxed_capture(&["--network", "off"]);
    assert_eq!(result["sandbox"]["network"], "off", "{result:#}");
    let shots = result["screenshots"].as_array().unwrap();
    assert_eq!(shots.len(), 4, "{result:#}");
    for shot in shots {
        let file = shot["file"].as_str().unwrap();
        assert_eq!(shot["sha256"], sha256(file), "{shot:#}");
        let page = std::fs::read(file).unwrap();
        assert!(page.starts_with(b"\x89PNG"), "{file}");
    }
}

/// A sandboxed dispatch (`--sandbox` and `extra`) whose preview tries to write the main
/// checkout, gate-checked: the repository and the `gate_result`, after checking the preview
/// could not.
fn sandboxed_capture(extra: &[&str]) -> (Repo, serde_json::Value) {
    let repo = Repo::new();
    // The stand-in where the sandbox shows it: inside the repository (read-only there).
    let chromium = stand_in_chromium(&repo.env.path().join(".git"));
    let pwned = repo.env.path().join("pwned.txt");
    let preview = format!(
        "[sh, -c, 'echo pwned > {}; exec python3 -m http.server --bind 127.0.0.1 \"$VNX_PORT\"']",
        pwned.display()
    );
    configure_looks(&repo, &chromium.to_string_lossy(), &preview, 60);
    let mut args = vec!["--sandbox", "--instruction", "add a greeting"];
    args.extend(extra);
    let r = repo.dispatch_as("implementer", "commit", &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{}\n{report:#}", r.stderr);
    assert!(
        !pwned.exists(),
        "the preview could not write the main checkout"
    );
    let log = std::fs::read_to_string(report["gates"][0]["output_path"].as_str().unwrap()).unwrap();
    assert!(log.contains("Read-only file system"), "{log}");
    let result = repo.events("gate_result").pop().unwrap();
    (repo, result)
}

/// A task, not its role, asks for the screenshots (`--gate`): its merge takes them first (and
/// is held while they are missing), its follow-up keeps the ask, another task of the same role
/// merges without them, and a gate the config does not declare is refused before anything is
/// made.
#[test]
fn a_task_that_asks_for_screenshots_has_them_taken_before_its_merge() {
    let tools = tempfile::tempdir().unwrap();
    let chromium = stand_in_chromium(tools.path());
    let repo = Repo::new();
    configure(
        &repo,
        &format!(
            "gates:\n  looks:\n    kind: screenshots\n    preview: {STATIC_PREVIEW}\n    \
             paths: [/]\n    chromium: {}\n    timeout: 60\n\
             roles:\n  implementer: {{gates: []}}\n",
            chromium.display()
        ),
    );
    let typo = ["--instruction", "x", "--gate", "lookz"];
    let r = repo.dispatch_as("implementer", "commit", &typo);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("unknown gate \"lookz\""), "{}", r.stderr);
    assert!(
        repo.events("dispatch_started").is_empty(),
        "nothing was started"
    );

    let asked = ["--instruction", "add a greeting", "--gate", "looks"];
    let r = repo.dispatch_as("implementer", "commit", &asked);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = repo.events("dispatch_started").pop().unwrap();
    assert_eq!(
        started["gates"],
        serde_json::json!(["looks"]),
        "{started:#}"
    );
    let (ok, detail) = condition(&repo, &first, "evidence_present");
    assert!(!ok, "{detail}");
    assert!(
        detail.contains("gate `looks` has taken no screenshots"),
        "{detail}"
    );

    // Its follow-up is the same task: it asks for them too, and its merge takes them first.
    let r = run(repo
        .vnx()
        .args(["follow-up", &first, "--json", "--instruction", "more"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let follow_up = repo.events("dispatch_started").pop().unwrap();
    assert_eq!(
        follow_up["gates"],
        serde_json::json!(["looks"]),
        "{follow_up:#}"
    );
    let id = follow_up["dispatch_id"].as_str().unwrap().to_owned();
    let r = run(repo.vnx().args(["merge", &id]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("gate looks: pass"), "{}", r.stderr);
    let result = repo.events("gate_result").pop().unwrap();
    assert_eq!(result["dispatch_id"], id.as_str());
    assert_eq!(result["screenshots"].as_array().map(Vec::len), Some(2));

    // Another task of the role asked for none: it merges without them.
    let plain = committed(&repo, "implementer");
    let r = run(repo.vnx().args(["merge", &plain]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("gate looks"), "{}", r.stderr);
}

/// A screenshots gate only wanted (`required: false`): `vnx merge` takes the pictures it
/// never took of the head, and keeps them as a required gate's are; a preview that never
/// starts is said, and holds neither `gate-check` nor the merge.
#[test]
fn wanted_screenshots_are_taken_at_the_merge_and_hold_nothing_when_they_fail() {
    let tools = tempfile::tempdir().unwrap();
    let chromium = stand_in_chromium(tools.path());
    let wanted = |repo: &Repo, preview: &str, timeout: u32| {
        configure(
            repo,
            &format!(
                "gates:\n  looks:\n    kind: screenshots\n    preview: {preview}\n    \
                 paths: [/]\n    chromium: {}\n    timeout: {timeout}\n    required: false\n\
                 roles:\n  implementer: {{gates: [looks]}}\n",
                chromium.display()
            ),
        )
    };
    let conditions = |repo: &Repo, id: &str| {
        let r = run(repo.vnx().args(["merge", id, "--check", "--json"]));
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let plan = v.as_array().map_or(&v, |a| &a[0]);
        let plan = plan.get("plan").unwrap_or(plan);
        (plan["conditions"].as_array().unwrap().iter())
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };

    let repo = Repo::new();
    wanted(&repo, STATIC_PREVIEW, 30);
    let id = committed(&repo, "implementer");
    assert!(
        !conditions(&repo, &id).contains(&"evidence_present".to_owned()),
        "wanted evidence is no condition"
    );
    let r = run(repo.vnx().args(["merge", &id]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let result = repo
        .events("gate_result")
        .pop()
        .expect("the merge took them");
    assert_eq!(result["gate"], "looks");
    assert_eq!(result["status"], "pass", "{result:#}");
    let shot = &result["screenshots"][0];
    let file = shot["file"].as_str().unwrap();
    assert_eq!(shot["sha256"], sha256(file), "{result:#}");

    let repo = Repo::new();
    wanted(&repo, "[sleep, '30']", 2);
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "a wanted gate holds nothing: {}", r.stderr);
    assert_eq!(report["gates"][0]["status"], "error", "{report:#}");
    let notes = report["notes"].to_string();
    assert!(notes.contains("(wanted, not required)"), "{notes}");
    let r = run(repo.vnx().args(["merge", &id]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        repo.events("gate_result").len(),
        1,
        "a failed wanted gate is not run again at the merge"
    );
}
