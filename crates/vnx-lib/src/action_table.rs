//! The one table of the actions a person or an agent does to dispatches (`actions::table`;
//! a floor below the configuration, whose `mcp.act` names its tools): for each, the vnx
//! command that does it, the MCP tool that does it when there is one, whether it decides for
//! a dispatch (which a dispatch's own worker never does for itself, `guard`), whether a front
//! end asks the person before doing it, and which front ends offer it. The dashboard's
//! confirmations, the MCP server's tool list and the tests that compare each front end's
//! offer with it read it from here.

/// A front end that offers actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    /// The command line.
    Cli,
    /// The terminal dashboard (`vnx dashboard`).
    Dashboard,
    /// The web page (`vnx serve`).
    Page,
    /// The MCP server's acting tools (`vnx mcp --act`).
    Mcp,
}

/// One action of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The vnx command that does it (`pr open`: a subcommand after its command).
    pub command: &'static str,
    /// The MCP tool that does it, when the MCP server offers it.
    pub tool: Option<&'static str>,
    /// Whether it decides for a dispatch: lets its worker act or refuses it, or merges its
    /// work; a dispatch's own worker is refused it for itself and what it started.
    pub governs: bool,
    /// Whether a front end asks the person before it does it (it decides, settles, stops,
    /// merges or discards).
    pub asks_first: bool,
    /// The front ends that offer it.
    pub fronts: &'static [Front],
    /// The dashboard's key that does it on the selected dispatch, when it needs nothing more
    /// (`act::Action::on`).
    pub key: Option<char>,
}

use Front::{Cli, Dashboard, Mcp, Page};

const fn row(
    command: &'static str,
    tool: Option<&'static str>,
    (governs, asks_first): (bool, bool),
    fronts: &'static [Front],
) -> Row {
    Row {
        command,
        tool,
        governs,
        asks_first,
        fronts,
        key: None,
    }
}

/// `row`, done by the dashboard's `key` on the selected dispatch.
const fn keyed(key: char, row: Row) -> Row {
    Row {
        key: Some(key),
        ..row
    }
}

/// Every action, each once.
pub const ACTIONS: &[Row] = &[
    row(
        "dispatch-agent",
        Some("dispatch"),
        (false, false),
        &[Cli, Mcp],
    ),
    row("wait", Some("wait"), (false, false), &[Cli, Mcp]),
    keyed('a', row("attach", None, (false, false), &[Cli, Dashboard])),
    row(
        "follow-up",
        Some("follow_up"),
        (false, false),
        &[Cli, Dashboard, Page, Mcp],
    ),
    row(
        "review",
        Some("review"),
        (false, false),
        &[Cli, Dashboard, Page, Mcp],
    ),
    keyed(
        'p',
        row(
            "approve",
            Some("approve"),
            (true, true),
            &[Cli, Dashboard, Page, Mcp],
        ),
    ),
    keyed(
        'n',
        row(
            "deny",
            Some("deny"),
            (true, true),
            &[Cli, Dashboard, Page, Mcp],
        ),
    ),
    keyed(
        'd',
        row("accept", None, (false, true), &[Cli, Dashboard, Page]),
    ),
    keyed(
        'i',
        row(
            "dismiss",
            Some("dismiss"),
            (false, true),
            &[Cli, Dashboard, Page, Mcp],
        ),
    ),
    keyed(
        'c',
        row(
            "cancel",
            Some("cancel"),
            (false, true),
            &[Cli, Dashboard, Page, Mcp],
        ),
    ),
    keyed(
        'g',
        row("gate-check", None, (false, false), &[Cli, Dashboard, Page]),
    ),
    keyed(
        'm',
        row(
            "merge",
            Some("merge"),
            (true, true),
            &[Cli, Dashboard, Page, Mcp],
        ),
    ),
    keyed(
        'r',
        row("worktree-release", None, (false, true), &[Cli, Dashboard]),
    ),
    keyed('x', row("clean", None, (false, true), &[Cli, Dashboard])),
    row("tidy", None, (false, true), &[Cli, Dashboard]),
    row("pr open", Some("pr_open"), (false, false), &[Cli, Mcp]),
    row("pr fix", Some("pr_fix"), (false, false), &[Cli, Mcp]),
    row("pr merge", Some("pr_merge"), (true, false), &[Cli, Mcp]),
];

/// The action done by vnx command `command`.
pub fn by_command(command: &str) -> Option<&'static Row> {
    ACTIONS.iter().find(|r| r.command == command)
}

/// The action done by MCP tool `tool`.
pub fn by_tool(tool: &str) -> Option<&'static Row> {
    ACTIONS.iter().find(|r| r.tool == Some(tool))
}

/// The action the dashboard's key `key` does.
pub fn by_key(key: char) -> Option<&'static Row> {
    ACTIONS.iter().find(|r| r.key == Some(key))
}

/// The commands of the actions `front` offers, in the table's order.
pub fn offered(front: Front) -> Vec<&'static str> {
    (ACTIONS.iter())
        .filter(|r| r.fronts.contains(&front))
        .map(|r| r.command)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_is_once_and_an_mcp_tool_only_where_mcp_offers_it() {
        for (i, r) in ACTIONS.iter().enumerate() {
            assert!(ACTIONS[..i].iter().all(|o| o.command != r.command), "{r:?}");
            assert_eq!(r.tool.is_some(), r.fronts.contains(&Mcp), "{r:?}");
            assert!(
                r.fronts.contains(&Cli),
                "every action is a command too: {r:?}"
            );
        }
        assert_eq!(by_tool("follow_up").map(|r| r.command), Some("follow-up"));
        assert!(by_command("status").is_none());
    }
}
