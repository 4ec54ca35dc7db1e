//! Unit tests of the sandbox's shape: installation roots, the order of its mounts, the
//! data directory, PATH entries, a CLI installed in the home directory, config paths.

use super::*;

#[test]
fn install_root_is_above_the_outermost_node_modules() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("lib/node_modules/@x/cli/bin");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("cli.js"), "").unwrap();
    let root = dir.path().canonicalize().unwrap().join("lib");
    assert_eq!(install_root(&pkg.join("cli.js")), root);
    let plain = dir.path().join("bin");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::write(plain.join("tool"), "").unwrap();
    assert_eq!(
        install_root(&plain.join("tool")),
        dir.path().canonicalize().unwrap().join("bin")
    );
}

#[test]
fn hidden_paths_are_minimal_and_mounted_parents_first() {
    let list = minimal(vec![
        "/a/b".into(),
        "/a".into(),
        "/c".into(),
        "/a/b/c".into(),
    ]);
    assert_eq!(list, [PathBuf::from("/a"), PathBuf::from("/c")]);
    // The data directory inside a shown checkout inside a hidden home: hidden after the
    // checkout is shown, and the dispatch's own directory shown after that.
    let shape = Shape {
        kind: "bubblewrap".into(),
        program: "/usr/bin/bwrap".into(),
        version: None,
        network: Network::On,
        loopback: Vec::new(),
        writable: vec![
            "/h/u/repo/.vnx-data/dispatches/D".into(),
            "/h/u/.tool".into(),
        ],
        read_only: vec!["/h/u/repo".into()],
        hidden: vec!["/h/u".into(), "/h/u/repo/.vnx-data".into(), "/tmp".into()],
        git: None,
        // The session place is bound over the CLI's sessions, after its state directory.
        sessions: Some(SessionPlace {
            dir: "/h/u/repo/.vnx-data/dispatches/D/sessions".into(),
            shown_at: "/h/u/.tool/projects".into(),
        }),
        withheld_env: vec!["GH_TOKEN".into()],
        // The private copy of the CLI's state is bound where it keeps it, before the session
        // place inside it.
        homes: vec![PrivateHome {
            copy: "/h/u/repo/.vnx-data/dispatches/D/cli-home/.tool".into(),
            shown_at: "/h/u/.tool".into(),
            dir: true,
        }],
        relayed_keys: Vec::new(),
    };
    let argv: Vec<String> = shape
        .wrap(&["true".into()])
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mounts: Vec<&str> = argv
        .iter()
        .skip_while(|a| *a != "/proc")
        .skip(1)
        .take_while(|a| !a.starts_with("--unsetenv") && *a != "--remount-ro")
        .map(String::as_str)
        .collect();
    assert_eq!(
        mounts,
        [
            "--tmpfs",
            "/tmp",
            "--tmpfs",
            "/h/u",
            "--ro-bind-try",
            "/h/u/repo",
            "/h/u/repo",
            "--bind",
            "/h/u/.tool",
            "/h/u/.tool",
            "--bind",
            "/h/u/repo/.vnx-data/dispatches/D/cli-home/.tool",
            "/h/u/.tool",
            "--tmpfs",
            "/h/u/repo/.vnx-data",
            "--bind",
            "/h/u/repo/.vnx-data/dispatches/D/sessions",
            "/h/u/.tool/projects",
            "--bind",
            "/h/u/repo/.vnx-data/dispatches/D",
            "/h/u/repo/.vnx-data/dispatches/D",
        ]
    );
    let ro = argv.iter().position(|a| a == "--remount-ro").unwrap();
    assert_eq!(argv[ro + 1], "/h/u/repo/.vnx-data");
    assert!(argv.iter().filter(|a| *a == "--remount-ro").count() == 1);
    // The withheld variables are unset inside, after the mounts.
    let unset = argv
        .windows(2)
        .any(|w| w[0] == "--unsetenv" && w[1] == "GH_TOKEN");
    assert!(unset, "{argv:?}");
}

