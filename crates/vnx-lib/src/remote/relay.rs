//! One long-lived channel into a place (ADR 0087): the place's `vnx __place-relay` reads
//! requests on its stdin and runs each (an argv, never a shell line) with the input sent
//! along, answering with its exit status and outputs; vnx here sends every step of a dispatch
//! over it instead of starting the engine's client once per step. A frame is a JSON line,
//! then the bytes it counts. What comes back is the place's, so the worker's: every frame is
//! bounded and parsed strictly, and a channel that says anything else is dropped (the steps
//! go on through the engine's own `exec`).

use std::io::{self, BufRead, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::process::{self, Cmd, Group, Output};

/// The longest header line read, either way.
const MAX_HEADER: u64 = 1 << 20;

/// The most bytes one answer may carry (a fetched branch's bundle included).
pub const MAX_FRAME: usize = 256 << 20;

/// What the relay is asked.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The command; empty: end the relay (the place's runner ends with it).
    pub argv: Vec<String>,
    /// Where it runs.
    #[serde(default)]
    pub cwd: Option<String>,
    /// How many bytes of input follow the header.
    #[serde(default)]
    pub stdin: usize,
    /// How long it may run, in milliseconds.
    pub limit_ms: u64,
    /// The most bytes of each of its outputs kept.
    pub max: usize,
}

/// What the relay answers: then `stdout` and `stderr` bytes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    /// Its exit code; `None` when it did not exit by itself (`failed` says why).
    status: Option<i32>,
    stdout: usize,
    stderr: usize,
    #[serde(default)]
    failed: Option<String>,
}

/// Why a relay could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The channel was closed before the request was sent: nothing ran.
    #[error("the relay's channel is closed")]
    Closed,
    /// The channel broke, closed, or said something that is not an answer.
    #[error("the relay's channel broke: {0}")]
    Broken(String),
    /// The place's vnx cannot relay (missing, or too old): its runner idles, for the
    /// engine's own `exec`.
    #[error("the place's vnx cannot relay (exit {0})")]
    Refused(i32),
    /// The engine's client ended before the relay answered: the place was not made.
    #[error("the engine's client exited ({status:?}): {said}")]
    EngineFailed {
        /// Its exit code.
        status: Option<i32>,
        /// The last of what it wrote to stderr.
        said: String,
    },
    /// No answer within the limit.
    #[error("the relay gave no answer within {0} s")]
    TimedOut(u64),
    /// The command could not be run there, or did not finish in time.
    #[error("{0}")]
    NotRun(String),
}

fn broken(e: impl std::fmt::Display) -> RelayError {
    RelayError::Broken(e.to_string())
}

/// One header line, bounded; `None` at the end of the input.
fn read_header<T: for<'de> Deserialize<'de>>(input: &mut impl BufRead) -> io::Result<Option<T>> {
    let mut line = Vec::new();
    input.take(MAX_HEADER).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a header line without its end",
        ));
    }
    serde_json::from_slice(&line)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn write_header(out: &mut impl Write, header: &impl Serialize) -> io::Result<()> {
    let mut line = serde_json::to_vec(header).map_err(io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

fn read_exact_vec(input: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    input.take(n as u64).read_to_end(&mut buf)?;
    if buf.len() != n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "a frame cut short",
        ));
    }
    Ok(buf)
}

/// The exit status of a relay whose input ended ([`Ended::InputClosed`]): one no other
/// program exits with by chance, so that a vnx that cannot relay (any other status before the
/// relay said it is ready) is told from one let go.
pub const LET_GO: u8 = 97;

/// How a relay ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It was asked to end: the place's runner ends too.
    Asked,
    /// Its input ended (vnx here went away): the runner stays, for the engine's `exec`.
    InputClosed,
}

