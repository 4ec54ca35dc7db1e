//! `vnx mcp` started as an MCP client starts it: a child process whose stdin and stdout carry
//! the protocol, killed when the transport is dropped. (rmcp's own child-process transport
//! would turn on features of shared crates the program does not use; ADR 0078.)

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// The child's stdout, owning the child: dropping it kills the child.
pub struct Output {
    out: ChildStdout,
    _child: Child,
}

impl AsyncRead for Output {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.out).poll_read(cx, buf)
    }
}

/// Starts `cmd` with piped stdin and stdout: the pair rmcp serves over.
pub fn spawn(cmd: std::process::Command) -> (Output, ChildStdin) {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("vnx mcp starts");
    let stdin = child.stdin.take().expect("piped stdin");
    let out = child.stdout.take().expect("piped stdout");
    (Output { out, _child: child }, stdin)
}
