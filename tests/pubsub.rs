//! Pub/sub through a real 4-thread server: delivery across threads in publish order, patterns,
//! shard channels, RESP2 subscribed-mode rules, RESP3 pushes, PUBSUB introspection, keyspace
//! notifications, and the output buffer limit cutting off a subscriber that does not read.
#![allow(clippy::disallowed_methods)]

mod common;
mod resp;

use common::Server;
use resp::{Resp, V};
use std::time::Duration;

fn push3(kind: &str, a: &str, n: i64) -> V {
    V::arr(vec![V::bulk(kind), V::bulk(a), V::Int(n)])
}

fn msg(ch: &str, payload: &str) -> V {
    V::arr(vec![V::bulk("message"), V::bulk(ch), V::bulk(payload)])
}

fn server() -> Server {
    Server::start(&["--proactor_threads", "4"])
}

#[test]
fn publish_reaches_subscribers_on_every_thread_in_order() {
    let s = server();
    // Connections are spread round-robin over the 4 threads.
    let mut subs: Vec<Resp> = (0..6).map(|_| Resp::connect(s.port)).collect();
    for c in subs.iter_mut() {
        assert_eq!(c.call(&["SUBSCRIBE", "news", "sport"]), push3("subscribe", "news", 1));
        assert_eq!(c.read(), push3("subscribe", "sport", 2));
    }
    let mut p = Resp::connect(s.port);
    for i in 0..50 {
        assert_eq!(p.call(&["PUBLISH", "news", &i.to_string()]), V::Int(6));
    }
    assert_eq!(p.call(&["PUBLISH", "nobody", "x"]), V::Int(0));
    for c in subs.iter_mut() {
        for i in 0..50 {
            assert_eq!(c.read(), msg("news", &i.to_string()));
        }
    }
    assert_eq!(
        p.call(&["PUBSUB", "NUMSUB", "news", "sport", "none"]),
        V::arr(vec![V::bulk("news"), V::Int(6), V::bulk("sport"), V::Int(6), V::bulk("none"), V::Int(0)])
    );
    assert_eq!(p.call(&["PUBSUB", "CHANNELS", "n*"]), V::arr(vec![V::bulk("news")]));
    // Unsubscribing from everything replies once per channel.
    let c = &mut subs[0];
    assert_eq!(c.call(&["UNSUBSCRIBE"]), push3("unsubscribe", "news", 1));
    assert_eq!(c.read(), push3("unsubscribe", "sport", 0));
    assert_eq!(c.call(&["UNSUBSCRIBE"]), V::arr(vec![V::bulk("unsubscribe"), V::Bulk(None), V::Int(0)]));
    assert_eq!(c.call(&["GET", "k"]), V::Bulk(None), "out of subscribed mode");
}

#[test]
fn patterns_and_shard_channels() {
    let s = server();
    let mut c = Resp::connect(s.port);
    let mut p = Resp::connect(s.port);
    assert_eq!(c.call(&["PSUBSCRIBE", "h?llo", "x*"]), push3("psubscribe", "h?llo", 1));
    assert_eq!(c.read(), push3("psubscribe", "x*", 2));
    assert_eq!(c.call(&["SUBSCRIBE", "hello"]), push3("subscribe", "hello", 3));
    assert_eq!(c.call(&["SSUBSCRIBE", "sch"]), push3("ssubscribe", "sch", 1));
    assert_eq!(p.call(&["PUBLISH", "hello", "m"]), V::Int(2));
    assert_eq!(c.read(), msg("hello", "m"));
    assert_eq!(c.read(), V::arr(vec![V::bulk("pmessage"), V::bulk("h?llo"), V::bulk("hello"), V::bulk("m")]));
    assert_eq!(p.call(&["SPUBLISH", "sch", "s"]), V::Int(1));
    assert_eq!(c.read(), V::arr(vec![V::bulk("smessage"), V::bulk("sch"), V::bulk("s")]));
    assert_eq!(p.call(&["PUBLISH", "sch", "s"]), V::Int(0), "shard channels are a separate namespace");
    assert_eq!(p.call(&["PUBSUB", "NUMPAT"]), V::Int(2));
    let V::Bulk(Some(list)) = p.call(&["CLIENT", "LIST"]) else { panic!("CLIENT LIST") };
    let list = String::from_utf8(list).unwrap();
    assert!(list.contains("flags=P db=0 sub=1 psub=2 ssub=1 multi=-1"), "{list}");
    assert_eq!(p.call(&["PUBSUB", "SHARDCHANNELS"]), V::arr(vec![V::bulk("sch")]));
    assert_eq!(p.call(&["PUBSUB", "SHARDNUMSUB", "sch"]), V::arr(vec![V::bulk("sch"), V::Int(1)]));
    assert_eq!(c.call(&["PUNSUBSCRIBE", "x*"]), push3("punsubscribe", "x*", 2));
    assert_eq!(c.call(&["SUNSUBSCRIBE"]), push3("sunsubscribe", "sch", 0));
}

