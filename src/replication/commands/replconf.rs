//! REPLCONF: what a replica tells its primary about itself before it asks to sync.

use crate::protocol::Reply;
use crate::replication::primary::ReplicaHello;
use bytes::Bytes;

/// REPLCONF option value ... (the replica's half of the handshake).
pub fn replconf(hello: &mut ReplicaHello, args: &[Bytes]) -> Reply {
    if args.len() % 2 == 0 {
        return Reply::error(crate::commands::errors::SYNTAX);
    }
    for pair in args[1..].chunks(2) {
        let (opt, val) = (pair[0].to_ascii_lowercase(), &pair[1]);
        match opt.as_slice() {
            b"listening-port" => match crate::util::parse_i64_strict(val) {
                Some(p) if (0..=65535).contains(&p) => hello.listening_port = p as u16,
                _ => return Reply::error("ERR value is not an integer or out of range"),
            },
            b"ip-address" => hello.ip_address = Some(String::from_utf8_lossy(val).into_owned()),
            b"capa" => {
                if val.eq_ignore_ascii_case(b"eof") {
                    hello.capa_eof = true;
                } else if val.eq_ignore_ascii_case(b"psync2") {
                    hello.capa_psync2 = true;
                }
            }
            // ACKs from a replica are read by its link (`serve_replica`); GETACK matters only
            // to replicas (their primary asks); the RDB-only modes are for redis-cli --rdb.
            b"ack" | b"fack" | b"getack" | b"rdb-only" | b"rdb-filter-only" => {}
            _ => {
                return Reply::error(format!("ERR Unrecognized REPLCONF option: {}", String::from_utf8_lossy(&pair[0])))
            }
        }
    }
    Reply::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    #[test]
    fn records_what_the_replica_says_of_itself() {
        let mut hello = ReplicaHello::default();
        let r = replconf(&mut hello, &args(&["REPLCONF", "listening-port", "6380", "CAPA", "EOF", "capa", "psync2"]));
        assert!(matches!(r, Reply::Ok));
        assert_eq!(hello.listening_port, 6380);
        assert!(hello.capa_eof && hello.capa_psync2);
        assert!(matches!(replconf(&mut hello, &args(&["REPLCONF", "ack", "100"])), Reply::Ok));
    }

    #[test]
    fn rejects_what_redis_rejects() {
        let mut hello = ReplicaHello::default();
        let err = |r: Reply| match r {
            Reply::Error(e) => e.to_string(),
            _ => panic!("not an error"),
        };
        assert_eq!(err(replconf(&mut hello, &args(&["REPLCONF", "listening-port"]))), crate::commands::errors::SYNTAX);
        assert_eq!(
            err(replconf(&mut hello, &args(&["REPLCONF", "listening-port", "70000"]))),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            err(replconf(&mut hello, &args(&["REPLCONF", "Bogus", "1"]))),
            "ERR Unrecognized REPLCONF option: Bogus"
        );
    }
}
