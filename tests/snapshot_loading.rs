//! While the snapshot loads at start, clients get -LOADING and INFO persistence shows how far
//! the load has come (Redis 7.0's loading_* fields); afterwards the fields are gone.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
use common::*;
use redis::cmd;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process started without waiting for it to serve (it is loading); killed on drop.
struct Loading(Child);

impl Drop for Loading {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends one inline command and reads one RESP reply (a simple line or a bulk string).
fn ask(s: &mut BufReader<TcpStream>, line: &str) -> String {
    s.get_mut().write_all(format!("{line}\r\n").as_bytes()).unwrap();
    let mut head = String::new();
    s.read_line(&mut head).unwrap();
    match head.strip_prefix('$') {
        Some(n) => {
            let mut body = vec![0u8; n.trim().parse::<usize>().unwrap() + 2];
            s.read_exact(&mut body).unwrap();
            String::from_utf8(body).unwrap()
        }
        None => head,
    }
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).map(str::trim)
}

#[test]
fn info_reports_loading_progress_while_commands_get_loading() {
    let dir = std::env::temp_dir().join(format!("mayfly-loading-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir_arg = format!("--dir={}", dir.display());
    let args = [dir_arg.as_str(), "--dbfilename=dump.rdb", "--proactor_threads=2", "--enable_debug_command=yes"];
    {
        let s = Server::start(&args);
        let mut c = s.client();
        let _: () = cmd("DEBUG").arg("POPULATE").arg(600_000).arg("key").arg(40).query(&mut c).unwrap();
        let _: () = cmd("SAVE").query(&mut c).unwrap();
    }
    let file_size = std::fs::metadata(dir.join("dump.rdb")).unwrap().len();
    let port = free_port();
    let _server = Loading(
        Command::new(env!("CARGO_BIN_EXE_mayfly"))
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--loglevel", "warning"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let stream = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut s = BufReader::new(stream);
    let (mut seen_loading, mut last_loaded, mut refused) = (0, 0u64, false);
    let now_secs = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    loop {
        assert!(Instant::now() < deadline, "still loading after 60 s");
        let info = ask(&mut s, "INFO persistence");
        if field(&info, "loading") == Some("0") {
            assert_eq!(field(&info, "loading_total_bytes"), None, "progress fields stay after the load");
            break;
        }
        assert_eq!(field(&info, "loading"), Some("1"));
        seen_loading += 1;
        let num = |name: &str| field(&info, name).unwrap_or_else(|| panic!("{name} missing")).parse::<u64>().unwrap();
        let start = num("loading_start_time");
        assert!(start <= now_secs() && start + 60 >= now_secs(), "start time {start}");
        let (total, loaded) = (num("loading_total_bytes"), num("loading_loaded_bytes"));
        assert!(total == 0 || total == file_size, "total {total} of a {file_size}-byte file");
        assert!(loaded <= file_size && loaded >= last_loaded, "loaded {loaded} after {last_loaded}");
        last_loaded = loaded;
        let perc: f64 = field(&info, "loading_loaded_perc").unwrap().parse().unwrap();
        if total != 0 {
            assert!((perc - loaded as f64 * 100.0 / total as f64).abs() < 0.01, "{perc}% for {loaded}/{total}");
        }
        num("loading_eta_seconds");
        num("loading_rdb_used_mem");
        if !refused {
            let reply = ask(&mut s, "GET key:1");
            refused = reply.starts_with("-LOADING");
            assert!(refused || reply.starts_with("$"), "{reply}");
        }
    }
    assert!(seen_loading > 0, "the load ended before INFO could see it");
    assert!(refused, "no command was refused with -LOADING during the load");
    assert_eq!(ask(&mut s, "DBSIZE"), ":600000\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}