#[test]
fn resp2_subscribed_mode_rules_and_resp3_pushes() {
    let s = server();
    let mut c = Resp::connect(s.port);
    assert_eq!(c.call(&["SUBSCRIBE", "a"]), push3("subscribe", "a", 1));
    assert_eq!(
        c.call(&["GET", "k"]),
        V::Err(
            "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
                .into()
        )
    );
    assert_eq!(c.call(&["PING"]), V::arr(vec![V::bulk("pong"), V::bulk("")]));
    assert_eq!(c.call(&["PING", "hi"]), V::arr(vec![V::bulk("pong"), V::bulk("hi")]));
    assert_eq!(c.call(&["RESET"]), V::Simple("RESET".into()));
    assert_eq!(c.call(&["GET", "k"]), V::Bulk(None));

    let mut r3 = Resp::connect(s.port);
    assert!(matches!(r3.call(&["HELLO", "3"]), V::Map(_)));
    assert_eq!(r3.call(&["SUBSCRIBE", "a"]), V::Push(vec![V::bulk("subscribe"), V::bulk("a"), V::Int(1)]));
    // RESP3: ordinary commands are allowed, messages arrive as pushes after the reply of the
    // command that published them.
    assert_eq!(r3.call(&["SET", "k", "v"]), V::Simple("OK".into()));
    assert_eq!(r3.call(&["PUBLISH", "a", "self"]), V::Int(1));
    assert_eq!(r3.read(), V::Push(vec![V::bulk("message"), V::bulk("a"), V::bulk("self")]));
    assert_eq!(r3.call(&["PING"]), V::Simple("PONG".into()));
    // Redis's "publish to self inside multi": EXEC's reply, then the messages.
    assert_eq!(r3.call(&["MULTI"]), V::Simple("OK".into()));
    for cmd in [&["PING", "abc"][..], &["PUBLISH", "a", "bar"], &["PUBLISH", "a", "vaz"], &["PING", "def"]] {
        assert_eq!(r3.call(cmd), V::Simple("QUEUED".into()));
    }
    assert_eq!(r3.call(&["EXEC"]), V::arr(vec![V::bulk("abc"), V::Int(1), V::Int(1), V::bulk("def")]));
    assert_eq!(r3.read(), V::Push(vec![V::bulk("message"), V::bulk("a"), V::bulk("bar")]));
    assert_eq!(r3.read(), V::Push(vec![V::bulk("message"), V::bulk("a"), V::bulk("vaz")]));
    // Unsubscribing inside MULTI: the confirmations are items of EXEC's reply.
    assert_eq!(r3.call(&["SUBSCRIBE", "b"]), V::Push(vec![V::bulk("subscribe"), V::bulk("b"), V::Int(2)]));
    assert_eq!(r3.call(&["MULTI"]), V::Simple("OK".into()));
    assert_eq!(r3.call(&["UNSUBSCRIBE", "b"]), V::Simple("QUEUED".into()));
    assert_eq!(r3.call(&["EXEC"]), V::arr(vec![V::Push(vec![V::bulk("unsubscribe"), V::bulk("b"), V::Int(1)])]));
}

#[test]
fn keyspace_notifications() {
    let s = server();
    let mut admin = Resp::connect(s.port);
    assert!(matches!(admin.call(&["CONFIG", "SET", "notify-keyspace-events", "Q"]),
        V::Err(e) if e.contains("Invalid event class character")));
    assert_eq!(admin.call(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]), V::Simple("OK".into()));
    assert_eq!(
        admin.call(&["CONFIG", "GET", "notify-keyspace-events"]),
        V::arr(vec![V::bulk("notify-keyspace-events"), V::bulk("AKE")])
    );
    let mut c = Resp::connect(s.port);
    assert_eq!(c.call(&["PSUBSCRIBE", "__key*__:*"]), push3("psubscribe", "__key*__:*", 1));
    let mut w = Resp::connect(s.port);
    assert_eq!(w.call(&["SET", "foo", "bar"]), V::Simple("OK".into()));
    assert_eq!(w.call(&["INCR", "n"]), V::Int(1));
    assert_eq!(w.call(&["DEL", "foo"]), V::Int(1));
    let mut got = Vec::new();
    for _ in 0..6 {
        let V::Array(Some(items)) = c.read() else { panic!("not a message") };
        let text = |v: &V| match v {
            V::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("{other:?}"),
        };
        got.push(format!("{} {}", text(&items[2]), text(&items[3])));
    }
    assert_eq!(
        got,
        vec![
            "__keyspace@0__:foo set",
            "__keyevent@0__:set foo",
            "__keyspace@0__:n incrby",
            "__keyevent@0__:incrby n",
            "__keyspace@0__:foo del",
            "__keyevent@0__:del foo",
        ]
    );
}

