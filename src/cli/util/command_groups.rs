//! `vnx --help` lists the commands grouped by what a person is doing, the everyday ones first,
//! instead of one flat list of every command.

/// The groups, in the order `vnx --help` shows them, each with its commands in order; an
/// action's command listed in none goes last in the group its row of the table of actions
/// names ([`groups`]). Every visible command is in exactly one (a test checks it).
const GROUPS: [(&str, &[&str]); 7] = [
    (
        "Dispatch and watch",
        &[
            "dispatch-agent",
            "status",
            "show",
            "wait",
            "follow-up",
            "dashboard",
            "serve",
            "schedule",
            "attach",
            "cancel",
            "pause",
        ],
    ),
    (
        "Answer a worker",
        &["approve", "deny", "review", "dismiss", "accept", "memory"],
    ),
    (
        "Land the work",
        &[
            "gate-check",
            "merge",
            "pr",
            "tidy",
            "worktree-release",
            "clean",
            "recover",
            "resume",
            "prune",
        ],
    ),
    (
        "Try a task more than once",
        &["best-of", "group", "replay", "compare"],
    ),
    (
        "Set up",
        &[
            "init",
            "doctor",
            "mcp",
            "pool",
            "completions",
            "man",
            "help",
        ],
    ),
    (
        "Inspect the ledger and spend",
        &["receipts", "audit-chain", "attest", "constraints", "cost"],
    ),
    ("Run by a worker", &["report"]),
];

/// [`GROUPS`], and the command of each action of the table (`vnx::actions::table`) they do
/// not list last in its row's group.
pub(crate) fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut groups: Vec<_> = GROUPS.iter().map(|(h, c)| (*h, c.to_vec())).collect();
    for row in vnx::actions::table::ACTIONS {
        let top = row.command.split(' ').next().unwrap_or_default();
        if !groups.iter().any(|(_, c)| c.contains(&top))
            && let Some((_, c)) = groups.iter_mut().find(|(h, _)| *h == row.group)
        {
            c.push(top);
        }
    }
    groups
}

/// `cmd` (built, with its commands' descriptions) with its help listing its commands under
/// [`GROUPS`]' headings. clap lays the list out (alignment, wrapping to the terminal), then
/// its entries are put under their headings; a command in no group would be listed last,
/// under `Other commands:`, rather than lost.
pub(crate) fn grouped(cmd: clap::Command) -> clap::Command {
    let listing = cmd
        .clone()
        .help_template("{subcommands}")
        .render_help()
        .to_string();
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in listing.lines() {
        let is_entry = line.starts_with("  ") && !line.starts_with("   ");
        match entries.last_mut() {
            Some((_, text)) if !is_entry => {
                text.push('\n');
                text.push_str(line);
            }
            _ => {
                let name = line.split_whitespace().next().unwrap_or_default();
                entries.push((name.to_owned(), line.to_owned()));
            }
        }
    }
    let mut text = String::new();
    let mut taken = vec![false; entries.len()];
    for (heading, names) in groups() {
        let mut section = String::new();
        for name in names {
            if let Some(i) = entries.iter().position(|(n, _)| n == name) {
                taken[i] = true;
                section.push_str(entries[i].1.trim_end());
                section.push('\n');
            }
        }
        if !section.is_empty() {
            text.push_str(&format!("{heading}:\n{section}\n"));
        }
    }
    let rest: Vec<&str> = entries
        .iter()
        .zip(&taken)
        .filter(|(_, taken)| !**taken)
        .map(|((_, entry), _)| entry.trim_end())
        .collect();
    if !rest.is_empty() {
        text.push_str(&format!("Other commands:\n{}\n\n", rest.join("\n")));
    }
    // Braces in the descriptions are literal, not template tags.
    let text = text.replace('{', "{{").replace('}', "}}");
    cmd.help_template(format!(
        "{{before-help}}{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{text}Options:\n{{options}}{{after-help}}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_command_is_in_exactly_one_group() {
        let cmd = crate::cli::command_for_help();
        let mut visible: Vec<&str> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(clap::Command::get_name)
            .collect();
        visible.sort_unstable();
        let mut grouped: Vec<&str> = groups().into_iter().flat_map(|(_, c)| c).collect();
        grouped.sort_unstable();
        assert_eq!(grouped, visible);
    }

    /// An action's command listed in a group is in its row's: the table and the list agree.
    #[test]
    fn each_action_is_listed_in_its_rows_group() {
        for row in vnx::actions::table::ACTIONS {
            let top = row.command.split(' ').next().unwrap_or_default();
            let listed = GROUPS.iter().find(|(_, c)| c.contains(&top));
            assert!(listed.is_none_or(|(h, _)| *h == row.group), "{row:?}");
        }
    }

    #[test]
    fn help_lists_the_groups_in_order_with_every_command_once() {
        let help = crate::cli::command_for_help().render_help().to_string();
        let mut at = 0;
        for (heading, names) in groups() {
            let found = help[at..]
                .find(&format!("\n{heading}:\n"))
                .unwrap_or_else(|| panic!("no {heading:?} after byte {at}:\n{help}"));
            at += found;
            for name in names {
                let entry = format!("\n  {name} ");
                assert_eq!(help.matches(&entry).count(), 1, "{name}:\n{help}");
                let pos = help.find(&entry).unwrap();
                assert!(pos > at, "{name} is not under {heading:?}:\n{help}");
            }
        }
        assert!(!help.contains("Other commands:"), "{help}");
        assert!(!help.contains("\nCommands:\n"), "{help}");
        assert!(help.contains("\nOptions:\n"), "{help}");
    }
}
