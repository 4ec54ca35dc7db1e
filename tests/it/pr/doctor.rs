//! `vnx doctor` with a `forge:` section: the remote's repository and gh's login.

use crate::common::run;

fn forge_check(r: &crate::common::Run) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "forge")
        .cloned()
        .unwrap_or_else(|| panic!("no forge check: {v:#}"))
}

#[test]
fn doctor_says_whether_gh_is_logged_in_and_which_repository_it_resolves() {
    let (repo, forge, _, _) = super::gated();
    let mut cmd = forge.vnx(&repo);
    cmd.args(["doctor", "--json"]);
    let check = forge_check(&run(cmd));
    assert_eq!(check["status"], "pass", "{check:#}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("logged in") && detail.contains("o/r"),
        "{detail}"
    );

    let mut cmd = forge.vnx(&repo);
    cmd.env_remove("GH_TOKEN")
        .env_remove("GH_HOST")
        .args(["doctor", "--json"]);
    let check = forge_check(&run(cmd));
    assert_eq!(check["status"], "fail", "{check:#}");
    assert!(
        check["hint"].as_str().unwrap().contains("gh auth login"),
        "{check:#}"
    );
}
