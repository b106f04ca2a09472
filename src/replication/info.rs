//! INFO's replication section for both roles, with Redis 7.0's fields in Redis's order.

use super::{Replication, Role};
use std::fmt::Write;

/// Settings the section prints.
pub struct InfoSettings {
    pub read_only: bool,
    pub backlog_size: i64,
    pub replica_priority: i64,
}

fn kv(out: &mut String, k: &str, v: impl std::fmt::Display) {
    let _ = write!(out, "{k}:{v}\r\n");
}

/// The whole `# Replication` section.
pub fn render(repl: &Replication, cfg: &InfoSettings, now_ms: u64) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("# Replication\r\n");
    let (replid, replid2, offset, second, active, first, histlen) = {
        let bl = repl.journal.backlog.lock().unwrap();
        let first = if bl.active { bl.first_byte_offset() } else { 0 };
        (bl.replid.clone(), bl.replid2.clone(), bl.offset, bl.second_replid_offset, bl.active, first, bl.histlen())
    };
    let secs_since = |ms: u64| if ms == 0 { -1 } else { (now_ms.saturating_sub(ms) / 1000) as i64 };
    match repl.role() {
        Role::Primary => kv(&mut out, "role", "master"),
        Role::Replica { host, port } => {
            let link = repl.link.lock().unwrap().clone();
            kv(&mut out, "role", "slave");
            kv(&mut out, "master_host", host);
            kv(&mut out, "master_port", port);
            kv(&mut out, "master_link_status", if link.up { "up" } else { "down" });
            kv(&mut out, "master_last_io_seconds_ago", if link.up { secs_since(link.last_io_ms) } else { -1 });
            kv(&mut out, "master_sync_in_progress", link.sync_in_progress as u8);
            kv(&mut out, "slave_read_repl_offset", offset);
            kv(&mut out, "slave_repl_offset", offset);
            if link.sync_in_progress {
                let total = link.sync_total;
                kv(&mut out, "master_sync_total_bytes", total);
                kv(&mut out, "master_sync_read_bytes", link.sync_read);
                let left = if total < 0 { 0 } else { (total as u64).saturating_sub(link.sync_read) };
                kv(&mut out, "master_sync_left_bytes", left);
                let perc = if total > 0 { link.sync_read as f64 * 100.0 / total as f64 } else { 0.0 };
                kv(&mut out, "master_sync_perc", format!("{perc:.2}"));
                kv(&mut out, "master_sync_last_io_seconds_ago", secs_since(link.last_io_ms).max(0));
            }
            if !link.up {
                kv(&mut out, "master_link_down_since_seconds", secs_since(link.down_since_ms));
            }
            kv(&mut out, "slave_priority", cfg.replica_priority);
            kv(&mut out, "slave_read_only", cfg.read_only as u8);
            kv(&mut out, "replica_announced", 1);
        }
    }
    let followers = repl.followers.lock().unwrap().clone();
    kv(&mut out, "connected_slaves", followers.len());
    for (i, f) in followers.iter().enumerate() {
        let lag = secs_since(f.last_ack_ms).max(0);
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            f.ip, f.port, f.state, f.ack_offset, lag
        );
    }
    kv(&mut out, "master_failover_state", "no-failover");
    kv(&mut out, "master_replid", replid);
    kv(&mut out, "master_replid2", replid2);
    kv(&mut out, "master_repl_offset", offset);
    kv(&mut out, "second_repl_offset", second);
    kv(&mut out, "repl_backlog_active", active as u8);
    kv(&mut out, "repl_backlog_size", cfg.backlog_size);
    kv(&mut out, "repl_backlog_first_byte_offset", first);
    kv(&mut out, "repl_backlog_histlen", histlen);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::{Follower, Replication, Role};

    fn keys(s: &str) -> Vec<&str> {
        s.lines().skip(1).map(|l| l.split(':').next().unwrap()).collect()
    }

    const SETTINGS: InfoSettings = InfoSettings { read_only: true, backlog_size: 1 << 20, replica_priority: 100 };

    #[test]
    fn primary_fields_and_slave_lines() {
        let r = Replication::new("a".repeat(40), 1 << 20);
        r.followers.lock().unwrap().push(Follower {
            id: 7,
            ip: "127.0.0.1".into(),
            port: 6380,
            state: "online",
            ack_offset: 42,
            last_ack_ms: 9_000,
        });
        let s = render(&r, &SETTINGS, 10_000);
        assert!(s.contains("slave0:ip=127.0.0.1,port=6380,state=online,offset=42,lag=1\r\n"), "{s}");
        assert_eq!(
            keys(&s),
            [
                "role",
                "connected_slaves",
                "slave0",
                "master_failover_state",
                "master_replid",
                "master_replid2",
                "master_repl_offset",
                "second_repl_offset",
                "repl_backlog_active",
                "repl_backlog_size",
                "repl_backlog_first_byte_offset",
                "repl_backlog_histlen"
            ]
        );
    }

    #[test]
    fn replica_fields_while_down_and_while_syncing() {
        let r = Replication::new("a".repeat(40), 1 << 20);
        *r.role.lock().unwrap() = Role::Replica { host: "h".into(), port: 1 };
        r.link.lock().unwrap().down_since_ms = 4_000;
        let s = render(&r, &SETTINGS, 10_000);
        assert!(s.contains("master_link_status:down\r\n"));
        assert!(s.contains("master_link_down_since_seconds:6\r\n"));
        assert!(!s.contains("master_sync_total_bytes"));
        {
            let mut l = r.link.lock().unwrap();
            l.sync_in_progress = true;
            l.sync_total = 200;
            l.sync_read = 50;
        }
        let s = render(&r, &SETTINGS, 10_000);
        assert!(
            s.contains("master_sync_total_bytes:200\r\nmaster_sync_read_bytes:50\r\nmaster_sync_left_bytes:150\r\n")
        );
        assert_eq!(
            keys(&s)[..9],
            [
                "role",
                "master_host",
                "master_port",
                "master_link_status",
                "master_last_io_seconds_ago",
                "master_sync_in_progress",
                "slave_read_repl_offset",
                "slave_repl_offset",
                "master_sync_total_bytes"
            ]
        );
    }
}
