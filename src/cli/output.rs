//! Writing data to stdout: a closed pipe (`vnx … | head`) ends the command quietly, exit 0.

use std::io::{self, Write};

use super::CliError;

/// Stdout, buffered; errors other than a closed pipe become a `CliError`.
pub struct Out {
    inner: io::BufWriter<io::Stdout>,
}

/// What a write to stdout came to.
pub enum Wrote {
    Ok,
    /// The reader went away; stop quietly.
    Closed,
}

impl Out {
    pub fn new() -> Out {
        Out {
            inner: io::BufWriter::new(io::stdout()),
        }
    }

    /// Writes one line.
    pub fn line(&mut self, text: &str) -> Result<Wrote, CliError> {
        let r = self
            .inner
            .write_all(text.as_bytes())
            .and_then(|()| self.inner.write_all(b"\n"));
        classify(r)
    }

    /// Writes raw bytes followed by a newline.
    pub fn bytes_line(&mut self, bytes: &[u8]) -> Result<Wrote, CliError> {
        let r = self
            .inner
            .write_all(bytes)
            .and_then(|()| self.inner.write_all(b"\n"));
        classify(r)
    }

    /// Pushes buffered output to the reader now.
    pub fn flush(&mut self) -> Result<Wrote, CliError> {
        classify(self.inner.flush())
    }

    /// Writes a value as one line of JSON.
    pub fn json(&mut self, value: &impl serde::Serialize) -> Result<Wrote, CliError> {
        let text = serde_json::to_string(value)
            .map_err(|e| CliError::new(format!("could not render JSON: {e}")))?;
        self.line(&text)
    }
}

fn classify(r: io::Result<()>) -> Result<Wrote, CliError> {
    match r {
        Ok(()) => Ok(Wrote::Ok),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Wrote::Closed),
        Err(e) => Err(CliError::from_error(&e).with_hint("could not write to stdout")),
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        let _ = self.inner.flush();
    }
}

/// Reads a file the user named, bounded: only a regular file (opened without blocking, so a
/// FIFO with no writer cannot hang the command), at most `max` bytes.
pub fn read_bounded(path: &std::path::Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > max {
        return Err(std::io::Error::other(format!(
            "{} bytes, over the limit of {max}",
            meta.len()
        )));
    }
    let mut data = Vec::new();
    file.take(max + 1).read_to_end(&mut data)?;
    if data.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "over the limit of {max} bytes"
        )));
    }
    Ok(data)
}