/// Another dispatch's environment (`queue/ID.env`, `dispatches/ID/env`) is in the
/// project's data directory: hidden, with the dispatch's own directories shown again.
#[test]
fn the_data_directory_is_hidden_but_for_the_dispatchs_own() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    let data = repo.join(DATA_DIR_NAME);
    let own = data.join("dispatches/D-1");
    let worktree = data.join("worktrees/D-1");
    for d in [&own, &worktree, &data.join("queue")] {
        std::fs::create_dir_all(d).unwrap();
    }
    let machine = Machine {
        bwrap: Some("/usr/bin/bwrap".into()),
        ..Machine::default()
    };
    let place = Place {
        repo_root: &repo,
        worktree: &worktree,
        dispatch_dir: &own,
        data_dir: &data,
        vnx: &repo,
        worker: &repo,
        state: &[],
        sessions: None,
    };
    let wanted = Wanted {
        network: Network::Off,
        loopback: vec![11434],
        ..Wanted::default()
    };
    let shape = Shape::plan(&machine, &wanted, &place, None).unwrap();
    assert!(shape.hidden.contains(&data), "{shape:?}");
    assert!(shape.writable.contains(&own) && shape.writable.contains(&worktree));
    assert!(
        shape.read_only.contains(&data.join("relay/D-1")),
        "{shape:?}"
    );
    // A relayed key without loopback ports: the relay directory is shown too (the credential
    // relay's port goes through it), the other keys are withheld, the relayed one recorded.
    let wanted = Wanted {
        network: Network::Off,
        relayed: Some(("A_KEY".to_owned(), vec!["B_KEY".to_owned()])),
        ..Wanted::default()
    };
    let shape = Shape::plan(&machine, &wanted, &place, None).unwrap();
    assert!(shape.relays() && shape.read_only.contains(&data.join("relay/D-1")));
    assert_eq!(shape.relayed_keys, ["A_KEY"]);
    assert!(
        shape.withheld_env.contains(&"B_KEY".to_owned()),
        "{shape:?}"
    );
    let gate = shape.for_gate(&repo);
    assert!(!gate.relays() && gate.withheld_env.contains(&"A_KEY".to_owned()));
}

#[test]
fn a_version_managers_path_entry_shows_the_manager() {
    let home = Some(Path::new("/home/u"));
    let root = |d: &str| tool_root(Path::new(d), home);
    assert_eq!(
        root("/home/u/.pyenv/shims"),
        PathBuf::from("/home/u/.pyenv")
    );
    assert_eq!(root("/home/u/.cargo/bin"), PathBuf::from("/home/u/.cargo"));
    assert_eq!(
        root("/home/u/.local/bin"),
        PathBuf::from("/home/u/.local/bin")
    );
    assert_eq!(root("/home/u/bin"), PathBuf::from("/home/u/bin"));
    assert_eq!(root("/usr/bin"), PathBuf::from("/usr/bin"));
}

/// A CLI installed directly in the home directory, by `npm i` run there, or found through
/// a PATH entry that is the home directory or `~/.ssh`: the sandbox shows the package or
/// the binary, never the home directory or the keys.
#[test]
fn an_install_in_the_home_directory_never_shows_the_home_directory() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    let ssh = home.join(".ssh");
    let pkg = home.join("node_modules/@vendor/cli");
    for d in [&ssh, &pkg, &home.join("node_modules/.bin")] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(ssh.join("id_rsa"), "key").unwrap();
    std::fs::write(pkg.join("cli.js"), "").unwrap();
    std::fs::write(home.join("tool"), "").unwrap();
    let repo = t.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let machine = Machine {
        bwrap: Some("/usr/bin/bwrap".into()),
        home: Some(home.clone()),
        runtime_dir: None,
        path: vec![home.clone(), ssh.clone(), t.path().to_owned()],
        state_vars: BTreeMap::new(),
    };
    for worker in [home.join("tool"), pkg.join("cli.js")] {
        let place = Place {
            repo_root: &repo,
            worktree: &repo,
            dispatch_dir: &repo,
            data_dir: &repo.join(DATA_DIR_NAME),
            vnx: &repo,
            worker: &worker,
            state: &[],
            sessions: None,
        };
        let shape = Shape::plan(&machine, &Wanted::default(), &place, None).unwrap();
        for shown in &shape.read_only {
            assert!(
                !home.starts_with(shown) && !shown.starts_with(&ssh),
                "{} shows {}",
                worker.display(),
                shown.display()
            );
        }
        let real = worker.canonicalize().unwrap();
        assert!(
            shape.read_only.iter().any(|p| real.starts_with(p)),
            "{} is not shown: {:?}",
            worker.display(),
            shape.read_only
        );
    }
}

#[test]
fn config_paths_expand_home_and_must_be_absolute() {
    let home = Path::new("/h");
    assert_eq!(expand("~/.cache", Some(home)), Some("/h/.cache".into()));
    assert_eq!(expand("/opt/sdk", Some(home)), Some("/opt/sdk".into()));
    assert_eq!(expand("rel/path", Some(home)), None);
    assert_eq!(expand("~/x", None), None);
}
