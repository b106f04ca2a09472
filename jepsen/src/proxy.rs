//! A TCP proxy in front of a node, through which the nemesis cuts, slows and severs the network.
//!
//! Faults keep TCP's stream semantics honest: a blackholed direction is *stalled* (the proxy stops
//! reading, bytes wait in kernel buffers and arrive late if the fault heals, as after a partition
//! shorter than TCP's retransmission timeout), never silently dropped from the middle of a stream,
//! which would splice the halves of two RESP commands into a command nobody sent.
//!
//! - `Blackhole`: both directions stall; new connections are accepted but carry nothing.
//! - `OneWay(ToServer)`: requests stall, replies flow; `OneWay(ToClient)`: requests reach the
//!   server and execute, replies stall (the classic lost acknowledgement).
//! - `Delay`: every chunk waits `ms` plus a seeded jitter before it is forwarded.
//! - `Reset`: every connection, existing or new, is shut down at once while the fault lasts.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling: real sockets, threads, clocks

use crate::harness::rng::Rng;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A direction of traffic through the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Client to server (requests).
    ToServer,
    /// Server to client (replies).
    ToClient,
}

/// What the proxy currently does to traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Blackhole,
    OneWay(Dir),
    Delay { ms: u64, jitter_ms: u64 },
    Reset,
}

impl Mode {
    fn stalls(self, dir: Dir) -> bool {
        match self {
            Mode::Blackhole => true,
            Mode::OneWay(d) => d == dir,
            _ => false,
        }
    }
}

struct Shared {
    mode: Mutex<Mode>,
    rng: Mutex<Rng>,
    stop: AtomicBool,
}

/// A running proxy: listens on `port`, forwards to `upstream`.
pub struct Proxy {
    /// The port clients connect to.
    pub port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

const POLL: Duration = Duration::from_millis(20);

impl Proxy {
    /// Starts a proxy on an ephemeral port of 127.0.0.1.
    pub fn start(upstream: SocketAddr, seed: u64) -> Result<Proxy, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("proxy bind: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Normal),
            rng: Mutex::new(Rng::new(seed, 0x9E0)),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || accept_loop(listener, upstream, s))
            .map_err(|e| e.to_string())?;
        Ok(Proxy { port, shared, acceptor: Some(acceptor) })
    }

    /// The address clients use.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Changes what happens to traffic from now on.
    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().expect("proxy mode lock") = mode;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                if *shared.mode.lock().expect("proxy mode lock") == Mode::Reset {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let s = shared.clone();
                let _ = std::thread::Builder::new().name("proxy-conn".into()).spawn(move || serve(client, upstream, s));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

fn serve(client: TcpStream, upstream: SocketAddr, shared: Arc<Shared>) {
    let _ = client.set_nonblocking(false);
    let server = match TcpStream::connect_timeout(&upstream, Duration::from_millis(500)) {
        Ok(s) => s,
        Err(_) => {
            // The node is down: close the client's connection, as a refused connection would.
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    };
    let _ = server.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let s = shared.clone();
    let back = std::thread::Builder::new().name("proxy-pump".into()).spawn(move || pump(s2, c2, Dir::ToClient, s));
    pump(client, server, Dir::ToServer, shared);
    if let Ok(h) = back {
        let _ = h.join();
    }
}

/// Copies `from` to `to` under the current mode until either side closes or a reset.
fn pump(mut from: TcpStream, mut to: TcpStream, dir: Dir, shared: Arc<Shared>) {
    let _ = from.set_read_timeout(Some(POLL));
    let mut buf = vec![0u8; 16 * 1024];
    let sever = |a: &TcpStream, b: &TcpStream| {
        let _ = a.shutdown(Shutdown::Both);
        let _ = b.shutdown(Shutdown::Both);
    };
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            sever(&from, &to);
            return;
        }
        let mode = *shared.mode.lock().expect("proxy mode lock");
        if mode == Mode::Reset {
            sever(&from, &to);
            return;
        }
        if mode.stalls(dir) {
            std::thread::sleep(POLL);
            continue;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                continue
            }
            Err(_) => {
                sever(&from, &to);
                return;
            }
        };
        // The fault may have changed while we were reading: hold the bytes until it allows them.
        let mode = loop {
            let m = *shared.mode.lock().expect("proxy mode lock");
            if m == Mode::Reset || shared.stop.load(Ordering::SeqCst) {
                sever(&from, &to);
                return;
            }
            if !m.stalls(dir) {
                break m;
            }
            std::thread::sleep(POLL);
        };
        if let Mode::Delay { ms, jitter_ms } = mode {
            let extra = shared.rng.lock().expect("proxy rng lock").below(jitter_ms + 1);
            std::thread::sleep(Duration::from_millis(ms + extra));
        }
        if to.write_all(&buf[..n]).is_err() {
            sever(&from, &to);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::{args, Client, Outcome, Resp};
    use std::io::{BufRead, BufReader};
    use std::time::Instant;

    /// A tiny server that answers every RESP command (PING included) with +PONG / the count.
    fn fake_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut r = BufReader::new(s.try_clone().unwrap());
                    let mut w = s;
                    let mut n = 0;
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let argc: usize = line.trim()[1..].parse().unwrap();
                        for _ in 0..argc * 2 {
                            line.clear();
                            r.read_line(&mut line).unwrap();
                        }
                        n += 1;
                        let reply = if n == 1 { "+PONG\r\n".to_string() } else { format!(":{n}\r\n") };
                        if w.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn forwards_stalls_delays_and_resets() {
        let proxy = Proxy::start(fake_server(), 1).unwrap();
        let t = Duration::from_millis(300);
        let mut c = Client::new(proxy.addr(), t);
        assert_eq!(c.call(&args(&["X"])), Outcome::Reply(Resp::Int(2)));

        // Replies stall: the request was sent, so the outcome is unknown.
        proxy.set_mode(Mode::OneWay(Dir::ToClient));
        assert_eq!(c.call(&args(&["X"])), Outcome::Info("timeout".into()));
        // A new connection cannot complete its PING handshake: nothing was sent, so it fails.
        proxy.set_mode(Mode::Blackhole);
        assert!(matches!(c.call(&args(&["X"])), Outcome::Fail(_)));

        proxy.set_mode(Mode::Delay { ms: 100, jitter_ms: 0 });
        let start = Instant::now();
        assert_eq!(c.call(&args(&["X"])), Outcome::Reply(Resp::Int(2)));
        assert!(start.elapsed() >= Duration::from_millis(200), "PING and the command are each delayed");

        proxy.set_mode(Mode::Reset);
        std::thread::sleep(Duration::from_millis(100));
        assert!(!matches!(c.call(&args(&["X"])), Outcome::Reply(_)), "an established connection is severed");
        assert!(matches!(c.call(&args(&["X"])), Outcome::Fail(_)), "new connections are closed at once");
        proxy.set_mode(Mode::Normal);
        assert_eq!(c.call(&args(&["X"])), Outcome::Reply(Resp::Int(2)));
    }
}
