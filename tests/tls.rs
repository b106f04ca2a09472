//! TLS on the real binary: redis-cli and an in-process rustls client against `--tls`, client
//! certificates with `--tls_ca_cert_file`, clients that never finish a handshake, /metrics over
//! https, startup errors for bad files, and `--tls_replication` from a Mayfly and from a
//! redis-server TLS primary. Certificates are made with openssl at test time.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::certs::Certs;
use common::redis_peer::{eventually, installed};
use common::{free_port, Server};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Certificates, or None (the test is skipped) when openssl or redis-cli is missing.
fn setup(tag: &str) -> Option<Certs> {
    if !installed("redis-cli") {
        return None;
    }
    Certs::generate(tag)
}

/// The flags of a TLS server presenting the node certificate; `require_clients` adds the CA.
fn tls_flags(c: &Certs, require_clients: bool) -> Vec<String> {
    let mut f = vec![
        "--tls".to_string(),
        format!("--tls_cert_file={}", c.path("node.crt")),
        format!("--tls_key_file={}", c.path("node.key")),
    ];
    if require_clients {
        f.push(format!("--tls_ca_cert_file={}", c.path("ca.crt")));
    }
    f
}

/// redis-cli over TLS, trusting the test CA and showing `client` (`client`, `rogue-client`) if
/// given. Returns (exit status ok, stdout + stderr).
fn cli(c: &Certs, port: u16, client: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["--tls", "--cacert", &c.path("ca.crt"), "-p", &port.to_string()]);
    if let Some(name) = client {
        cmd.args(["--cert", &c.path(&format!("{name}.crt")), "--key", &c.path(&format!("{name}.key"))]);
    }
    let out = cmd.args(args).stdin(Stdio::null()).output().expect("run redis-cli");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && !text.contains("Error"), text.trim().to_string())
}

fn start_tls(c: &Certs, require_clients: bool, extra: &[&str]) -> Server {
    let mut args = tls_flags(c, require_clients);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let client = require_clients.then_some("client");
    Server::start_probed(&args, &|port| cli(c, port, client, &["PING"]).1 == "PONG")
}

/// An in-process TLS connection (rustls with ring), trusting the test CA.
fn connect(c: &Certs, port: u16, client: Option<&str>) -> std::io::Result<TlsStream> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(c.path("ca.crt")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(name) => {
            let certs: Vec<_> =
                CertificateDer::pem_file_iter(c.path(&format!("{name}.crt"))).unwrap().map(Result::unwrap).collect();
            let key = PrivateKeyDer::from_pem_file(c.path(&format!("{name}.key"))).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let conn = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
        .map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    // Finish the handshake now, so a refusal shows here rather than at the first read.
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(s)
}

/// Sends inline commands in one write and reads one reply per command: status, error and
/// integer replies as their line, bulk strings as their contents.
fn pipeline(s: &mut TlsStream, commands: &[String]) -> Vec<String> {
    let mut out = String::new();
    for c in commands {
        out.push_str(c);
        out.push_str("\r\n");
    }
    s.write_all(out.as_bytes()).unwrap();
    s.flush().unwrap();
    let mut r = BufReader::new(s);
    let mut line = || {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    };
    (0..commands.len())
        .map(|_| {
            let first = line();
            match first.strip_prefix('$') {
                Some(n) if n != "-1" => line(),
                _ => first,
            }
        })
        .collect()
}

fn info_stat(c: &Certs, port: u16, client: Option<&str>, field: &str) -> u64 {
    let (_, info) = cli(c, port, client, &["INFO", "stats"]);
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).and_then(|v| v.trim().parse().ok()).unwrap()
}

