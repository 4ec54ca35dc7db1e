//! The typed receipts and the published schema (`receipts/schema/receipt.v2.schema.json`):
//! the file is what the types generate (regenerate it with `VNX_UPDATE_SCHEMA=1`), and a
//! receipt of every kind, with every member set, written through the one write path and
//! stamped as the ledger stamps it, validates against it and reads back into the same type.
//! Reading keeps what this version does not know.
//!
//! The round trip of every kind is here (the merge, release and group kinds' samples in
//! `receipt_types/samples.rs`, the gate kinds' in `receipt_types/gate_samples.rs`); the schema's other rules in `receipt_types/schema_rules.rs`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use vnx::constraints::{Enforcement, Severity, Verdict as ConstraintVerdict};
use vnx::dispatch::start::workspace::Placed;
use vnx::dispatch::supervise::signals::{Report, ReportStatus};
use vnx::evidence_reach::Reach;
use vnx::gate::review::{Counts, Finding, Verdict as ReviewVerdict, Weight};
use vnx::gate::{Decision, Exit, Status};
use vnx::ledger::json::{self, Value};
use vnx::merge::conditions::GateEvidence;
use vnx::provider::events::{StreamSummary, Usage, Verdict as CliVerdict};
use vnx::provider::hooks::HookKind;
use vnx::provider::kinds::PromptTransport;
use vnx::provider::{self, Lane, Permission};
use vnx::receipts::merge::{CheckpointRef, CompletionRef};
use vnx::receipts::{self, *};
use vnx::release::{Class, Evidence, Rule};
use vnx::worktree::{DiffStat, DiffStats, TeardownClass, VnxCommit};

mod decisions;
mod gate_samples;
mod issues;
mod samples;
mod schema_rules;

use gate_samples::*;
use samples::*;

const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const ID: &str = "D-1a2b3c4d5e6f";

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("receipts/schema/receipt.v2.schema.json")
}

fn schema() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(schema_path()).unwrap()).unwrap()
}

