//! Request parsing. A request is consumed only when complete, so a partial read leaves the buffer
//! untouched; lengths a client claims are checked against limits before anything is reserved.

use super::inline::split_inline;
use bytes::{Bytes, BytesMut};

/// Redis refuses an inline request or a count line longer than this before seeing its end.
const MAX_INLINE: usize = 64 * 1024;
/// Redis's cap on the number of arguments in one multibulk request.
const MAX_MULTIBULK: i64 = 1024 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest single argument.
    pub max_bulk_len: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: 512 * 1024 * 1024 }
    }
}

/// A malformed request: the text follows `-ERR ` on the wire, then the connection closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(msg: &str) -> Self {
        ProtocolError(format!("Protocol error: {msg}"))
    }
}

/// Parses one request from the front of `buf` into `args`.
/// `Ok(true)`: a request was consumed (`args` may be empty for a blank line or `*0`);
/// `Ok(false)`: more bytes are needed and nothing was consumed.
pub fn parse_request(buf: &mut BytesMut, limits: &Limits, args: &mut Vec<Bytes>) -> Result<bool, ProtocolError> {
    args.clear();
    match buf.first() {
        None => Ok(false),
        Some(b'*') => parse_multibulk(buf, limits, args),
        Some(_) => parse_inline(buf, args),
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let hay = buf.get(from..)?;
    let mut i = 0;
    while let Some(p) = memchr(b'\r', &hay[i..]) {
        let at = i + p;
        if hay.get(at + 1) == Some(&b'\n') {
            return Some(from + at);
        }
        if at + 1 >= hay.len() {
            return None;
        }
        i = at + 1;
    }
    None
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Parses a decimal integer the way Redis's `string2ll` does: no spaces, no plus sign, no
/// leading zeros.
fn parse_int(s: &[u8]) -> Option<i64> {
    crate::util::parse_i64_strict(s)
}

fn parse_multibulk(buf: &mut BytesMut, limits: &Limits, args: &mut Vec<Bytes>) -> Result<bool, ProtocolError> {
    let Some(eol) = find_crlf(buf, 1) else {
        if buf.len() > MAX_INLINE {
            return Err(ProtocolError::new("too big mbulk count string"));
        }
        return Ok(false);
    };
    let count = match parse_int(&buf[1..eol]) {
        Some(n) if n <= MAX_MULTIBULK => n,
        _ => return Err(ProtocolError::new("invalid multibulk length")),
    };
    let pos = eol + 2;
    if count <= 0 {
        let _ = buf.split_to(pos);
        return Ok(true);
    }
    // A first walk checks that the whole request is here, without keeping anything; only then
    // is the frame cut off and walked again to slice the arguments out. Nothing is reserved
    // by what a client claims.
    let Some(end) = walk_bulks(buf, pos, count, limits, |_, _| {})? else { return Ok(false) };
    let frame = buf.split_to(end).freeze();
    walk_bulks(&frame, pos, count, limits, |s, e| args.push(frame.slice(s..e)))?;
    Ok(true)
}

/// Walks `count` bulk strings from `pos`, calling `on_arg(start, end)` for each; returns the
/// position after the last one, or `None` when the buffer ends first.
fn walk_bulks(
    buf: &[u8],
    mut pos: usize,
    count: i64,
    limits: &Limits,
    mut on_arg: impl FnMut(usize, usize),
) -> Result<Option<usize>, ProtocolError> {
    for _ in 0..count {
        match buf.get(pos) {
            None => return Ok(None),
            Some(b'$') => {}
            Some(&c) => return Err(ProtocolError(format!("Protocol error: expected '$', got '{}'", c as char))),
        }
        let Some(eol) = find_crlf(buf, pos + 1) else {
            if buf.len() - pos > MAX_INLINE {
                return Err(ProtocolError::new("too big bulk count string"));
            }
            return Ok(None);
        };
        let len = match parse_int(&buf[pos + 1..eol]) {
            Some(n) if n >= 0 && n <= limits.max_bulk_len => n as usize,
            _ => return Err(ProtocolError::new("invalid bulk length")),
        };
        let start = eol + 2;
        let end = start + len;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        on_arg(start, end);
        pos = end + 2;
    }
    Ok(Some(pos))
}

fn parse_inline(buf: &mut BytesMut, args: &mut Vec<Bytes>) -> Result<bool, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > MAX_INLINE {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(false);
    };
    let line = buf.split_to(nl + 1).freeze();
    let mut text = &line[..nl];
    if text.last() == Some(&b'\r') {
        text = &text[..text.len() - 1];
    }
    match split_inline(text) {
        Some(parts) => {
            args.extend(parts);
            Ok(true)
        }
        None => Err(ProtocolError::new("unbalanced quotes in request")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        let mut args = Vec::new();
        let mut out = Vec::new();
        while parse_request(&mut buf, &Limits::default(), &mut args)? {
            out.push(args.iter().map(|a| a.to_vec()).collect());
        }
        Ok(out)
    }

    fn encode(args: &[Vec<u8>]) -> Vec<u8> {
        let mut v = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            v.extend_from_slice(a);
            v.extend_from_slice(b"\r\n");
        }
        v
    }

    #[test]
    fn multibulk_and_pipeline() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(got, vec![vec![b"GET".to_vec(), b"k".to_vec()], vec![b"PING".to_vec()]]);
    }

    #[test]
    fn partial_request_consumes_nothing() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\n"[..]);
        let mut args = Vec::new();
        assert_eq!(parse_request(&mut buf, &Limits::default(), &mut args), Ok(false));
        assert_eq!(buf.len(), 17);
    }

    #[test]
    fn redis_error_texts() {
        let err = |b: &[u8]| parse_all(b).unwrap_err().0;
        assert_eq!(err(b"*x\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(err(b"*2000000\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(err(b"*1\r\n+x\r\n"), "Protocol error: expected '$', got '+'");
        assert_eq!(err(b"*1\r\n$-1\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(err(b"*1\r\n$600000000\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(err(b"set \"a b\"c\r\n"), "Protocol error: unbalanced quotes in request");
        assert_eq!(err(&vec![b'a'; 70000]), "Protocol error: too big inline request");
    }

    #[test]
    fn hostile_length_allocates_nothing_up_front() {
        let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\nab"[..]);
        let mut args = Vec::new();
        assert_eq!(parse_request(&mut buf, &Limits::default(), &mut args), Ok(false));
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn inline_commands() {
        let got = parse_all(b"SET k \"a\\x41\\n\"\r\n\r\nPING\n").unwrap();
        assert_eq!(got, vec![vec![b"SET".to_vec(), b"k".to_vec(), b"aA\n".to_vec()], vec![], vec![b"PING".to_vec()]]);
    }

    proptest! {
        #[test]
        fn round_trip(reqs in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..5)) {
            let mut wire = Vec::new();
            for r in &reqs { wire.extend(encode(r)); }
            prop_assert_eq!(parse_all(&wire).unwrap(), reqs);
        }

        #[test]
        fn split_anywhere_is_the_same(req in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..5), cut in 0usize..200) {
            let wire = encode(&req);
            let cut = cut.min(wire.len());
            let mut buf = BytesMut::from(&wire[..cut]);
            let mut args = Vec::new();
            let done = parse_request(&mut buf, &Limits::default(), &mut args).unwrap();
            if !done {
                buf.extend_from_slice(&wire[cut..]);
                prop_assert!(parse_request(&mut buf, &Limits::default(), &mut args).unwrap());
            }
            prop_assert_eq!(args.iter().map(|a| a.to_vec()).collect::<Vec<_>>(), req);
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_all(&bytes);
        }

        #[test]
        fn never_panics_on_resp_like(bytes in "[*$0-9\r\na-z\" \\\\-]{0,200}") {
            let _ = parse_all(bytes.as_bytes());
        }
    }
}
