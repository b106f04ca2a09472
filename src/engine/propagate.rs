//! How a shard's writes reach the replication journal (see `replication::journal`).
//!
//! A command's records collect in `Shard::pending` while it runs and are written when its job
//! ends, as one unit (several records become MULTI/EXEC), while the shard still holds the keys.
//! Inside a transaction (EXEC, or a command whose keys span shards) records go to the
//! transaction's `Capture` instead, which writes them all at once before its locks are released.
//! Deletions by expiry and eviction become DEL, as Redis propagates them.

use super::Shard;
use crate::protocol::Reply;
use crate::replication::journal::{Journal, Record};
use bytes::Bytes;
#[cfg(feature = "canary")]
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// The records of one transaction, written to the journal (or to an enclosing transaction) once.
pub struct Capture {
    inner: Mutex<CaptureInner>,
    journal: Arc<Journal>,
    parent: Option<Arc<Capture>>,
}

struct CaptureInner {
    records: Vec<Record>,
    /// What to write when the command did not say otherwise (its own arguments).
    default: Option<Record>,
    /// The command wrote its own records (SPOP as SREM, BLMOVE as LMOVE): no default.
    rewritten: bool,
    done: bool,
}

impl Capture {
    /// A capture for a transaction; `default` is the command to record unless its steps record
    /// something else. Finishing writes to `parent` when nested (a command inside EXEC).
    pub fn new(journal: Arc<Journal>, default: Option<Record>, parent: Option<Arc<Capture>>) -> Arc<Capture> {
        Arc::new(Capture {
            inner: Mutex::new(CaptureInner { records: Vec::new(), default, rewritten: false, done: false }),
            journal,
            parent,
        })
    }

    pub fn push(&self, rec: Record, rewrite: bool) {
        let mut c = self.inner.lock().unwrap();
        if c.done {
            // Work after the end (a late step): record it on its own rather than lose it.
            drop(c);
            self.write(vec![rec]);
            return;
        }
        c.rewritten |= rewrite;
        c.records.push(rec);
    }

    /// Writes what was recorded (and the default record unless the command rewrote itself).
    /// Call while every lock of the transaction is still held. Later calls do nothing.
    pub fn finish(&self) {
        let records = {
            let mut c = self.inner.lock().unwrap();
            if c.done {
                return;
            }
            c.done = true;
            let mut records = std::mem::take(&mut c.records);
            if !c.rewritten {
                records.extend(c.default.take());
            }
            records
        };
        #[cfg(feature = "canary")]
        if self.parent.is_none() && records.len() > 1 && self.journal.split_transactions.load(Ordering::Relaxed) {
            // Canary: each record on its own, last shard first, so a replica can apply half.
            for r in records.into_iter().rev() {
                self.write(vec![r]);
            }
            return;
        }
        self.write(records);
    }

    fn write(&self, records: Vec<Record>) {
        match &self.parent {
            Some(p) => {
                for r in records {
                    p.push(r, false);
                }
            }
            None if self.journal.is_on() => self.journal.append_transaction(&records),
            None => {}
        }
    }
}

impl Shard {
    /// Whether writes on this shard are being recorded for replicas right now.
    #[inline]
    pub fn propagating(&self) -> bool {
        self.capture.is_some() || self.journal.as_ref().is_some_and(|j| j.is_on())
    }

    /// Records `argv` for replicas, to be written when the current job ends.
    pub fn propagate(&mut self, db: usize, argv: Vec<Bytes>) {
        if !self.propagating() {
            return;
        }
        match &self.capture {
            Some(c) => c.push((db as u16, argv), false),
            None => self.pending.push((db as u16, argv)),
        }
    }

    /// Records `argv` in place of the running command's own arguments (a command whose effect
    /// is not deterministic, or whose times are relative, is replicated as what it did).
    pub fn propagate_instead(&mut self, db: usize, argv: Vec<Bytes>) {
        self.rewritten = true;
        if !self.propagating() {
            return;
        }
        match &self.capture {
            Some(c) => c.push((db as u16, argv), true),
            None => self.pending.push((db as u16, argv)),
        }
    }

    /// A key went away by expiry or eviction: replicas delete it too.
    pub fn propagate_del(&mut self, db: usize, key: &[u8]) {
        self.propagate(db, vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)]);
    }

    /// Ends one command: its own arguments are recorded when it changed something and did not
    /// record itself otherwise, then everything pending is written.
    /// `write` is the command's table name when it is flagged write.
    pub fn command_done(
        &mut self,
        write: Option<&'static str>,
        dirty_before: u64,
        db: usize,
        args: &[Bytes],
        reply: &Reply,
    ) {
        let Some(name) = write else {
            self.rewritten = false;
            self.flush_propagation();
            return;
        };
        if !std::mem::take(&mut self.rewritten) && self.stats.dirty != dirty_before && self.propagating() {
            match crate::replication::rewrite::records_for(self, name, db, args, reply) {
                None => self.propagate(db, args.to_vec()),
                Some(records) => records.into_iter().for_each(|r| self.propagate(db, r)),
            }
        }
        self.rewritten = false;
        self.flush_propagation();
    }

    /// Writes the records pending from the work just run, as one unit.
    pub fn flush_propagation(&mut self) {
        self.rewritten = false;
        if self.pending.is_empty() {
            return;
        }
        let records = std::mem::take(&mut self.pending);
        if let Some(c) = &self.capture {
            for r in records {
                c.push(r, false);
            }
            return;
        }
        if let Some(j) = &self.journal {
            if j.is_on() {
                j.append_transaction(&records);
            }
        }
    }

    /// Runs `f` with records going to `cap` (a transaction's step), then restores the shard.
    pub fn with_capture<T>(&mut self, cap: Option<&Arc<Capture>>, f: impl FnOnce(&mut Shard) -> T) -> T {
        let Some(cap) = cap else { return f(self) };
        self.flush_propagation();
        let outer = self.capture.replace(cap.clone());
        let out = f(self);
        self.flush_propagation();
        self.capture = outer;
        out
    }
}
