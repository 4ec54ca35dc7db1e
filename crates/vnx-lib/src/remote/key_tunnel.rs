//! The credential relay's way into a place (ADR 0128): the place's `vnx __key-tunnel` listens
//! on the place's own loopback and carries each connection a worker makes there, as frames on
//! its standard input and output, to the keeper on this machine, which opens a connection of
//! its own to the relay here for each one. A frame is the connection's number (4 bytes, big
//! endian), a length (4 bytes) and that many bytes; an empty frame ends that side of the
//! connection. Both ends are bounded: frames of at most [`MAX_FRAME`] bytes, at most
//! [`MAX_CONNECTIONS`] at once. The worker can write into the tunnel's channel (it is root in
//! its container): a frame it forges only opens a connection to the relay, which it could
//! already reach, and a malformed one ends the channel.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

/// The largest frame either end sends or takes.
pub const MAX_FRAME: usize = 64 << 10;
/// The most connections carried at once; one more is closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// The first line the place's end writes, before the port it listens on.
const GREETING: &str = "vnx-key-tunnel 1 ";

/// One end's output, shared by the threads that send frames on it.
type Out<W> = Arc<Mutex<W>>;

/// A connection carried: the half this end writes to, and which of its two sides ended.
struct Conn {
    stream: TcpStream,
    /// What it says here ended (its read side; the empty frame is sent).
    ended_here: bool,
    /// What the other end says for it ended (the empty frame came; its write side shut).
    ended_there: bool,
}

/// Connections carried, by number.
type Open = Arc<Mutex<HashMap<u32, Conn>>>;

fn locked(open: &Open) -> std::sync::MutexGuard<'_, HashMap<u32, Conn>> {
    open.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long a write to one connection may block the channel (a peer that stops reading): then
/// that connection is dropped.
const WRITE_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// A new connection `id`, unless [`MAX_CONNECTIONS`] are open: its reading half.
fn admit(open: &Open, id: u32, stream: TcpStream) -> Option<TcpStream> {
    let mut table = locked(open);
    let reader = stream.try_clone().ok()?;
    stream.set_write_timeout(Some(WRITE_STALL)).ok()?;
    if table.len() >= MAX_CONNECTIONS {
        let _ = stream.shutdown(Shutdown::Both);
        return None;
    }
    let conn = Conn {
        stream,
        ended_here: false,
        ended_there: false,
    };
    table.insert(id, conn);
    Some(reader)
}

/// Shuts every connection still open (the channel ended).
fn close_all(open: &Open) {
    for (_, conn) in locked(open).drain() {
        let _ = conn.stream.shutdown(Shutdown::Both);
    }
}

fn send<W: Write>(out: &Out<W>, id: u32, data: &[u8]) -> io::Result<()> {
    let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
    let len = u32::try_from(data.len()).map_err(io::Error::other)?;
    out.write_all(&id.to_be_bytes())?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(data)?;
    out.flush()
}

/// The next frame's connection number, its bytes in `buf`; `None` when the input ended
/// between frames. A frame over [`MAX_FRAME`] is an error.
fn receive(input: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Option<u32>> {
    let mut head = [0u8; 8];
    if input.read(&mut head[..1])? == 0 {
        return Ok(None);
    }
    input.read_exact(&mut head[1..])?;
    let id = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes"),
        ));
    }
    buf.resize(len, 0);
    input.read_exact(buf)?;
    Ok(Some(id))
}

