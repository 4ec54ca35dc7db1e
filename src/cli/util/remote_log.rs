//! `vnx show ID --log [--follow] [--raw]` of a dispatch on a remote host: the own `vnx show ID
//! --log` of the place it runs in, its output escaped here again (a host's bytes are
//! no more trusted than a worker's), and, with `--follow`, streamed until the dispatch ends
//! there; a link lost meanwhile is reconnected, skipping what was already printed.

use std::io::{Read, Write};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use vnx::ids::DispatchId;
use vnx::process::Group;
use vnx::remote::{Place, RemoteError};

use super::output::{escape_keep_lines, say};
use crate::cli::CliError;

/// How long the host may take to print a log without `--follow`.
const READ_LIMIT: Duration = Duration::from_secs(120);

/// Prints the worker log of dispatch `id`, which runs in `place` (see the module's
/// description).
pub(crate) fn show(
    place: &dyn Place,
    id: &DispatchId,
    follow: bool,
    raw: bool,
) -> Result<ExitCode, CliError> {
    let mut args = ["show", id.as_str(), "--log"].map(String::from).to_vec();
    if raw {
        // The host renders the transcript itself; only a request for the raw events is passed.
        args.push("--raw".to_owned());
    }
    if !follow {
        let out = place.vnx(&args, None, READ_LIMIT)?;
        relay_stderr(place.name(), &out.stderr);
        if !out.status.success() {
            return Err(failed(place, &args, out.status.code(), &out.stderr));
        }
        let mut stdout = std::io::stdout().lock();
        let _ =
            stdout.write_all(escape_keep_lines(&String::from_utf8_lossy(&out.stdout)).as_bytes());
        return Ok(ExitCode::SUCCESS);
    }
    args.push("--follow".to_owned());
    // Bytes of the host's output already printed: a reconnection skips them.
    let mut seen = 0u64;
    let mut down = false;
    loop {
        let (code, stderr) = stream(place, &args, &mut seen)?;
        match code {
            Some(0) => {
                relay_stderr(place.name(), &stderr);
                return Ok(ExitCode::SUCCESS);
            }
            Some(255) | None => {
                if !down {
                    let e = RemoteError::Unreachable {
                        host: place.name().to_owned(),
                        detail: String::from_utf8_lossy(&stderr).trim().to_owned(),
                    };
                    CliError::from(e)
                        .context(format!(
                            "lost the link to host {} while following the log of {id}; \
                             the dispatch goes on there, retrying",
                            place.name()
                        ))
                        .warn();
                }
                down = true;
                std::thread::sleep(Duration::from_secs(1));
            }
            status => {
                relay_stderr(place.name(), &stderr);
                return Err(failed(place, &args, status, &stderr));
            }
        }
    }
}

/// Runs the host's `vnx show --follow`, printing its output (escaped) past the first `seen`
/// bytes as it comes; its exit status (`None`: killed) and its stderr.
fn stream(
    place: &dyn Place,
    args: &[String],
    seen: &mut u64,
) -> Result<(Option<i32>, Vec<u8>), CliError> {
    let mut group = Group::spawn(&place.vnx_cmd(args), |c| {
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    })
    .map_err(|e| CliError::from_error(&e).context("could not run ssh"))?;
    let mut err_pipe = group.stderr();
    let errors = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.take(1 << 20).read_to_end(&mut buf);
        }
        buf
    });
    let mut received = 0u64;
    // A UTF-8 sequence cut by a read is kept for the next one.
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut stdout = std::io::stdout().lock();
    if let Some(mut pipe) = group.stdout() {
        loop {
            let n = match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let skip = seen.saturating_sub(received).min(n as u64) as usize;
            received += n as u64;
            pending.extend_from_slice(&chunk[skip..n]);
            *seen = (*seen).max(received);
            let text = take_text(&mut pending);
            if !text.is_empty() {
                let _ = stdout.write_all(escape_keep_lines(&text).as_bytes());
                let _ = stdout.flush();
            }
        }
    }
    if !pending.is_empty() {
        let _ = stdout.write_all(escape_keep_lines(&String::from_utf8_lossy(&pending)).as_bytes());
        let _ = stdout.flush();
    }
    let status = group
        .wait()
        .map_err(|e| CliError::from_error(&e).context("could not wait for ssh"))?;
    let stderr = errors.join().unwrap_or_default();
    Ok((status.code(), stderr))
}

/// The text at the start of `pending` (invalid bytes replaced), leaving an incomplete UTF-8
/// sequence at its end for the next read.
fn take_text(pending: &mut Vec<u8>) -> String {
    let keep = match std::str::from_utf8(pending) {
        Ok(_) => 0,
        Err(e) if e.error_len().is_none() => pending.len() - e.valid_up_to(),
        Err(_) => 0,
    };
    let rest = pending.split_off(pending.len() - keep);
    let text = String::from_utf8_lossy(pending).into_owned();
    *pending = rest;
    text
}

/// The host's stderr, line by line, named (and escaped, as `say!` does).
fn relay_stderr(host: &str, stderr: &[u8]) {
    for line in String::from_utf8_lossy(stderr).lines() {
        say!("{host}: {line}");
    }
}

fn failed(place: &dyn Place, args: &[String], status: Option<i32>, stderr: &[u8]) -> CliError {
    CliError::from(RemoteError::Remote {
        host: place.name().to_owned(),
        command: format!("vnx {}", args.join(" ")),
        status: status.unwrap_or(-1),
        stderr: super::output::escape(String::from_utf8_lossy(stderr).trim()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::take_text;

    #[test]
    fn a_utf8_sequence_cut_by_a_read_waits_for_its_end() {
        let mut pending = "ab\u{e9}".as_bytes().to_vec();
        let last = pending.pop().unwrap();
        assert_eq!(take_text(&mut pending), "ab");
        assert_eq!(pending.len(), 1);
        pending.push(last);
        assert_eq!(take_text(&mut pending), "\u{e9}");
        assert!(pending.is_empty());
        let mut bad = vec![b'x', 0xff, b'y'];
        assert_eq!(take_text(&mut bad), "x\u{fffd}y");
    }
}
