//! Applying the primary's stream: each complete command runs through the normal command path
//! as the master client, and only then counts. The replica's offset advances by exactly the
//! bytes of the commands processed, and those same bytes go into this node's own journal, so
//! replicas of this replica get the identical stream (and the same offsets).

use super::journal::Journal;
use crate::protocol::{parse_request, Limits};
use crate::runtime::Rt;
use crate::server::Connection;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;

/// Splits stream bytes into complete commands, each with its exact wire bytes.
#[derive(Default)]
pub struct StreamSplitter {
    /// Bytes not yet parsed.
    parse: BytesMut,
    /// The same bytes, kept so a parsed command's wire form can be passed on unchanged.
    wire: BytesMut,
}

impl StreamSplitter {
    pub fn push(&mut self, bytes: &[u8]) {
        self.parse.extend_from_slice(bytes);
        self.wire.extend_from_slice(bytes);
    }

    /// Drops an incomplete command (the link broke in its middle; it will come again).
    pub fn clear(&mut self) {
        self.parse.clear();
        self.wire.clear();
    }

    /// Bytes held that are not a complete command yet.
    pub fn pending(&self) -> usize {
        self.parse.len()
    }

    /// The next complete command: (arguments, its bytes on the wire). Empty lines and `*0`
    /// come back with no arguments (they still count towards the offset).
    pub fn next(&mut self, limits: &Limits) -> Result<Option<(Vec<Bytes>, Bytes)>, String> {
        let before = self.parse.len();
        let mut args = Vec::new();
        match parse_request(&mut self.parse, limits, &mut args) {
            Ok(true) => {
                let used = before - self.parse.len();
                Ok(Some((args, self.wire.split_to(used).freeze())))
            }
            Ok(false) => Ok(None),
            Err(e) => Err(format!("protocol error in the primary's stream: {}", e.0)),
        }
    }
}

/// What the link must do after a batch was applied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub commands: u64,
    /// Offsets to acknowledge now (one per REPLCONF GETACK, as of just before it).
    pub acks: Vec<u64>,
    /// `stop` asked to leave before every ready command was applied.
    pub stopped: bool,
}

/// Whether `args` is `REPLCONF GETACK ...`.
fn is_getack(args: &[Bytes]) -> bool {
    args.len() >= 2 && args[0].eq_ignore_ascii_case(b"replconf") && args[1].eq_ignore_ascii_case(b"getack")
}

/// Runs every complete command the splitter holds through `master`, in order.
pub async fn apply_ready<R: Rt>(
    split: &mut StreamSplitter,
    master: &mut Connection<R>,
    journal: &Arc<Journal>,
    limits: &Limits,
    stop: &dyn Fn() -> bool,
) -> Result<Applied, String> {
    let mut out = Applied::default();
    loop {
        // Checked only between commands: one is never left half applied or applied uncounted.
        if stop() {
            out.stopped = true;
            break;
        }
        let Some((args, wire)) = split.next(limits)? else { break };
        if is_getack(&args) {
            // Redis answers with the offset processed before this command.
            out.acks.push(journal.offset());
        } else if !args.is_empty() {
            let name = String::from_utf8_lossy(&args[0]).into_owned();
            let reply = master.run_from_master(args).await;
            if let crate::protocol::Reply::Error(e) = &reply {
                tracing::warn!("command '{name}' from the primary failed on this replica: {e}");
            }
        }
        journal.append_raw(&wire);
        out.commands += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn commands(stream: &[u8], cuts: &[usize]) -> (Vec<(Vec<Bytes>, Bytes)>, usize) {
        let mut s = StreamSplitter::default();
        let mut out = Vec::new();
        let mut last = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        points.push(stream.len());
        points.sort();
        for p in points {
            s.push(&stream[last..p]);
            last = p;
            while let Some(c) = s.next(&Limits { max_bulk_len: 512 << 20 }).unwrap() {
                out.push(c);
            }
        }
        (out, s.pending())
    }

    const STREAM: &[u8] = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv\n\r\n\
                            *1\r\n$4\r\nPING\r\n*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";

    #[test]
    fn offsets_are_the_exact_bytes_of_each_command() {
        let (cmds, pending) = commands(STREAM, &[]);
        assert_eq!(pending, 0);
        let lens: Vec<usize> = cmds.iter().map(|(_, w)| w.len()).collect();
        assert_eq!(lens, vec![23, 28, 14, 37]);
        assert_eq!(lens.iter().sum::<usize>(), STREAM.len());
        assert_eq!(cmds[1].0[2].as_ref(), b"v\n");
        assert!(is_getack(&cmds[3].0));
        assert!(!is_getack(&cmds[2].0));
    }

    #[test]
    fn a_partial_command_does_not_count() {
        let (cmds, pending) = commands(&STREAM[..40], &[]);
        assert_eq!(cmds.len(), 1);
        assert_eq!(pending, 40 - 23);
    }

    #[test]
    fn garbage_is_a_link_error() {
        let mut s = StreamSplitter::default();
        s.push(b"*x\r\n");
        assert!(s.next(&Limits { max_bulk_len: 100 }).unwrap_err().contains("protocol error"));
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_commands(cuts in proptest::collection::vec(any::<usize>(), 0..10)) {
            let (whole, _) = commands(STREAM, &[]);
            let (split, pending) = commands(STREAM, &cuts);
            prop_assert_eq!(pending, 0);
            prop_assert_eq!(whole, split);
        }
    }
}
