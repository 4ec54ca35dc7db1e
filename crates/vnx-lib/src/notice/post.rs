//! A notice posted to one endpoint with curl, through vnx-core's `Cmd` (ADR 0090): argv
//! only, curl's own config file never read (`-q` first), http and https only, no redirect
//! followed, bounded in time (`--max-time`) and in what is read back, an HTTP error a
//! failure (`--fail`). The body goes on stdin: nothing another party wrote (a worker's
//! question, a title) is ever an argument or a header. A webhook gets the notice as JSON;
//! ntfy gets its JSON publish format at the server's root, with a view action for the
//! dispatch's page and, for a permission prompt, http POST actions for approve and deny:
//! only to an address kept from the workers (ADR 0104), every other gets the notice without
//! its links.

use std::time::Duration;

use serde_json::json;

use super::{Notice, NoticeError};
use crate::config::{Endpoint, EndpointKind, ntfy_topic, shown_url};
use crate::process::{Cmd, ProcessError};

/// The most of curl's output kept (its errors), in bytes.
const MAX_OUTPUT: usize = 4096;
/// The most of curl's error shown, in characters.
const MAX_WHY: usize = 300;

/// The JSON a webhook gets.
pub fn webhook_body(n: &Notice) -> serde_json::Value {
    json!({
        "event": "vnx.notice",
        "dispatch_id": n.dispatch.as_str(),
        "state": n.state,
        "title": n.title,
        "waits_for": n.waits_for,
        "page": n.page,
        "approve": n.approve,
        "deny": n.deny,
        "expires": n.expires.map(|t| t.to_string()),
        "receipt": n.receipt,
    })
}

/// ntfy's JSON publish format for `topic`.
pub fn ntfy_body(n: &Notice, topic: &str) -> serde_json::Value {
    let mut actions = vec![json!({"action": "view", "label": "Open", "url": n.page})];
    for (label, url) in [("Approve", &n.approve), ("Deny", &n.deny)] {
        if let Some(url) = url {
            actions.push(json!({
                "action": "http", "label": label, "url": url, "method": "POST", "clear": true,
            }));
        }
    }
    let message = n
        .waits_for
        .clone()
        .unwrap_or_else(|| format!("{} is {}", n.dispatch, n.state));
    json!({
        "topic": topic,
        "title": n.title,
        "message": message,
        "click": n.page,
        "tags": [n.state],
        "actions": actions,
    })
}

/// The address a notice goes to at `e` and its body: without its approve and deny links
/// when `e`'s address is one workers read (ADR 0104: [`super::address::carries_links`]).
pub fn request(e: &Endpoint, n: &Notice) -> (String, serde_json::Value) {
    let unlinked;
    let n = if super::address::carries_links(e) {
        n
    } else {
        unlinked = Notice {
            approve: None,
            deny: None,
            expires: None,
            ..n.clone()
        };
        &unlinked
    };
    match e.kind {
        EndpointKind::Webhook => (e.url.clone(), webhook_body(n)),
        EndpointKind::Ntfy => {
            // The config checked the address has a topic; one that does not posts nothing
            // useful, and the server says so.
            let (root, topic) =
                ntfy_topic(&e.url).unwrap_or_else(|| (e.url.clone(), String::new()));
            (root, ntfy_body(n, &topic))
        }
    }
}

/// curl's argv for a JSON POST to `url` taking at most `timeout`, the body on stdin.
pub fn curl(url: &str, timeout: Duration) -> Cmd {
    Cmd::new("curl")
        .args(["-q", "--silent", "--show-error", "--fail"])
        .args(["--proto", "=http,https", "--max-redirs", "0"])
        .args(["--max-time", &timeout.as_secs().max(1).to_string()])
        .args(["--max-filesize", "65536", "--output", "/dev/null"])
        .args(["-X", "POST", "-H", "Content-Type: application/json"])
        .args(["--data-binary", "@-", "--url", url])
        .timeout(timeout + Duration::from_secs(5))
        .max_output(MAX_OUTPUT)
}

