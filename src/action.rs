//! What became of an action a front end did (the library's [`Action`], `vnx::actions::act`),
//! as the dashboard's footer and the web page show it. Doing one is the command line's
//! (`cli/util/acts`), which hands that to the front ends.

pub use vnx::actions::act::Action;

/// How an action's command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The action.
    pub action: Action,
    /// Its exit status (`None`: it could not be run, or a signal ended it).
    pub code: Option<i32>,
    /// What it said, on one line.
    pub summary: String,
    /// What to do about a refusal or failure, as the vnx command of the same name would
    /// print it after `hint:` (the library's word, never the front end's).
    pub hint: Option<String>,
}

impl Outcome {
    /// Whether it did what was asked (exit 0).
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// The line the footer shows.
    pub fn message(&self) -> String {
        let verdict = match self.code {
            Some(0) => "ok",
            Some(1) => "no",
            _ => "failed",
        };
        let id = (self.action.dispatch_id()).map_or(String::new(), |id| format!(" {id}"));
        format!(
            "vnx {}{id}: {verdict}: {}",
            self.action.command(),
            self.summary
        )
    }
}
