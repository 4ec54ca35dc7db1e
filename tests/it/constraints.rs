//! `provider_constraints.yaml` as a library: load errors that name the line and column, each
//! rule and severity, overrides with and without reasons, model pins, and the forbidden-import
//! scan run over vnx's own source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use vnx::constraints::{self, Constraints, Evaluation, Overrides, Route, Verdict};
use vnx::provider::{Lane, Permission};

use crate::common::repo_dir;

fn parse(text: &str) -> Constraints {
    constraints::parse(text, Path::new("pc.yaml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn load_err(text: &str) -> String {
    match constraints::parse(text, Path::new("pc.yaml")) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// One constraint entry with the common fields filled in.
fn entry(id: &str, body: &str, severity: &str, extra: &str) -> String {
    format!(
        "  - id: {id}\n{body}    reason: because\n    enforcement: code_raise\n    audit_severity: {severity}\n{extra}"
    )
}

fn file(entries: &[String]) -> String {
    format!("version: 1\nconstraints:\n{}", entries.concat())
}

fn route<'a>(provider: &'a str, model: Option<&'a str>) -> Route<'a> {
    Route {
        provider,
        model,
        role: "implementer",
        lane: Lane::Headless,
        permission: Permission::Edits,
        sandboxed: false,
    }
}

fn judge(c: &Constraints, r: &Route<'_>, keys: &[&str], reasons: &[(&str, &str)]) -> Evaluation {
    let overrides = Overrides {
        keys: keys
            .iter()
            .map(|k| (*k).to_owned())
            .collect::<BTreeSet<_>>(),
        reasons: reasons
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    };
    constraints::evaluate(c, r, &overrides, &Default::default())
}

/// (constraint id, decision) pairs.
fn verdicts(e: &Evaluation) -> Vec<(String, Verdict)> {
    e.decisions
        .iter()
        .map(|d| (d.constraint_id.clone(), d.decision))
        .collect()
}

fn v(pairs: &[(&str, Verdict)]) -> Vec<(String, Verdict)> {
    pairs.iter().map(|(i, d)| ((*i).to_owned(), *d)).collect()
}

#[test]
fn malformed_files_are_errors_that_name_the_line_and_column() {
    let forbid = "    rule: forbid_route\n    forbidden_route:\n      provider: claude\n";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "version: 2\nconstraints: []\n".into(),
            "pc.yaml:1:10:",
            "unsupported version `2`",
        ),
        (
            "constraints: []\n".into(),
            "pc.yaml:1:1:",
            "`version: 1` is missing",
        ),
        (
            "version: 1\nconstraints: []\nextra: 1\n".into(),
            "pc.yaml:3:1:",
            "unknown field `extra`",
        ),
        (
            "version: 1\nconstraints: nope\n".into(),
            "pc.yaml:2:14:",
            "",
        ),
        (
            "version: 1\nconstraints: [\n  {id: a\n".into(),
            "pc.yaml:3:3:",
            "unclosed bracket",
        ),
        (
            file(&[entry("a", "    rule: forbid_everything\n", "blocking", "")]),
            "pc.yaml:4:11:",
            "unknown rule `forbid_everything`",
        ),
        (
            file(&[entry("a", forbid, "fatal", "")]),
            "pc.yaml:9:21:",
            "unknown audit_severity `fatal`",
        ),
        (
            file(&[entry("a", forbid, "blocking", "    pin_semantics: floor\n")]),
            "pc.yaml:10:20:",
            "applies to require_route",
        ),
        (
            file(&[entry("a", forbid, "blocking", "    severity: high\n")]),
            "pc.yaml:10:5:",
            "unknown field `severity`",
        ),
        (
            file(&[entry(
                "a",
                "    rule: forbid_route\n    forbidden_route:\n      model_family: x\n",
                "blocking",
                "",
            )]),
            "pc.yaml:6:7:",
            "unknown field `model_family`",
        ),
        (
            file(&[entry(
                "a",
                "    rule: forbid_route\n    forbidden_route: {}\n",
                "blocking",
                "",
            )]),
            "pc.yaml:5:22:",
            "names no key",
        ),
        (
            file(&[entry(
                "a",
                "    rule: forbid_route\n    forbidden_route:\n      provider: []\n",
                "blocking",
                "",
            )]),
            "pc.yaml:6:17:",
            "`provider` is an empty list",
        ),
        (
            file(&[entry(
                "a",
                "    rule: forbid_route\n    required_route:\n      model: x\n",
                "blocking",
                "",
            )]),
            "pc.yaml:6:7:",
            "`required_route` does not go with rule forbid_route",
        ),
        (
            file(&[entry("A_b", forbid, "blocking", "")]),
            "pc.yaml:3:9:",
            "is not kebab-case",
        ),
        (
            file(&[
                entry("a", forbid, "blocking", ""),
                entry("a", forbid, "info", ""),
            ]),
            "pc.yaml:10:9:",
            "id `a` is used twice",
        ),
        (
            file(&[entry(
                "a",
                "    rule: require_route\n    required_route:\n      role: x\n      task_class: research\n      model: m\n",
                "blocking",
                "",
            )]),
            "pc.yaml:7:19:",
            "`task_class` is not a key of this route block",
        ),
        (
            file(&[entry(
                "a",
                "    rule: require_route\n    required_route:\n      role: x\n",
                "blocking",
                "",
            )]),
            "pc.yaml:6:7:",
            "needs `model`",
        ),
        (
            file(&[entry(
                "a",
                "    rule: require_route\n    required_route:\n      model: [a, b]\n",
                "blocking",
                "",
            )]),
            "pc.yaml:6:14:",
            "names one model",
        ),
        (
            file(&[entry(
                "a",
                "    rule: require_route\n    required_route:\n      model: m\n",
                "blocking",
                "    pin_semantics: ceiling\n",
            )]),
            "pc.yaml:10:20:",
            "unknown pin_semantics `ceiling`",
        ),
        (
            file(&[entry(
                "a",
                "    rule: require_route\n    required_route:\n      model: m\n",
                "blocking",
                "    model_order: [x, y]\n",
            )]),
            "pc.yaml:10:18:",
            "must include the floor `m`",
        ),
        (
            file(&[entry(
                "a",
                "    rule: require_route\n    required_route:\n      model: m\n",
                "blocking",
                "    pin_semantics: default\n    model_order: [m, n]\n",
            )]),
            "pc.yaml:11:18:",
            "goes with pin_semantics floor",
        ),
        (
            file(&[entry(
                "a",
                "    rule: forbid_import\n    forbidden_import:\n      patterns: [x]\n",
                "blocking",
                "",
            )]),
            "pc.yaml:8:18:",
            "ci_grep",
        ),
        (
            file(&[entry(
                "a",
                forbid,
                "blocking",
                "    override_reason_required: true\n",
            )]),
            "pc.yaml:10:31:",
            "needs `override_allowed: true`",
        ),
        (
            format!(
                "version: 1\nconstraints:\n  - id: a\n{forbid}    enforcement: code_raise\n    audit_severity: info\n"
            ),
            "pc.yaml:8:5:",
            "missing field `reason`",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(text, at, message)| {
            let err = load_err(text);
            (!err.starts_with(at) || !err.contains(message))
                .then(|| format!("want {at} {message:?}, got {err}\n{text}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));
}

#[test]
fn files_on_disk_name_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider_constraints.yaml");
    let err = constraints::load(&path).unwrap_err();
    assert!(
        matches!(err, constraints::LoadError::Missing { .. }),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("vnx init"));
    std::fs::write(&path, b"version: 1\nconstraints: [\xff]\n").unwrap();
    let err = constraints::load(&path).unwrap_err().to_string();
    assert!(err.contains("provider_constraints.yaml:2:"), "{err}");
    assert!(err.contains("not valid UTF-8"), "{err}");
}

#[test]
fn forbid_route_keys_must_all_match_and_lists_mean_any_of() {
    let c = parse(&file(&[
        entry(
            "one-key",
            "    rule: forbid_route\n    forbidden_route:\n      provider: Claude\n",
            "info",
            "",
        ),
        entry(
            "two-keys",
            "    rule: forbid_route\n    forbidden_route:\n      provider: [codex, claude]\n      via: headless\n",
            "warn",
            "",
        ),
        entry(
            "by-model",
            "    rule: forbid_route\n    forbidden_route:\n      model: [haiku, vendor/opus]\n",
            "blocking",
            "",
        ),
        entry(
            "by-role",
            "    rule: forbid_route\n    forbidden_route:\n      role: [reviewer]\n",
            "blocking",
            "",
        ),
        entry(
            "by-task-class",
            "    rule: forbid_route\n    forbidden_route:\n      provider: claude\n      task_class: research\n",
            "blocking",
            "",
        ),
    ]));
    let e = judge(&c, &route("claude", Some("sonnet")), &[], &[]);
    assert_eq!(
        verdicts(&e),
        v(&[("one-key", Verdict::Allowed), ("two-keys", Verdict::Warned)])
    );
    assert_eq!(e.decisions[1].detail, "provider claude, via headless");
    assert_eq!(e.decisions[1].rule, "forbid_route");
    // The interactive lane does not match `via: headless`.
    let interactive = Route {
        lane: Lane::Interactive,
        ..route("claude", Some("sonnet"))
    };
    assert_eq!(
        verdicts(&judge(&c, &interactive, &[], &[])),
        v(&[("one-key", Verdict::Allowed)])
    );
    // Models compare without case, and by a vendor path's last segment.
    let e = judge(&c, &route("codex", Some("OPUS")), &[], &[]);
    assert_eq!(
        verdicts(&e),
        v(&[
            ("two-keys", Verdict::Warned),
            ("by-model", Verdict::Refused)
        ])
    );
    assert!(
        judge(&c, &route("gemini", None), &[], &[])
            .decisions
            .is_empty()
    );
    let reviewer = Route {
        role: "reviewer",
        ..route("gemini", None)
    };
    assert_eq!(
        verdicts(&judge(&c, &reviewer, &[], &[])),
        v(&[("by-role", Verdict::Refused)])
    );
}

#[test]
fn severities_decide_and_overrides_need_permission_and_sometimes_a_reason() {
    let body = "    rule: forbid_route\n    forbidden_route:\n      via: skip_permissions\n";
    let c = parse(&file(&[
        entry("closed", body, "blocking", ""),
        entry("open", body, "blocking", "    override_allowed: true\n"),
        entry(
            "with-reason",
            body,
            "blocking",
            "    override_allowed: true\n    override_reason_required: true\n",
        ),
        entry("warned", body, "warn", "    override_allowed: true\n"),
    ]));
    let full = Route {
        permission: Permission::Full,
        ..route("codex", None)
    };
    let e = judge(&c, &full, &[], &[]);
    assert_eq!(
        verdicts(&e),
        v(&[
            ("closed", Verdict::Refused),
            ("open", Verdict::Refused),
            ("with-reason", Verdict::Refused),
            ("warned", Verdict::Warned),
        ])
    );
    assert_eq!(e.refusals().len(), 3);
    assert_eq!(e.decisions[2].override_variable, "VNX_OVERRIDE_WITH_REASON");

    let all = ["CLOSED", "OPEN", "WITH_REASON", "WARNED"];
    let e = judge(&c, &full, &all, &[]);
    assert_eq!(
        verdicts(&e),
        v(&[
            ("closed", Verdict::Refused),
            ("open", Verdict::Overridden),
            ("with-reason", Verdict::Refused),
            ("warned", Verdict::Overridden),
        ])
    );
    assert!(
        e.decisions[0].detail.ends_with("allows no override"),
        "{:?}",
        e.decisions[0]
    );
    assert!(
        e.decisions[2]
            .detail
            .contains("needs a reason in VNX_OVERRIDE_WITH_REASON_REASON"),
        "{:?}",
        e.decisions[2]
    );
    assert!(e.decisions.iter().all(|d| d.override_requested));

    let e = judge(
        &c,
        &full,
        &all,
        &[("WITH_REASON", "throwaway VM"), ("OPEN", "  ")],
    );
    assert_eq!(e.decisions[2].decision, Verdict::Overridden);
    assert_eq!(
        e.decisions[2].override_reason.as_deref(),
        Some("throwaway VM")
    );
    assert_eq!(
        e.decisions[1].override_reason, None,
        "a blank reason is none"
    );
    // A reason alone overrides nothing.
    let e = judge(&c, &full, &[], &[("WITH_REASON", "why")]);
    assert_eq!(e.decisions[2].decision, Verdict::Refused);
    // The bounded postures carry no skip_permissions tag.
    assert!(
        judge(&c, &route("codex", None), &[], &[])
            .decisions
            .is_empty()
    );
}

#[test]
fn default_pins_fill_a_missing_model_and_judge_another_by_severity() {
    let c = parse(&file(&[
        entry(
            "claude-sonnet",
            "    rule: require_route\n    required_route:\n      provider: claude\n      model: sonnet\n",
            "warn",
            "    pin_semantics: default\n",
        ),
        entry(
            "no-sonnet-for-reviewers",
            "    rule: forbid_route\n    forbidden_route:\n      role: reviewer\n      model: sonnet\n",
            "blocking",
            "",
        ),
    ]));
    let e = judge(&c, &route("claude", None), &[], &[]);
    assert_eq!(e.model.as_deref(), Some("sonnet"));
    assert_eq!(e.pinned_by.as_deref(), Some("claude-sonnet"));
    assert_eq!(verdicts(&e), v(&[("claude-sonnet", Verdict::Pinned)]));
    assert_eq!(
        e.decisions[0].detail,
        "no model given: pinned `sonnet` (default pin)"
    );
    let e = judge(&c, &route("claude", Some("Sonnet")), &[], &[]);
    assert_eq!(verdicts(&e), v(&[("claude-sonnet", Verdict::Allowed)]));
    assert_eq!(
        e.model.as_deref(),
        Some("Sonnet"),
        "an explicit model is kept"
    );
    let e = judge(&c, &route("claude", Some("opus")), &[], &[]);
    assert_eq!(verdicts(&e), v(&[("claude-sonnet", Verdict::Warned)]));
    assert_eq!(e.model.as_deref(), Some("opus"));
    // Other providers are not pinned.
    assert!(
        judge(&c, &route("codex", None), &[], &[])
            .decisions
            .is_empty()
    );
    // The pinned model is what forbid_route rules see.
    let reviewer = Route {
        role: "reviewer",
        ..route("claude", None)
    };
    let e = judge(&c, &reviewer, &[], &[]);
    assert_eq!(
        verdicts(&e),
        v(&[
            ("claude-sonnet", Verdict::Pinned),
            ("no-sonnet-for-reviewers", Verdict::Refused),
        ])
    );
}

#[test]
fn floor_pins_refuse_a_lower_or_incomparable_model_whatever_the_severity() {
    let c = parse(&file(&[
        entry(
            "ordered",
            "    rule: require_route\n    required_route:\n      role: reviewer\n      model: sonnet\n",
            "info",
            "    override_allowed: true\n    model_order: [haiku, sonnet, opus]\n",
        ),
        entry(
            "unordered",
            "    rule: require_route\n    required_route:\n      role: lead\n      model: opus\n",
            "warn",
            "",
        ),
    ]));
    let as_role = |role, model| Route {
        role,
        ..route("claude", model)
    };
    let one = |role, model, keys: &[&str]| {
        let e = judge(&c, &as_role(role, model), keys, &[]);
        assert_eq!(e.decisions.len(), 1, "{e:?}");
        (
            e.decisions[0].decision,
            e.decisions[0].detail.clone(),
            e.model,
        )
    };
    let (d, detail, model) = one("reviewer", None, &[]);
    assert_eq!((d, model.as_deref()), (Verdict::Pinned, Some("sonnet")));
    assert_eq!(detail, "no model given: pinned `sonnet` (floor pin)");
    assert_eq!(one("reviewer", Some("sonnet"), &[]).0, Verdict::Allowed);
    let (d, detail, _) = one("reviewer", Some("opus"), &[]);
    assert_eq!(d, Verdict::Allowed);
    assert_eq!(
        detail,
        "model `opus` is at or above the floor `sonnet` (haiku < sonnet < opus)"
    );
    let (d, detail, _) = one("reviewer", Some("haiku"), &[]);
    assert_eq!(d, Verdict::Refused, "an info floor still refuses");
    assert_eq!(
        detail,
        "model `haiku` is below the floor `sonnet` (haiku < sonnet < opus)"
    );
    let (d, detail, _) = one("reviewer", Some("gpt-5"), &[]);
    assert_eq!(d, Verdict::Refused);
    assert!(detail.contains("is not in model_order"), "{detail}");
    assert_eq!(
        one("reviewer", Some("haiku"), &["ORDERED"]).0,
        Verdict::Overridden
    );
    // Without a model order only the floor itself is known to meet the floor.
    assert_eq!(one("lead", Some("opus"), &[]).0, Verdict::Allowed);
    let (d, detail, _) = one("lead", Some("sonnet"), &[]);
    assert_eq!(d, Verdict::Refused);
    assert!(detail.contains("no model_order"), "{detail}");
    assert_eq!(
        one("lead", Some("sonnet"), &["UNORDERED"]).0,
        Verdict::Refused,
        "override_allowed defaults to false"
    );
}

#[test]
fn a_vnx_style_file_loads_and_import_rules_decide_nothing_at_dispatch() {
    // The shapes Python VNX's own file uses: lists for via and model, an upper-case role,
    // a require_route without pin_semantics, providers vnx does not have.
    let c = parse(
        "version: 1\nconstraints:\n\
         \x20 - id: kimi-via-cli-only\n    rule: forbid_route\n    forbidden_route:\n      provider: moonshot\n      via: [api, moonshot]\n    reason: r\n    enforcement: code_raise\n    audit_severity: blocking\n    override_allowed: false\n\
         \x20 - id: t0-opus-only\n    rule: require_route\n    required_route:\n      role: T0\n      model: claude-opus-4-8\n    reason: r\n    enforcement: code_warn\n    audit_severity: warn\n    override_allowed: true\n\
         \x20 - id: no-anthropic-sdk\n    rule: forbid_import\n    forbidden_import:\n      patterns:\n        - \"import anthropic\"\n    reason: r\n    enforcement: ci_grep\n    audit_severity: blocking\n    override_allowed: false\n",
    );
    assert_eq!(c.constraints.len(), 3);
    assert!(
        judge(&c, &route("claude", Some("sonnet")), &[], &[])
            .decisions
            .is_empty()
    );
    let t0 = Route {
        role: "t0",
        ..route("claude", Some("opus"))
    };
    assert_eq!(
        verdicts(&judge(&c, &t0, &[], &[])),
        v(&[("t0-opus-only", Verdict::Refused)]),
        "a floor without order refuses another model"
    );
}

#[test]
fn the_shipped_defaults_refuse_skip_permissions_and_let_the_demo_run() {
    let c = constraints::load(&repo_dir().join("provider_constraints.yaml")).unwrap();
    let demo = route("demo", Some("commit"));
    assert!(judge(&c, &demo, &[], &[]).decisions.is_empty());
    let full = Route {
        permission: Permission::Full,
        ..demo
    };
    let e = judge(&c, &full, &[], &[]);
    assert_eq!(
        verdicts(&e),
        v(&[("no-skip-permissions", Verdict::Refused)])
    );
    let e = judge(
        &c,
        &full,
        &["NO_SKIP_PERMISSIONS"],
        &[("NO_SKIP_PERMISSIONS", "disposable VM")],
    );
    assert_eq!(
        verdicts(&e),
        v(&[("no-skip-permissions", Verdict::Overridden)])
    );
    // Sandboxed, the full posture needs no override: the rule names `sandboxed: false`.
    let sandboxed = Route {
        sandboxed: true,
        ..full
    };
    assert!(judge(&c, &sandboxed, &[], &[]).decisions.is_empty());
    assert_eq!(
        judge(&c, &full, &[], &[]).decisions[0].detail,
        "via skip_permissions, not sandboxed"
    );
    // Claude: headless is recorded; no model is pinned (the user's own default stands).
    let e = judge(&c, &route("claude", None), &[], &[]);
    assert_eq!(verdicts(&e), v(&[("claude-headless", Verdict::Allowed)]));
    assert_eq!(e.model, None);
    let interactive = Route {
        lane: Lane::Interactive,
        ..route("claude", Some("opus"))
    };
    assert!(judge(&c, &interactive, &[], &[]).decisions.is_empty());
}

#[test]
fn vnx_itself_imports_no_vendor_sdk() {
    let c = constraints::load(&repo_dir().join("provider_constraints.yaml")).unwrap();
    let paths: Vec<PathBuf> = ["src", "Cargo.toml", "Cargo.lock"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let report = constraints::scan_imports(&c, &repo_dir(), &paths).unwrap();
    assert!(report.files > 50, "{report:?}");
    assert_eq!(report.hits, [], "vendor SDKs in vnx's own code");
}

#[test]
fn the_import_scan_finds_patterns_in_any_spacing_and_skips_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let rules = "version: 1\nconstraints:\n  - id: no-sdk\n    rule: forbid_import\n    forbidden_import:\n      patterns: [\"from openai import\", \"@google/genai\"]\n    reason: r\n    enforcement: ci_grep\n    audit_severity: blocking\n";
    std::fs::write(root.join("provider_constraints.yaml"), rules).unwrap();
    std::fs::create_dir_all(root.join("app/.git")).unwrap();
    std::fs::write(
        root.join("app/main.py"),
        "x = 1\nFROM   OpenAI\timport Client\n",
    )
    .unwrap();
    std::fs::write(
        root.join("app/web.ts"),
        "import {a} from \"@google/genai\";\n",
    )
    .unwrap();
    std::fs::write(root.join("app/.git/HEAD"), "from openai import x\n").unwrap();
    std::fs::write(root.join("app/blob.bin"), b"from openai import \0\xff").unwrap();
    std::fs::write(root.join("app/clean.rs"), "// openai is a company\n").unwrap();
    let c = constraints::load(&root.join("provider_constraints.yaml")).unwrap();
    let report = constraints::scan_imports(
        &c,
        root,
        &[
            PathBuf::from("app"),
            PathBuf::from("provider_constraints.yaml"),
        ],
    )
    .unwrap();
    let hits: Vec<(String, usize, &str)> = report
        .hits
        .iter()
        .map(|h| (h.path.display().to_string(), h.line, h.pattern.as_str()))
        .collect();
    assert_eq!(
        hits,
        [
            ("app/main.py".to_owned(), 2, "from openai import"),
            ("app/web.ts".to_owned(), 1, "@google/genai"),
        ]
    );
    assert_eq!(report.files, 3, "main.py, web.ts, clean.rs");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any text either loads or fails with an error that names the file.
    #[test]
    fn parsing_never_panics(text in "(version: 1\n)?(constraints:\n)?(  - id: [a-z-]{1,8}\n)?[ -~\n]{0,200}") {
        if let Err(e) = constraints::parse(&text, Path::new("pc.yaml")) {
            prop_assert!(e.to_string().starts_with("pc.yaml:"), "{}", e);
        }
    }

    /// A forbid_route violation is refused exactly when blocking and not overridden.
    #[test]
    fn verdicts_follow_severity_and_override(
        severity in prop::sample::select(vec!["blocking", "warn", "info"]),
        allowed in any::<bool>(),
        requested in any::<bool>(),
    ) {
        let c = parse(&file(&[entry(
            "r",
            "    rule: forbid_route\n    forbidden_route:\n      provider: p\n",
            severity,
            &format!("    override_allowed: {allowed}\n"),
        )]));
        let keys: &[&str] = if requested { &["R"] } else { &[] };
        let e = judge(&c, &route("p", None), keys, &[]);
        let want = match (requested && allowed, severity) {
            (true, _) => Verdict::Overridden,
            (false, "blocking") => Verdict::Refused,
            (false, "warn") => Verdict::Warned,
            _ => Verdict::Allowed,
        };
        prop_assert_eq!(e.decisions[0].decision, want);
    }
}
