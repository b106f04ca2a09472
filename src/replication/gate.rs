//! Which client commands a replica refuses: writes while read-only (READONLY), and most
//! commands while its link is down and stale data must not be served (MASTERDOWN). Checked in
//! Redis's order; the primary's own stream is never refused.

use crate::commands::CommandSpec;
use crate::server::{ClientState, ServerState};
use std::sync::atomic::Ordering;

pub const READONLY: &str = "READONLY You can't write against a read only replica.";
pub const MASTERDOWN: &str = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// The error a command gets on this node now, if any. One atomic load on a primary.
pub fn refusal(state: &ServerState, spec: &CommandSpec, client: &ClientState) -> Option<&'static str> {
    let repl = &state.repl;
    if !repl.following.load(Ordering::Acquire) || client.is_master {
        return None;
    }
    let (read_only, serve_stale) = {
        let c = state.config.read().unwrap();
        (c.get_bool("replica-read-only"), c.get_bool("replica-serve-stale-data"))
    };
    if read_only && spec.is_write() {
        return Some(READONLY);
    }
    if !serve_stale && !spec.has_flag("stale") && !repl.link.lock().unwrap().up {
        return Some(MASTERDOWN);
    }
    None
}
