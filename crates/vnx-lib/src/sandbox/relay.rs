//! Loopback ports carried into a sandbox without a network: a local model server on this
//! machine's 127.0.0.1 stays reachable, and nothing else does. Outside, the supervisor listens
//! on a Unix socket per port in a directory the worker can only read, and connects each
//! connection to the port on this machine; inside, `vnx __relay` listens on 127.0.0.1:PORT
//! of the sandbox's own network namespace and connects each connection to that socket.
//! Bytes are copied both ways as they are; the worker can reach exactly the listed ports.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The relay directory of dispatch `id` in the project's data directory `data` (the worker
/// can only read it).
pub fn dir(data: &Path, id: &Path) -> PathBuf {
    data.join("relay").join(id)
}

/// The socket of `port` in a relay directory.
pub fn socket_path(dir: &Path, port: u16) -> PathBuf {
    dir.join(format!("{port}.sock"))
}

/// The outside half: a listener per port, relaying to this machine's `127.0.0.1:PORT`. The
/// listeners live on threads until the process ends; the directory is made here (private).
pub fn serve_outside(dir: &Path, ports: &[u16]) -> io::Result<()> {
    crate::files::private_dir(dir)?;
    for &port in ports {
        let path = socket_path(dir, port);
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let target = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                if let Ok(tcp) = TcpStream::connect(target) {
                    splice(conn, tcp);
                }
            }
        });
    }
    Ok(())
}

/// The inside half: binds `127.0.0.1:PORT` for each port (so a connection made once this
/// returns is accepted), then relays each connection to its socket on threads.
pub fn serve_inside(dir: &Path, ports: &[u16]) -> io::Result<()> {
    let mut listeners = Vec::new();
    for &port in ports {
        listeners.push((TcpListener::bind((Ipv4Addr::LOCALHOST, port))?, port));
    }
    for (listener, port) in listeners {
        let path = socket_path(dir, port);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                if let Ok(unix) = UnixStream::connect(&path) {
                    splice(unix, conn);
                }
            }
        });
    }
    Ok(())
}

/// Something both halves copy through: a Unix or a TCP stream.
trait Duplex: io::Read + io::Write + Send + Sized + 'static {
    fn another(&self) -> io::Result<Self>;
    fn close_write(&self);
}

impl Duplex for UnixStream {
    fn another(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn close_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

impl Duplex for TcpStream {
    fn another(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn close_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

/// Copies `a` to `b` and `b` to `a` on two threads; each direction's end closes the other
/// side's writing half.
fn splice<A: Duplex, B: Duplex>(a: A, b: B) {
    let (Ok(mut a2), Ok(mut b2)) = (a.another(), b.another()) else {
        return;
    };
    let (mut a, mut b) = (a, b);
    std::thread::spawn(move || {
        let _ = io::copy(&mut a, &mut b);
        b.close_write();
    });
    std::thread::spawn(move || {
        let _ = io::copy(&mut b2, &mut a2);
        a2.close_write();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn both_halves_carry_a_connection_to_the_port_and_back() {
        // A server on this machine's loopback: echoes what it reads, upper-cased.
        let server = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = server.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut s in server.incoming().flatten() {
                let mut buf = [0u8; 5];
                s.read_exact(&mut buf).unwrap();
                s.write_all(&buf.to_ascii_uppercase()).unwrap();
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let relay = dir.path().join("relay");
        serve_outside(&relay, &[port]).unwrap();
        // The inside half would bind the same port in its own namespace; here the socket is
        // used directly, which is what the inside half connects to.
        let mut s = UnixStream::connect(socket_path(&relay, port)).unwrap();
        s.write_all(b"hello").unwrap();
        let mut back = [0u8; 5];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"HELLO");
    }
}
