//! Invariant (liveness): after the last fault heals and the writes stop, every replica — chained
//! ones included — reaches the primary's `master_repl_offset` with its link up, within a bound
//! of virtual time. The primary's offset keeps moving (it PINGs its replicas through the
//! stream), so a replica has caught up once its offset reaches one the primary reported earlier.

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

    /// Whether this replica has everything the primary had at `primary_offset`.
    pub fn caught_up(&self, primary_offset: u64) -> bool {
        self.role == "slave" && self.link_up && self.offset >= primary_offset
    }
}

/// The verdict once the bound has passed with `lagging` nodes still behind.
pub fn stuck(bound: Duration, primary_offset: u64, lagging: &[(String, NodeRepl)]) -> String {
    let who: Vec<String> = lagging
        .iter()
        .map(|(name, n)| {
            let link = if n.link_up { "up" } else { "down" };
            format!("{name} (role {}, link {link}, offset {})", n.role, n.offset)
        })
        .collect();
    format!(
        "liveness: {} still behind the primary's offset {primary_offset} {bound:?} after the last fault healed",
        who.join(", ")
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
        assert!(n.caught_up(120) && !n.caught_up(121));
        let down = NodeRepl { link_up: false, ..n.clone() };
        assert!(!down.caught_up(100));
        assert!(stuck(Duration::from_secs(60), 130, &[("replica-1".into(), down)]).contains("link down"));
        assert!(NodeRepl::parse("role:master\r\n").is_err());
    }
}
