//! INFO's replication section for both roles, with Redis 7.0's fields in Redis's order.

use super::{Follower, LinkStatus, Replication, Role};
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

/// Everything INFO replication and `/metrics` show, read once under the replication locks.
#[derive(Clone, Debug, Default)]
pub struct ReplSnapshot {
    /// Following a primary: its address and our link to it.
    pub primary: Option<(String, u16, LinkStatus)>,
    pub followers: Vec<Follower>,
    pub replid: String,
    pub replid2: String,
    pub offset: u64,
    pub second_offset: i64,
    pub backlog_active: bool,
    pub backlog_first_byte: u64,
    pub backlog_histlen: u64,
    pub now_ms: u64,
}

impl ReplSnapshot {
    pub fn take(repl: &Replication, now_ms: u64) -> ReplSnapshot {
        let mut s = {
            let bl = repl.journal.backlog.lock().unwrap();
            ReplSnapshot {
                replid: bl.replid.clone(),
                replid2: bl.replid2.clone(),
                offset: bl.offset,
                second_offset: bl.second_replid_offset,
                backlog_active: bl.active,
                backlog_first_byte: if bl.active { bl.first_byte_offset() } else { 0 },
                backlog_histlen: bl.histlen() as u64,
                now_ms,
                ..Default::default()
            }
        };
        if let Role::Replica { host, port } = repl.role() {
            s.primary = Some((host, port, repl.link.lock().unwrap().clone()));
        }
        s.followers = repl.followers.lock().unwrap().clone();
        s
    }

    /// Seconds since a wall-clock ms moment, -1 for never (0).
    pub fn secs_since(&self, ms: u64) -> i64 {
        if ms == 0 {
            -1
        } else {
            (self.now_ms.saturating_sub(ms) / 1000) as i64
        }
    }

    /// A replica's lag as INFO prints it: seconds since its last ACK.
    pub fn lag_secs(&self, f: &Follower) -> i64 {
        self.secs_since(f.last_ack_ms).max(0)
    }

    pub fn role(&self) -> &'static str {
        if self.primary.is_some() {
            "slave"
        } else {
            "master"
        }
    }
}

/// The whole `# Replication` section.
pub fn render(repl: &Replication, cfg: &InfoSettings, now_ms: u64) -> String {
    render_snapshot(&ReplSnapshot::take(repl, now_ms), cfg)
}

pub fn render_snapshot(s: &ReplSnapshot, cfg: &InfoSettings) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("# Replication\r\n");
    let offset = s.offset;
    match &s.primary {
        None => kv(&mut out, "role", "master"),
        Some((host, port, link)) => {
            kv(&mut out, "role", "slave");
            kv(&mut out, "master_host", host);
            kv(&mut out, "master_port", port);
            kv(&mut out, "master_link_status", if link.up { "up" } else { "down" });
            kv(&mut out, "master_last_io_seconds_ago", if link.up { s.secs_since(link.last_io_ms) } else { -1 });
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
                kv(&mut out, "master_sync_last_io_seconds_ago", s.secs_since(link.last_io_ms).max(0));
            }
            if !link.up {
                kv(&mut out, "master_link_down_since_seconds", s.secs_since(link.down_since_ms));
            }
            kv(&mut out, "slave_priority", cfg.replica_priority);
            kv(&mut out, "slave_read_only", cfg.read_only as u8);
            kv(&mut out, "replica_announced", 1);
        }
    }
    kv(&mut out, "connected_slaves", s.followers.len());
    for (i, f) in s.followers.iter().enumerate() {
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            f.ip,
            f.port,
            f.state,
            f.ack_offset,
            s.lag_secs(f)
        );
    }
    kv(&mut out, "master_failover_state", "no-failover");
    kv(&mut out, "master_replid", &s.replid);
    kv(&mut out, "master_replid2", &s.replid2);
    kv(&mut out, "master_repl_offset", offset);
    kv(&mut out, "second_repl_offset", s.second_offset);
    kv(&mut out, "repl_backlog_active", s.backlog_active as u8);
    kv(&mut out, "repl_backlog_size", cfg.backlog_size);
    kv(&mut out, "repl_backlog_first_byte_offset", s.backlog_first_byte);
    kv(&mut out, "repl_backlog_histlen", s.backlog_histlen);
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
