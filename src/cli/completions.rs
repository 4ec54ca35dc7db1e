//! `vnx completions SHELL` and `vnx man`: shell completions and the man page, generated from
//! the same clap definitions as `--help`.

use std::process::ExitCode;

use clap::ValueEnum;

use super::CliError;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Print shell completions for bash, zsh or fish
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx completions bash > ~/.local/share/bash-completion/completions/vnx\n  $ vnx completions zsh > ~/.zfunc/_vnx     # with fpath+=(~/.zfunc) in ~/.zshrc\n  $ vnx completions fish > ~/.config/fish/completions/vnx.fish"
)]
pub struct Args {
    /// The shell
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let mut cmd = super::command();
    cmd.build();
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    // Into memory first: a reader that goes away (`| head`) is not a failure.
    let hidden: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| s.is_hide_set())
        .map(|s| s.get_name().to_owned())
        .collect();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "vnx", &mut out);
    // clap_complete offers hidden subcommands among bash's words: vnx's internal ones are
    // not for people.
    let text = String::from_utf8_lossy(&out)
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("opts=\"") {
                hidden
                    .iter()
                    .fold(line.to_owned(), |l, h| l.replace(&format!(" {h} "), " "))
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    // Taught to ask `vnx __complete` for dispatch ids (where a command takes them) and for
    // providers, models and roles (after those options): what they are depends on the
    // project, so no script written once could list them.
    let text = match args.shell {
        Shell::Bash => bash(&text, &id_commands(&cmd)),
        Shell::Zsh => zsh(&text),
        Shell::Fish => fish(&text, &id_commands(&cmd)),
    };
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{text}");
    Ok(ExitCode::SUCCESS)
}

/// The positional arguments that take dispatch ids (or their starts), by their clap ids.
const ID_ARGS: [&str; 4] = ["id", "ids", "a", "b"];

/// The options whose values `vnx __complete` lists, and what it lists for them.
const VALUE_OPTIONS: [(&str, &str); 4] = [
    ("provider", "providers"),
    ("model", "models"),
    ("agent", "roles"),
    ("role", "roles"),
];

/// The visible subcommands (as their words, e.g. `["gate-check"]`) that take dispatch ids.
fn id_commands(cmd: &clap::Command) -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            path.push(sub.get_name().to_owned());
            if sub
                .get_positionals()
                .any(|a| ID_ARGS.contains(&a.get_id().as_str()))
            {
                out.push(path.clone());
            }
            walk(sub, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(cmd, &mut Vec::new(), &mut out);
    out
}

fn bash(text: &str, id_commands: &[Vec<String>]) -> String {
    let ask = |kind: &str| {
        format!(
            "COMPREPLY=($(compgen -W \"$(vnx __complete {kind} 2>/dev/null | cut -f1)\" -- \"${{cur}}\"))"
        )
    };
    let blocks: Vec<String> = id_commands
        .iter()
        .map(|path| {
            let words: String = path
                .iter()
                .map(|w| format!("__subcmd__{}", w.replace('-', "__")))
                .collect();
            format!("        vnx{words})")
        })
        .collect();
    let mut out = Vec::new();
    let (mut in_ids, mut option) = (false, None::<&str>);
    for line in text.lines() {
        if line.starts_with("        vnx") && line.ends_with(')') {
            in_ids = blocks.iter().any(|b| b == line);
        }
        let trimmed = line.trim();
        if let Some(kind) = option.take()
            && trimmed == "COMPREPLY=($(compgen -f \"${cur}\"))"
        {
            out.push(format!("                    {}", ask(kind)));
            continue;
        }
        option = VALUE_OPTIONS
            .iter()
            .find(|(long, ..)| trimmed == format!("--{long})"))
            .map(|(_, kind)| *kind);
        if in_ids && trimmed == "if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then" {
            // The first word after the command is an id, not an option.
            out.push("            if [[ ${cur} == -* ]] ; then".to_owned());
            continue;
        }
        if in_ids && trimmed == "COMPREPLY=()" {
            out.push(format!("                    {}", ask("ids")));
            out.push("                    return 0".to_owned());
            continue;
        }
        out.push(line.to_owned());
    }
    out.join("\n")
}

