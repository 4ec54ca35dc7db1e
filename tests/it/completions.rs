//! The shell completions `vnx completions` writes, run in the real shells: dispatch ids where
//! a command takes them, providers, models and roles after their options, all asked of
//! `vnx __complete` in the project at hand. bash, zsh and fish come with `bin/test`.

use std::path::Path;
use std::process::Command;

use crate::common::{Repo, completion, run};

/// A project with two dispatches, its completion scripts written into it, and a PATH whose
/// `vnx` is the one under test.
fn project() -> (Repo, String) {
    let repo = Repo::new();
    for (model, id, task) in [
        ("commit", "D-abc111", "add a greeting"),
        ("dirty", "D-abd222", "fix the typo"),
    ] {
        let r = repo.dispatch(model, &["--instruction", task, "--id", id]);
        assert_eq!(completion(&r)["status"], "done", "{}", r.stderr);
    }
    for shell in ["bash", "zsh", "fish"] {
        let r = run(repo.vnx().args(["completions", shell]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        std::fs::write(repo.env.path().join(format!("c.{shell}")), r.stdout).unwrap();
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_vnx")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (repo, path)
}

/// `script` run by `shell` in the project, as `vnx` itself runs there.
fn in_shell(repo: &Repo, path: &str, shell: &str, script: &str) -> String {
    let cmd = repo.vnx();
    let program = which(shell);
    let mut shell_cmd = Command::new(program);
    shell_cmd.arg("-c").arg(script);
    // The environment `vnx` gets in the tests (temp HOME, no global git config, the tmux
    // socket), with this PATH.
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => shell_cmd.env(k, v),
            None => shell_cmd.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        shell_cmd.current_dir(dir);
    }
    shell_cmd.env("PATH", path);
    let r = run(shell_cmd);
    assert_eq!(r.code, 0, "{shell}: {}{}", r.stdout, r.stderr);
    r.stdout
}

fn which(shell: &str) -> String {
    for dir in ["/usr/bin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(shell);
        if p.exists() {
            return p.display().to_string();
        }
    }
    panic!("{shell} is missing: `bin/test --tools` installs it (Debian package `{shell}`)");
}

#[test]
fn bash_completes_ids_providers_and_roles() {
    let (repo, path) = project();
    let complete = |words: &str, cword: usize| {
        in_shell(
            &repo,
            &path,
            "bash",
            &format!(
                "source c.bash; COMP_WORDS=({words}); COMP_CWORD={cword}; \
                 _vnx vnx \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\""
            ),
        )
    };
    assert_eq!(complete("vnx show D-ab", 2), "D-abd222\nD-abc111\n");
    assert_eq!(complete("vnx show D-abc", 2), "D-abc111\n");
    // The next id of a command that takes several, and options still after a dash.
    assert_eq!(complete("vnx merge D-abc111 ''", 3), "D-abd222\nD-abc111\n");
    assert_eq!(complete("vnx show --js", 2), "--json\n");
    let providers = complete("vnx dispatch-agent --provider ''", 3);
    assert_eq!(
        providers,
        vnx::provider::cli::Provider::NAMES
            .map(|n| format!("{n}\n"))
            .concat(),
        "every built-in, in the registry's order"
    );
    let roles = complete("vnx status --role ''", 3);
    assert!(roles.starts_with("implementer\n"), "{roles}");
    assert!(roles.contains("reviewer\n"), "{roles}");
    let models = complete("vnx dispatch-agent --model co", 3);
    assert_eq!(models, "commit\n");
}

#[test]
fn zsh_and_fish_complete_ids_with_what_each_dispatch_is() {
    let (repo, path) = project();
    // zsh: the script parses, its arguments ask the helpers, and the helpers give `_describe`
    // each id with its state, title and provider (`_describe` stubbed to print them).
    in_shell(&repo, &path, "zsh", "zsh -n c.zsh");
    let zsh = std::fs::read_to_string(repo.env.path().join("c.zsh")).unwrap();
    assert!(
        zsh.contains(":_vnx_ids' \\"),
        "the id positionals ask _vnx_ids"
    );
    assert!(
        zsh.contains(":_vnx_providers' \\"),
        "--provider asks _vnx_providers"
    );
    let described = in_shell(
        &repo,
        &path,
        "zsh",
        "compdef() {}; _describe() { local name=${@[-1]}; print -l -- ${(P)name} }; \
         source ./c.zsh; _vnx_ids; _vnx_models",
    );
    assert!(
        described.starts_with(
            "D-abd222:done fix the typo demo/dirty\nD-abc111:done add a greeting demo/commit\n"
        ),
        "{described}"
    );
    assert!(described.contains("\ncommit:demo\n"), "{described}");
    // fish: its own completion engine, on a command line.
    let fish = in_shell(
        &repo,
        &path,
        "fish",
        "source c.fish; complete -C 'vnx show D-ab'; complete -C 'vnx status --provider g'",
    );
    assert_eq!(
        fish,
        "D-abc111\tdone add a greeting demo/commit\nD-abd222\tdone fix the typo demo/dirty\n\
         gemini\tbuilt-in\n"
    );
}

#[test]
fn outside_a_project_the_candidates_are_quiet() {
    let env = crate::common::TestEnv::new();
    let r = run(env.vnx().args(["__complete", "ids"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "");
    let providers = run(env.vnx().args(["__complete", "providers"]));
    assert!(
        providers
            .stdout
            .starts_with("claude\tbuilt-in\ncodex\tbuilt-in\n"),
        "{}",
        providers.stdout
    );
}
