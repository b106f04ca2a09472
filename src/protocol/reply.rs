//! Reply values and their encoding. Commands build a [`Reply`]; only the connection turns it into
//! bytes, in the protocol version the client chose.

use bytes::{BufMut, Bytes, BytesMut};
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RespVersion {
    #[default]
    Resp2,
    Resp3,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// A simple string (`+...`).
    Simple(Cow<'static, str>),
    /// An error; the text includes its code, e.g. `ERR syntax error`.
    Error(Cow<'static, str>),
    Int(i64),
    Bulk(Bytes),
    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// The null array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    Array(Vec<Reply>),
    /// A map in RESP3; a flat array of key, value, ... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set in RESP3; an array in RESP2.
    Set(Vec<Reply>),
    /// A double in RESP3; a bulk string in RESP2.
    Double(f64),
    /// A boolean in RESP3; the integer 1 or 0 in RESP2.
    Bool(bool),
    /// A verbatim string (`=` with a 3-letter format) in RESP3; a bulk string in RESP2.
    Verbatim(&'static str, Bytes),
    /// Ordered pairs: a flat array in RESP2, an array of two-element arrays in RESP3
    /// (ZRANGE ... WITHSCORES, ZPOPMIN with a count, HRANDFIELD/ZRANDMEMBER with values).
    Pairs(Vec<(Reply, Reply)>),
    /// An out-of-band push (`>`) in RESP3; an array in RESP2.
    Push(Vec<Reply>),
}

impl Reply {
    pub fn error(msg: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(msg.into())
    }

    pub fn simple(s: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Simple(s.into())
    }

    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    pub fn bulk_str(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    pub fn opt_bulk(b: Option<Bytes>) -> Reply {
        b.map_or(Reply::Nil, Reply::Bulk)
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the wire form of `self` to `out`.
    pub fn encode(&self, v: RespVersion, out: &mut BytesMut) {
        match self {
            Reply::Ok => out.put_slice(b"+OK\r\n"),
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(e) => line(out, b'-', e.as_bytes()),
            Reply::Int(i) => int_line(out, b':', *i),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Nil => out.put_slice(if v == RespVersion::Resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            Reply::NilArray => out.put_slice(if v == RespVersion::Resp3 { b"_\r\n" } else { b"*-1\r\n" }),
            Reply::Array(items) => {
                int_line(out, b'*', items.len() as i64);
                items.iter().for_each(|r| r.encode(v, out));
            }
            Reply::Map(pairs) => {
                if v == RespVersion::Resp3 {
                    int_line(out, b'%', pairs.len() as i64);
                } else {
                    int_line(out, b'*', 2 * pairs.len() as i64);
                }
                for (k, val) in pairs {
                    k.encode(v, out);
                    val.encode(v, out);
                }
            }
            Reply::Pairs(pairs) => {
                let resp3 = v == RespVersion::Resp3;
                int_line(out, b'*', pairs.len() as i64 * if resp3 { 1 } else { 2 });
                for (a, b) in pairs {
                    if resp3 {
                        out.put_slice(b"*2\r\n");
                    }
                    a.encode(v, out);
                    b.encode(v, out);
                }
            }
            Reply::Set(items) => {
                int_line(out, if v == RespVersion::Resp3 { b'~' } else { b'*' }, items.len() as i64);
                items.iter().for_each(|r| r.encode(v, out));
            }
            Reply::Push(items) => {
                int_line(out, if v == RespVersion::Resp3 { b'>' } else { b'*' }, items.len() as i64);
                items.iter().for_each(|r| r.encode(v, out));
            }
            Reply::Double(d) => {
                let text = format_double(*d);
                if v == RespVersion::Resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, text.as_bytes());
                }
            }
            Reply::Bool(b) => {
                if v == RespVersion::Resp3 {
                    out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" });
                }
            }
            Reply::Verbatim(fmt, body) => {
                if v == RespVersion::Resp3 {
                    int_line(out, b'=', body.len() as i64 + 4);
                    out.put_slice(fmt.as_bytes());
                    out.put_u8(b':');
                    out.put_slice(body);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, body);
                }
            }
        }
    }
}

fn line(out: &mut BytesMut, tag: u8, body: &[u8]) {
    out.reserve(body.len() + 3);
    out.put_u8(tag);
    // A simple string or error can never carry a line break.
    for &b in body {
        out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    out.put_slice(b"\r\n");
}

fn int_line(out: &mut BytesMut, tag: u8, n: i64) {
    let mut buf = itoa::Buffer::new();
    out.put_u8(tag);
    out.put_slice(buf.format(n).as_bytes());
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, body: &[u8]) {
    out.reserve(body.len() + 16);
    int_line(out, b'$', body.len() as i64);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

/// Formats a double the way Redis 7 does for replies: `inf`, `-inf`, `nan`, integers without a
/// fraction, and otherwise the shortest text that reads back to the same value.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format_g17(d)
    }
}

/// C's `%.17g`, which Redis 7.0 uses for doubles in replies: 17 significant digits, fixed
/// notation for exponents in [-4, 17), scientific otherwise, trailing zeros removed.
fn format_g17(d: f64) -> String {
    const P: i32 = 17;
    let sci = format!("{:.*e}", (P - 1) as usize, d);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponents are integers");
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if (-4..P).contains(&exp) {
        trim(&format!("{:.*}", (P - 1 - exp) as usize, d))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", trim(mantissa), sign, exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, v: RespVersion) -> String {
        let mut out = BytesMut::new();
        r.encode(v, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn resp2_and_resp3_forms() {
        use RespVersion::*;
        assert_eq!(enc(&Reply::Nil, Resp2), "$-1\r\n");
        assert_eq!(enc(&Reply::Nil, Resp3), "_\r\n");
        assert_eq!(enc(&Reply::NilArray, Resp2), "*-1\r\n");
        let m = Reply::Map(vec![(Reply::bulk_str("a"), Reply::Int(1))]);
        assert_eq!(enc(&m, Resp2), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, Resp3), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Resp2), "$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Resp3), ",1.5\r\n");
        assert_eq!(enc(&Reply::Bool(true), Resp2), ":1\r\n");
        let p = Reply::Pairs(vec![(Reply::bulk_str("a"), Reply::Double(1.5))]);
        assert_eq!(enc(&p, Resp2), "*2\r\n$1\r\na\r\n$3\r\n1.5\r\n");
        assert_eq!(enc(&p, Resp3), "*1\r\n*2\r\n$1\r\na\r\n,1.5\r\n");
        assert_eq!(enc(&Reply::error("ERR x\r\ny"), Resp2), "-ERR x  y\r\n");
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(10.5), "10.5");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(1e20), "1e+20");
        // Redis 7.0 prints 17 significant digits (%.17g), binary noise included.
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(0.8711131298314375), "0.87111312983143752");
        assert_eq!(format_double(-2.5e-7), "-2.4999999999999999e-07");
        assert_eq!(format_double(123456789012345680.0), "1.2345678901234568e+17");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(-0.0), "-0");
    }
}