fn zsh(text: &str) -> String {
    const HELPERS: &str = r#"
_vnx_candidates() {
    local -a candidates
    local line
    for line in ${(f)"$(vnx __complete $1 2>/dev/null)"}; do
        candidates+=("${${line%%$'\t'*}//:/\\:}:${line#*$'\t'}")
    done
    _describe -t "$1" "$2" candidates
}
_vnx_ids() { _vnx_candidates ids 'dispatch id' }
_vnx_providers() { _vnx_candidates providers provider }
_vnx_models() { _vnx_candidates models model }
_vnx_roles() { _vnx_candidates roles role }
"#;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut line = line.to_owned();
        let is_id = ID_ARGS.iter().any(|a| {
            line.starts_with(&format!("':{a} -- ")) || line.starts_with(&format!("'*::{a} -- "))
        });
        let option = VALUE_OPTIONS
            .iter()
            .find(|(long, ..)| line.starts_with(&format!("'--{long}=[")));
        let function = match (is_id, option) {
            (true, _) => Some("_vnx_ids".to_owned()),
            (false, Some((_, kind))) => Some(format!("_vnx_{kind}")),
            _ => None,
        };
        if let Some(f) = function
            && line.ends_with(":_default' \\")
        {
            line = format!("{}:{f}' \\", &line[..line.len() - ":_default' \\".len()]);
        }
        out.push(line);
        if out.last().is_some_and(|l| l == "autoload -U is-at-least") {
            out.push(HELPERS.trim_end().to_owned());
        }
    }
    out.join("\n")
}

fn fish(text: &str, id_commands: &[Vec<String>]) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        let kind = VALUE_OPTIONS
            .iter()
            .find(|(long, ..)| line.contains(&format!(" -l {long} ")) && line.ends_with(" -r"))
            .map(|(_, kind)| *kind);
        match kind {
            Some(kind) => out.push(format!("{line} -f -a \"(vnx __complete {kind})\"")),
            None => out.push(line.to_owned()),
        }
    }
    for path in id_commands {
        let condition = match path.as_slice() {
            [one] => format!("__fish_vnx_using_subcommand {one}"),
            [first, rest @ ..] => format!(
                "__fish_vnx_using_subcommand {first}; and __fish_seen_subcommand_from {}",
                rest.join(" ")
            ),
            [] => continue,
        };
        out.push(format!(
            "complete -c vnx -n \"{condition}\" -f -a \"(vnx __complete ids)\""
        ));
    }
    out.join("\n")
}

/// Print the man page (roff), e.g. `vnx man > ~/.local/share/man/man1/vnx.1`, or write it
/// and a page for every command (`vnx-status.1`, `vnx-audit-chain-verify.1`, …) with `--dir`
#[derive(clap::Args)]
pub struct ManArgs {
    /// Write vnx.1 and every command's page into this directory (made if missing)
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

pub fn man(args: ManArgs) -> Result<ExitCode, CliError> {
    let cmd = super::command();
    if let Some(dir) = args.dir {
        std::fs::create_dir_all(&dir)
            .and_then(|()| clap_mangen::generate_to(cmd, &dir))
            .map_err(|e| {
                CliError::from_error(&e).context(format!(
                    "could not write the man pages into {}",
                    dir.display()
                ))
            })?;
        let pages = std::fs::read_dir(&dir).map_or(0, |d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".1"))
                .count()
        });
        super::util::output::say!("wrote {pages} man pages into {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| CliError::from_error(&e).context("could not render the man page"))?;
    use std::io::Write;
    let _ = std::io::stdout().write_all(&out);
    Ok(ExitCode::SUCCESS)
}
