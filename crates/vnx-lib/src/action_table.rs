//! The one table of the actions a person or an agent does to dispatches (`actions::table`;
//! a floor below the configuration, whose `mcp.act` names its tools): for each, the vnx
//! command that does it, the MCP tool that does it when there is one, whether it decides for
//! a dispatch (which a dispatch's own worker never does for itself, `guard`), whether a front
//! end asks the person before doing it, and which front ends offer it; and what a front end
//! draws from it alone for an action that needs nothing but the dispatch: `vnx --help`'s
//! group, the dashboard's key and its help, the MCP tool, the page's button. The dashboard's
//! confirmations and keys, the MCP server's tool list, the page's buttons and the tests that
//! compare each front end's offer with it read it from here.

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
    /// The heading `vnx --help` lists its command under.
    pub group: &'static str,
    /// The dashboard's key that does it on the selected dispatch, when it needs nothing more
    /// (`act::Action::on`).
    pub key: Option<char>,
    /// That key as the dashboard's help shows it (`Enter a`), its key bar's short form
    /// (`m:merge`) and what it does, as the help says it.
    pub key_help: Option<(&'static str, &'static str, &'static str)>,
    /// Its MCP tool's description, when the server builds the tool from the row (id only).
    pub tool_says: Option<&'static str>,
    /// The page's button (label, question asked first), shown as `act::Action::called_for` says.
    pub button: Option<(&'static str, Option<&'static str>)>,
}

use Front::{Cli, Dashboard, Mcp, Page};

/// `vnx --help`'s headings.
const WATCH: &str = "Dispatch and watch";
const ANSWER: &str = "Answer a worker";
const LAND: &str = "Land the work";

const fn row(
    command: &'static str,
    tool: Option<&'static str>,
    (governs, asks_first): (bool, bool),
    fronts: &'static [Front],
    group: &'static str,
) -> Row {
    Row {
        command,
        tool,
        governs,
        asks_first,
        fronts,
        group,
        key: None,
        key_help: None,
        tool_says: None,
        button: None,
    }
}

impl Row {
    /// The row, done by the dashboard's key `keys` (typed last, after any other way, `Enter
    /// a`) on the selected dispatch; the help says `short` in its key bar and `does`.
    const fn keyed(self, keys: &'static str, short: &'static str, does: &'static str) -> Row {
        let typed = keys.as_bytes()[keys.len() - 1] as char;
        Row {
            key: Some(typed),
            key_help: Some((keys, short, does)),
            ..self
        }
    }

    /// The row, its MCP tool built from it and described as `says`.
    const fn says(self, says: &'static str) -> Row {
        Row {
            tool_says: Some(says),
            ..self
        }
    }

    /// The row, a button of the page labelled `label` that asks `confirm` first.
    const fn button(self, label: &'static str, confirm: Option<&'static str>) -> Row {
        Row {
            button: Some((label, confirm)),
            ..self
        }
    }
}

/// Who offers an action: every front end; the agents' (the command line and MCP); the
/// terminal's; a person's.
const EVERY: &[Front] = &[Cli, Dashboard, Page, Mcp];
const AGENT: &[Front] = &[Cli, Mcp];
const TERMINAL: &[Front] = &[Cli, Dashboard];
const PERSON: &[Front] = &[Cli, Dashboard, Page];

