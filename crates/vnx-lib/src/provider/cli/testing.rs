//! Tests: what the CLIs' modules' tests share: a dispatch's wishes and a start for their argv
//! tests, the flags vnx passes a CLI.

use std::path::Path;

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
        plan: false,
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
        plan: false,
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
