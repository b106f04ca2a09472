//! SLOWLOG, LATENCY, MEMORY and DEBUG against the real binary.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::Server;
use redis::{cmd, Value};

#[test]
fn slowlog() {
    let s = Server::start(&["--proactor_threads", "2", "--enable_debug_command", "yes"]);
    let mut c = s.client();
    let _: () = cmd("CONFIG").arg("SET").arg("slowlog-log-slower-than").arg(100000).query(&mut c).unwrap();
    let _: () = cmd("SLOWLOG").arg("RESET").query(&mut c).unwrap();
    let _: String = cmd("PING").query(&mut c).unwrap();
    let n: i64 = cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
    assert_eq!(n, 0);
    let _: () = cmd("CLIENT").arg("SETNAME").arg("foobar").query(&mut c).unwrap();
    let _: () = cmd("DEBUG").arg("SLEEP").arg("0.2").query(&mut c).unwrap();
    let n: i64 = cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
    assert_eq!(n, 1);
    let log: Vec<Value> = cmd("SLOWLOG").arg("GET").query(&mut c).unwrap();
    let Value::Array(e) = &log[0] else { panic!("{log:?}") };
    assert_eq!(e.len(), 6);
    let Value::Int(us) = e[2] else { panic!() };
    assert!(us >= 200_000, "{us}");
    let args: Vec<String> = redis::from_redis_value(e[3].clone()).unwrap();
    assert_eq!(args, vec!["DEBUG", "SLEEP", "0.2"]);
    assert_eq!(e[5], Value::BulkString(b"foobar".to_vec()));

    // Everything is logged at threshold 0, newest first, up to slowlog-max-len.
    let _: () = cmd("CONFIG").arg("SET").arg("slowlog-log-slower-than").arg(0).query(&mut c).unwrap();
    let _: () = cmd("CONFIG").arg("SET").arg("slowlog-max-len").arg(3).query(&mut c).unwrap();
    for i in 0..5 {
        let _: () = cmd("SET").arg(format!("k{i}")).arg("v").query(&mut c).unwrap();
    }
    let n: i64 = cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
    assert_eq!(n, 3);
    let log: Vec<Value> = cmd("SLOWLOG").arg("GET").arg(-1).query(&mut c).unwrap();
    assert_eq!(log.len(), 3);
    // SLOWLOG LEN itself was logged last, as Redis does.
    let Value::Array(e) = &log[1] else { panic!() };
    let args: Vec<String> = redis::from_redis_value(e[3].clone()).unwrap();
    assert_eq!(args, vec!["SET", "k4", "v"]);
    let e = cmd("SLOWLOG").arg("GET").arg(-2).query::<Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("count should be greater than or equal to -1"), "{e}");
}

#[test]
fn debug_gate_and_tools() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let e = cmd("DEBUG").arg("SLEEP").arg("0").query::<Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("DEBUG command not allowed. If the enable-debug-command option is set to"), "{e}");

    let s = Server::start(&["--proactor_threads", "3", "--enable_debug_command", "local"]);
    let mut c = s.client();
    let _: () = cmd("DEBUG").arg("POPULATE").arg(1000).query(&mut c).unwrap();
    let n: i64 = cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 1000);
    let v: String = cmd("GET").arg("key:7").query(&mut c).unwrap();
    assert_eq!(v, "value:7");
    let _: () = cmd("SET").arg("a").arg("same").query(&mut c).unwrap();
    let _: () = cmd("SET").arg("b").arg("same").query(&mut c).unwrap();
    let d: Vec<String> = cmd("DEBUG").arg("DIGEST-VALUE").arg("a").arg("b").arg("nope").query(&mut c).unwrap();
    assert_eq!(d[0], d[1]);
    assert_eq!(d[2], "0".repeat(40));
    let before: String = cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
    assert_ne!(before, "0".repeat(40));
    let obj: String = cmd("DEBUG").arg("OBJECT").arg("a").query(&mut c).unwrap();
    assert!(obj.contains("encoding:embstr"), "{obj}");
    let _: () = cmd("DEBUG").arg("SET-ACTIVE-EXPIRE").arg(0).query(&mut c).unwrap();
    let usage: Option<i64> = cmd("MEMORY").arg("USAGE").arg("a").query(&mut c).unwrap();
    assert!(usage.unwrap() > 0);
    let usage: Option<i64> = cmd("MEMORY").arg("USAGE").arg("nope").query(&mut c).unwrap();
    assert_eq!(usage, None);
    let latest: Vec<Value> = cmd("LATENCY").arg("LATEST").query(&mut c).unwrap();
    assert!(latest.is_empty());
    let doctor: String = cmd("MEMORY").arg("DOCTOR").query(&mut c).unwrap();
    assert!(doctor.starts_with("Hi Sam, this instance is empty"), "{doctor}");
    // With data (about 40 MB) the detector runs its checks.
    let _: () = cmd("DEBUG").arg("POPULATE").arg(200_000).arg("big").arg(150).query(&mut c).unwrap();
    let doctor: String = cmd("MEMORY").arg("DOCTOR").query(&mut c).unwrap();
    assert!(
        doctor.starts_with("Hi Sam, I can't find any memory issue") || doctor.starts_with("Sam, I detected"),
        "{doctor}"
    );
}

