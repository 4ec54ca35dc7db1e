//! Skills: the composed prompt (role and methodology, assignment, resource index, completion
//! protocol) as a snapshot, the skills recorded in `dispatch_started`, a role's default skills,
//! and malformed or missing skills as errors that name the file.

use std::path::Path;

use sha2::{Digest, Sha256};
use vnx::skills;

use crate::common::{Repo, completion, run};

fn write(root: &Path, path: &str, data: &[u8]) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

const ALPHA: &str = "---\nname: alpha\ndescription: Check things the alpha way.\nlicense: MIT\n---\n\n# Alpha\n\nRead `references/notes.md`, then run `scripts/run.sh`.\n";
const BETA: &str =
    "---\nname: beta\ndescription: >-\n  Second opinion,\n  folded.\n---\n# Beta\n\nBe brief.\n";

/// Two skills, committed: `alpha` with references and a script, `beta` with none.
fn with_skills(repo: &Repo) {
    let root = repo.env.path();
    write(root, "skills/alpha/SKILL.md", ALPHA.as_bytes());
    write(
        root,
        "skills/alpha/references/notes.md",
        b"\n\n   # Notes for alpha   \nmore\n",
    );
    write(
        root,
        "skills/alpha/references/deep/table.bin",
        b"\0\x01\x02",
    );
    write(root, "skills/alpha/references/.keep", b"");
    write(
        root,
        "skills/alpha/scripts/run.sh",
        b"#!/bin/sh\n# Runs the alpha check \x1b[31m(red)\x1b[0m\nexit 0\n",
    );
    write(root, "skills/beta/SKILL.md", BETA.as_bytes());
    repo.env.git(&["add", "skills"]);
    repo.env.git(&["commit", "-q", "-m", "skills"]);
}

#[test]
fn skills_compose_the_prompt_every_provider_gets() {
    let repo = Repo::new();
    with_skills(&repo);
    let instruction = "Do the thing.\n\n## Resources\n\nnot an index";
    let r = repo.dispatch(
        "dirty",
        &[
            "--skill",
            "alpha",
            "--skill",
            "beta",
            "--instruction",
            instruction,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let prompt = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/prompt.md")),
    )
    .unwrap();
    insta::assert_snapshot!("composed_prompt", prompt.replace(&id, "[dispatch id]"));

    let started = &repo.receipts(&id)[0];
    assert_eq!(started["prompt_sha256"], sha(prompt.as_bytes()));
    assert_eq!(
        started["skills"],
        serde_json::json!([
            {"name": "alpha", "sha256": sha(ALPHA.as_bytes())},
            {"name": "beta", "sha256": sha(BETA.as_bytes())},
        ])
    );
    // The worker finds the instruction unchanged between the markers.
    assert_eq!(
        vnx::dispatch::start::compose::instruction_of(&prompt),
        Some(instruction)
    );
    let out = repo.on_branch(&id, "demo-output.txt");
    assert!(
        out.contains(&format!(
            "instruction sha256 {}",
            sha(instruction.as_bytes())
        )),
        "{out}"
    );
    repo.verify_ok();
}

#[test]
fn a_role_brings_its_default_skills_unless_skills_are_named() {
    let repo = Repo::new();
    with_skills(&repo);
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    // `writes: false`: these noop workers change nothing, which the phantom guard would fail.
    text.push_str("roles:\n  implementer:\n    skills: [beta, alpha]\n    writes: false\n");
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "role skills"]);
    let names = |extra: &[&str]| {
        let mut args = vec!["--instruction", "x"];
        args.extend_from_slice(extra);
        let r = repo.dispatch("noop", &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
        repo.receipts(&id)[0]["skills"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&[]), ["beta", "alpha"]);
    assert_eq!(names(&["--skill", "alpha"]), ["alpha"]);
    // A role the config gives no skills uses the shipped skill of its name.
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "reviewer",
        "--provider",
        "demo",
        "--model",
        "noop",
        "--instruction",
        "x",
        "--json",
    ]));
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(repo.receipts(&id)[0]["skills"][0]["name"], "reviewer");
    // A declared role with neither has none.
    crate::common::configure(&repo, "  bare: {gates: []}\n");
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "bare",
        "--provider",
        "demo",
        "--model",
        "noop",
        "--instruction",
        "x",
        "--json",
    ]));
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(repo.receipts(&id)[0]["skills"], serde_json::json!([]));
    let prompt = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/prompt.md")),
    )
    .unwrap();
    assert!(
        prompt.contains("## Resources\n\nNo skills were given for this dispatch"),
        "{prompt}"
    );
    // A typo is not a new role.
    let typo = repo.dispatch_as("implementor", "noop", &["--instruction", "x"]);
    assert_eq!(typo.code, 2, "{}", typo.stderr);
    assert!(
        typo.stderr
            .contains("unknown role \"implementor\": known roles are"),
        "{}",
        typo.stderr
    );
    assert!(typo.stderr.contains("implementer"), "{}", typo.stderr);
}

