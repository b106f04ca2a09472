//! One server process: start it from a command-line template, wait until it answers PING,
//! kill -9 it, freeze and thaw it (SIGSTOP / SIGCONT through the `kill` command), and restart it
//! on the same data directory.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling: processes, files, sockets, clocks

use crate::resp::{args, Client, Outcome, Resp};
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server node on 127.0.0.1.
pub struct Node {
    /// Name used in logs and the nemesis schedule (n1, n2, ...).
    pub name: String,
    /// The command line, with `{PORT}` and `{DIR}` still in it.
    pub template: Vec<String>,
    /// The port the server listens on.
    pub port: u16,
    /// Its data directory (kept across restarts).
    pub dir: PathBuf,
    /// Where its stdout and stderr go (appended across restarts).
    pub log: PathBuf,
    child: Option<Child>,
    paused: bool,
}

impl Node {
    /// A node that is not running yet.
    pub fn new(name: &str, template: Vec<String>, port: u16, dir: PathBuf, log: PathBuf) -> Self {
        Node { name: name.to_string(), template, port, dir, log, child: None, paused: false }
    }

    /// The command line with the placeholders filled in.
    pub fn command_line(&self) -> Vec<String> {
        let dir = self.dir.display().to_string();
        self.template.iter().map(|a| a.replace("{PORT}", &self.port.to_string()).replace("{DIR}", &dir)).collect()
    }

    /// The address clients (or the proxy) connect to.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Whether the process is running (possibly paused).
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// If the process exited without being killed by us: its exit status (a crash of the server
    /// under test, which is a finding, not a fault we injected).
    pub fn unexpected_exit(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status.to_string())
    }

    /// The process id, if running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the process (on the same data directory every time).
    pub fn start(&mut self) -> Result<(), String> {
        if self.is_running() {
            return Err(format!("{} is already running", self.name));
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let line = self.command_line();
        let (prog, rest) = line.split_first().ok_or("empty server command")?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(prog)
            .args(rest)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {prog}: {e}"))?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    /// Waits until the server answers PING with PONG, or fails after `timeout` (also failing
    /// early if the process exits).
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        loop {
            if !self.is_running() {
                return Err(format!("{} exited before answering PING (see {})", self.name, self.log.display()));
            }
            let mut c = Client::new(self.addr(), Duration::from_millis(500));
            if let Outcome::Reply(Resp::Simple(s)) = c.call(&args(&["PING"])) {
                if s == "PONG" {
                    return Ok(start.elapsed());
                }
            }
            if start.elapsed() > timeout {
                return Err(format!("{} did not answer PING within {timeout:?}", self.name));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, and reap the process.
    pub fn kill9(&mut self) -> Result<(), String> {
        let mut child = self.child.take().ok_or_else(|| format!("{} is not running", self.name))?;
        child.kill().map_err(|e| e.to_string())?; // std sends SIGKILL on Unix
        child.wait().map_err(|e| e.to_string())?;
        self.paused = false;
        Ok(())
    }

    fn signal(&self, sig: &str) -> Result<(), String> {
        let pid = self.pid().ok_or_else(|| format!("{} is not running", self.name))?;
        let status =
            Command::new("kill").args([sig, &pid.to_string()]).status().map_err(|e| format!("kill {sig}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kill {sig} {pid} exited with {status}"))
        }
    }

    /// SIGSTOP: the process stays alive but does nothing (connections hang, nothing is refused).
    pub fn pause(&mut self) -> Result<(), String> {
        self.signal("-STOP")?;
        self.paused = true;
        Ok(())
    }

    /// SIGCONT.
    pub fn resume(&mut self) -> Result<(), String> {
        self.signal("-CONT")?;
        self.paused = false;
        Ok(())
    }

    /// Whether the node is currently paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Stops the node for good (thawing it first so the kill is delivered promptly).
    pub fn stop(&mut self) {
        if self.paused {
            let _ = self.resume();
        }
        if self.child.is_some() {
            let _ = self.kill9();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free port on 127.0.0.1 (bound and released; good enough for tests on one machine).
pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}
