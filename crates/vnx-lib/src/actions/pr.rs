//! Fixing a dispatch's pull request (`vnx pr fix`, and the reactions of `vnx pr watch`): what its forge says
//! is wrong (failing checks, unresolved review threads, changes asked for) gathered, written
//! down beside the project's data as the instruction, and the follow-up that fixes it asked
//! for, which opens or updates the pull request again once it is done and its gates pass.

use std::path::{Path, PathBuf};

use super::ActionError;
use super::follow_up::FollowUp;
use crate::forge::{self, Context, Forge, fix::Feedback};
use crate::ids::DispatchId;

/// A fix asked for: what the pull request needs, the follow-up that does it, and where its
/// instruction was written.
#[derive(Debug)]
pub struct Fix {
    /// What the forge says is wrong.
    pub feedback: Feedback,
    /// The follow-up that fixes it (its own id chosen, its pull request opened when done).
    pub follow_up: FollowUp,
    /// The instruction as written, `.vnx-data/forge/fix-<id>.md`.
    pub file: PathBuf,
}

impl Fix {
    /// Forgets a fix whose follow-up did not start: nothing is left asking for it.
    pub fn abandon(&self, data_dir: &Path) {
        if let Some(id) = &self.follow_up.new_id {
            let _ = std::fs::remove_file(forge::auto::request_path(data_dir, id));
        }
        let _ = std::fs::remove_file(&self.file);
    }

    /// What the pull request needs, in a line.
    pub fn line(&self) -> String {
        let f = &self.feedback;
        let review = if f.review_decision.is_empty() {
            String::new()
        } else {
            format!(", review {}", f.review_decision)
        };
        let outsiders = f
            .left_out
            .line()
            .map_or_else(String::new, |l| format!("; {l}"));
        format!(
            "{}  pull request #{}: {} failing check(s), {} unresolved review thread(s)\
             {review}{outsiders}",
            f.dispatch_id,
            f.number,
            f.failed_checks.len(),
            f.threads.len(),
        )
    }
}

/// The fix of dispatch `id`'s pull request, its instruction written under `data_dir`; one
/// with nothing to fix is [`ActionError::NothingToFix`].
pub fn fix(
    ctx: &Context<'_>,
    forge: &Forge,
    data_dir: &Path,
    id: &DispatchId,
) -> Result<Fix, ActionError> {
    fix_as(ctx, forge, data_dir, id, DispatchId::fresh())
}

/// [`fix`], its follow-up's id `new_id` chosen by the caller (a reaction records it before
/// the follow-up starts, ADR 0093).
pub fn fix_as(
    ctx: &Context<'_>,
    forge: &Forge,
    data_dir: &Path,
    id: &DispatchId,
    new_id: DispatchId,
) -> Result<Fix, ActionError> {
    let feedback = forge::fix::gather(ctx, forge, id)?;
    if feedback.is_empty() {
        return Err(ActionError::NothingToFix {
            id: id.clone(),
            number: feedback.number,
            outsiders: feedback
                .left_out
                .line()
                .map_or_else(String::new, |l| format!("; {l}")),
        });
    }
    let dir = data_dir.join("forge");
    let file = dir.join(format!("fix-{new_id}.md"));
    let instruction = forge::fix::instruction(&feedback);
    crate::files::private_dir(&dir)
        .and_then(|()| crate::files::write_atomic_private(&file, instruction.as_bytes(), false))
        .map_err(|source| ActionError::Io {
            path: file.clone(),
            source,
        })?;
    let follow_up = FollowUp {
        new_id: Some(new_id),
        title: Some(format!("fix pull request #{}", feedback.number)),
        instruction,
        open_pr: true,
        ..FollowUp::of(id.clone())
    };
    Ok(Fix {
        feedback,
        follow_up,
        file,
    })
}