/// Serves requests from `input` until asked to end or the input ends; each request's input is
/// kept in `scratch` while it runs.
pub fn serve(
    input: &mut impl BufRead,
    output: &mut impl Write,
    scratch: &Path,
) -> io::Result<Ended> {
    crate::files::private_dir(scratch)?;
    let stdin_at = scratch.join("stdin");
    // Ready: the first answer is the relay's own.
    write_header(
        output,
        &Answer {
            status: Some(0),
            ..Answer::default()
        },
    )?;
    output.flush()?;
    loop {
        let Some(request) = read_header::<Request>(input)? else {
            return Ok(Ended::InputClosed);
        };
        if request.argv.is_empty() {
            write_header(output, &Answer::default())?;
            output.flush()?;
            return Ok(Ended::Asked);
        }
        let body = read_exact_vec(input, request.stdin)?;
        std::fs::write(&stdin_at, &body)?;
        let mut cmd = Cmd::new(&request.argv[0])
            .args(&request.argv[1..])
            .stdin_file(&stdin_at)
            .timeout(Duration::from_millis(request.limit_ms))
            .max_output(request.max.min(MAX_FRAME));
        if let Some(dir) = &request.cwd {
            cmd = cmd.cwd(dir);
        }
        let (answer, out, err) = match process::run(&cmd) {
            // As a shell would say it: not found 127, not runnable 126.
            Err(
                e @ (process::ProcessError::NotFound { .. } | process::ProcessError::Spawn { .. }),
            ) => {
                let code = if matches!(e, process::ProcessError::NotFound { .. }) {
                    127
                } else {
                    126
                };
                let said = e.to_string().into_bytes();
                (
                    Answer {
                        status: Some(code),
                        stderr: said.len(),
                        ..Answer::default()
                    },
                    Vec::new(),
                    said,
                )
            }
            Ok(o) => (
                Answer {
                    status: o.status.code(),
                    stdout: o.stdout.len(),
                    stderr: o.stderr.len(),
                    failed: o.status.code().is_none().then(|| o.status.to_string()),
                },
                o.stdout,
                o.stderr,
            ),
            Err(e) => (
                Answer {
                    failed: Some(e.to_string()),
                    ..Answer::default()
                },
                Vec::new(),
                Vec::new(),
            ),
        };
        let _ = std::fs::remove_file(&stdin_at);
        write_header(output, &answer)?;
        output.write_all(&out)?;
        output.write_all(&err)?;
        output.flush()?;
    }
}

type Answered = Result<(Answer, Vec<u8>, Vec<u8>), String>;