#[test]
fn redis_cli_and_an_in_process_client_work_over_tls() {
    let Some(c) = setup("basic") else { return };
    let s = start_tls(&c, false, &[]);
    assert_eq!(cli(&c, s.port, None, &["SET", "greeting", "hello"]), (true, "OK".to_string()));
    assert_eq!(cli(&c, s.port, None, &["GET", "greeting"]), (true, "hello".to_string()));
    // Pipelined writes through rustls: every reply arrives, in order.
    let mut conn = connect(&c, s.port, None).unwrap();
    let cmds: Vec<String> = (0..500).map(|i| format!("SET key:{i} value-{i}")).chain(["DBSIZE".into()]).collect();
    let replies = pipeline(&mut conn, &cmds);
    assert!(replies[..500].iter().all(|r| r == "+OK"), "{:?}", &replies[..3]);
    assert_eq!(replies[500], ":501");
    // CONFIG GET answers under Redis's names.
    let (_, conf) = cli(&c, s.port, None, &["CONFIG", "GET", "tls-*"]);
    let lines: Vec<&str> = conf.lines().collect();
    let get = |name: &str| lines.iter().position(|l| *l == name).map(|i| lines.get(i + 1).copied().unwrap_or(""));
    assert_eq!(get("tls-cert-file"), Some(c.path("node.crt").as_str()));
    assert_eq!(get("tls-key-file"), Some(c.path("node.key").as_str()));
    assert_eq!(get("tls-replication"), Some("no"));
    assert_eq!(get("tls-auth-clients"), Some("yes"));
    let (_, refused) = cli(&c, s.port, None, &["CONFIG", "SET", "tls-cert-file", "/x"]);
    assert!(refused.contains("can't set immutable config"), "{refused}");
}

#[test]
fn plain_and_stalled_clients_are_dropped_without_disturbing_others() {
    let Some(c) = setup("bad-handshake") else { return };
    let s = start_tls(&c, false, &[]);
    let mut good = connect(&c, s.port, None).unwrap();
    assert_eq!(pipeline(&mut good, &["SET k v".into()]), ["+OK"]);
    // A plain RESP client: the server answers no PONG and closes the connection.
    let mut plain = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    plain.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!String::from_utf8_lossy(&got).contains("PONG"), "{got:?}");
    // A client that starts a TLS record and stalls holds only its own connection.
    let mut stalled = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    // Meanwhile existing and new clients are served.
    assert_eq!(pipeline(&mut good, &["GET k".into(), "INCR n".into()]), ["v", ":1"]);
    assert_eq!(cli(&c, s.port, None, &["GET", "n"]), (true, "1".to_string()));
    for _ in 0..5 {
        assert_eq!(cli(&c, s.port, None, &["PING"]), (true, "PONG".to_string()));
    }
    drop(stalled);
    assert!(eventually(Duration::from_secs(5), || info_stat(&c, s.port, None, "tls_handshake_failures") >= 2));
}

#[test]
fn a_ca_file_requires_client_certificates_it_signed() {
    let Some(c) = setup("client-auth") else { return };
    let s = start_tls(&c, true, &[]);
    let (ok, _) = cli(&c, s.port, None, &["PING"]);
    assert!(!ok, "a client without a certificate must be refused");
    assert!(connect(&c, s.port, None).and_then(|mut t| t.read(&mut [0u8; 1])).is_err());
    let (ok, _) = cli(&c, s.port, Some("rogue-client"), &["PING"]);
    assert!(!ok, "a certificate from another CA must be refused");
    assert_eq!(cli(&c, s.port, Some("client"), &["SET", "a", "1"]), (true, "OK".to_string()));
    let mut t = connect(&c, s.port, Some("client")).unwrap();
    assert_eq!(pipeline(&mut t, &["GET a".into()]), ["1"]);
    assert!(info_stat(&c, s.port, Some("client"), "tls_handshake_failures") >= 3);

    // tls-auth-clients optional: no certificate is fine, a wrong one is not.
    let o = start_tls(&c, true, &["--tls_auth_clients=optional"]);
    assert_eq!(cli(&c, o.port, None, &["PING"]), (true, "PONG".to_string()));
    assert!(!cli(&c, o.port, Some("rogue-client"), &["PING"]).0);
}

