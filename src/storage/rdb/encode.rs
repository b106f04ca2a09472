//! Writing RDB: the file framing (magic, aux fields, SELECTDB, RESIZEDB, EXPIRETIME_MS, EOF,
//! CRC64) and values in the encodings Redis 7.0 writes.

use super::packed::{intset_encode, ListpackWriter};
use super::{kind, lzf, opcode, CRC64, RDB_VERSION};
use crate::types::{HashValue, ListValue, SetValue, StrValue, Value, ZSet};
use crate::util::parse_i64_strict;

/// Bytes a listpack node may hold at most when `list-max-listpack-size` is a count (Redis's
/// SIZE_SAFETY_LIMIT).
const NODE_SAFETY_LIMIT: usize = 8192;

pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// An integer in the special string encodings, when it fits 32 bits.
fn put_int_encoded(out: &mut Vec<u8>, v: i64) -> bool {
    if let Ok(b) = i8::try_from(v) {
        out.push(0xC0);
        out.push(b as u8);
    } else if let Ok(s) = i16::try_from(v) {
        out.push(0xC1);
        out.extend_from_slice(&s.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        out.push(0xC2);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// A string as rdbSaveRawString writes it: integer-encoded when it is a short canonical
/// integer, LZF-compressed when longer than 20 bytes and compressible, raw otherwise.
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(v) = parse_i64_strict(s) {
            if put_int_encoded(out, v) {
                return;
            }
        }
    }
    if s.len() > 20 && put_compressed(out, s) {
        return;
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

thread_local! {
    /// Compression scratch (output, match table), reused for every string of a snapshot.
    static LZF_SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// `s` LZF-compressed, as rdbSaveLzfStringObject writes it, when that saves at least 4 bytes.
fn put_compressed(out: &mut Vec<u8>, s: &[u8]) -> bool {
    LZF_SCRATCH.with(|scratch| {
        let (buf, table) = &mut *scratch.borrow_mut();
        let fits = lzf::compress_into(s, s.len() - 4, buf, table);
        if fits {
            out.push(0xC3);
            put_len(out, buf.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(buf);
        }
        if buf.capacity() > 1 << 20 {
            // One huge value must not keep its scratch for the thread's life.
            *buf = Vec::new();
        }
        fits
    })
}

fn put_str_value(out: &mut Vec<u8>, s: &StrValue) {
    match s {
        StrValue::Int(n) if put_int_encoded(out, *n) => {}
        StrValue::Int(n) => put_string(out, itoa::Buffer::new().format(*n).as_bytes()),
        StrValue::Inline(_) | StrValue::Raw(_) => put_string(out, s.as_text().unwrap_or_default()),
    }
}

/// A score as Redis 7.0 puts it in a listpack: integers as integers, else its text.
fn push_score(lp: &mut ListpackWriter, score: f64) {
    if score.fract() == 0.0 && score.abs() < (1u64 << 53) as f64 {
        lp.push_int(score as i64);
    } else {
        lp.push_str(crate::protocol::format_double(score).as_bytes());
    }
}

fn put_list(out: &mut Vec<u8>, l: &ListValue, fill: i64) {
    let node_bytes = |fill: i64| match fill {
        -1 => 4096,
        -2 => 8192,
        -3 => 16384,
        -4 => 32768,
        _ => 65536,
    };
    let mut nodes: Vec<Vec<u8>> = Vec::new();
    let mut lp = ListpackWriter::new();
    for item in l.iter() {
        // What the entry adds: its bytes plus encoding and back-length overhead.
        let add = item.len() + 11;
        let full = if fill > 0 {
            lp.len() >= fill as usize || lp.size() + add > NODE_SAFETY_LIMIT
        } else {
            lp.size() + add > node_bytes(fill)
        };
        if full && !lp.is_empty() {
            nodes.push(std::mem::replace(&mut lp, ListpackWriter::new()).finish());
        }
        lp.push(item);
    }
    if !lp.is_empty() {
        nodes.push(lp.finish());
    }
    put_len(out, nodes.len() as u64);
    for n in nodes {
        put_len(out, 2); // QUICKLIST_NODE_CONTAINER_PACKED
        put_string(out, &n);
    }
}

/// Appends `v`'s serialization (without key or type) and returns its RDB type.
pub fn put_value(out: &mut Vec<u8>, v: &Value, list_fill: i64) -> u8 {
    match v {
        Value::Str(s) => {
            put_str_value(out, s);
            kind::STRING
        }
        Value::List(l) => {
            put_list(out, l, list_fill);
            kind::LIST_QUICKLIST_2
        }
        Value::Set(s) if matches!(**s, SetValue::Ints(_)) => {
            let SetValue::Ints(ints) = &**s else { unreachable!("matched above") };
            put_string(out, &intset_encode(ints));
            kind::SET_INTSET
        }
        Value::Set(s) => {
            put_len(out, s.len() as u64);
            s.for_each(|m| put_string(out, m));
            kind::SET
        }
        Value::Hash(h @ HashValue::Pack(_)) => {
            let mut lp = ListpackWriter::new();
            for (f, v) in h.entries() {
                lp.push(f);
                lp.push(v);
            }
            put_string(out, &lp.finish());
            kind::HASH_LISTPACK
        }
        Value::Hash(h) => {
            put_len(out, h.len() as u64);
            for (f, v) in h.entries() {
                put_string(out, f);
                put_string(out, v);
            }
            kind::HASH
        }
        Value::ZSet(z) if matches!(**z, ZSet::Pack(_)) => {
            let mut lp = ListpackWriter::new();
            for (m, s) in z.range(0, z.len()) {
                lp.push(&m);
                push_score(&mut lp, s);
            }
            put_string(out, &lp.finish());
            kind::ZSET_LISTPACK
        }
        Value::ZSet(z) => {
            put_len(out, z.len() as u64);
            // Highest first, as Redis writes a skiplist (so loading appends at the head).
            for (m, s) in z.range(0, z.len()).into_iter().rev() {
                put_string(out, &m);
                out.extend_from_slice(&s.to_le_bytes());
            }
            kind::ZSET_2
        }
    }
}

/// DUMP's payload: type, value, the RDB version (2 bytes LE), CRC64 of all that (8 bytes LE).
pub fn dump_payload(v: &Value, list_fill: i64) -> Vec<u8> {
    let mut body = Vec::new();
    let t = put_value(&mut body, v, list_fill);
    let mut out = Vec::with_capacity(body.len() + 11);
    out.push(t);
    out.extend_from_slice(&body);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// One key as a file record: its deadline (Unix ms, 0 = none), type, name and value.
pub fn put_entry(out: &mut Vec<u8>, key: &[u8], value: &Value, expire_at: u64, list_fill: i64) {
    if expire_at != 0 {
        out.push(opcode::EXPIRETIME_MS);
        out.extend_from_slice(&expire_at.to_le_bytes());
    }
    let at = out.len();
    out.push(0);
    put_string(out, key);
    let t = put_value(out, value, list_fill);
    out[at] = t;
}

/// Builds an RDB file in pieces: callers append records, `take` hands back what is ready to
/// write (the checksum follows every byte handed out), `finish` ends the file.
pub struct Encoder {
    buf: Vec<u8>,
    digest: crc::Digest<'static, u64, crc::Table<16>>,
    list_fill: i64,
    written: u64,
}

impl Encoder {
    /// Starts a file: magic and version, then the aux fields.
    pub fn new(list_fill: i64, aux: &[(&str, String)]) -> Encoder {
        let mut e = Encoder { buf: Vec::with_capacity(1 << 16), digest: CRC64.digest(), list_fill, written: 0 };
        e.buf.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
        for (k, v) in aux {
            e.buf.push(opcode::AUX);
            put_string(&mut e.buf, k.as_bytes());
            put_string(&mut e.buf, v.as_bytes());
        }
        e
    }

    /// Starts database `db`, which holds `keys` keys of which `expires` have a TTL.
    pub fn select_db(&mut self, db: usize, keys: usize, expires: usize) {
        self.buf.push(opcode::SELECTDB);
        put_len(&mut self.buf, db as u64);
        self.buf.push(opcode::RESIZEDB);
        put_len(&mut self.buf, keys as u64);
        put_len(&mut self.buf, expires as u64);
    }

    /// One key: its deadline (Unix ms, 0 = none), type, name and value.
    pub fn entry(&mut self, key: &[u8], value: &Value, expire_at: u64) {
        put_entry(&mut self.buf, key, value, expire_at, self.list_fill);
    }

    /// Appends entries serialized elsewhere (by `put_entry`, on the shard that owns them).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet taken.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Hands out the buffered bytes.
    pub fn take(&mut self) -> Vec<u8> {
        self.digest.update(&self.buf);
        self.written += self.buf.len() as u64;
        std::mem::replace(&mut self.buf, Vec::with_capacity(1 << 16))
    }

    /// Ends the file: EOF and the checksum. Returns the last bytes to write.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(opcode::EOF);
        self.digest.update(&self.buf);
        let crc = self.digest.finalize();
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }
}
