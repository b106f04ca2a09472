//! `/metrics` and `/healthz` over HTTP on the RESP port and on `--admin_port`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{free_port, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn http_get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("an HTTP response");
    (head.to_string(), body.to_string())
}

fn value(body: &str, series: &str) -> f64 {
    let line =
        body.lines().find(|l| l.starts_with(series) && l[series.len()..].starts_with(' ')).unwrap_or_else(|| {
            panic!("{series} missing");
        });
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn scrape_on_the_main_port() {
    let s = Server::start(&["--proactor_threads", "2"]);
    let mut c = s.client();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("b").arg("2").arg("EX").arg("100").query(&mut c).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("nope").query(&mut c).unwrap();
    let (head, body) = http_get(s.port, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"));
    assert_eq!(value(&body, "mayfly_up"), 1.0);
    assert_eq!(value(&body, "mayfly_db_keys{db=\"db0\"}"), 2.0);
    assert_eq!(value(&body, "mayfly_db_keys_expiring{db=\"db0\"}"), 1.0);
    assert_eq!(value(&body, "mayfly_commands_total{cmd=\"set\"}"), 2.0);
    assert!(value(&body, "mayfly_keyspace_misses_total") >= 1.0);
    assert!(value(&body, "mayfly_net_input_bytes_total") > 0.0);
    assert!(value(&body, "mayfly_connected_clients") >= 1.0);

    let (head, body) = http_get(s.port, "/healthz");
    assert!(head.starts_with("HTTP/1.1 200"));
    assert_eq!(body, "ok\n");
    let (head, _) = http_get(s.port, "/nope");
    assert!(head.starts_with("HTTP/1.1 404"));

    // RESP, including inline commands that start like a request line, still works.
    let mut raw = s.raw();
    raw.write_all(b"GET /a\r\n").unwrap();
    let mut buf = [0u8; 5];
    raw.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"$-1\r\n");

    promtool_check(&body_of(s.port));
}

/// `promtool check metrics` finds nothing to complain about, when promtool is installed
/// (Debian's prometheus package, which .ci/run installs).
fn promtool_check(body: &str) {
    if !common::tools::available("promtool", "--version") {
        return;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `mayfly_*` names deploy/monitoring's dashboard and alert rules use.
fn deploy_metric_names() -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut names = std::collections::BTreeSet::new();
    for file in ["deploy/monitoring/mayfly-dashboard.json", "deploy/monitoring/mayfly-alerts.yml"] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        for (i, _) in text.match_indices("mayfly_") {
            let name: String = text[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if name.len() > "mayfly_".len() {
                names.insert(name);
            }
        }
    }
    assert!(names.len() >= 10, "{names:?}");
    names.into_iter().collect()
}

fn body_of(port: u16) -> String {
    http_get(port, "/metrics").1
}

#[test]
fn admin_port_and_redis_prefix() {
    let admin = free_port();
    let s =
        Server::start(&["--proactor_threads", "2", "--admin_port", &admin.to_string(), "--metrics_prefix", "redis"]);
    let (head, body) = http_get(admin, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"));
    // Every metric Grafana dashboard 763 queries.
    for name in [
        "redis_up",
        "redis_uptime_in_seconds",
        "redis_connected_clients",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_commands_processed_total",
        "redis_keyspace_hits_total",
        "redis_keyspace_misses_total",
        "redis_net_input_bytes_total",
        "redis_net_output_bytes_total",
        "redis_db_keys",
        "redis_db_keys_expiring",
        "redis_expired_keys_total",
        "redis_evicted_keys_total",
        "redis_commands_total",
        "redis_commands_duration_seconds_total",
    ] {
        assert!(
            body.lines().any(|l| l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{"))),
            "{name}"
        );
    }
    // The admin port speaks RESP too.
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{admin}/")).unwrap().get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    drop(s);
}

#[test]
fn replication_metrics_on_both_sides() {
    let primary = Server::start(&["--proactor_threads", "2"]);
    let replica = Server::start(&["--proactor_threads", "2", "--replicaof", &format!("127.0.0.1:{}", primary.port)]);
    let mut c = primary.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = body_of(replica.port);
        let p = body_of(primary.port);
        let linked = r.lines().any(|l| l == "mayfly_master_link_up 1");
        let offset = value(&p, "mayfly_master_repl_offset");
        let acked = p.lines().any(|l| {
            l.starts_with("mayfly_connected_slave_offset_bytes{") && l.rsplit(' ').next() == Some(&offset.to_string())
        });
        if linked && acked && value(&r, "mayfly_master_repl_offset") == offset {
            assert_eq!(value(&p, "mayfly_connected_slaves"), 1.0);
            assert!(p.contains("mayfly_instance_info{role=\"master\""));
            assert!(r.contains("mayfly_instance_info{role=\"slave\""));
            assert!(
                r.contains(&format!("mayfly_slave_info{{master_host=\"127.0.0.1\",master_port=\"{}\"", primary.port))
            );
            assert!(value(&p, "mayfly_repl_backlog_is_active") == 1.0);
            promtool_check(&p);
            promtool_check(&r);
            // Every series the shipped dashboard and alerts query exists on one side or the other.
            for name in deploy_metric_names() {
                let found = |body: &str| {
                    body.lines().any(|l| l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{")))
                };
                assert!(found(&p) || found(&r), "deploy/monitoring queries {name}, which /metrics lacks");
            }
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no link in /metrics:\n{r}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The link going down shows on the replica.
    drop(primary);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !body_of(replica.port).lines().any(|l| l == "mayfly_master_link_up 0") {
        assert!(std::time::Instant::now() < deadline, "link still up");
        std::thread::sleep(Duration::from_millis(200));
    }
}
