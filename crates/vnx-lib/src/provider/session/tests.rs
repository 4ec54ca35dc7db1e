//! Unit tests of what finding, following and counting session files shares over the CLIs;
//! each CLI's own files are tested in its module (`provider/cli/NAME/sessions.rs`), the real
//! CLIs' in `tests/it/transcript.rs`.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

#[test]
fn the_homes_are_the_environments() {
    // Every CLI that keeps its state in a home keeps it in the environment's home directory
    // unless a variable of its own moves it; a relative `HOME` does not count.
    let h = Homes::of_env(&env(&[("HOME", "/h")]), Some("/machine".into()));
    assert!(!h.homes.is_empty());
    for (cli, home) in &h.homes {
        assert!(home.starts_with("/h"), "{cli}: {}", home.display());
    }
    let relative = Homes::of_env(&env(&[("HOME", "relative")]), Some("/machine".into()));
    let none = Homes::of_env(&[], Some("/machine".into()));
    assert_eq!(relative, none);
    assert_eq!(
        none.homes.keys().collect::<Vec<_>>(),
        h.homes.keys().collect::<Vec<_>>()
    );
    for (cli, home) in &none.homes {
        assert!(home.starts_with("/machine"), "{cli}: {}", home.display());
    }
    // Each CLI's session files are under its home, where its module says.
    for c in cli::CLIS {
        let Some(sessions) = Cli::of(c.provider().name()) else {
            continue;
        };
        let home = h.of_cli(&sessions).unwrap();
        assert_eq!(
            h.sessions_of(&sessions),
            Some(sessions.sessions_in(home)),
            "{}",
            sessions.name()
        );
    }
}

#[test]
fn a_dispatchs_own_session_place_stands_in_for_every_clis_sessions() {
    let place = PathBuf::from("/d/dispatch/sessions");
    let mut homes = Homes::of_env(&env(&[("HOME", "/h")]), None);
    homes.sessions = Some(place.clone());
    for c in cli::CLIS {
        if let Some(sessions) = Cli::of(c.provider().name()) {
            assert_eq!(homes.sessions_of(&sessions), Some(place.clone()));
        }
    }
    // Recorded and read back with the homes.
    let recorded = homes.recorded();
    assert_eq!(recorded.sessions.as_deref(), place.to_str());
    assert_eq!(Homes::from_recorded(&recorded), homes);
}

#[test]
fn session_ids_are_checked_by_each_clis_own_form() {
    // Each CLI's own form is tested in its module; a declared provider's is a word.
    assert!(valid_id("mine", "ses_01J9Z.x:1-a"));
    let providers = cli::CLIS
        .iter()
        .map(|c| c.provider().name())
        .chain(["mine"]);
    for provider in providers {
        for id in [
            "--dangerously-skip-permissions",
            "-r",
            "",
            "a5d5e3ab-efc5-40f9-8934-cb22a9e51723 --yolo",
            "a5d5e3ab-efc5-40f9-8934-cb22a9e5172\n",
            &"a".repeat(129),
        ] {
            assert!(!valid_id(provider, id), "{provider} {id:?}");
        }
    }
    let fresh = new_id();
    assert!(valid_id("mine", &fresh), "{fresh}");
    assert_eq!(&fresh[14..15], "4", "a version 4 UUID: {fresh}");
    assert_ne!(fresh, new_id());
}
