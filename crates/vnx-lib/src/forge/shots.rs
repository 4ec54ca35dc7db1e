//! A dispatch's screenshots taken to its pull request (ADR 0125): `gh` cannot attach an image
//! to a pull request, so the images of each screenshots gate's latest result for the head,
//! each read back only if its bytes still hash as its signed receipt says, are committed as a
//! tree of their own (its parent the head), pushed to `refs/vnx/evidence/<id>` (vnx's ref,
//! replaced on each push) and shown in the body by their raw address at that commit.

use std::path::Path;
use std::time::Duration;

use super::ForgeError;
use crate::evidence::Evidence;
use crate::ids::{CommitId, DispatchId};
use crate::process::{self, Cmd};

/// Where a dispatch's screenshots are pushed.
pub fn evidence_ref(id: &DispatchId) -> String {
    format!("refs/vnx/evidence/{id}")
}

/// Pushes dispatch `id`'s screenshots of `head` and returns the body's lines that show them;
/// empty when it has none.
pub(super) fn push(
    root: &Path,
    (remote, repo): (&str, &str),
    ev: &Evidence,
    (id, head): (&DispatchId, &CommitId),
    timeout: Duration,
) -> Result<String, ForgeError> {
    let results = crate::gate::shots::latest(ev);
    let mut entries = String::new();
    let (mut shown, mut left_out) = (Vec::new(), Vec::new());
    for r in &results {
        for shot in &r.screenshots {
            // As the gate's directory names it: `<n>-<W>x<H>.png`, the page's number first.
            let file = Path::new(&shot.file).file_name().unwrap_or_default();
            let name = format!("{}-{}", r.gate, file.to_string_lossy());
            let blob = crate::gate::shots::image(shot).and_then(|png| {
                let cmd = git(root)
                    .args(["hash-object", "-w", "--stdin"])
                    .stdin_bytes(png);
                process::run_ok(&cmd).map_err(|e| e.to_string())
            });
            match blob {
                Ok(blob) => {
                    entries.push_str(&format!("100644 blob {}\t{name}\n", blob.trim()));
                    shown.push((shot, name));
                }
                Err(why) => left_out.push(why),
            }
        }
    }
    if shown.is_empty() && left_out.is_empty() {
        return Ok(String::new());
    }
    let failed = |e: process::ProcessError| ForgeError::PushFailed {
        remote: remote.to_owned(),
        branch: evidence_ref(id),
        head: head.to_string(),
        detail: super::text::line(&e.to_string(), 600),
    };
    let mut lines = String::from("- Screenshots");
    if !shown.is_empty() {
        let tree = process::run_ok(&git(root).arg("mktree").stdin_bytes(entries.into_bytes()))
            .map_err(failed)?;
        let message = format!("vnx: the screenshots of dispatch {id} at {head}");
        let commit = process::run_ok(
            &git(root)
                .args(["commit-tree", tree.trim(), "-p"])
                .arg(head.as_str())
                .arg("-m")
                .arg(message),
        )
        .map_err(failed)?;
        let commit = commit.trim();
        let to = evidence_ref(id);
        let pushed = CommitId::parse(commit).unwrap_or_else(|_| head.clone());
        super::push::push_refspec(
            root,
            remote,
            &format!("+{commit}:{to}"),
            (&pushed, &to),
            timeout,
        )?;
        // `host/owner/name` for an enterprise host, else GitHub's `owner/name`.
        let base = match repo.matches('/').count() {
            2 => format!("https://{repo}"),
            _ => format!("https://github.com/{repo}"),
        };
        lines.push_str(&format!(", pushed to `{to}` (commit `{commit}`):\n\n"));
        for (shot, name) in shown {
            lines.push_str(&format!(
                "  ![{path} at {w}×{h}]({base}/raw/{commit}/{name}) `{path}` {w}×{h}, sha256 `{sha}`\n",
                path = shot.path,
                w = shot.width,
                h = shot.height,
                sha = shot.sha256,
            ));
        }
    } else {
        lines.push_str(":\n");
    }
    for why in left_out {
        lines.push_str(&format!("  - left out: {}\n", super::text::line(&why, 300)));
    }
    Ok(lines)
}

fn git(root: &Path) -> Cmd {
    Cmd::git().arg("-C").arg(root)
}
