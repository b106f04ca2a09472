//! The replication stream as bytes: Redis's offsets, the replication ids, and the backlog that
//! lets a replica that lost its link for a moment continue where it stopped (+CONTINUE).
//!
//! Offsets count bytes exactly as Redis does: `offset` is the total length of the stream so
//! far (master_repl_offset); the backlog holds its last `buf.len()` bytes.

use bytes::Bytes;
use std::collections::VecDeque;

pub struct Backlog {
    /// This node's replication id (40 hex digits) and the previous one, kept after a promotion
    /// so replicas of the old primary can continue with us (PSYNC2).
    pub replid: String,
    pub replid2: String,
    /// First offset no longer valid under `replid2` (Redis's second_repl_offset: the offset
    /// at the switch plus one); -1 when there is none.
    pub second_replid_offset: i64,
    /// Bytes in the stream since it began (master_repl_offset).
    pub offset: u64,
    buf: VecDeque<u8>,
    /// repl-backlog-size: bytes kept for partial resyncs.
    pub capacity: usize,
    /// Extra bytes kept while a connected replica still needs them (its output buffer limit).
    pub retain_for_replicas: usize,
    /// The database the stream last SELECTed (None: the next command must SELECT).
    stream_db: Option<u16>,
    /// Whether the backlog exists yet (Redis creates it when the first replica attaches).
    pub active: bool,
}

pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// Appends `argv` to `out` as a RESP array of bulk strings (the form replicas read).
pub fn encode_command(out: &mut Vec<u8>, argv: &[Bytes]) {
    out.push(b'*');
    out.extend_from_slice(itoa(argv.len() as u64).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        out.push(b'$');
        out.extend_from_slice(itoa(a.len() as u64).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn itoa(n: u64) -> String {
    n.to_string()
}

impl Backlog {
    pub fn new(replid: String, capacity: usize) -> Backlog {
        Backlog {
            replid,
            replid2: NO_REPLID.to_string(),
            second_replid_offset: -1,
            offset: 0,
            buf: VecDeque::new(),
            capacity,
            retain_for_replicas: 0,
            stream_db: None,
            active: false,
        }
    }

    /// Offset of the first byte still held (repl_backlog_first_byte_offset).
    pub fn first_byte_offset(&self) -> u64 {
        self.offset + 1 - self.buf.len() as u64
    }

    pub fn histlen(&self) -> usize {
        self.buf.len()
    }

    /// Appends bytes that are already a stream (what a replica proxies from its primary).
    /// The stream's selected database is then unknown.
    pub fn append_raw(&mut self, bytes: &[u8]) {
        self.stream_db = None;
        self.push(bytes);
    }

    /// Appends one command for database `db`, SELECTing it first when the stream is elsewhere.
    pub fn append_command(&mut self, db: u16, argv: &[Bytes]) {
        let mut out = Vec::with_capacity(64);
        self.select_into(&mut out, db);
        encode_command(&mut out, argv);
        self.push(&out);
    }

    /// Appends commands that must apply all or nothing, wrapped in MULTI/EXEC (one command is
    /// written as is).
    pub fn append_transaction(&mut self, cmds: &[(u16, Vec<Bytes>)]) {
        match cmds {
            [] => {}
            [(db, argv)] => self.append_command(*db, argv),
            _ => {
                let mut out = Vec::with_capacity(128);
                // SELECT goes before MULTI, as Redis writes it, when the first command needs one.
                self.select_into(&mut out, cmds[0].0);
                encode_command(&mut out, &[Bytes::from_static(b"MULTI")]);
                for (db, argv) in cmds {
                    self.select_into(&mut out, *db);
                    encode_command(&mut out, argv);
                }
                encode_command(&mut out, &[Bytes::from_static(b"EXEC")]);
                self.push(&out);
            }
        }
    }

    /// The next command SELECTs its database even if the stream is there already (a replica
    /// that just loaded a snapshot does not know which one the stream was in).
    pub fn force_select(&mut self) {
        self.stream_db = None;
    }

    /// Appends a command that needs no database (PING, REPLCONF GETACK).
    pub fn append_nodb(&mut self, argv: &[Bytes]) {
        let mut out = Vec::with_capacity(32);
        encode_command(&mut out, argv);
        self.push(&out);
    }

    fn select_into(&mut self, out: &mut Vec<u8>, db: u16) {
        if self.stream_db != Some(db) {
            encode_command(out, &[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())]);
            self.stream_db = Some(db);
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.offset += bytes.len() as u64;
        if !self.active {
            return;
        }
        self.buf.extend(bytes);
        let keep = self.capacity.max(self.retain_for_replicas).max(1);
        if self.buf.len() > keep {
            let drop = self.buf.len() - keep;
            self.buf.drain(..drop);
        }
    }

    /// Creates the backlog (empty, from the current offset) if it does not exist yet.
    pub fn activate(&mut self) {
        if !self.active {
            self.active = true;
            self.buf.clear();
        }
    }

    /// Up to `max` stream bytes starting at offset `from` (the offset of the byte wanted, as in
    /// PSYNC: one past what the reader has). `None` when `from` is no longer (or not yet) held.
    pub fn read(&self, from: u64, max: usize) -> Option<Vec<u8>> {
        if from > self.offset + 1 || from < self.first_byte_offset() {
            return None;
        }
        let start = (from - self.first_byte_offset()) as usize;
        let end = (start + max).min(self.buf.len());
        let (a, b) = self.buf.as_slices();
        let mut out = Vec::with_capacity(end - start);
        if start < a.len() {
            out.extend_from_slice(&a[start..end.min(a.len())]);
        }
        if end > a.len() {
            out.extend_from_slice(&b[start.saturating_sub(a.len())..end - a.len()]);
        }
        Some(out)
    }

    /// Whether a replica that has `replid` up to `offset` (PSYNC's arguments: the offset of the
    /// next byte it wants) can continue from our backlog.
    pub fn can_continue(&self, replid: &str, from: u64) -> bool {
        if !self.active {
            return false;
        }
        let id_ok = replid == self.replid
            || (replid == self.replid2 && self.second_replid_offset >= 0 && from <= self.second_replid_offset as u64);
        id_ok && from >= self.first_byte_offset() && from <= self.offset + 1
    }

    /// A new history starts here (promotion, or a full sync from a new primary): the old id
    /// stays valid up to the current offset as `replid2`.
    pub fn shift_replid(&mut self, new_id: String) {
        self.replid2 = std::mem::replace(&mut self.replid, new_id);
        self.second_replid_offset = self.offset as i64 + 1;
        self.stream_db = None;
    }

    /// Adopts a primary's history (after a full sync): its id and offset, an empty backlog.
    pub fn reset_to(&mut self, replid: String, offset: u64) {
        self.replid = replid;
        self.replid2 = NO_REPLID.to_string();
        self.second_replid_offset = -1;
        self.offset = offset;
        self.buf.clear();
        self.stream_db = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn offsets_count_bytes_and_select_is_written_once_per_db_change() {
        let mut bl = Backlog::new("a".repeat(40), 1 << 20);
        bl.activate();
        bl.append_command(0, &[b("SET"), b("k"), b("v")]);
        let select0 = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n";
        let set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
        assert_eq!(bl.offset as usize, select0.len() + set.len());
        bl.append_command(0, &[b("SET"), b("k"), b("v")]);
        assert_eq!(bl.offset as usize, select0.len() + 2 * set.len());
        let all = bl.read(1, usize::MAX).unwrap();
        assert_eq!(all, format!("{select0}{set}{set}").into_bytes());
        assert_eq!(bl.read(bl.offset + 1, 10).unwrap(), Vec::<u8>::new());
        assert!(bl.read(bl.offset + 2, 10).is_none());
    }

    #[test]
    fn transactions_are_wrapped_and_the_ring_keeps_its_capacity() {
        let mut bl = Backlog::new("a".repeat(40), 16);
        bl.activate();
        bl.append_transaction(&[(0, vec![b("SET"), b("a"), b("1")]), (0, vec![b("SET"), b("b"), b("2")])]);
        assert_eq!(bl.histlen(), 16);
        assert_eq!(bl.first_byte_offset(), bl.offset - 15);
        let tail = bl.read(bl.first_byte_offset(), 100).unwrap();
        assert!(tail.ends_with(b"$4\r\nEXEC\r\n"));
        assert!(bl.read(bl.first_byte_offset() - 1, 1).is_none());
    }

    #[test]
    fn psync_continues_only_within_the_backlog_and_the_history() {
        let mut bl = Backlog::new("a".repeat(40), 1 << 20);
        assert!(!bl.can_continue(&"a".repeat(40), 1), "no backlog yet");
        bl.activate();
        bl.append_raw(b"*1\r\n$4\r\nPING\r\n");
        assert!(bl.can_continue(&"a".repeat(40), 1));
        assert!(bl.can_continue(&"a".repeat(40), bl.offset + 1));
        assert!(!bl.can_continue(&"a".repeat(40), bl.offset + 2));
        assert!(!bl.can_continue(&"b".repeat(40), 1));
        let at = bl.offset;
        bl.shift_replid("b".repeat(40));
        bl.append_raw(b"*1\r\n$4\r\nPING\r\n");
        assert!(bl.can_continue(&"a".repeat(40), at + 1), "old id up to the switch");
        assert!(!bl.can_continue(&"a".repeat(40), at + 2), "not past it");
        assert!(bl.can_continue(&"b".repeat(40), bl.offset + 1));
    }
}
