//! The little HTTP/1.x Mayfly speaks on its RESP ports: enough to answer `GET /metrics` and
//! `GET /healthz`. A connection is HTTP when its first line is `GET /<path> HTTP/1.x`; anything
//! else is RESP (an inline `GET key` never ends in ` HTTP/1.1`).

/// The longest request line we wait for before deciding a connection speaks RESP.
pub const MAX_LINE: usize = 8 * 1024;
/// The most request head we accept (request line and headers).
pub const MAX_HEAD: usize = 64 * 1024;

const OPENING: &[u8] = b"GET /";

/// What the first bytes of a connection say about its protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Http,
    Resp,
    /// Too few bytes to tell yet.
    Undecided,
}

pub fn classify(buf: &[u8]) -> Kind {
    if buf.len() < OPENING.len() {
        return if OPENING.starts_with(buf) { Kind::Undecided } else { Kind::Resp };
    }
    if !buf.starts_with(OPENING) {
        return Kind::Resp;
    }
    let Some(end) = buf.iter().take(MAX_LINE).position(|&b| b == b'\n') else {
        return if buf.len() >= MAX_LINE { Kind::Resp } else { Kind::Undecided };
    };
    let line = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    if line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0") {
        Kind::Http
    } else {
        Kind::Resp
    }
}

/// A complete request head: its path without the query string.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub path: String,
}

/// Parses the request head once it is complete (ends with an empty line); `None` until then.
pub fn parse_head(buf: &[u8]) -> Option<Head> {
    let end = find(buf, b"\r\n\r\n").or_else(|| find(buf, b"\n\n"))?;
    let first = buf[..end].split(|&b| b == b'\n').next()?;
    let text = String::from_utf8_lossy(first);
    let target = text.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/").to_string();
    Some(Head { path })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The Prometheus text exposition format's content type.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A whole response; the connection closes after it.
pub fn response(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_http_from_resp() {
        assert_eq!(classify(b""), Kind::Undecided);
        assert_eq!(classify(b"GE"), Kind::Undecided);
        assert_eq!(classify(b"GET /met"), Kind::Undecided);
        assert_eq!(classify(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"), Kind::Http);
        assert_eq!(classify(b"GET /healthz HTTP/1.0\n"), Kind::Http);
        assert_eq!(classify(b"*2\r\n$3\r\nGET\r\n"), Kind::Resp);
        assert_eq!(classify(b"GET key\r\n"), Kind::Resp);
        assert_eq!(classify(b"GET /key\r\n"), Kind::Resp);
        assert_eq!(classify(b"PING\r\n"), Kind::Resp);
        assert_eq!(classify(b"get /x HTTP/1.1\r\n"), Kind::Resp);
    }

    #[test]
    fn parses_head() {
        assert_eq!(parse_head(b"GET /metrics HTTP/1.1\r\nHost: a\r\n"), None);
        let h = parse_head(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(h.path, "/metrics");
        assert_eq!(parse_head(b"GET /healthz HTTP/1.0\n\n").unwrap().path, "/healthz");
    }

    #[test]
    fn builds_response() {
        let r = response(200, "text/plain", b"ok\n");
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Content-Length: 3\r\n"));
        assert!(text.ends_with("\r\n\r\nok\n"));
    }
}
