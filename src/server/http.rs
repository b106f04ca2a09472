//! HTTP on the RESP ports: a connection whose first line is `GET /<path> HTTP/1.x` gets one
//! HTTP response (`/metrics`, `/healthz`) and is closed. It never registers as a client.

use super::cmd_info::gather;
use super::ServerState;
use crate::engine::ShardSet;
use crate::metrics::prometheus;
use crate::protocol::http::{self, Kind};
use crate::runtime::Rt;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub enum Opening {
    Http,
    /// RESP; whatever was read stays in the buffer.
    Resp,
    /// The peer went away (or the server is stopping) before saying anything.
    Closed,
}

/// Reads just enough of a new connection to tell HTTP from RESP.
pub async fn sniff<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut BytesMut) -> Opening {
    loop {
        match http::classify(buf) {
            Kind::Http => return Opening::Http,
            Kind::Resp => return Opening::Resp,
            Kind::Undecided => {}
        }
        match stream.read_buf(buf).await {
            Ok(0) | Err(_) => return if buf.is_empty() { Opening::Closed } else { Opening::Resp },
            Ok(_) => {}
        }
    }
}

/// Answers one HTTP request and closes.
pub async fn serve<R: Rt, S: AsyncRead + AsyncWrite + Unpin>(
    rt: &R,
    shards: &ShardSet,
    state: &ServerState,
    stream: &mut S,
    buf: &mut BytesMut,
) {
    let head = loop {
        if let Some(head) = http::parse_head(buf) {
            break head;
        }
        if buf.len() > http::MAX_HEAD {
            let _ = stream.write_all(&http::response(431, "text/plain", b"request head too large\n")).await;
            let _ = stream.shutdown().await;
            return;
        }
        match stream.read_buf(buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    };
    let resp = match head.path.as_str() {
        "/metrics" => {
            let body = metrics_text(rt, shards, state).await;
            http::response(200, http::PROMETHEUS_TEXT, body.as_bytes())
        }
        "/healthz" => http::response(200, "text/plain", b"ok\n"),
        "/" => http::response(200, "text/plain", b"mayfly: see /metrics and /healthz\n"),
        _ => http::response(404, "text/plain", b"not found\n"),
    };
    let _ = stream.write_all(&resp).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

/// The Prometheus exposition of the server's current state.
pub async fn metrics_text<R: Rt>(rt: &R, shards: &ShardSet, state: &ServerState) -> String {
    let snap = gather(rt, shards, state, super::cmd_info::Wanted { commands: true, latency: false }).await;
    let prefix = state.config.read().unwrap().get_str("metrics-prefix").to_string();
    let extra = prometheus::Extra { os: std::env::consts::OS, start_time_secs: state.start_ms / 1000 };
    prometheus::render(&prefix, &snap, &extra)
}
