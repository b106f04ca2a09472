//! The replication families of `/metrics`, with redis_exporter's names and labels, from the
//! same snapshot INFO replication prints: role, replicas and their offsets and lag, our link to
//! a primary, the backlog.

use super::info::InfoSnapshot;
use super::prometheus::{Exposition, Type};
use crate::replication::info::ReplSnapshot;

pub fn render(e: &mut Exposition<'_>, r: &ReplSnapshot, s: &InfoSnapshot) {
    use Type::Gauge;
    e.single("connected_slaves", Gauge, "connected_slaves metric", r.followers.len() as f64);
    e.single("master_repl_offset", Gauge, "master_repl_offset metric", r.offset as f64);
    e.single("second_repl_offset", Gauge, "second_repl_offset metric", r.second_offset as f64);
    if !r.followers.is_empty() {
        e.family("connected_slave_offset_bytes", Gauge, "Offset of connected slave");
        for f in &r.followers {
            let port = f.port.to_string();
            let labels = [("slave_ip", f.ip.as_str()), ("slave_port", port.as_str()), ("slave_state", f.state)];
            e.sample("connected_slave_offset_bytes", &labels, f.ack_offset as f64);
        }
        e.family("connected_slave_lag_seconds", Gauge, "Lag of connected slave");
        for f in &r.followers {
            let port = f.port.to_string();
            let labels = [("slave_ip", f.ip.as_str()), ("slave_port", port.as_str()), ("slave_state", f.state)];
            e.sample("connected_slave_lag_seconds", &labels, r.lag_secs(f) as f64);
        }
    }
    if let Some((host, port, link)) = &r.primary {
        let port = port.to_string();
        let read_only = if s.replica_read_only { "1" } else { "0" };
        e.family("slave_info", Gauge, "Information about the Redis slave");
        e.sample("slave_info", &[("master_host", host), ("master_port", &port), ("read_only", read_only)], 1.0);
        e.single("master_link_up", Gauge, "master_link_up metric", link.up as u8 as f64);
        let io = if link.up { r.secs_since(link.last_io_ms) } else { -1 };
        e.single("master_last_io_seconds_ago", Gauge, "master_last_io_seconds_ago metric", io as f64);
        e.single(
            "master_sync_in_progress",
            Gauge,
            "master_sync_in_progress metric",
            link.sync_in_progress as u8 as f64,
        );
        if !link.up {
            let down = r.secs_since(link.down_since_ms);
            e.single("master_link_down_since_seconds", Gauge, "master_link_down_since_seconds metric", down as f64);
        }
        e.family("slave_repl_offset", Gauge, "Slave replication offset");
        e.sample("slave_repl_offset", &[("master_host", host), ("master_port", &port)], r.offset as f64);
    }
    e.single("replication_backlog_bytes", Gauge, "repl_backlog_size metric", s.repl_backlog_size as f64);
    e.single("repl_backlog_is_active", Gauge, "repl_backlog_active metric", r.backlog_active as u8 as f64);
    e.single(
        "repl_backlog_first_byte_offset",
        Gauge,
        "repl_backlog_first_byte_offset metric",
        r.backlog_first_byte as f64,
    );
    e.single("repl_backlog_history_bytes", Gauge, "repl_backlog_histlen metric", r.backlog_histlen as f64);
    // Gauges, as redis_exporter declares them (promtool wants `_total` on counters).
    e.single("replica_resyncs_full", Gauge, "sync_full metric", s.sync_full as f64);
    e.single("replica_partial_resync_accepted", Gauge, "sync_partial_ok metric", s.sync_partial_ok as f64);
    e.single("replica_partial_resync_denied", Gauge, "sync_partial_err metric", s.sync_partial_err as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::{Follower, LinkStatus};

    fn text(r: ReplSnapshot) -> String {
        let s = InfoSnapshot { repl: r.clone(), replica_read_only: true, ..Default::default() };
        let mut e = Exposition::new("redis");
        render(&mut e, &r, &s);
        e.finish()
    }

    #[test]
    fn primary_with_a_replica() {
        let r = ReplSnapshot {
            offset: 500,
            now_ms: 10_000,
            followers: vec![Follower {
                id: 1,
                ip: "10.0.0.2".into(),
                port: 6380,
                state: "online",
                ack_offset: 480,
                last_ack_ms: 7_000,
            }],
            ..Default::default()
        };
        let t = text(r);
        assert!(t.contains("\nredis_connected_slaves 1\n"), "{t}");
        assert!(t.contains("\nredis_master_repl_offset 500\n"));
        assert!(t.contains("redis_connected_slave_offset_bytes{slave_ip=\"10.0.0.2\",slave_port=\"6380\",slave_state=\"online\"} 480\n"));
        assert!(t.contains(
            "redis_connected_slave_lag_seconds{slave_ip=\"10.0.0.2\",slave_port=\"6380\",slave_state=\"online\"} 3\n"
        ));
        assert!(!t.contains("master_link_up"));
    }

    #[test]
    fn replica_link() {
        let link = LinkStatus { up: true, last_io_ms: 9_000, ..Default::default() };
        let r =
            ReplSnapshot { primary: Some(("p".into(), 7000, link)), offset: 42, now_ms: 10_000, ..Default::default() };
        let t = text(r);
        assert!(t.contains("\nredis_master_link_up 1\n"), "{t}");
        assert!(t.contains("\nredis_master_last_io_seconds_ago 1\n"));
        assert!(t.contains("redis_slave_info{master_host=\"p\",master_port=\"7000\",read_only=\"1\"} 1\n"));
        assert!(t.contains("redis_slave_repl_offset{master_host=\"p\",master_port=\"7000\"} 42\n"));
    }
}