/// The end of a relay here: the engine's client that started it, its input, its answers as a
/// reader thread takes them apart, and the last of what the client said.
pub struct Relay {
    group: Group,
    input: Option<std::process::ChildStdin>,
    answers: Receiver<Answered>,
    /// The most bytes of each output the request under way asked for: a frame counting
    /// more is not read (what a worker writes into the channel is bounded by the request).
    expecting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    said: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

/// How much of the engine client's stderr is kept.
const SAID: usize = 4096;

impl Relay {
    /// Starts `cmd`, the engine's client running the place's relay (its runner, attached),
    /// and waits up to `limit` for the relay to say it is ready.
    pub fn start(cmd: &Cmd, limit: Duration) -> Result<Relay, RelayError> {
        let mut group = Group::spawn(cmd, |c| {
            c.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        })
        .map_err(broken)?;
        let input = group.stdin();
        let stdout = group.stdout().ok_or_else(|| broken("no output pipe"))?;
        let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(mut stderr) = group.stderr() {
            let said = said.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 1024];
                while let Ok(n @ 1..) = stderr.read(&mut chunk) {
                    let mut kept = said
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    kept.extend_from_slice(&chunk[..n]);
                    let over = kept.len().saturating_sub(SAID);
                    kept.drain(..over);
                }
            });
        }
        let (send, answers) = channel();
        let expecting = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let allowed = expecting.clone();
        std::thread::spawn(move || {
            let mut stdout = io::BufReader::new(stdout);
            loop {
                // Read once its header is: the request it answers was sent before.
                let max = || allowed.load(std::sync::atomic::Ordering::SeqCst);
                let answer = read_answer(&mut stdout, max);
                let end = answer.is_err();
                if send.send(answer).is_err() || end {
                    return;
                }
            }
        });
        let mut relay = Relay {
            group,
            input,
            answers,
            said,
            expecting,
        };
        match relay.answers.recv_timeout(limit) {
            Ok(Ok((a, _, _))) if a.status == Some(0) && a.failed.is_none() => Ok(relay),
            Ok(Ok((a, _, _))) => Err(RelayError::Refused(a.status.unwrap_or(-1))),
            Err(RecvTimeoutError::Timeout) => Err(RelayError::TimedOut(limit.as_secs())),
            Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => {
                let status = relay
                    .group
                    .wait_until(std::time::Instant::now() + Duration::from_secs(10))
                    .ok()
                    .flatten()
                    .and_then(|s| s.code());
                // The reader of its stderr is done once it exited.
                std::thread::sleep(Duration::from_millis(50));
                let said = relay
                    .said
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                Err(RelayError::EngineFailed {
                    status,
                    said: String::from_utf8_lossy(&said).trim().to_owned(),
                })
            }
        }
    }

    /// Runs `request` there, `body` its input; `Err` when the channel is of no more use.
    pub fn call(&mut self, request: &Request, body: &[u8]) -> Result<Output, RelayError> {
        let request = Request {
            stdin: body.len(),
            ..request.clone()
        };
        let input = self.input.as_mut().ok_or(RelayError::Closed)?;
        (self.expecting).store(
            request.max.min(MAX_FRAME),
            std::sync::atomic::Ordering::SeqCst,
        );
        let mut frame = Vec::with_capacity(body.len() + 256);
        write_header(&mut frame, &request).map_err(broken)?;
        frame.extend_from_slice(body);
        // One write: a relay gone before it gets none of it (nothing ran).
        input
            .write_all(&frame)
            .and_then(|()| input.flush())
            .map_err(|_| RelayError::Closed)?;
        // The command's own limit, and the time it takes to carry the frames.
        let wait = Duration::from_millis(request.limit_ms) + Duration::from_secs(30);
        let (answer, stdout, stderr) = match self.answers.recv_timeout(wait) {
            Ok(Ok(answered)) => answered,
            Ok(Err(e)) => return Err(RelayError::Broken(e)),
            Err(RecvTimeoutError::Timeout) => return Err(RelayError::TimedOut(wait.as_secs())),
            Err(RecvTimeoutError::Disconnected) => return Err(broken("it ended")),
        };
        if stdout.len() > request.max || stderr.len() > request.max {
            return Err(broken("an answer longer than asked for"));
        }
        match (answer.status, answer.failed) {
            (Some(code), _) => Ok(Output {
                status: ExitStatus::from_raw((code & 0xff) << 8),
                stdout,
                stderr,
            }),
            (None, failed) => Err(RelayError::NotRun(failed.unwrap_or_default())),
        }
    }

    /// Ends the relay, and with it the place's runner (the engine removes it); the engine's
    /// client, done once it has, is waited for up to `limit` on a thread of its own, so that
    /// what is left to do here goes on meanwhile ([`Ending::wait`]).
    pub fn end(mut self, limit: Duration) -> Result<Ending, RelayError> {
        let ended = self.call(
            &Request {
                limit_ms: 0,
                ..Request::default()
            },
            &[],
        );
        drop(self.input.take());
        match ended {
            Err(RelayError::NotRun(_)) | Ok(_) => {}
            Err(e) => return Err(e),
        }
        Ok(Ending(std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + limit;
            matches!(self.group.wait_until(deadline), Ok(Some(_)))
        })))
    }
}

/// A relay asked to end, its engine's client still finishing.
pub struct Ending(std::thread::JoinHandle<bool>);

impl Ending {
    /// Waits for the engine's client: whether it was done within its limit.
    pub fn wait(self) -> bool {
        self.0.join().unwrap_or(false)
    }
}

impl Drop for Relay {
    /// Lets go of the place: its input closed (the runner stays, see [`Ended::InputClosed`])
    /// and the engine's client stopped; the place runs on.
    fn drop(&mut self) {
        drop(self.input.take());
        let _ = self.group.stop(Duration::from_millis(200));
    }
}