/// Every action, each once.
pub const ACTIONS: &[Row] = &[
    row(
        "dispatch-agent",
        Some("dispatch"),
        (false, false),
        AGENT,
        WATCH,
    ),
    row("wait", Some("wait"), (false, false), AGENT, WATCH),
    row("attach", None, (false, false), TERMINAL, WATCH).keyed(
        "Enter a",
        "a:attach",
        "attach to its pane (the tmux prefix, then d, comes back)",
    ),
    row("follow-up", Some("follow_up"), (false, false), EVERY, WATCH),
    row("review", Some("review"), (false, false), EVERY, ANSWER),
    row("approve", Some("approve"), (true, true), EVERY, ANSWER).keyed(
        "p",
        "p:approve",
        "approve the permission prompt it waits on",
    ),
    row("deny", Some("deny"), (true, true), EVERY, ANSWER).keyed(
        "n",
        "n:deny",
        "deny the permission prompt it waits on",
    ),
    row("accept", None, (false, true), PERSON, ANSWER).keyed(
        "d",
        "d:accept",
        "accept its work as done, committing what it left",
    ),
    row("dismiss", Some("dismiss"), (false, true), EVERY, ANSWER)
        .keyed(
            "i",
            "i:dismiss",
            "dismiss its question without answering it",
        )
        .says(
            "Close an ended worker's question without answering it, as `vnx dismiss` does; \
             the receipt names this client.",
        ),
    row("cancel", Some("cancel"), (false, true), EVERY, WATCH)
        .keyed("c", "c:cancel", "cancel it (its worker is stopped)")
        .says(
            "Stop a running or queued dispatch, as `vnx cancel` does (its worker is stopped; \
             its work is kept).",
        )
        .button(
            "Cancel",
            Some("Cancel this dispatch? Its worker is stopped."),
        ),
    row("gate-check", None, (false, false), PERSON, LAND)
        .keyed("g", "g:gates", "run its role's gates")
        .button("Run gates", None),
    row("merge", Some("merge"), (true, true), EVERY, LAND)
        .keyed("m", "m:merge", "merge it into its base")
        .says(
            "Merge a done dispatch into its base, as `vnx merge ID` does: every merge \
             condition checked on the base's current head (ledger verifies, dispatch done, \
             branch at its recorded head, gates passed, base compatible, main checkout \
             ready), the role's command gates run on the merge. Refused for a dispatch's own \
             worker on itself or a dispatch it started.",
        )
        .button("Merge", Some("Merge this dispatch into its base?")),
    row("worktree-release", None, (false, true), TERMINAL, LAND).keyed(
        "r",
        "r:release",
        "release its landed or pushed worktree and branch",
    ),
    row("clean", None, (false, true), TERMINAL, LAND).keyed(
        "x",
        "x:clean",
        "discard its worktree, branch and uncommitted files",
    ),
    row("tidy", None, (false, true), TERMINAL, LAND),
    // `vnx resume ID --to`: a limited dispatch moved to another CLI (`act::Action::Move`);
    // from a key, a button or a tool, to the next its role's `on_limit` names.
    row("resume", Some("move"), (true, true), EVERY, LAND)
        .keyed(
            "v",
            "v:move",
            "move it from a usage limit to its role's next CLI",
        )
        .says(
            "Move a dispatch waiting out its provider's usage limit to the next CLI its \
             role's `on_limit` names, as `vnx resume ID --to` does: it ends as moved, its \
             worktree kept, and a follow-up on that CLI continues its work.",
        )
        .button(
            "Move to the next CLI",
            Some("Move this dispatch to the next CLI its role names? It ends here and a follow-up there continues its work."),
        ),
    row("pr open", Some("pr_open"), (false, false), AGENT, LAND),
    row("pr fix", Some("pr_fix"), (false, false), AGENT, LAND),
    row("pr merge", Some("pr_merge"), (true, false), AGENT, LAND),
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
            assert!(r.tool.is_some() || r.tool_says.is_none(), "{r:?}");
            assert!(r.fronts.contains(&Page) || r.button.is_none(), "{r:?}");
            assert!(r.fronts.contains(&Dashboard) || r.key.is_none(), "{r:?}");
            assert!(
                r.fronts.contains(&Cli),
                "every action is a command too: {r:?}"
            );
        }
        assert_eq!(by_tool("follow_up").map(|r| r.command), Some("follow-up"));
        assert!(by_command("status").is_none());
    }
}
