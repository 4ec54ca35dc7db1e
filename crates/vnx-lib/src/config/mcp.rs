//! The `mcp:` section of `.vnx/config.yaml`: which acting tools `vnx mcp --act` offers
//! (`act: [dispatch, wait, …]` or `act: all`; none unless listed), validated with line and
//! column (ADR 0095).

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator, q};
use crate::action_table::ACTIONS;

/// An acting tool of `vnx mcp --act`: one the table of actions (`action_table`) gives the
/// MCP server, each the vnx command of its row; ordered as the table is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActTool(usize);

impl ActTool {
    /// Every acting tool, in the table's order.
    pub fn all() -> Vec<ActTool> {
        (ACTIONS.iter().enumerate())
            .filter(|(_, r)| r.tool.is_some())
            .map(|(i, _)| ActTool(i))
            .collect()
    }

    /// Its name, as the config writes it and the MCP client sees it.
    pub fn name(self) -> &'static str {
        ACTIONS[self.0].tool.unwrap_or_default()
    }

    /// The tool named `name`.
    pub fn named(name: &str) -> Option<ActTool> {
        ActTool::all().into_iter().find(|t| t.name() == name)
    }
}

/// `mcp:`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct McpConfig {
    /// The acting tools `vnx mcp --act` offers, in [`ActTool::all`]'s order; empty (the
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
                    act: ActTool::all(),
                });
            }
            RawAct::All(other) => vec![other],
            RawAct::Some(names) => names,
        };
        let mut tools = Vec::new();
        for name in names {
            let Some(tool) = ActTool::named(&name) else {
                let all: Vec<&str> = ActTool::all().into_iter().map(ActTool::name).collect();
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
        assert_eq!(read("mcp: {act: all}\n").unwrap(), ActTool::all());
        let named = |names: &[&str]| -> Vec<ActTool> {
            names.iter().map(|n| ActTool::named(n).unwrap()).collect()
        };
        assert_eq!(
            read("mcp: {act: [merge, dispatch, wait, merge]}\n").unwrap(),
            named(&["dispatch", "wait", "merge"])
        );
        assert_eq!(read("mcp: {act: []}\n").unwrap(), vec![]);
        for bad in ["mcp: {act: [dispatch, delete]}\n", "mcp: {act: some}\n"] {
            let e = read(bad).unwrap_err().to_string();
            assert!(e.contains("is not an acting tool"), "{bad}: {e}");
            assert!(e.contains("c.yaml:1"), "{e}");
        }
        assert!(read("mcp: {acts: all}\n").is_err());
        assert_eq!(ActTool::all().len(), 13);
        for t in ActTool::all() {
            assert_eq!(ActTool::named(t.name()), Some(t));
        }
    }
}
