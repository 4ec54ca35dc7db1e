//! The offline `demo` worker's actions: write a file into its working directory, and commit it,
//! so that every teardown class can be shown and tested with no AI CLI installed.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::process::{self, Cmd, ProcessError};

/// The file the demo worker writes.
pub const OUTPUT_FILE: &str = "demo-output.txt";

/// The file the demo worker writes: `asked` when it is a plain file name (letters, digits,
/// `.`, `-`, `_`, not starting with `.`), else [`OUTPUT_FILE`].
pub fn output_name(asked: Option<&str>) -> &str {
    asked
        .filter(|n| !n.is_empty() && !n.starts_with('.') && n.len() <= 64)
        .filter(|n| {
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        })
        .unwrap_or(OUTPUT_FILE)
}

/// Writes the output file `name` recording the hashes and lengths of the prompt and of the
/// instruction inside it.
pub fn write_output(dir: &Path, name: &str, prompt: &str) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    let instruction = crate::dispatch::start::compose::instruction_of(prompt).unwrap_or(prompt);
    std::fs::write(
        &path,
        format!(
            "vnx demo worker\nprompt sha256 {}\nprompt bytes {}\ninstruction sha256 {}\n",
            hex::encode(Sha256::digest(prompt.as_bytes())),
            prompt.len(),
            hex::encode(Sha256::digest(instruction.as_bytes())),
        ),
    )?;
    Ok(path)
}

/// The plan the demo worker's plan mode ends with for `behaviour`.
pub fn plan_of(behaviour: &str) -> String {
    match behaviour {
        "commit" | "dirty" | "forget" | "fail" => format!(
            "write {OUTPUT_FILE} with the hashes of the prompt and the instruction, then act \
             out `{behaviour}`."
        ),
        other => format!("change nothing, and act out `{other}`."),
    }
}

/// Commits the output file `name` on the current branch, under a fixed demo identity.
pub fn commit_output(dir: &Path, name: &str) -> Result<String, ProcessError> {
    let git = || {
        Cmd::new("git").arg("-C").arg(dir).args([
            "-c",
            "user.name=vnx demo",
            "-c",
            "user.email=demo@vnx.invalid",
        ])
    };
    process::run_ok(&git().args(["add", "--", name]))?;
    process::run_ok(&git().args([
        "commit",
        "--quiet",
        "--no-verify",
        "-m",
        &format!("demo: write {name}"),
    ]))?;
    process::run_ok(&git().args(["rev-parse", "HEAD"]))
}