#[test]
fn keyspace_new_key_and_expired_events() {
    let s = server();
    let mut admin = Resp::connect(s.port);
    assert_eq!(admin.call(&["CONFIG", "SET", "notify-keyspace-events", "Enx"]), V::Simple("OK".into()));
    assert_eq!(
        admin.call(&["CONFIG", "GET", "notify-keyspace-events"]),
        V::arr(vec![V::bulk("notify-keyspace-events"), V::bulk("xnE")])
    );
    let mut c = Resp::connect(s.port);
    assert_eq!(c.call(&["PSUBSCRIBE", "*"]), push3("psubscribe", "*", 1));
    assert_eq!(admin.call(&["SET", "foo", "bar"]), V::Simple("OK".into()));
    // A second SET of foo is not a new key.
    assert_eq!(admin.call(&["SET", "foo", "baz"]), V::Simple("OK".into()));
    assert_eq!(admin.call(&["SET", "bar", "bar", "PX", "50"]), V::Simple("OK".into()));
    let pm = |ch: &str, payload: &str| V::arr(vec![V::bulk("pmessage"), V::bulk("*"), V::bulk(ch), V::bulk(payload)]);
    assert_eq!(c.read(), pm("__keyevent@0__:new", "foo"));
    assert_eq!(c.read(), pm("__keyevent@0__:new", "bar"));
    // The active expiry cycle reclaims it without anyone asking.
    assert_eq!(c.read(), pm("__keyevent@0__:expired", "bar"));
}

#[test]
fn slow_subscriber_is_disconnected_at_the_output_limit() {
    let s = server();
    let mut admin = Resp::connect(s.port);
    assert_eq!(
        admin.call(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 256kb 128kb 1"]),
        V::Simple("OK".into())
    );
    let V::Array(Some(cfg)) = admin.call(&["CONFIG", "GET", "client-output-buffer-limit"]) else { panic!() };
    assert_eq!(cfg[1], V::bulk("normal 0 0 0 slave 268435456 67108864 60 pubsub 262144 131072 1"));
    let mut slow = Resp::connect(s.port);
    assert_eq!(slow.call(&["SUBSCRIBE", "flood"]), push3("subscribe", "flood", 1));
    // The subscriber never reads: socket buffers fill, then its outbox passes the limit.
    let payload = "x".repeat(64 * 1024);
    let mut last = 1;
    for _ in 0..2000 {
        let V::Int(n) = admin.call(&["PUBLISH", "flood", &payload]) else { panic!() };
        last = n;
        if n == 0 {
            break;
        }
    }
    assert_eq!(last, 0, "the slow subscriber was never cut off");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(admin.call(&["PUBSUB", "NUMSUB", "flood"]), V::arr(vec![V::bulk("flood"), V::Int(0)]));
}

#[test]
fn new_key_event_comes_first_for_every_type() {
    let s = server();
    let mut admin = Resp::connect(s.port);
    assert_eq!(admin.call(&["CONFIG", "SET", "notify-keyspace-events", "KEAn"]), V::Simple("OK".into()));
    let mut c = Resp::connect(s.port);
    assert_eq!(c.call(&["PSUBSCRIBE", "__keyevent@0__:*"]), push3("psubscribe", "__keyevent@0__:*", 1));
    let writes: &[(&[&str], &str)] = &[
        (&["SET", "str", "v"], "set"),
        (&["HSET", "hash", "f", "v"], "hset"),
        (&["LPUSH", "list", "a"], "lpush"),
        (&["SADD", "set", "m"], "sadd"),
        (&["ZADD", "zset", "1", "m"], "zadd"),
        (&["PFADD", "hll", "x"], "pfadd"),
        (&["SETBIT", "bits", "3", "1"], "setbit"),
        (&["SUNIONSTORE", "union", "set"], "sunionstore"),
    ];
    for (cmd, _) in writes {
        assert!(!matches!(admin.call(cmd), V::Err(_)), "{cmd:?}");
    }
    // Writing existing keys again is no `new`.
    assert_eq!(admin.call(&["HSET", "hash", "g", "w"]), V::Int(1));
    assert_eq!(admin.call(&["SADD", "set", "n"]), V::Int(1));
    let pm = |ev: &str, key: &str| {
        V::arr(vec![
            V::bulk("pmessage"),
            V::bulk("__keyevent@0__:*"),
            V::bulk(&format!("__keyevent@0__:{ev}")),
            V::bulk(key),
        ])
    };
    for (cmd, ev) in writes {
        assert_eq!(c.read(), pm("new", cmd[1]), "{cmd:?}");
        assert_eq!(c.read(), pm(ev, cmd[1]), "{cmd:?}");
    }
    assert_eq!(c.read(), pm("hset", "hash"));
    assert_eq!(c.read(), pm("sadd", "set"));
}
