//! A real Prometheus (Debian's `prometheus` package) scrapes Mayfly on 127.0.0.1, and a counter
//! that moved is read back through Prometheus's HTTP API.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{free_port, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Prometheus {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Prometheus {
    fn start(target_port: u16) -> Prometheus {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("mayfly-prometheus-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: mayfly\n    \
                 static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
            ),
        )
        .unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        Prometheus { child, port, dir }
    }

    /// The value of an instant query's first sample, if it has one yet.
    fn query(&self, promql: &str) -> Option<f64> {
        let encoded: String = promql
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET /api/v1/query?query={encoded} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[1700000000.1,"42"]}]}}
        let after = body.split("\"value\":[").nth(1)?;
        let quoted = after.split(',').nth(1)?;
        quoted.trim_start_matches('"').split('"').next()?.parse().ok()
    }

    fn wait_for(&self, promql: &str, within: Duration, ok: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = self.query(promql) {
                if ok(v) {
                    return v;
                }
            }
            assert!(Instant::now() < deadline, "Prometheus never saw {promql} as wanted");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_real_prometheus_scrapes_a_counter_that_moves() {
    if !common::tools::available("prometheus", "--version") {
        return;
    }
    let s = Server::start(&["--proactor_threads", "2"]);
    let mut c = s.client();
    let _: () = redis::cmd("SET").arg("warm").arg("up").query(&mut c).unwrap();
    let prom = Prometheus::start(s.port);
    let up = prom.wait_for("up{job=\"mayfly\"}", Duration::from_secs(60), |v| v == 1.0);
    assert_eq!(up, 1.0);
    let series = "mayfly_commands_total{cmd=\"set\"}";
    let before = prom.wait_for(series, Duration::from_secs(30), |v| v >= 1.0);
    for i in 0..500 {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut c).unwrap();
    }
    let after = prom.wait_for(series, Duration::from_secs(30), |v| v >= before + 500.0);
    assert!(after >= before + 500.0);
    // A gauge from the keyspace too: every key Prometheus saw is there.
    prom.wait_for("mayfly_db_keys{db=\"db0\"}", Duration::from_secs(30), |v| v == 501.0);
}