/// One answer from `input`, neither output longer than `max()` says once its header is read.
fn read_answer(input: &mut impl BufRead, max: impl Fn() -> usize) -> Answered {
    let answer: Answer = match read_header(input) {
        Ok(Some(a)) => a,
        Ok(None) => return Err("it ended".into()),
        Err(e) => return Err(e.to_string()),
    };
    let max = max();
    if answer.stdout > max || answer.stderr > max {
        return Err("an answer longer than the request asked for".into());
    }
    let stdout = read_exact_vec(input, answer.stdout).map_err(|e| e.to_string())?;
    let stderr = read_exact_vec(input, answer.stderr).map_err(|e| e.to_string())?;
    Ok((answer, stdout, stderr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(argv: &[&str], stdin: &[u8]) -> Vec<u8> {
        let mut frame = Vec::new();
        let r = Request {
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            stdin: stdin.len(),
            limit_ms: 10_000,
            max: 1 << 20,
            ..Request::default()
        };
        write_header(&mut frame, &r).unwrap();
        frame.extend_from_slice(stdin);
        frame
    }

    /// Serves `requests` (their frames, one after another): how it ended, and its answers
    /// after the first (the relay's own: ready).
    fn serve_all(requests: &[Vec<u8>]) -> (Ended, Vec<Answered>) {
        let scratch = tempfile::tempdir().unwrap();
        let input = requests.concat();
        let mut output = Vec::new();
        let at = scratch.path().join("s");
        let ended = serve(&mut input.as_slice(), &mut output, &at).unwrap();
        let mut answers = output.as_slice();
        let ready = read_answer(&mut answers, || 1 << 20).unwrap();
        assert_eq!(ready.0.status, Some(0), "ready");
        let mut all = Vec::new();
        loop {
            let a = read_answer(&mut answers, || 1 << 20);
            let end = a.is_err();
            all.push(a);
            if end {
                return (ended, all);
            }
        }
    }

    #[test]
    fn a_relay_runs_each_request_with_its_input_and_answers_in_frames() {
        let failing = ["sh", "-c", "echo out; echo err >&2; exit 3"];
        let (ended, answers) = serve_all(&[request(&["cat"], b"one\ntwo"), request(&failing, b"")]);
        assert_eq!(ended, Ended::InputClosed);
        let (a, out, err) = answers[0].clone().unwrap();
        assert_eq!(
            (a.status, &out[..], err.len()),
            (Some(0), &b"one\ntwo"[..], 0)
        );
        let (a, out, err) = answers[1].clone().unwrap();
        assert_eq!(
            (a.status, &out[..], &err[..]),
            (Some(3), &b"out\n"[..], &b"err\n"[..])
        );
        assert!(answers[2].is_err() && answers.len() == 3, "nothing more");
    }

    #[test]
    fn an_empty_argv_ends_the_relay_and_a_missing_program_is_not_run() {
        let requests = [
            request(&["/no/such/program"], b""),
            request(&[], b""),
            request(&["true"], b""),
        ];
        let (ended, answers) = serve_all(&requests);
        assert_eq!(ended, Ended::Asked);
        let (a, _, err) = answers[0].clone().unwrap();
        assert_eq!(a.status, Some(127), "as a shell says a missing program");
        assert!(String::from_utf8_lossy(&err).contains("no/such"));
        assert!(answers[1].is_ok());
        assert!(
            answers[2].is_err() && answers.len() == 3,
            "the last was never run"
        );
    }

    proptest::proptest! {
        /// Whatever a place sends back, reading it ends with an answer or an error: never a
        /// panic, never more than it counted.
        #[test]
        fn any_bytes_read_as_answers_end(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut input = bytes.as_slice();
            for _ in 0..8 {
                if read_answer(&mut input, || 1 << 20).is_err() {
                    break;
                }
            }
        }

        #[test]
        fn a_counted_frame_reads_back(out in proptest::collection::vec(proptest::num::u8::ANY, 0..300), status in 0i32..256) {
            let mut frame = Vec::new();
            write_header(&mut frame, &Answer { status: Some(status), stdout: out.len(), stderr: 0, failed: None }).unwrap();
            frame.extend_from_slice(&out);
            let (a, o, e) = read_answer(&mut frame.as_slice(), || 1 << 20).unwrap();
            proptest::prop_assert_eq!(a.status, Some(status));
            proptest::prop_assert_eq!(o, out);
            proptest::prop_assert!(e.is_empty());
        }
    }
}
