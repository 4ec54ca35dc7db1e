//! A wait's last part, on done dispatches' pull requests (`vnx wait --until-pr`): the pull
//! requests followed through the front end's forge until each is decided (`UntilPr`) or the
//! timeout comes, each change heard once.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use super::front::{Front, UntilPr, WaitEvent};
use crate::forge::watch::PrStatus;
use crate::ids::DispatchId;
use crate::project::Project;

/// A wait on dispatches' pull requests.
pub(super) struct Following<'a> {
    pub(super) project: &'a Project,
    pub(super) what: UntilPr,
    /// How often the forge may be read.
    pub(super) refresh: Duration,
    pub(super) deadline: Option<Instant>,
}

impl Following<'_> {
    /// Waits on the pull request of each of `ids`, telling `front` each change (`shown`: what
    /// each was heard as when its dispatch settled, which is also what a change is judged
    /// against, so that one that came between that and the first read here counts); whether
    /// every one ended well.
    /// One without a pull request ends badly at once.
    pub(super) fn follow(
        &self,
        front: &mut dyn Front,
        ids: &[DispatchId],
        shown: &BTreeMap<DispatchId, PrStatus>,
    ) -> ControlFlow<(), bool> {
        // The supervisor opens a pull request after the completion, holding the dispatch's
        // lock to its end: taking it waits for that.
        for id in ids {
            let dir = self.project.data_dir().join("dispatches").join(id.as_str());
            if dir.is_dir()
                && let Ok(lock) = crate::dispatch::liveness::hold(&dir)
            {
                drop(lock);
            }
        }
        let mut all_ok = true;
        let mut pending = front.branches(ids);
        for id in ids {
            if !pending.iter().any(|(p, _)| p == id) {
                front.heard(WaitEvent::NoPr { id })?;
                all_ok = false;
            }
        }
        let mut seen: BTreeMap<DispatchId, (PrStatus, String)> = BTreeMap::new();
        while !pending.is_empty() {
            let prs = front.pull_requests(&pending);
            let mut still = Vec::new();
            for (id, branch) in pending {
                let Some(pr) = prs.get(&id) else {
                    front.heard(WaitEvent::NoPr { id: &id })?;
                    all_ok = false;
                    continue;
                };
                let line = pr.line();
                // Heard when it changed since it was last heard (here, or as it settled).
                let (first, last) = match seen.get(&id) {
                    Some((f, l)) => (f.clone(), Some(l.clone())),
                    None => (
                        shown.get(&id).unwrap_or(pr).clone(),
                        shown.get(&id).map(PrStatus::line),
                    ),
                };
                if last.as_ref() != Some(&line) {
                    front.heard(WaitEvent::Pr { id: &id, pr })?;
                }
                seen.insert(id.clone(), (first.clone(), line));
                match self.what.decide(&first, pr) {
                    Some(ok) => all_ok &= ok,
                    None => still.push((id, branch)),
                }
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            let mut pause = self.refresh;
            if let Some(d) = self.deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    for (id, _) in &pending {
                        front.heard(WaitEvent::PrStillWaiting {
                            id,
                            what: self.what,
                        })?;
                    }
                    return ControlFlow::Continue(false);
                }
                pause = pause.min(left);
            }
            std::thread::sleep(pause);
        }
        ControlFlow::Continue(all_ok)
    }
}
