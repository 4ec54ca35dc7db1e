//! The defaults vnx ships (`provider_constraints.yaml`, `skills/`) are well-formed: `vnx init`
//! will copy them into every governed repository.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::common::repo_dir;

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("invalid YAML: {e}"))
}

#[test]
fn provider_constraints_follow_the_vnx_schema() {
    let doc = yaml(&std::fs::read_to_string(repo_dir().join("provider_constraints.yaml")).unwrap());
    assert_eq!(doc["version"], 1);
    let constraints = doc["constraints"].as_array().unwrap();
    assert!(!constraints.is_empty());
    let mut ids = std::collections::BTreeSet::new();
    for c in constraints {
        let id = c["id"].as_str().unwrap();
        assert!(ids.insert(id), "duplicate id {id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{id} is not kebab-case"
        );
        let block = match c["rule"].as_str().unwrap() {
            "forbid_route" => "forbidden_route",
            "require_route" => "required_route",
            "forbid_import" => "forbidden_import",
            other => panic!("{id}: unknown rule {other}"),
        };
        assert!(c[block].is_object(), "{id}: missing {block}");
        assert!(
            ["blocking", "warn", "info"].contains(&c["audit_severity"].as_str().unwrap()),
            "{id}"
        );
        assert!(c["reason"].as_str().is_some_and(|r| !r.is_empty()), "{id}");
        assert!(c["override_allowed"].is_boolean(), "{id}");
        if let Some(pin) = c.get("pin_semantics") {
            assert!(
                ["floor", "default"].contains(&pin.as_str().unwrap()),
                "{id}"
            );
        }
    }
    // Nothing defaults to skipping permissions.
    assert!(ids.contains("no-skip-permissions"));
    // vnx's own loader, which is stricter, agrees.
    let loaded = vnx::constraints::load(&repo_dir().join("provider_constraints.yaml")).unwrap();
    assert_eq!(loaded.constraints.len(), constraints.len());
}

#[test]
fn shipped_skills_have_front_matter_and_their_resources() {
    let dir = repo_dir().join("skills");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(path.join("SKILL.md")).unwrap();
        let rest = text
            .strip_prefix("---\n")
            .expect("front matter opens the file");
        let (front, body) = rest.split_once("\n---\n").expect("front matter is closed");
        let meta = yaml(front);
        assert_eq!(meta["name"], name.as_str());
        assert!(meta["description"].as_str().is_some_and(|d| d.len() > 20));
        assert!(body.trim().len() > 200, "{name} has a real body");
        names.push(name);
    }
    names.sort();
    assert_eq!(names, ["implementer", "reviewer", "test-writer"]);
    let script = dir.join("test-writer/scripts/changed-tests.sh");
    assert!(std::fs::metadata(&script).unwrap().permissions().mode() & 0o111 != 0);
    assert!(
        dir.join("reviewer/references/review-checklist.md")
            .is_file()
    );
    let reviewer = std::fs::read_to_string(dir.join("reviewer/SKILL.md")).unwrap();
    assert!(
        reviewer.contains(r#""verdict""#),
        "the reviewer states the verdict contract"
    );
}

#[test]
fn the_shipped_skills_load_with_their_resource_index() {
    let root = repo_dir();
    let names = vnx::skills::available(&root);
    assert_eq!(names, ["implementer", "reviewer", "test-writer"]);
    let loaded = vnx::skills::load_all(&root, &names).unwrap();
    let resources: Vec<(&str, &str)> = loaded
        .iter()
        .flat_map(|s| &s.resources)
        .map(|r| (r.path.as_str(), r.summary.as_str()))
        .collect();
    assert_eq!(
        resources,
        [
            (
                "skills/reviewer/references/review-checklist.md",
                "# Review checklist — work through in order and skip what does not apply"
            ),
            (
                "skills/test-writer/scripts/changed-tests.sh",
                "# List test files changed (committed, staged, unstaged or untracked) since the \
                 merge-base with a ref."
            ),
        ]
    );
}
