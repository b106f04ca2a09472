//! Invariant (liveness): after the last fault heals and the writes stop, every replica — chained
//! ones included — reaches the primary's `master_repl_offset` with its link up, within a bound
//! of virtual time. The primary's offset keeps moving (it PINGs its replicas through the
//! stream), so a replica has caught up once its offset reaches one the primary reported earlier
//! in the same history (replication id).

use std::time::Duration;

/// What `INFO replication` says about one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeRepl {
    /// "master" or "slave".
    pub role: String,
    pub link_up: bool,
    pub offset: u64,
    pub replid: String,
    pub replid2: String,
}

impl NodeRepl {
    /// Reads the fields out of an `INFO replication` text.
    pub fn parse(text: &str) -> Result<NodeRepl, String> {
        let mut n = NodeRepl::default();
        let mut have_offset = false;
        for line in text.lines() {
            let Some((k, v)) = line.trim_end().split_once(':') else { continue };
            match k {
                "role" => n.role = v.to_string(),
                "master_link_status" => n.link_up = v == "up",
                "master_repl_offset" => {
                    n.offset = v.parse().map_err(|_| format!("bad master_repl_offset `{v}`"))?;
                    have_offset = true;
                }
                "master_replid" => n.replid = v.to_string(),
                "master_replid2" => n.replid2 = v.to_string(),
                _ => {}
            }
        }
        if n.role.is_empty() || !have_offset {
            return Err(format!("INFO replication lacks role or master_repl_offset: {text:?}"));
        }
        Ok(n)
    }

    /// Whether this replica has everything `primary` had: the same history (a restarted
    /// primary starts a new one, whose offsets mean nothing in the old) up to its offset.
    pub fn caught_up(&self, primary: &NodeRepl) -> bool {
        self.role == "slave" && self.link_up && self.replid == primary.replid && self.offset >= primary.offset
    }
}

/// The verdict once the bound has passed with `lagging` nodes still behind.
pub fn stuck(bound: Duration, primary: &NodeRepl, lagging: &[(String, NodeRepl)]) -> String {
    let who: Vec<String> = lagging
        .iter()
        .map(|(name, n)| {
            let link = if n.link_up { "up" } else { "down" };
            format!("{name} (role {}, link {link}, id {}, offset {})", n.role, n.replid, n.offset)
        })
        .collect();
    format!(
        "liveness: {} still behind the primary (id {}, offset {}) {bound:?} after the last fault healed",
        who.join(", "),
        primary.replid,
        primary.offset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_info_and_judges_catch_up() {
        let text = "# Replication\r\nrole:slave\r\nmaster_link_status:up\r\nmaster_replid:abc\r\nmaster_replid2:0000\r\nmaster_repl_offset:120\r\n";
        let n = NodeRepl::parse(text).unwrap();
        assert_eq!((n.role.as_str(), n.link_up, n.offset, n.replid.as_str()), ("slave", true, 120, "abc"));
        let primary =
            |replid: &str, offset| NodeRepl { role: "master".into(), offset, replid: replid.into(), ..n.clone() };
        assert!(n.caught_up(&primary("abc", 120)) && !n.caught_up(&primary("abc", 121)));
        assert!(!n.caught_up(&primary("new", 10)), "another history's offsets prove nothing");
        let down = NodeRepl { link_up: false, ..n.clone() };
        assert!(!down.caught_up(&primary("abc", 100)));
        assert!(
            stuck(Duration::from_secs(60), &primary("abc", 130), &[("replica-1".into(), down)]).contains("link down")
        );
        assert!(NodeRepl::parse("role:master\r\n").is_err());
    }
}