#[test]
fn metrics_over_https_and_the_admin_port() {
    let Some(c) = setup("metrics") else { return };
    let admin = free_port();
    let admin_flag = format!("--admin_port={admin}");
    let s = start_tls(&c, true, &[&admin_flag]);
    let mut t = connect(&c, s.port, Some("client")).unwrap();
    t.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    let _ = t.read_to_string(&mut body);
    assert!(body.starts_with("HTTP/1.1 200"), "{body:.200}");
    assert!(body.contains("mayfly_tls_handshake_failures_total"), "{body:.200}");
    // The admin port speaks TLS too unless --no_tls_on_admin_port.
    assert_eq!(cli(&c, admin, Some("client"), &["PING"]), (true, "PONG".to_string()));
    drop(s);

    let admin = free_port();
    let admin_flag = format!("--admin_port={admin}");
    let _s = start_tls(&c, true, &[&admin_flag, "--no_tls_on_admin_port"]);
    let mut plain = TcpStream::connect(("127.0.0.1", admin)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    plain.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    let _ = plain.read_to_string(&mut body);
    assert!(body.starts_with("HTTP/1.1 200") && body.contains("mayfly_up"), "{body:.200}");
}

#[test]
fn bad_tls_files_stop_the_server_at_startup_with_a_clear_line() {
    let Some(c) = setup("startup") else { return };
    std::fs::write(c.path("garbage.pem"), "not a certificate\n").unwrap();
    let (crt, key, ca) = (c.path("node.crt"), c.path("node.key"), c.path("ca.crt"));
    let flag = |name: &str, v: &str| format!("--{name}={v}");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--tls".into()], "--tls needs --tls_cert_file and --tls_key_file"),
        (
            vec!["--tls".into(), flag("tls_cert_file", "/nonexistent/x.crt"), flag("tls_key_file", &key)],
            "/nonexistent/x.crt",
        ),
        (
            vec!["--tls".into(), flag("tls_cert_file", &c.path("garbage.pem")), flag("tls_key_file", &key)],
            "garbage.pem",
        ),
        (
            vec!["--tls".into(), flag("tls_cert_file", &crt), flag("tls_key_file", &c.path("garbage.pem"))],
            "garbage.pem",
        ),
        // The client's key does not belong to the node's certificate.
        (
            vec!["--tls".into(), flag("tls_cert_file", &crt), flag("tls_key_file", &c.path("client.key"))],
            "does not belong",
        ),
        (
            vec![
                "--tls".into(),
                flag("tls_cert_file", &crt),
                flag("tls_key_file", &key),
                flag("tls_ca_cert_file", &c.path("garbage.pem")),
            ],
            "garbage.pem",
        ),
        (
            vec!["--tls_replication".into(), flag("tls_cert_file", &crt), flag("tls_key_file", &key)],
            "--tls_ca_cert_file",
        ),
        (
            vec!["--tls_replication".into(), flag("tls_ca_cert_file", &ca), flag("tls_cert_file", &crt)],
            "--tls_key_file",
        ),
    ];
    for (args, expected) in cases {
        let mut all: Vec<&str> = vec!["--port=0", "--dbfilename="];
        all.extend(args.iter().map(String::as_str));
        let (code, stderr) = run_briefly(&all);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("cannot set up TLS") && stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Runs the binary expecting it to exit by itself; one that starts anyway is killed after a
/// few seconds (its exit code is then None). Returns (exit code, stderr).
fn run_briefly(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mayfly"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let exited = eventually(Duration::from_secs(10), || matches!(child.try_wait(), Ok(Some(_))));
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code().filter(|_| exited), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// DEBUG DIGEST over TLS; panics unless it is a digest of a non-empty dataset (so two failing
/// calls can never compare equal).
fn digest(c: &Certs, port: u16) -> String {
    let (ok, d) = cli(c, port, Some("client"), &["DEBUG", "DIGEST"]);
    assert!(ok && d.len() == 40 && d.bytes().all(|b| b.is_ascii_hexdigit()), "DEBUG DIGEST on {port}: {d}");
    assert_ne!(d, "0".repeat(40), "empty dataset on {port}");
    d
}

/// Writes a mix of types through a TLS connection.
fn write_dataset(t: &mut TlsStream, prefix: &str) {
    let mut cmds: Vec<String> = (0..300).map(|i| format!("SET {prefix}:s:{i} v{i}")).collect();
    cmds.extend((0..50).map(|i| format!("HSET {prefix}:h f{i} {i}")));
    cmds.extend((0..50).map(|i| format!("RPUSH {prefix}:l {i}")));
    cmds.extend((0..50).map(|i| format!("ZADD {prefix}:z {i} m{i}")));
    cmds.push(format!("SET {prefix}:ttl x EX 1000"));
    let replies = pipeline(t, &cmds);
    assert!(replies.iter().all(|r| r.starts_with('+') || r.starts_with(':')), "{replies:?}");
}

/// Makes a plain-port Mayfly replica follow `host:port` over TLS and waits until its data
/// digest equals `digest()`.
fn follow_and_compare(c: &Certs, host: &str, port: u16, digest: &dyn Fn() -> String) -> Server {
    let flags = [
        "--tls_replication".to_string(),
        format!("--tls_cert_file={}", c.path("node.crt")),
        format!("--tls_key_file={}", c.path("node.key")),
        format!("--tls_ca_cert_file={}", c.path("ca.crt")),
        "--enable_debug_command=yes".to_string(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let replica = Server::start(&flags);
    let mut r = replica.client();
    let _: () = redis::cmd("REPLICAOF").arg(host).arg(port).query(&mut r).unwrap();
    let synced = eventually(Duration::from_secs(30), || {
        let info: String = redis::cmd("INFO").arg("replication").query(&mut r).unwrap();
        let theirs = digest();
        let ours: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut r).unwrap();
        info.contains("master_link_status:up") && ours == theirs
    });
    let info: String = redis::cmd("INFO").arg("replication").query(&mut r).unwrap();
    assert!(synced, "replica did not converge: {info}");
    replica
}

#[test]
fn a_replica_follows_a_mayfly_tls_primary_over_tls() {
    let Some(c) = setup("repl-mayfly") else { return };
    let primary = start_tls(&c, true, &["--enable_debug_command=yes"]);
    let mut t = connect(&c, primary.port, Some("client")).unwrap();
    write_dataset(&mut t, "before");
    let primary_digest = || digest(&c, primary.port);
    let replica = follow_and_compare(&c, "localhost", primary.port, &primary_digest);
    // The stream after the full sync arrives over TLS too.
    write_dataset(&mut t, "after");
    let mut r = replica.client();
    assert_streamed(&mut r, &primary_digest);
    let v: String = redis::cmd("GET").arg("after:s:299").query(&mut r).unwrap();
    assert_eq!(v, "v299");
}

/// After the full sync, the stream (over TLS too) brings the second dataset: same digest, both
/// datasets' keys.
fn assert_streamed(r: &mut redis::Connection, primary_digest: &dyn Fn() -> String) {
    assert!(eventually(Duration::from_secs(20), || {
        redis::cmd("DEBUG").arg("DIGEST").query::<String>(r).unwrap() == primary_digest()
    }));
    let n: i64 = redis::cmd("DBSIZE").query(r).unwrap();
    assert_eq!(n, 2 * 304);
}

/// A redis-server serving TLS only (`--port 0 --tls-port`), requiring client certificates.
struct RedisTls {
    port: u16,
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for RedisTls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_redis_tls(c: &Certs, extra: &[&str]) -> RedisTls {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("mayfly-redis-tls-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new("redis-server")
        .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--tls-cert-file", &c.path("node.crt"), "--tls-key-file", &c.path("node.key")])
        .args(["--tls-ca-cert-file", &c.path("ca.crt"), "--tls-replication", "yes"])
        .args(["--save", "", "--appendonly", "no", "--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0"])
        .arg("--dir")
        .arg(&dir)
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let r = RedisTls { port, child, dir };
    assert!(
        eventually(Duration::from_secs(10), || cli(c, port, Some("client"), &["PING"]).1 == "PONG"),
        "redis-server with TLS did not start"
    );
    r
}

#[test]
fn a_replica_follows_a_redis_server_tls_primary() {
    let Some(c) = setup("repl-redis") else { return };
    if !installed("redis-server") {
        return;
    }
    let redis = start_redis_tls(&c, &[]);
    let mut t = connect(&c, redis.port, Some("client")).unwrap();
    write_dataset(&mut t, "before");
    let primary_digest = || digest(&c, redis.port);
    let replica = follow_and_compare(&c, "127.0.0.1", redis.port, &primary_digest);
    write_dataset(&mut t, "after");
    let mut r = replica.client();
    assert_streamed(&mut r, &primary_digest);
}

#[test]
fn a_redis_server_replica_follows_a_mayfly_tls_primary() {
    let Some(c) = setup("repl-to-redis") else { return };
    if !installed("redis-server") {
        return;
    }
    let primary = start_tls(&c, true, &["--enable_debug_command=yes"]);
    let mut t = connect(&c, primary.port, Some("client")).unwrap();
    write_dataset(&mut t, "before");
    let port = primary.port.to_string();
    let redis = start_redis_tls(&c, &["--replicaof", "127.0.0.1", &port]);
    let ours = || digest(&c, primary.port);
    // Until its first sync the replica's dataset is empty (all-zero digest) or loading.
    let theirs = || cli(&c, redis.port, Some("client"), &["DEBUG", "DIGEST"]).1;
    assert!(eventually(Duration::from_secs(30), || theirs() == ours()), "redis-server did not converge");
    write_dataset(&mut t, "after");
    assert!(eventually(Duration::from_secs(20), || theirs() == ours()));
    let (_, role) = cli(&c, redis.port, Some("client"), &["ROLE"]);
    assert!(role.starts_with("slave") && role.contains("connected"), "{role}");
    assert_eq!(cli(&c, redis.port, Some("client"), &["DBSIZE"]).1, "608");
}
