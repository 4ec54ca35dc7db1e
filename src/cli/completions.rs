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
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{text}");
    Ok(ExitCode::SUCCESS)
}

/// Print the man page (roff), e.g. `vnx man > ~/.local/share/man/man1/vnx.1`
#[derive(clap::Args)]
pub struct ManArgs {}

pub fn man(_: ManArgs) -> Result<ExitCode, CliError> {
    let cmd = super::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| CliError::from_error(&e).context("could not render the man page"))?;
    use std::io::Write;
    let _ = std::io::stdout().write_all(&out);
    Ok(ExitCode::SUCCESS)
}
