//! The forge (only when the config has a `forge:` section): the remote exists and names a
//! GitHub repository, `gh` is installed and logged in, and which repository it resolves.

use std::path::Path;

use super::Check;
use crate::config::ForgeConfig;
use crate::forge::{Forge, ForgeError};

const NAME: &str = "forge";

pub(super) fn check(root: &Path, config: &ForgeConfig, gh: Option<&Path>) -> Check {
    let Some(gh) = gh else {
        return Check::fail(
            NAME,
            "`gh` (GitHub's CLI) is not on PATH: `vnx pr` cannot reach the forge",
            "install it (Debian: `apt-get install gh`), then `gh auth login`",
        );
    };
    let forge = match Forge::resolve(root, config, gh) {
        Ok(f) => f,
        Err(e) => return failed(&e),
    };
    if let Err(e) = forge.gh.run(["auth", "status"]) {
        return failed(&e);
    }
    let args = [
        "repo",
        "view",
        forge.repo.as_str(),
        "--json",
        "nameWithOwner",
        "-q",
        ".nameWithOwner",
    ];
    match forge.gh.run(args) {
        Ok(answer) => Check::pass(
            NAME,
            format!(
                "gh ({}) is logged in; remote {} is {} on GitHub, which gh resolves as {}",
                gh.display(),
                config.remote,
                forge.repo,
                crate::forge::text::line(&answer.stdout, 200)
            ),
        ),
        Err(e) => failed(&e),
    }
}

fn failed(e: &ForgeError) -> Check {
    Check::fail(
        NAME,
        e.to_string(),
        e.hint()
            .unwrap_or_else(|| "run `gh auth status` to see more".into()),
    )
}
