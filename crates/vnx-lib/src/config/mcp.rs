//! The `mcp:` section of `.vnx/config.yaml`: which acting tools `vnx mcp --act` offers
//! (`act: [dispatch, wait, …]` or `act: all`; none unless listed), validated with line and
//! column (ADR 0095).

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator, q};

/// An acting tool of `vnx mcp --act`, each the vnx command of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActTool {
    /// `vnx dispatch-agent --detach`.
    Dispatch,
    /// `vnx wait`, bounded.
    Wait,
    /// `vnx follow-up --detach`.
    FollowUp,
    /// `vnx approve`.
    Approve,
    /// `vnx deny`.
    Deny,
    /// `vnx review --comment` and `vnx review --send`.
    Review,
    /// `vnx pr open`.
    PrOpen,
    /// `vnx pr fix --detach`.
    PrFix,
    /// `vnx pr merge`.
    PrMerge,
    /// `vnx merge`.
    Merge,
    /// `vnx cancel`.
    Cancel,
    /// `vnx dismiss`.
    Dismiss,
}

impl ActTool {
    /// Every acting tool, in the order they are listed.
    pub const ALL: [ActTool; 12] = [
        ActTool::Dispatch,
        ActTool::Wait,
        ActTool::FollowUp,
        ActTool::Approve,
        ActTool::Deny,
        ActTool::Review,
        ActTool::PrOpen,
        ActTool::PrFix,
        ActTool::PrMerge,
        ActTool::Merge,
        ActTool::Cancel,
        ActTool::Dismiss,
    ];

    /// Its name, as the config writes it and the MCP client sees it.
    pub fn name(self) -> &'static str {
        match self {
            ActTool::Dispatch => "dispatch",
            ActTool::Wait => "wait",
            ActTool::FollowUp => "follow_up",
            ActTool::Approve => "approve",
            ActTool::Deny => "deny",
            ActTool::Review => "review",
            ActTool::PrOpen => "pr_open",
            ActTool::PrFix => "pr_fix",
            ActTool::PrMerge => "pr_merge",
            ActTool::Merge => "merge",
            ActTool::Cancel => "cancel",
            ActTool::Dismiss => "dismiss",
        }
    }

    /// The tool named `name`.
    pub fn named(name: &str) -> Option<ActTool> {
        ActTool::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether it decides for a dispatch (answers its prompt or merges its work), which a
    /// dispatch's own worker may never do for itself or a dispatch it started.
    pub fn governs(self) -> bool {
        matches!(
            self,
            ActTool::Approve | ActTool::Deny | ActTool::Merge | ActTool::PrMerge
        )
    }
}

/// `mcp:`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct McpConfig {
    /// The acting tools `vnx mcp --act` offers, in [`ActTool::ALL`]'s order; empty (the
    /// default): none.
    pub act: Vec<ActTool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMcp {
    act: Option<Spanned<RawAct>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAct {
    All(String),
    Some(Vec<String>),
}

impl Validator<'_> {
    pub(super) fn mcp(&self, raw: RawMcp) -> Checked<McpConfig> {
        let Some(act) = raw.act else {
            return Ok(McpConfig::default());
        };
        let names = match act.value {
            RawAct::All(all) if all == "all" => {
                return Ok(McpConfig {
                    act: ActTool::ALL.into(),
                });
            }
            RawAct::All(other) => vec![other],
            RawAct::Some(names) => names,
        };
        let mut tools = Vec::new();
        for name in names {
            let Some(tool) = ActTool::named(&name) else {
                let all: Vec<&str> = ActTool::ALL.iter().map(|t| t.name()).collect();
                let msg = format!(
                    "mcp.act: {} is not an acting tool: use `all` or a list of {}",
                    q(&name),
                    all.join(", ")
                );
                return self.err(&act.referenced, msg);
            };
            tools.push(tool);
        }
        tools.sort();
        tools.dedup();
        Ok(McpConfig { act: tools })
    }
}

#[cfg(test)]
mod tests {
    use super::ActTool;
    use crate::config::parse;
    use std::path::Path;

    #[test]
    fn act_takes_all_or_a_list_of_tools_and_nothing_else() {
        let read = |text: &str| parse(text, Path::new("c.yaml")).map(|c| c.mcp.act);
        assert_eq!(read("version: 1\n").unwrap(), vec![]);
        assert_eq!(read("mcp: {act: all}\n").unwrap(), ActTool::ALL.to_vec());
        assert_eq!(
            read("mcp: {act: [merge, dispatch, wait, merge]}\n").unwrap(),
            vec![ActTool::Dispatch, ActTool::Wait, ActTool::Merge]
        );
        assert_eq!(read("mcp: {act: []}\n").unwrap(), vec![]);
        for bad in ["mcp: {act: [dispatch, delete]}\n", "mcp: {act: some}\n"] {
            let e = read(bad).unwrap_err().to_string();
            assert!(e.contains("is not an acting tool"), "{bad}: {e}");
            assert!(e.contains("c.yaml:1"), "{e}");
        }
        assert!(read("mcp: {acts: all}\n").is_err());
        for t in ActTool::ALL {
            assert_eq!(ActTool::named(t.name()), Some(t));
        }
    }
}
