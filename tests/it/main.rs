//! vnx's integration tests: one binary, one module per capability.

//! Shared helpers (`TestEnv`, `Repo`, `Server`, `Fakes`, gate helpers) live in `common/`; the
//! other modules hold only tests. The stand-in CLIs (`vnx-fake-cli`, testing/fake-cli/) are
//! built by a plain `cargo test`: the package's dev-dependency on itself turns on
//! `test-fakes`.

#![expect(
    clippy::disallowed_methods,
    reason = "test support: the tests start processes and read the environment themselves"
)]

mod common;

mod accept;
mod admission;
mod after;
mod attest;
mod background;
mod best_of;
mod browser;
mod budget;
mod build_graph;
mod build_script;
mod canonical;
mod checkpoint;
mod cli;
mod compat;
mod completions;
mod concurrency;
mod conflict_follow_up;
mod constraints;
mod container_keys;
mod container_pause;
mod container_place;
mod container_relay;
mod cost;
mod crash;
mod crash_points;
mod daily_loop;
mod dashboard;
mod dashboard_live;
mod dashboard_view;
mod declared;
mod defaults;
mod dismiss;
mod dispatch;
mod docs;
mod doctor;
mod egress;
mod events_fixtures;
mod exit_codes;
mod fake;
mod fleet;
mod follow_up;
mod foreground_blocked;
mod full_disk;
mod gates;
mod git_knobs;
mod golden;
mod governed;
mod here_place;
mod hooks;
mod house_rules;
mod human_output;
mod id_prefixes;
mod init;
mod issues;
mod json_schema;
mod key_relay;
mod kubernetes_claim;
mod kubernetes_place;
mod lanes;
mod launch;
mod limit_move;
mod links_out;
mod live;
mod mcp;
mod memory;
mod merge;
mod merge_queue;
mod notice_links;
mod pause;
mod place_answers;
mod place_forgery;
mod place_leftovers;
mod plan;
mod pool;
mod posture;
mod pr;
mod proof;
mod prune;
mod questions;
mod queue;
mod radar;
mod read_cost;
mod read_index;
mod real_clis;
mod real_mcp;
mod receipt_types;
mod recover;
mod reflink;
mod release;
mod remote;
mod remote_follow_up;
mod remote_requests;
mod replay;
mod resume;
mod review;
mod sandbox;
mod sandbox_env;
mod sandbox_homes;
mod schedules;
mod serve;
mod short_commands;
mod shots;
mod skills;
mod small_errors;
mod standins;
mod tamper;
mod threat_model;
mod tidy;
mod tmux;
mod transcript;
mod trust_dialog;
mod usage_limits;
mod worker_env;
mod worker_image;
mod worktree;
mod worktree_hooks;

// Hardening against hostile workers and unlucky users.
mod admin_links;
mod anchoring;
mod attach;
mod forgery;
mod shared_state;
mod supervisor_faults;
mod untrusted_input;
mod worktree_safety;