/// Sends what `from` says as frames of connection `id` until it ends, then an empty frame;
/// the connection is forgotten once the other end has ended its side too.
fn pump<W: Write>(mut from: TcpStream, id: u32, out: Out<W>, open: Open) {
    let mut chunk = vec![0u8; 16 << 10];
    loop {
        match from.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if send(&out, id, &chunk[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = send(&out, id, &[]);
    let _ = from.shutdown(Shutdown::Read);
    let mut table = locked(&open);
    if let Some(conn) = table.get_mut(&id) {
        conn.ended_here = true;
        if conn.ended_there {
            table.remove(&id);
        }
    }
}

/// Writes a frame's bytes to its connection; an empty frame ends that side of it.
fn deliver(open: &Open, id: u32, data: &[u8]) {
    let mut table = locked(open);
    let Some(conn) = table.get_mut(&id) else {
        return;
    };
    if data.is_empty() {
        let _ = conn.stream.shutdown(Shutdown::Write);
        conn.ended_there = true;
        if conn.ended_here {
            table.remove(&id);
        }
    } else if conn.stream.write_all(data).is_err() {
        let _ = conn.stream.shutdown(Shutdown::Both);
        table.remove(&id);
    }
}

/// The place's end: listens on the place's `127.0.0.1:port` (`0`: a port the system picks),
/// says so on `output` (`vnx-key-tunnel 1 PORT`), then carries every connection made there
/// until `input` ends.
pub fn serve_place(
    port: u16,
    mut input: impl Read,
    output: impl Write + Send + 'static,
) -> io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    let port = listener.local_addr()?.port();
    let out: Out<_> = Arc::new(Mutex::new(output));
    {
        let mut o = out.lock().unwrap_or_else(PoisonError::into_inner);
        writeln!(o, "{GREETING}{port}")?;
        o.flush()?;
    }
    let open: Open = Arc::default();
    let (accepted_out, accepted_open) = (Arc::clone(&out), Arc::clone(&open));
    std::thread::spawn(move || {
        let mut next: u32 = 0;
        for conn in listener.incoming().flatten() {
            next = next.wrapping_add(1);
            let Some(reader) = admit(&accepted_open, next, conn) else {
                continue;
            };
            let (out, open) = (Arc::clone(&accepted_out), Arc::clone(&accepted_open));
            let id = next;
            std::thread::spawn(move || pump(reader, id, out, open));
        }
    });
    let mut buf = Vec::new();
    let carried = (|| {
        while let Some(id) = receive(&mut input, &mut buf)? {
            deliver(&open, id, &buf);
        }
        Ok(())
    })();
    close_all(&open);
    carried
}

/// Reads the place's end's first line from `output` (bounded): the port it listens on.
pub fn greeting(output: &mut impl Read) -> io::Result<u16> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 64 {
        if output.read(&mut byte)? == 0 {
            break;
        }
        if byte[0] == b'\n' {
            let text = String::from_utf8_lossy(&line);
            return (text.strip_prefix(GREETING))
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("said {text:?}"))
                });
        }
        line.push(byte[0]);
    }
    Err(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the place's end said nothing it could",
    ))
}