#[test]
fn latencystats_cpu_and_latency_histogram() {
    let s = Server::start(&["--proactor_threads", "2", "--enable_debug_command", "yes"]);
    let mut c = s.client();
    for i in 0..50 {
        let _: () = cmd("SET").arg(format!("k{i}")).arg(i).query(&mut c).unwrap();
    }
    let _: () = cmd("DEBUG").arg("SLEEP").arg("0.05").query(&mut c).unwrap();
    let info: String = cmd("INFO").arg("latencystats").query(&mut c).unwrap();
    let line = info.lines().find(|l| l.starts_with("latency_percentiles_usec_set:")).expect(&info);
    let parts: Vec<f64> = line
        .split_once(':')
        .unwrap()
        .1
        .split(',')
        .zip(["p50=", "p99=", "p99.9="])
        .map(|(p, want)| p.strip_prefix(want).expect(line).parse().unwrap())
        .collect();
    assert!(parts[0] > 0.0 && parts[0] <= parts[1] && parts[1] <= parts[2], "{line}");
    let debug = info.lines().find(|l| l.starts_with("latency_percentiles_usec_debug:")).expect(&info);
    let p50: f64 = debug.split(['=', ',']).nth(1).unwrap().parse().unwrap();
    // At least the 50 ms slept, in microseconds; the upper bound only catches a unit mistake
    // (a busy machine has stretched the sleep to 71 ms).
    assert!((50_000.0..500_000.0).contains(&p50), "{debug}");
    // Not in the default sections; in `everything`.
    let default: String = cmd("INFO").query(&mut c).unwrap();
    assert!(!default.contains("# Latencystats"));
    let all: String = cmd("INFO").arg("everything").query(&mut c).unwrap();
    assert!(all.contains("# Latencystats\r\nlatency_percentiles_usec_"));

    // The percentiles shown follow the config; tracking can be switched off.
    let _: () =
        cmd("CONFIG").arg("SET").arg("latency-tracking-info-percentiles").arg("50.0 99.99").query(&mut c).unwrap();
    let got: Vec<String> = cmd("CONFIG").arg("GET").arg("latency-tracking-info-percentiles").query(&mut c).unwrap();
    assert_eq!(got[1], "50 99.99");
    let info: String = cmd("INFO").arg("latencystats").query(&mut c).unwrap();
    assert!(info.contains("latency_percentiles_usec_set:p50="), "{info}");
    assert!(info.lines().all(|l| l.starts_with('#') || (l.contains(",p99.99=") && !l.contains("p99.9="))), "{info}");
    let e = cmd("CONFIG").arg("SET").arg("latency-tracking-info-percentiles").arg("200").query::<()>(&mut c);
    assert!(e.unwrap_err().to_string().contains("should sit between [0.0,100.0]"));
    let _: () = cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let _: () = cmd("CONFIG").arg("SET").arg("latency-tracking").arg("no").query(&mut c).unwrap();
    let _: () = cmd("SET").arg("x").arg("1").query(&mut c).unwrap();
    let info: String = cmd("INFO").arg("latencystats").query(&mut c).unwrap();
    assert!(!info.contains("latency_percentiles_usec_set"), "{info}");

    // LATENCY HISTOGRAM: cumulative power-of-two buckets.
    let _: () = cmd("CONFIG").arg("SET").arg("latency-tracking").arg("yes").query(&mut c).unwrap();
    for _ in 0..3 {
        let _: () = cmd("SET").arg("x").arg("1").query(&mut c).unwrap();
    }
    let h: redis::Value = cmd("LATENCY").arg("HISTOGRAM").arg("set").query(&mut c).unwrap();
    let text = format!("{h:?}");
    assert!(text.contains("calls") && text.contains("histogram_usec") && text.contains("int(3)"), "{text}");

    // CPU time is real: busy work makes it grow.
    let cpu = |c: &mut redis::Connection| -> f64 {
        let info: String = cmd("INFO").arg("cpu").query(c).unwrap();
        ["used_cpu_sys:", "used_cpu_user:"]
            .iter()
            .map(|k| info.lines().find_map(|l| l.strip_prefix(k)).unwrap().parse::<f64>().unwrap())
            .sum()
    };
    let before = cpu(&mut c);
    let _: () = cmd("DEBUG").arg("POPULATE").arg(200_000).query(&mut c).unwrap();
    assert!(cpu(&mut c) > before, "used_cpu_* did not grow");
}
