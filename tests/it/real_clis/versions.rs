//! What a real CLI's installation says its version is, against what its `--version` prints:
//! a launch records the first without starting the CLI, so the two must agree.

use vnx::provider::cli::{Provider, of};

#[test]
#[ignore = "real CLIs: run by bin/test --all"]
fn installed_versions_are_what_version_prints() {
    let bin = super::cli_bin();
    let mut read = 0;
    for provider in Provider::ALL {
        let binary = bin.join(provider.name());
        if !binary.exists() {
            continue;
        }
        let Some(installed) = of(provider).installed_version(&binary) else {
            continue;
        };
        let printed = vnx::provider::version::read(&binary);
        assert_eq!(
            Some(installed),
            printed,
            "{provider:?}: {}",
            binary.display()
        );
        read += 1;
    }
    assert!(
        read >= 3,
        "gemini's, opencode's and qwen's installs name their versions"
    );
}
