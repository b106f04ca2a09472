//! A real redis-server for interoperability tests, and a key-by-key view of a whole dataset
//! (every database) that compares equal between Redis and Mayfly when they hold the same data.
#![allow(dead_code, clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn installed(program: &str) -> bool {
    super::tools::available(program, "--version")
}

pub struct RedisServer {
    pub port: u16,
    child: Child,
    dir: std::path::PathBuf,
}

impl RedisServer {
    /// Starts redis-server on a free port with no persistence; `extra` is more of its flags.
    pub fn start(extra: &[&str]) -> RedisServer {
        let port = super::free_port();
        let dir = std::env::temp_dir().join(format!("mayfly-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let r = RedisServer { port, child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = redis::Client::open(r.url()).unwrap().get_connection() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return r;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url()).unwrap().get_connection().unwrap()
    }

    /// Sends the process a signal (`-STOP`, `-CONT`, ...).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig} redis-server");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A field of INFO (any section).
pub fn info_field(c: &mut redis::Connection, field: &str) -> Option<String> {
    let info: String = redis::cmd("INFO").arg("everything").query(c).ok()?;
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.trim().to_string()))
}

/// Polls `cond` for up to `within`.
pub fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    cond()
}

/// One key's contents in a canonical form: type, sorted items, and whether it has a TTL.
pub type KeyView = (String, Vec<Vec<u8>>, bool);

/// Every key of databases 0..dbs, by (db, key).
pub fn dataset(c: &mut redis::Connection, dbs: usize) -> BTreeMap<(usize, Vec<u8>), KeyView> {
    let mut out = BTreeMap::new();
    for db in 0..dbs {
        redis::cmd("SELECT").arg(db).query::<()>(c).unwrap();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        for k in keys {
            if let Some(v) = key_view(c, &k) {
                out.insert((db, k), v);
            }
        }
    }
    redis::cmd("SELECT").arg(0).query::<()>(c).unwrap();
    out
}

fn key_view(c: &mut redis::Connection, key: &[u8]) -> Option<KeyView> {
    let t: String = redis::cmd("TYPE").arg(key).query(c).unwrap();
    let mut items: Vec<Vec<u8>> = match t.as_str() {
        "none" => return None,
        "string" => vec![redis::cmd("GET").arg(key).query(c).unwrap()],
        "list" => redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(c).unwrap(),
        "set" => {
            let mut m: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(key).query(c).unwrap();
            m.sort();
            m
        }
        "hash" => {
            let pairs: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL").arg(key).query(c).unwrap();
            let mut m: Vec<Vec<u8>> = pairs.into_iter().map(|(f, v)| [f, b"=".to_vec(), v].concat()).collect();
            m.sort();
            m
        }
        "zset" => {
            let pairs: Vec<(Vec<u8>, String)> =
                redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES").query(c).unwrap();
            pairs
                .into_iter()
                .map(|(m, sc)| [m, b"=".to_vec(), sc.parse::<f64>().unwrap().to_string().into_bytes()].concat())
                .collect()
        }
        other => vec![other.as_bytes().to_vec()],
    };
    items.shrink_to_fit();
    let pttl: i64 = redis::cmd("PTTL").arg(key).query(c).unwrap();
    Some((t, items, pttl > 0))
}

/// The first difference between two datasets, for an assertion message.
pub fn first_difference(
    a: &BTreeMap<(usize, Vec<u8>), KeyView>,
    b: &BTreeMap<(usize, Vec<u8>), KeyView>,
) -> Option<String> {
    for (k, v) in a {
        match b.get(k) {
            None => return Some(format!("db {} key {:?} missing on the second", k.0, String::from_utf8_lossy(&k.1))),
            Some(w) if w != v => {
                return Some(format!("db {} key {:?}: {v:?} vs {w:?}", k.0, String::from_utf8_lossy(&k.1)))
            }
            _ => {}
        }
    }
    b.keys()
        .find(|k| !a.contains_key(*k))
        .map(|k| format!("db {} key {:?} only on the second", k.0, String::from_utf8_lossy(&k.1)))
}