/// Posts notice `n` to `e`, curl given `timeout`.
pub fn post(e: &Endpoint, n: &Notice, timeout: Duration) -> Result<(), NoticeError> {
    let (url, body) = request(e, n);
    let endpoint = e.shown();
    let body = serde_json::to_vec(&body).expect("a notice serializes");
    let out =
        crate::process::run(&curl(&url, timeout).stdin_bytes(body)).map_err(|err| match err {
            ProcessError::NotFound { .. } => NoticeError::NoCurl {
                endpoint: endpoint.clone(),
            },
            ProcessError::TimedOut { .. } => NoticeError::TimedOut {
                endpoint: endpoint.clone(),
                seconds: timeout.as_secs(),
            },
            other => NoticeError::Post {
                endpoint: endpoint.clone(),
                why: other.to_string(),
            },
        })?;
    if out.status.success() {
        return Ok(());
    }
    // curl names the host at most; the address as written may hold credentials.
    let said = String::from_utf8_lossy(&out.stderr).replace(&e.url, &shown_url(&e.url));
    let said = said.replace(&url, &shown_url(&url));
    Err(NoticeError::Post {
        endpoint,
        why: crate::provider::transcript::question(&format!("{said} ({})", out.status), MAX_WHY),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DispatchId;

    fn notice() -> Notice {
        Notice {
            dispatch: DispatchId::parse("D-0123456789ab").unwrap(),
            state: "blocked",
            title: "D-0123456789ab is blocked: x".into(),
            waits_for: Some("Bash: echo \"}".into()),
            page: "https://h/d/D-0123456789ab".into(),
            approve: Some("https://h/l/AAA".into()),
            deny: Some("https://h/l/BBB".into()),
            expires: None,
            receipt: "ab".repeat(32),
        }
    }

    #[test]
    fn ntfy_gets_its_publish_format_at_the_root_with_three_actions() {
        let e = Endpoint {
            kind: EndpointKind::Ntfy,
            url: "https://ntfy.sh/vnx-alerts".into(),
            from_file: Some("~/.config/vnx/ntfy".into()),
        };
        let (url, body) = request(&e, &notice());
        assert_eq!(url, "https://ntfy.sh");
        assert_eq!(body["topic"], "vnx-alerts");
        assert_eq!(body["message"], "Bash: echo \"}");
        assert_eq!(body["click"], "https://h/d/D-0123456789ab");
        let actions = body["actions"].as_array().unwrap();
        assert_eq!(actions.len(), 3);
        assert_eq!(actions[1]["action"], "http");
        assert_eq!(actions[1]["method"], "POST");
        assert_eq!(actions[2]["url"], "https://h/l/BBB");
    }

    #[test]
    fn an_address_written_in_the_config_gets_no_links() {
        for kind in [EndpointKind::Ntfy, EndpointKind::Webhook] {
            let e = Endpoint {
                kind,
                url: "https://ntfy.sh/vnx-alerts".into(),
                from_file: None,
            };
            let (_, body) = request(&e, &notice());
            let text = body.to_string();
            assert!(
                !text.contains("https://h/l/"),
                "no link in what a worker may read: {text}"
            );
            if kind == EndpointKind::Ntfy {
                let actions = body["actions"].as_array().unwrap();
                assert_eq!(actions.len(), 1, "{text}");
                assert_eq!(actions[0]["url"], "https://h/d/D-0123456789ab");
            } else {
                assert!(
                    body["approve"].is_null() && body["deny"].is_null(),
                    "{text}"
                );
                assert_eq!(body["page"], "https://h/d/D-0123456789ab");
            }
        }
    }

    #[test]
    fn curl_reads_no_config_and_takes_the_body_on_stdin() {
        let argv = curl("https://h/x", Duration::from_secs(7)).display();
        assert!(argv.starts_with("curl -q "), "{argv}");
        assert!(argv.contains("--max-time 7 "), "{argv}");
        assert!(
            argv.contains("--data-binary @- --url https://h/x"),
            "{argv}"
        );
        assert!(!argv.contains(" -L") && !argv.contains(" -K"), "{argv}");
    }
}
