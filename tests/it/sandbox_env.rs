//! A sandboxed worker's environment: the forge's credentials (`GH_TOKEN` and the like,
//! where `gh` keeps its login) are withheld unless the config hands them over.

use crate::common::{Repo, completion, run};
use crate::sandbox::{declare, script};

#[test]
fn a_sandboxed_worker_gets_no_forge_credential_unless_the_config_hands_it_over() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let teller = tools.path().join("teller");
    // Writes which of the forge's variables it has, then reports done.
    script(
        &teller,
        "for v in GH_TOKEN GITHUB_TOKEN GH_ENTERPRISE_TOKEN GITHUB_ENTERPRISE_TOKEN GH_CONFIG_DIR \
         OTHER_KEY; do eval \"x=\\${$v-}\"; [ -n \"$x\" ] && echo \"$v=$x\"; done > seen.txt\n\
         vnx report --status done --summary told",
    );
    declare(&repo, "teller", &teller, "");
    let dispatch = |id: &str| {
        let mut cmd = repo.vnx();
        for v in [
            "GH_TOKEN",
            "GITHUB_TOKEN",
            "GH_ENTERPRISE_TOKEN",
            "GITHUB_ENTERPRISE_TOKEN",
            "OTHER_KEY",
        ] {
            cmd.env(v, format!("{v}-secret"));
        }
        cmd.env("GH_CONFIG_DIR", tools.path()).args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            "teller",
            "--sandbox",
            "--instruction",
            "tell",
            "--id",
            id,
            "--json",
        ]);
        let r = run(cmd);
        assert_eq!(completion(&r)["status"], "done", "{}", r.stderr);
        repo.on_branch(id, "seen.txt")
    };
    // The default: the forge's credentials are withheld, the rest of the environment is not.
    assert_eq!(dispatch("D-00000000f001"), "OTHER_KEY=OTHER_KEY-secret\n");
    let shape = &repo.receipts("D-00000000f001")[0]["sandbox"];
    assert_eq!(shape["withheld_env"][0], "GH_TOKEN", "{shape}");

    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("sandbox:\n  forge_credentials: true\n");
    std::fs::write(&config, text).unwrap();
    repo.env
        .git(&["commit", "-q", "-am", "hand over the forge"]);
    let seen = dispatch("D-00000000f002");
    assert!(
        seen.contains("GH_TOKEN=GH_TOKEN-secret\n")
            && seen.contains("GITHUB_TOKEN=GITHUB_TOKEN-secret\n"),
        "{seen}"
    );
    assert!(repo.receipts("D-00000000f002")[0]["sandbox"]["withheld_env"].is_null());
}
