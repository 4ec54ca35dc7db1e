//! The hooks vnx installs for one dispatch, each CLI's own in its module under
//! `provider::cli` (a settings file, settings in the worktree with their trust and a policy
//! file, or `-c` overrides). Each runs `vnx __hook EVENT --dir DISPATCH_DIR`; the events it
//! takes are those the registry's CLIs name.

pub use super::cli::hook::{PERMISSION_HOOK_TIMEOUT_SECS, hook_command, sh_quote};
pub use crate::receipts::HookKind;

/// Whether `event` is one `vnx __hook` accepts: an event of a built-in CLI's hooks, as it is
/// named in signal files and receipts.
pub fn is_hook_event(event: &str) -> bool {
    super::cli::hooks_of_event(event).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cli::all_hooks;

    #[test]
    fn the_events_accepted_are_the_registrys() {
        for hooks in all_hooks() {
            for event in hooks.events() {
                assert!(is_hook_event(event), "{event}");
            }
        }
        let all: usize = all_hooks().map(|h| h.events().len()).sum();
        assert_eq!(all, 17, "the seventeen events vnx installs hooks for");
        for other in ["", "stop", "Stop", "notify", "__hook"] {
            assert!(!is_hook_event(other), "{other}");
        }
    }
}
