//! Real `redis-sentinel` processes on loopback, for failover tests: each gets its own scratch
//! directory (Sentinel rewrites its config file) and log file, and is killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The master set name every test Sentinel monitors.
pub const MASTER_SET: &str = "mymaster";

/// Is Debian's redis-sentinel (or any `redis-sentinel` binary) on PATH?
pub fn installed() -> bool {
    super::tools::available("redis-sentinel", "--version")
}

pub struct Sentinel {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

/// How the Sentinels are set up.
pub struct Setup {
    /// How fast Sentinel reacts: short enough for a test, long enough not to flap.
    pub down_after_ms: u64,
    pub failover_timeout_ms: u64,
    /// Name everything `localhost` (resolve-hostnames, announce-hostnames, announce-ip), as the
    /// Helm chart does with pod DNS names; otherwise 127.0.0.1.
    pub hostnames: bool,
}

impl Setup {
    /// The address Sentinel and the servers use for every node.
    pub fn host(&self) -> &'static str {
        if self.hostnames {
            "localhost"
        } else {
            "127.0.0.1"
        }
    }
}

impl Sentinel {
    /// Starts a Sentinel watching the primary at `setup.host()`:`primary_port` with quorum `quorum`.
    pub fn start(primary_port: u16, quorum: u32, setup: &Setup) -> Sentinel {
        let port = super::free_port();
        let dir = std::env::temp_dir().join(format!("mayfly-sentinel-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("sentinel.conf");
        let mut text = format!(
            "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {dir}\nlogfile {log}\n",
            dir = dir.display(),
            log = dir.join("sentinel.log").display(),
        );
        if setup.hostnames {
            // Must come before `monitor`, which resolves the primary's name.
            text += "sentinel resolve-hostnames yes\nsentinel announce-hostnames yes\n";
            text += &format!("sentinel announce-ip localhost\nsentinel announce-port {port}\n");
        }
        text += &format!(
            "sentinel monitor {MASTER_SET} {host} {primary_port} {quorum}\n\
             sentinel down-after-milliseconds {MASTER_SET} {down}\n\
             sentinel failover-timeout {MASTER_SET} {failover}\n\
             sentinel parallel-syncs {MASTER_SET} 1\n",
            host = setup.host(),
            down = setup.down_after_ms,
            failover = setup.failover_timeout_ms,
        );
        std::fs::write(&conf, text).unwrap();
        let child = Command::new("redis-sentinel")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-sentinel");
        let sentinel = Sentinel { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if sentinel.client().is_ok() {
                return sentinel;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-sentinel did not start on port {port}; log:\n{}", sentinel.log());
    }

    pub fn client(&self) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        let con = client.get_connection_with_timeout(Duration::from_secs(2))?;
        con.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(con)
    }

    /// SENTINEL GET-MASTER-ADDR-BY-NAME: the primary's (host, port) as this Sentinel sees it.
    pub fn primary_addr(&self) -> Option<(String, u16)> {
        let mut con = self.client().ok()?;
        redis::cmd("SENTINEL").arg("GET-MASTER-ADDR-BY-NAME").arg(MASTER_SET).query(&mut con).ok()?
    }

    /// SENTINEL REPLICAS (or SENTINELS): one field map per known instance.
    pub fn instances(&self, what: &str) -> Vec<std::collections::HashMap<String, String>> {
        let Ok(mut con) = self.client() else { return Vec::new() };
        redis::cmd("SENTINEL").arg(what).arg(MASTER_SET).query(&mut con).unwrap_or_default()
    }

    /// The (ip, port) of the replicas this Sentinel knows and believes healthy (no s_down),
    /// sorted.
    pub fn healthy_replicas(&self) -> Vec<(String, u16)> {
        let mut found: Vec<(String, u16)> = self
            .instances("REPLICAS")
            .iter()
            .filter(|r| r.get("flags").is_some_and(|f| f == "slave"))
            .filter_map(|r| Some((r.get("ip")?.clone(), r.get("port")?.parse().ok()?)))
            .collect();
        found.sort_unstable();
        found
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sentinel.log")).unwrap_or_default()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