#[test]
fn the_published_schema_is_the_one_the_types_generate() {
    let generated = receipts::schema::document_text();
    if std::env::var_os("VNX_UPDATE_SCHEMA").is_some() {
        std::fs::write(schema_path(), &generated).unwrap();
    }
    let published = std::fs::read_to_string(schema_path()).unwrap();
    assert!(
        published == generated,
        "receipts/schema/receipt.v2.schema.json is not what the receipt types generate; \
         run `VNX_UPDATE_SCHEMA=1 cargo test --test it receipt_types` and review the diff"
    );
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn did(text: &str) -> vnx::ids::DispatchId {
    vnx::ids::DispatchId::parse(text).unwrap()
}

fn gid(text: &str) -> vnx::ids::GroupId {
    vnx::ids::GroupId::parse(text).unwrap()
}

fn ts(text: &str) -> vnx::ids::Timestamp {
    vnx::ids::Timestamp::parse(text).unwrap()
}

fn cid(text: &str) -> vnx::ids::CommitId {
    vnx::ids::CommitId::parse(text).unwrap()
}

fn diff() -> DiffStats {
    let d = DiffStat {
        files_changed: 1,
        insertions: 2,
        deletions: 3,
    };
    DiffStats {
        committed: d,
        uncommitted: d,
    }
}

fn started() -> DispatchStarted {
    DispatchStarted {
        dispatch_id: did(ID),
        role: s("implementer"),
        provider: s("claude"),
        model: Some(s("sonnet")),
        lane: Lane::Interactive,
        permission: Permission::Edits,
        permission_flags: vec![s("--permission-mode"), s("acceptEdits")],
        argv: vec![s("claude"), format!("<prompt sha256:{HASH}>")],
        binary: s("/usr/bin/claude"),
        binary_version: Some(s("2.1.197 (Claude Code)")),
        environment: Some(vec!["HOME".into(), "PATH".into()]),
        prompt_transport: PromptTransport::Argument,
        completion: provider::ProviderCompletion::Report,
        hooks: HookKind::named("claude-stop"),
        vnx_files_placed: vec![Placed {
            path: PathBuf::from("/w/.gemini/settings.json"),
            sha256: s(HASH),
            made_dir: Some(PathBuf::from("/w/.gemini")),
        }],
        prompt_sha256: s(HASH),
        instruction_sha256: s(HASH),
        prompt_bytes: 1234,
        deadline_seconds: 1800,
        base_commit: cid(COMMIT),
        base_ref: s("refs/heads/main"),
        writes: true,
        branch: format!("dispatch/{ID}"),
        worktree: format!("/r/.vnx-data/worktrees/dispatch-{ID}"),
        worktree_include: vec![IncludedFile {
            path: s(".env"),
            sha256: s(HASH),
            bytes: 12,
        }],
        tmux: format!("vnx:vnx-{ID}"),
        skills: vec![SkillRef {
            name: s("tdd"),
            sha256: s(HASH),
        }],
        constraint_decisions: vec![DecisionRef {
            id: s("no-headless-claude"),
            decision: ConstraintVerdict::Warned,
        }],
        constraints_sha256: s(HASH),
        evidence_reach: Reach {
            sandbox: Some(s("bwrap")),
            worker_uid: 1000,
            signing_key_readable: true,
            ledger_writable: true,
            checkpoint_refs_writable: false,
        },
        after: Some(Dependencies {
            until: DependencyEnd::Done,
            on: vec![Dependency {
                dispatch_id: did(ID),
                head_commit: cid(COMMIT),
                finished_by: Some(did(ID)),
            }],
        }),
        continues: None,
        gates: vec![s("shots")],
        limits: Some(WorkerLimits {
            memory_mb: Some(4096),
            processes: Some(512),
            enforced_by: Some(s("prlimit")),
        }),
        started_by: None,
        started_by_dispatch: Some(did("D-0a1b2c3d4e5e")),
        port: Some(41_017),
        pooled_worktree: Some(s("pool-0a1b2c3d")),
        group: Some(GroupMember {
            group_id: gid("G-1a2b3c4d5e6f"),
            index: 2,
            size: 3,
        }),
        sandbox: Some(vnx::sandbox::Shape {
            kind: s("bubblewrap"),
            program: "/usr/bin/bwrap".into(),
            version: Some(s("bubblewrap 0.8.0")),
            network: vnx::sandbox::Network::Off,
            loopback: vec![11434],
            writable: vec!["/repo/.vnx-data/worktrees/dispatch-D-1a2b3c4d5e6f".into()],
            read_only: vec!["/home/u/.cargo".into(), "/repo".into()],
            hidden: vec!["/home".into(), "/tmp".into()],
            git: Some(vnx::sandbox::git::Quarantine {
                dir: "/repo/.vnx-data/quarantine/D-1a2b3c4d5e6f".into(),
                objects: "/repo/.git/objects".into(),
                refs: "/repo/.git/refs/heads/dispatch".into(),
                logs: "/repo/.git/logs/refs/heads/dispatch".into(),
                branch: s("dispatch/D-1a2b3c4d5e6f"),
                start: s(HASH),
            }),
            sessions: Some(vnx::sandbox::SessionPlace {
                dir: "/repo/.vnx-data/dispatches/D-1a2b3c4d5e6f/sessions".into(),
                shown_at: "/home/u/.claude/projects".into(),
            }),
            homes: vec![vnx::sandbox::PrivateHome {
                copy: "/repo/.vnx-data/dispatches/D-1a2b3c4d5e6f/cli-home/.claude".into(),
                shown_at: "/home/u/.claude".into(),
                dir: true,
            }],
            withheld_env: vec![s("GH_TOKEN")],
            relayed_keys: vec![s("ANTHROPIC_API_KEY")],
        }),
        replay_of: Some(vnx::receipts::ReplayOf {
            dispatch_id: did("D-0a0b0c0d"),
            started_line_sha256: s(HASH),
            prompt_sha256: s(HASH),
            rebuilt_prompt_sha256: Some(s(HASH)),
            identical: true,
            changed_skills: vec![],
        }),
        remote: None,
        title: Some(s("Add a greeting")),
        plan: Some(vnx::receipts::PlanStep {
            stage: vnx::receipts::PlanStage::Approved,
            edits_permission: Permission::Edits,
            planned_in: Some(did(ID)),
            plan_sha256: Some(s(HASH)),
        }),
        cli_homes: Some(vnx::receipts::CliHomes {
            homes: [
                (s("claude"), s("/home/u/.claude")),
                (s("codex"), s("/home/u/.codex")),
            ]
            .into(),
            sessions: None,
        }),
        session_id: Some(s("0b5c4f1e-5a4c-4d2b-9c1e-1f2e3d4c5b6a")),
        cli_env: [(s("CLI_POSTURE"), s("{\"edit\":\"allow\"}"))].into(),
        budget: Some(vnx::receipts::Budget {
            tokens: Some(200_000),
            cost_usd: Some(5.0),
            from: Some(s("dispatch")),
            spent_before: Some(1200),
            cost_before_usd: Some(0.42),
        }),
        project_day: Some(vnx::receipts::Budget {
            tokens: Some(2_000_000),
            from: Some(s("project_day")),
            spent_before: Some(350_000),
            ..Default::default()
        }),
        extra: Default::default(),
    }
}

fn stream() -> StreamSummary {
    StreamSummary {
        session_id: Some(s("5f1e")),
        model: Some(s("claude-sonnet-4")),
        usage: Some(usage()),
        verdict: Some(CliVerdict::Error {
            message: s("API Error: 400"),
        }),
        last_message: Some(s("done")),
        tool_calls: 3,
        permission_denials: 1,
        num_turns: Some(2),
        cost_usd: Some(0.25),
        events: 10,
        unparsed_lines: 0,
        background_stopped: vec![background_task()],
        background_left: Vec::new(),
        usage_limit: Some(vnx::receipts::UsageLimit {
            said: s("API Error: Request rejected (429) · try again in 3600s."),
            resets_in_seconds: Some(3600),
        }),
    }
}

fn background_task() -> BackgroundTask {
    BackgroundTask {
        id: s("bubbmr25k"),
        kind: s("shell"),
        what: s("slow tests"),
    }
}

fn usage() -> Usage {
    Usage {
        input_tokens: 100,
        output_tokens: 20,
        cached_input_tokens: Some(50),
        cache_creation_input_tokens: Some(10),
        total_tokens: Some(180),
    }
}

fn completed() -> DispatchCompleted {
    DispatchCompleted {
        dispatch_id: did(ID),
        status: DispatchStatus::Done,
        completion_signal: CompletionSignal::TurnEnded("claude_stop_hook".into()),
        lane: Some(Lane::Interactive),
        duration_seconds: Some(12.5),
        worker_log: Some(format!("/r/.vnx-data/dispatches/{ID}/worker.log")),
        exit_code: Some(0),
        exit_signal: Some(15),
        failure_reason: Some(s("the worker ended its turn without running `vnx report`")),
        temp_files_removed: Some(2),
        slot_wait_seconds: Some(0.5),
        report: Some(Report {
            dispatch_id: did(ID),
            status: ReportStatus::Done,
            summary: Some(s("added the greeting")),
            reported_at: ts("2026-11-22T10:00:00Z"),
            mac: Some(s(HASH)),
        }),
        report_rejected: Some(s("sealed for another dispatch")),
        recovered: Some(s("recorded by `vnx recover` from the sealed report")),
        closed_for_resume: Some(true),
        session_id: Some(s("5f1e")),
        token_usage: Some(usage()),
        token_usage_source: Some(vnx::receipts::UsageSource::SessionFile),
        token_usage_refused: None,
        token_usage_lines_skipped: Some(1),
        session_file_tampered: vec![vnx::receipts::SessionTampering::Replaced],
        worktree_commands: vec![vnx::receipts::WorktreeCommand {
            phase: s("setup"),
            argv: vec![s("npm"), s("ci")],
            exit_code: Some(0),
            seconds: 3.25,
            error: None,
        }],
        cli_events: Some(stream()),
        main_checkout_changed: Some(true),
        main_checkout: Some(CheckoutChange {
            head_before: Some(s(COMMIT)),
            head_after: None,
            changed_before: vec![],
            changed_after: vec![s("README.md")],
        }),
        vnx_files_removed: Some(vec![s("/w/.gemini/settings.json")]),
        vnx_commit: Some(VnxCommit {
            commit: s(COMMIT),
            files_total: 1,
            files: vec![s("hello.txt")],
        }),
        vnx_commit_error: Some(s("git commit failed")),
        diff_stats: Some(diff()),
        teardown_class: Some(TeardownClass::Committed),
        teardown_reason: Some(s("1 commit not on a remote")),
        commits: Some(1),
        head_commit: Some(cid(COMMIT)),
        teardown_action: Some(TeardownAction {
            worktree_removed: true,
            branch_deleted: false,
            locked: false,
            pooled: true,
        }),
        teardown_error: Some(s("could not remove the worktree")),
        oversized_fields_dropped: Some(vec![s("cli_events")]),
        remote: None,
        extra: Default::default(),
    }
}

fn corrected() -> DispatchCorrected {
    DispatchCorrected {
        dispatch_id: did(ID),
        status: DispatchStatus::Failed,
        previous_status: DispatchStatus::Done,
        corrects: s("dispatch_completed"),
        phantom_rejected: true,
        reason: s("phantom done: no diff"),
        failure_reason: s("phantom done: no diff"),
        diff_stats: Some(diff()),
        teardown_class: Some(TeardownClass::Clean),
        head_commit: Some(cid(COMMIT)),
        remote: None,
        extra: Default::default(),
    }
}

fn decision() -> ConstraintDecision {
    ConstraintDecision {
        dispatch_id: did(ID),
        constraint_id: s("no-headless-claude"),
        rule: s("forbid_route"),
        decision: ConstraintVerdict::Overridden,
        audit_severity: Severity::Blocking,
        enforcement: Enforcement::CodeRaise,
        reason: s("watch claude"),
        detail: s("provider claude via headless"),
        override_variable: s("VNX_ALLOW_NO_HEADLESS_CLAUDE"),
        override_allowed: true,
        override_requested: true,
        override_reason: Some(s("CI smoke run")),
        route: RouteRef {
            provider: s("claude"),
            model: None,
            role: s("implementer"),
            lane: Lane::Headless,
            permission: Permission::Ask,
            via: vec![s("headless")],
            sandboxed: true,
        },
        constraints_file: s("provider_constraints.yaml"),
        constraints_sha256: s(HASH),
        extra: Default::default(),
    }
}

/// A receipt as the ledger writes it: the kind's members and the chain's.
fn stamped<K: Kind>(kind: &K) -> serde_json::Value {
    let receipt = receipts::write(kind);
    let mut o = receipt.object().clone();
    o.insert("seq", Value::int(2u64));
    o.insert("prev_hash", Value::string(HASH));
    o.insert("prev_line_sha256", Value::string(HASH));
    o.insert("schema_version", Value::int(2u64));
    o.insert("timestamp", Value::string("2026-11-22T10:00:00Z"));
    receipts::value::to_json(&Value::Object(o))
}

/// Checks one kind: valid, documented, and read back as written (unknown members kept).
fn check<K: Kind + PartialEq + std::fmt::Debug>(sample: K, failures: &mut Vec<String>) {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let line = stamped(&sample);
    for e in validator.iter_errors(&line) {
        failures.push(format!("{}: {} at {}", K::EVENT, e, e.instance_path()));
    }
    // Every member the kind writes is one its definition names.
    let definition = schema["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["if"]["properties"]["event_type"]["const"] == K::EVENT)
        .and_then(|a| a["then"]["$ref"].as_str())
        .and_then(|r| schema.pointer(r.trim_start_matches('#')))
        .unwrap_or_else(|| panic!("no definition for {}", K::EVENT));
    let envelope = [
        "seq",
        "prev_hash",
        "prev_line_sha256",
        "schema_version",
        "timestamp",
        "event_type",
    ];
    for key in line.as_object().unwrap().keys() {
        if definition["properties"].get(key).is_none() && !envelope.contains(&key.as_str()) {
            failures.push(format!(
                "{}: member `{key}` is not in its definition",
                K::EVENT
            ));
        }
    }
    // Read back, with a member from the future: kept in `extra`, and written again.
    let mut object = receipts::write(&sample).object().clone();
    object.insert("a_future_member", Value::string("kept"));
    let read = receipts::read::<K>(&object).expect("reads back");
    let again = receipts::write(&read.receipt);
    assert_eq!(
        again
            .object()
            .get("a_future_member")
            .and_then(Value::as_str),
        Some("kept"),
        "{}",
        K::EVENT
    );
    let without = receipts::read::<K>(receipts::write(&sample).object()).unwrap();
    assert_eq!(
        without.receipt,
        sample,
        "{} reads back as written",
        K::EVENT
    );
}

#[test]
fn every_kind_validates_against_the_schema_and_reads_back() {
    let mut failures = Vec::new();
    check(started(), &mut failures);
    check(completed(), &mut failures);
    // A host's completion as re-attested here: its `remote` member is typed and in the schema.
    check(
        DispatchCompleted {
            remote: Some(RemoteOrigin {
                host: s("build-box"),
                remote_seq: 12,
                line_sha256: "ab".repeat(32),
                worktree: Some(s("/srv/app/.vnx-data/worktrees/D-1")),
                worker_log: None,
                extra: Default::default(),
            }),
            ..completed()
        },
        &mut failures,
    );
    check(corrected(), &mut failures);
    check(decision(), &mut failures);
    check(request(), &mut failures);
    check(result(), &mut failures);
    check(report(), &mut failures);
    check(planned(), &mut failures);
    check(merge_failed(), &mut failures);
    check(merged(), &mut failures);
    check(dequeued(), &mut failures);
    check(released(), &mut failures);
    check(group_started(), &mut failures);
    check(group_decision(), &mut failures);
    check(
        DispatchBlocked {
            dispatch_id: did(ID),
            waiting_for: WaitingFor::Permission,
            tool: Some(s("Bash")),
            command: Some(s("git add -A && git commit -m x")),
            message: Some(s("Claude needs your permission")),
            source: s("claude-permission-request"),
            answer_with: format!("vnx attach {ID}"),
            remote: None,
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        DispatchBackground {
            dispatch_id: did(ID),
            tasks: vec![background_task()],
            more: Some(2),
            source: s("claude-stop"),
            remote: None,
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        vnx::receipts::DispatchLimited {
            dispatch_id: did(ID),
            provider: s("claude"),
            said: s("API Error: Request rejected (429) · try again in 3600s."),
            resets_at: Some(ts("2026-11-29T15:05:00Z")),
            continues_at: ts("2026-11-29T15:05:00Z"),
            limit_count: 2,
            remote: Some(RemoteOrigin {
                host: s("build-box"),
                remote_seq: 13,
                line_sha256: "cd".repeat(32),
                worktree: None,
                worker_log: None,
                extra: Default::default(),
            }),
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        DispatchStalled {
            dispatch_id: did(ID),
            idle_seconds: 301.5,
            stall_after_seconds: 300,
            remote: None,
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        DispatchAnswered {
            dispatch_id: did(ID),
            answer: PermissionAnswer::Deny,
            by: s("ana"),
            source: s("claude-permission-request"),
            tool: Some(s("Bash")),
            command: Some(s("git push")),
            via: AnsweredVia::Pane,
            keys: Some(s("3")),
            message: Some(s("open a PR instead")),
            request_from: Some(RequestFrom::WorkerHook),
            pane_dialog: Some(s("Do you want to run git push?\n❯ 1. Yes")),
            concluded: Some(s("recorded by a later command")),
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        vnx::receipts::DispatchAnswering {
            dispatch_id: did(ID),
            answer: PermissionAnswer::Approve,
            by: s("ana"),
            source: s("claude-permission-request"),
            tool: Some(s("Bash")),
            command: Some(s("git push")),
            via: AnsweredVia::Place,
            message: Some(s("go")),
            blocked_seq: Some(4),
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        DispatchAccepted {
            dispatch_id: did(ID),
            head_commit: cid(COMMIT),
            branch: format!("dispatch/{ID}"),
            previous_status: DispatchStatus::NeedsInput,
            completion: CompletionRef {
                seq: Some(5),
                line_sha256: s(HASH),
            },
            by: s("ana"),
            note: Some(s("read the diff; tests pass")),
            vnx_commit: Some(vnx::receipts::VnxCommit {
                commit: s(COMMIT),
                files_total: 1,
                files: vec![s("demo-output.txt")],
            }),
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        vnx::receipts::PrOpened {
            dispatch_id: did(ID),
            number: 7,
            url: s("https://github.com/o/r/pull/7"),
            repo: s("o/r"),
            remote: s("origin"),
            branch: format!("dispatch/{ID}"),
            base: s("main"),
            head_commit: cid(COMMIT),
            draft: false,
            action: vnx::receipts::PrAction::Created,
            gates_passed: vec![s("tests")],
            completion: CompletionRef {
                seq: Some(5),
                line_sha256: s(HASH),
            },
            by: Some(s("orchestrator 1.0 via MCP")),
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        vnx::receipts::PrMerged {
            dispatch_id: did(ID),
            number: 7,
            url: s("https://github.com/o/r/pull/7"),
            repo: s("o/r"),
            branch: format!("dispatch/{ID}"),
            head_commit: cid(COMMIT),
            merge_commit: cid(COMMIT),
            base: s("main"),
            method: vnx::receipts::PrMergeMethod::Squash,
            by_vnx: true,
            merged_by: Some(s("ana")),
            by: Some(s("orchestrator 1.0 via MCP")),
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        vnx::receipts::PrClosed {
            dispatch_id: did(ID),
            number: 7,
            url: s("https://github.com/o/r/pull/7"),
            repo: s("o/r"),
            branch: format!("dispatch/{ID}"),
            head_commit: Some(cid(COMMIT)),
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        vnx::receipts::PrReaction {
            dispatch_id: did(ID),
            number: 7,
            url: s("https://github.com/o/r/pull/7"),
            branch: format!("dispatch/{ID}"),
            head_commit: cid(COMMIT),
            rule: vnx::receipts::ReactionRule::ChecksFailed,
            action: vnx::receipts::ReactionAction::Fix,
            attempt: 1,
            attempts_allowed: 2,
            follow_up: Some(did(ID)),
            why: s("check(s) failing on 0123456789ab: ci"),
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        vnx::receipts::PrEscalated {
            dispatch_id: did(ID),
            number: 7,
            url: s("https://github.com/o/r/pull/7"),
            branch: format!("dispatch/{ID}"),
            head_commit: cid(COMMIT),
            rule: vnx::receipts::ReactionRule::ChangesRequested,
            attempts: 2,
            why: s("changes_requested after 2 fix attempts"),
            extra: Default::default(),
        },
        &mut failures,
    );
    decisions::check_all(&mut failures);
    issues::check_all(&mut failures);
    check(
        vnx::receipts::MemoryPromoted {
            provider: s("claude"),
            dispatch_id: Some(did(ID)),
            changed: vec![s("MEMORY.md")],
            files: vec![vnx::memory::file(s("MEMORY.md"), s("- a lesson\n"))],
            by: s("ana"),
            note: Some(s("reviewed")),
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        vnx::receipts::DispatchDismissed {
            dispatch_id: did(ID),
            completion: CompletionRef {
                seq: Some(5),
                line_sha256: s(HASH),
            },
            question: Some(s("Should I also update the documentation?")),
            by: s("ana"),
            note: Some(s("not needed")),
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        DispatchResumed {
            dispatch_id: did(ID),
            after: s("blocked"),
            waited_seconds: 4.2,
            source: s("claude-post-tool-use"),
            remote: None,
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        QueueDecision {
            dispatch_id: did(ID),
            provider: s("claude"),
            decision: QueueVerdict::Queued,
            capacity: 2,
            running: 2,
            queue_position: Some(3),
            priority: 5,
            start_by: Some(ts("2026-01-02T03:04:05Z")),
            reason: s("every claude slot (2) is taken"),
            host: Some(s("any")),
            after: Some(Awaited {
                on: vec![did(ID)],
                until: DependencyEnd::Merged,
            }),
            extra: Default::default(),
        },
        &mut failures,
    );
    check(
        EgressDecision {
            dispatch_id: did(ID),
            provider: s("claude"),
            decision: EgressVerdict::Redacted,
            findings: vec![
                EgressFinding {
                    rule: s("github-token"),
                    action: vnx::egress::Action::Redact,
                    source: EgressSource::Prompt,
                    path: None,
                    line: 12,
                    column: 5,
                    byte_offset: 811,
                    bytes: 40,
                    sha256: s(HASH),
                },
                EgressFinding {
                    rule: s("aws-access-key-id"),
                    action: vnx::egress::Action::Redact,
                    source: EgressSource::WorktreeInclude,
                    path: Some(s(".env")),
                    line: 1,
                    column: 19,
                    byte_offset: 18,
                    bytes: 20,
                    sha256: s(HASH),
                },
            ],
            withheld: vec![s(".env")],
            prompt_sha256: Some(s(HASH)),
            constraints_file: s("provider_constraints.yaml"),
            constraints_sha256: s(HASH),
            extra: Default::default(),
        },
        &mut failures,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
