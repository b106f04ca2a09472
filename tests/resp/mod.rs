//! A tiny RESP2/RESP3 client over a raw socket, for tests that check exact reply shapes (push
//! messages, nested arrays) which a client library would hide.
#![allow(dead_code, clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<V>>),
    Push(Vec<V>),
    Map(Vec<(V, V)>),
    Null,
}

impl V {
    pub fn bulk(s: &str) -> V {
        V::Bulk(Some(s.as_bytes().to_vec()))
    }

    pub fn arr(items: Vec<V>) -> V {
        V::Array(Some(items))
    }
}

pub struct Resp {
    pub r: BufReader<TcpStream>,
}

impl Resp {
    pub fn connect(port: u16) -> Resp {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Resp { r: BufReader::new(s) }
    }

    pub fn send(&mut self, parts: &[&str]) {
        let mut out = format!("*{}\r\n", parts.len()).into_bytes();
        for p in parts {
            out.extend_from_slice(format!("${}\r\n{}\r\n", p.len(), p).as_bytes());
        }
        self.r.get_mut().write_all(&out).unwrap();
    }

    pub fn call(&mut self, parts: &[&str]) -> V {
        self.send(parts);
        self.read()
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        let n = self.r.read_line(&mut l).unwrap();
        assert!(n > 0, "connection closed");
        l.trim_end_matches("\r\n").to_string()
    }

    /// Reads one reply; `None` when the server closed the connection (or the read timed out).
    pub fn try_read(&mut self) -> Option<V> {
        let mut l = String::new();
        match self.r.read_line(&mut l) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let l = l.trim_end_matches("\r\n");
        Some(self.parse(l.to_string()))
    }

    pub fn read(&mut self) -> V {
        let l = self.line();
        self.parse(l)
    }

    fn parse(&mut self, l: String) -> V {
        let (t, rest) = l.split_at(1);
        match t {
            "+" => V::Simple(rest.into()),
            "-" => V::Err(rest.into()),
            ":" => V::Int(rest.parse().unwrap()),
            "_" => V::Null,
            "$" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return V::Bulk(None);
                }
                let mut buf = vec![0u8; n as usize + 2];
                std::io::Read::read_exact(&mut self.r, &mut buf).unwrap();
                buf.truncate(n as usize);
                V::Bulk(Some(buf))
            }
            "*" | ">" | "~" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return V::Array(None);
                }
                let items = (0..n).map(|_| self.read()).collect();
                if t == ">" {
                    V::Push(items)
                } else {
                    V::Array(Some(items))
                }
            }
            "%" => {
                let n: usize = rest.parse().unwrap();
                V::Map((0..n).map(|_| (self.read(), self.read())).collect())
            }
            other => panic!("unexpected reply type {other}"),
        }
    }
}