/// This machine's end: reads frames from the place's end's `output` and opens a connection
/// to `127.0.0.1:relay` for each new one, its answers sent back on `input`, until `output`
/// ends (`Ok`) or says something malformed (an error).
pub fn carry(
    mut output: impl Read,
    input: impl Write + Send + 'static,
    relay: u16,
) -> io::Result<()> {
    let out: Out<_> = Arc::new(Mutex::new(input));
    let open: Open = Arc::default();
    // A number is opened once: a frame for one that ended is dropped, not a new connection.
    let mut seen = std::collections::HashSet::new();
    let mut buf = Vec::new();
    let carried = (|| {
        while let Some(id) = receive(&mut output, &mut buf)? {
            if !buf.is_empty() && seen.insert(id) {
                let reader = TcpStream::connect((Ipv4Addr::LOCALHOST, relay))
                    .ok()
                    .and_then(|conn| admit(&open, id, conn));
                let Some(reader) = reader else {
                    let _ = send(&out, id, &[]);
                    continue;
                };
                let (out, open) = (Arc::clone(&out), Arc::clone(&open));
                std::thread::spawn(move || pump(reader, id, out, open));
            }
            deliver(&open, id, &buf);
        }
        Ok(())
    })();
    close_all(&open);
    carried
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    /// An echo server that answers each connection's bytes upper-cased, then ends it.
    fn upper_echo() -> u16 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    let _ = s.read_to_end(&mut got);
                    let _ = s.write_all(&got.to_ascii_uppercase());
                });
            }
        });
        port
    }

    #[test]
    fn connections_made_in_the_place_reach_the_relay_here_and_are_answered() {
        let relay = upper_echo();
        // The two ends' channels, as a place's exec gives them.
        let (place_in, here_in) = UnixStream::pair().unwrap();
        let (place_out, mut here_out) = UnixStream::pair().unwrap();
        std::thread::spawn(move || serve_place(0, place_in, place_out));
        let port = greeting(&mut here_out).unwrap();
        std::thread::spawn(move || carry(here_out, here_in, relay));
        let talks: Vec<_> = (0..8)
            .map(|n| {
                std::thread::spawn(move || {
                    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
                    let said = format!("request {n} ").repeat(20_000);
                    s.write_all(said.as_bytes()).unwrap();
                    s.shutdown(Shutdown::Write).unwrap();
                    let mut back = String::new();
                    s.read_to_string(&mut back).unwrap();
                    assert_eq!(back, said.to_uppercase());
                })
            })
            .collect();
        for t in talks {
            t.join().unwrap();
        }
    }

    #[test]
    fn a_frame_over_the_bound_or_cut_short_ends_the_channel() {
        let mut over = Vec::new();
        over.extend_from_slice(&1u32.to_be_bytes());
        over.extend_from_slice(&(MAX_FRAME as u32 + 1).to_be_bytes());
        let mut buf = Vec::new();
        assert!(receive(&mut &over[..], &mut buf).is_err());
        let short = [0u8, 0, 0, 1, 0, 0, 0, 9, b'x'];
        assert!(receive(&mut &short[..], &mut buf).is_err());
        assert_eq!(receive(&mut &[][..], &mut buf).unwrap(), None);
        // carry: malformed input is an error, a clean end is not.
        assert!(carry(&over[..], Vec::new(), 1).is_err());
        assert!(carry(&[][..], Vec::new(), 1).is_ok());
    }

    #[test]
    fn a_greeting_is_read_bounded_and_must_name_a_port() {
        assert_eq!(
            greeting(&mut &b"vnx-key-tunnel 1 4242\n"[..]).unwrap(),
            4242
        );
        assert!(greeting(&mut &b"vnx-key-tunnel 1 nope\n"[..]).is_err());
        assert!(greeting(&mut &[b'a'; 10_000][..]).is_err());
        assert!(greeting(&mut &b""[..]).is_err());
    }

    #[test]
    fn a_forged_frame_for_a_connection_never_made_opens_one_to_the_relay_only() {
        let relay = upper_echo();
        let mut frames = Vec::new();
        frames.extend_from_slice(&7u32.to_be_bytes());
        frames.extend_from_slice(&2u32.to_be_bytes());
        frames.extend_from_slice(b"hi");
        frames.extend_from_slice(&7u32.to_be_bytes());
        frames.extend_from_slice(&0u32.to_be_bytes());
        // The channel stays open until the answer is back: its end would close connection 7.
        let (mut forger, channel) = UnixStream::pair().unwrap();
        forger.write_all(&frames).unwrap();
        let (back, mut seen) = UnixStream::pair().unwrap();
        std::thread::spawn(move || carry(channel, back, relay));
        // The answer comes back as frames of connection 7: "HI", then its end.
        let mut buf = Vec::new();
        let mut got = Vec::new();
        while let Some(id) = receive(&mut seen, &mut buf).unwrap() {
            assert_eq!(id, 7);
            if buf.is_empty() {
                break;
            }
            got.extend_from_slice(&buf);
        }
        assert_eq!(got, b"HI");
    }
}