#[test]
fn a_missing_or_broken_skill_refuses_the_dispatch_naming_the_file() {
    let repo = Repo::new();
    let r = repo.dispatch("noop", &["--instruction", "x", "--skill", "nope"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("error: skill `nope` not found: ")
            && r.stderr.contains("skills/nope/SKILL.md does not exist"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("hint: available skills: implementer, reviewer, test-writer"),
        "{}",
        r.stderr
    );
    write(
        repo.env.path(),
        "skills/broken/SKILL.md",
        b"---\nname: broken\ndescription: [unclosed\n---\nbody\n",
    );
    let r = repo.dispatch("noop", &["--instruction", "x", "--skill", "broken"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("skills/broken/SKILL.md:3:"),
        "{}",
        r.stderr
    );
    let r = repo.dispatch("noop", &["--instruction", "x", "--skill", "../escape"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("does not match"), "{}", r.stderr);
    assert_eq!(repo.branches(), "");
    let dispatches = repo.env.path().join(".vnx-data/dispatches");
    assert_eq!(dispatches.read_dir().unwrap().count(), 0);
}

#[test]
fn malformed_skills_are_errors_that_name_the_file_and_line() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "# no front matter\n",
            "SKILL.md:1:1:",
            "must open with a `---` line",
        ),
        (
            "---\nname: s\ndescription: d\n",
            "SKILL.md:1:1:",
            "not closed",
        ),
        ("---\nname: [s\n---\nbody\n", "SKILL.md:2:", "front matter:"),
        (
            "---\nname: s\ndescription: d\nversion: 2\n---\nbody\n",
            "SKILL.md:4:1:",
            "front matter: unknown field `version`",
        ),
        (
            "---\nname: s\n---\nbody\n",
            "SKILL.md:",
            "missing field `description`",
        ),
        (
            "---\nname: t\ndescription: d\n---\nbody\n",
            "SKILL.md:2:1:",
            "names `t`, but the directory is skills/s/",
        ),
        (
            "---\nname: s\ndescription: \" \"\n---\nbody\n",
            "SKILL.md:2:1:",
            "`description` is empty",
        ),
        (
            "---\nname: s\ndescription: d\n---\n\n  \n",
            "SKILL.md:5:1:",
            "no body",
        ),
        (
            "---\nname: s\ndescription: d\n---\n# S\n\n## Assignment\n\nx\n",
            "SKILL.md:7:1:",
            "`## Assignment` is the heading vnx opens",
        ),
    ];
    let mut wrong = Vec::new();
    for (text, at, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "skills/s/SKILL.md", text.as_bytes());
        let err = skills::load(dir.path(), "s").unwrap_err();
        let shown = err.to_string();
        let path = dir.path().join("skills/s/").display().to_string();
        let rest = shown.strip_prefix(&path).unwrap_or(&shown);
        if !rest.starts_with(at) || !rest.contains(message) {
            wrong.push(format!("want {at} {message:?}, got {shown}"));
        }
        assert!(err.hint().is_some());
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Resources must be regular files inside the skill.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "skills/s/SKILL.md",
        b"---\nname: s\ndescription: d\n---\nbody\n",
    );
    write(dir.path(), "outside.md", b"secret");
    std::fs::create_dir_all(dir.path().join("skills/s/references")).unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("outside.md"),
        dir.path().join("skills/s/references/link.md"),
    )
    .unwrap();
    let err = skills::load(dir.path(), "s").unwrap_err().to_string();
    assert!(
        err.ends_with(
            "skills/s/references/link.md: is a symbolic link; a skill's resources are regular files"
        ),
        "{err}"
    );
    // Each skill once, and names that stay inside skills/.
    std::fs::remove_file(dir.path().join("skills/s/references/link.md")).unwrap();
    let names = ["s".to_owned(), "s".to_owned()];
    let err = skills::load_all(dir.path(), &names).unwrap_err();
    assert_eq!(err.to_string(), "skill `s` is given twice");
    let err = skills::load(dir.path(), "../s").unwrap_err();
    assert!(matches!(err, skills::SkillError::BadName { .. }), "{err}");
    let s = skills::load(dir.path(), "s").unwrap();
    assert_eq!((s.body.as_str(), s.resources.len()), ("body", 0));
}
