//! Where `serve.notify:` posts notices, and whether workers can read it (ADR 0104): an
//! address written in `.vnx/config.yaml` warns (its notices carry no approve or deny links),
//! naming the file, the key and the fix; an address kept in a file is read as `vnx serve`
//! reads it, and fails when it cannot be (the server would not start).

use std::path::Path;

use super::Check;
use crate::config::ServeConfig;
use crate::notice::address;

const NAME: &str = "notices";

/// One check for each address of `serve.notify:` that is in the repository at `root` or
/// cannot be read (`~/` resolved against `home`), else one that passes.
pub(super) fn addresses(serve: &ServeConfig, root: &Path, home: Option<&Path>) -> Vec<Check> {
    let mut checks: Vec<Check> = (address::exposed(serve).iter())
        .map(|x| Check::warn(NAME, x.says(), x.fix()))
        .collect();
    for e in serve.notify.iter().filter(|e| address::carries_links(e)) {
        let Some(path) = address::kept_path(e, home) else {
            checks.push(Check::fail(
                NAME,
                format!("{} names ~, and HOME is not set", e.shown()),
                "set HOME, or name the file by an absolute path",
            ));
            continue;
        };
        if let Err(err) = address::read_kept(e, &path, root) {
            let hint = err
                .hint()
                .unwrap_or_else(|| "write the webhook's or ntfy topic's address into it".into());
            let detail = format!("{}: `vnx serve` cannot start: {err}", e.shown());
            checks.push(Check::fail(NAME, detail, hint));
        }
    }
    if checks.is_empty() {
        let n = serve.notify.len();
        checks.push(Check::pass(
            NAME,
            format!(
                "the {} serve.notify lists {} kept outside the repository: notices to {} carry \
                 approve and deny links",
                super::check::count(n, "address", "addresses"),
                if n == 1 { "is" } else { "are" },
                if n == 1 { "it" } else { "them" },
            ),
        ));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Endpoint, EndpointKind};
    use crate::doctor::Status;

    #[test]
    fn an_address_in_the_config_warns_and_a_kept_one_passes() {
        let home = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let kept = Endpoint {
            kind: EndpointKind::Ntfy,
            url: String::new(),
            from_file: Some("~/ntfy".into()),
        };
        std::fs::write(home.path().join("ntfy"), "https://ntfy.example/t\n").unwrap();
        let mut serve = ServeConfig {
            notify: vec![kept.clone()],
            ..ServeConfig::default()
        };
        let checks = addresses(&serve, root.path(), Some(home.path()));
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].status, Status::Pass, "{checks:?}");
        assert!(
            checks[0]
                .detail
                .contains("1 address serve.notify lists is kept"),
            "{}",
            checks[0].detail
        );

        serve.notify.push(Endpoint {
            kind: EndpointKind::Webhook,
            url: "https://example.org/hook".into(),
            from_file: None,
        });
        let checks = addresses(&serve, root.path(), Some(home.path()));
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert_eq!(checks[0].status, Status::Warn);
        assert!(
            checks[0]
                .detail
                .starts_with(".vnx/config.yaml serve.notify[1] (`webhook: "),
            "{}",
            checks[0].detail
        );
        assert!(
            checks[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("file:~/.config/vnx/webhook"),
            "{:?}",
            checks[0].hint
        );

        // A kept file that is missing fails: the server would not start.
        std::fs::remove_file(home.path().join("ntfy")).unwrap();
        let checks = addresses(&serve, root.path(), Some(home.path()));
        assert_eq!(checks.len(), 2, "{checks:?}");
        assert_eq!(checks[1].status, Status::Fail);
        assert!(checks[1].detail.contains("cannot start"), "{checks:?}");
    }
}
