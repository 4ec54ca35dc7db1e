//! Tests: what the CLIs' modules' tests share: a dispatch's wishes and a start for their argv
//! tests, a hook's signal and what the supervisor makes of it, the flags vnx passes a CLI.

use std::path::Path;

use serde_json::Value;

use super::Provider;
use super::argv::{PROMPT, Start, Wanted, strs};
use crate::receipts::kinds::{Lane, Permission, PromptTransport};

/// What a dispatch wants, for the CLIs' modules' tests: a model, a dispatch directory, no
/// session, no allowed commands.
pub(crate) fn wanted(lane: Lane, permission: Permission, prompt_len: usize) -> Wanted<'static> {
    Wanted {
        lane,
        model: Some("gpt-5.5"),
        permission,
        prompt_len,
        vnx: Path::new("/bin/vnx"),
        dispatch_dir: Path::new("/r/.vnx-data/dispatches/D-1"),
        resume: None,
        session: None,
        allow: &[],
    }
}

/// A start for the CLIs' modules' argv tests: `model` asked for in the dispatch directory
/// `/d`, no session, nothing allowed; the posture's `perms`; the prompt an argument, unless
/// `large`.
pub(crate) fn test_start(
    lane: Lane,
    permission: Permission,
    model: &'static str,
    perms: &[&str],
    large: bool,
) -> Start<'static> {
    let w = Wanted {
        lane,
        model: Some(model),
        permission,
        prompt_len: 10,
        vnx: Path::new("/bin/vnx"),
        dispatch_dir: Path::new("/d"),
        resume: None,
        session: None,
        allow: &[],
    };
    Start {
        w,
        large,
        dir: "/d".into(),
        vnx: "/bin/vnx".into(),
        perms: strs(perms),
        transport: PromptTransport::Argument,
        prompt_arg: if large { String::new() } else { PROMPT.into() },
    }
}

/// A signal of `event` with `payload` as `vnx __hook` records it, for the hooks' tests.
pub(crate) fn signal(
    event: &str,
    payload: Value,
) -> crate::dispatch::supervise::signals::HookSignal {
    crate::dispatch::supervise::signals::HookSignal {
        event: event.into(),
        received_at: "2026-11-22T00:00:00Z".into(),
        payload,
    }
}

/// What the supervisor makes of dispatch `D-1`'s signals from `now` on, for the hooks' tests:
/// answered with `answer_with`, stalled after `stall_after`.
pub(crate) fn live(
    answer_with: &str,
    stall_after: Option<std::time::Duration>,
    now: std::time::Instant,
) -> crate::dispatch::supervise::live::Live {
    let id = crate::ids::DispatchId::parse("D-1").unwrap();
    crate::dispatch::supervise::live::Live::new(&id, answer_with.into(), stall_after, now)
}

/// The flags of `provider`'s group for `sub` (its module's tests check them).
pub(crate) fn group(provider: Provider, sub: &[&str]) -> Vec<String> {
    crate::provider::flags::passed(provider)
        .into_iter()
        .find(|g| g.subcommand == sub)
        .unwrap_or_else(|| panic!("{provider:?} has no {sub:?} group"))
        .flags
        .into_iter()
        .collect()
}
