//! Starts the real `mayfly` binary on a free loopback port for integration tests, and stops it
//! when dropped.
#![allow(dead_code, clippy::disallowed_methods, clippy::disallowed_types)]

pub mod certs;
pub mod redis_peer;
pub mod sentinel;
pub mod tools;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    child: Child,
}

/// A port nobody listens on right now (the OS picks it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        Server::start_probed(extra, &plain_ping)
    }

    /// Starts with a custom readiness check (`ready(port)` true once it serves), for servers a
    /// plain PING cannot reach (TLS).
    pub fn start_probed(extra: &[&str], ready: &dyn Fn(u16) -> bool) -> Server {
        for _ in 0..5 {
            if let Some(server) = Server::try_start_at(free_port(), extra, ready) {
                return server;
            }
        }
        panic!("mayfly did not start");
    }

    /// Starts on a given port (a restart of a killed server at its old address); retries a
    /// few times in case the port is briefly unavailable.
    pub fn start_at(port: u16, extra: &[&str]) -> Server {
        for _ in 0..5 {
            if let Some(server) = Server::try_start_at(port, extra, &plain_ping) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("mayfly did not start on port {port}");
    }

    fn try_start_at(port: u16, extra: &[&str], ready: &dyn Fn(u16) -> bool) -> Option<Server> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mayfly"))
            // No snapshot by default: a test server neither loads nor leaves a dump.rdb in the
            // working directory (tests about snapshots pass --dir/--dbfilename).
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--loglevel", "warning", "--dbfilename="])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mayfly");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if ready(port) {
                return Some(Server { port, child });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url()).unwrap().get_connection().unwrap()
    }

    /// A raw socket, for what a client library would not send.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit on its own; returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Whether a plain-TCP inline PING on `port` gets +PONG.
fn plain_ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.write_all(b"PING\r\n");
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends raw bytes and reads everything until the server closes or `timeout` passes.
pub fn raw_exchange(stream: &mut TcpStream, bytes: &[u8]) -> Vec<u8> {
    stream.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

/// Reads one line (up to CRLF) from a raw stream.
pub fn read_line(stream: &mut TcpStream) -> String {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    line
}

/// Runs the binary with `args` and returns (exit code, stderr), for flag tests.
pub fn run_binary(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mayfly")).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}
