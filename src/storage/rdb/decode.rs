//! Reading RDB: files record by record, and DUMP payloads. Every encoding Redis 7.0 loads is
//! accepted; values are rebuilt in the encoding Mayfly's limits choose for them.

use super::packed::{intset_decode, listpack_entries, ziplist_entries, zipmap_pairs};
use super::{kind, lzf, opcode, RdbError, CRC64, RDB_VERSION};
use crate::engine::ShardConfig;
use crate::types::zset::ZLimits;
use crate::types::{HashLimits, HashValue, ListValue, SetLimits, SetValue, StrValue, Value, ZSet};
use bytes::Bytes;
use std::collections::BTreeSet;

/// The encoding thresholds values are rebuilt with.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub hash: HashLimits,
    pub set: SetLimits,
    pub zset: ZLimits,
    pub list_fill: i64,
}

impl Limits {
    pub fn from_config(c: &ShardConfig) -> Limits {
        Limits {
            hash: HashLimits { max_entries: c.hash_max_listpack_entries, max_value: c.hash_max_listpack_value },
            set: SetLimits {
                max_intset_entries: c.set_max_intset_entries,
                max_listpack_entries: c.set_max_listpack_entries,
                max_listpack_value: c.set_max_listpack_value,
            },
            zset: ZLimits { entries: c.zset_max_listpack_entries, value: c.zset_max_listpack_value },
            list_fill: c.list_max_listpack_size,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_config(&ShardConfig::default())
    }
}

/// One record of an RDB file.
#[derive(Debug, PartialEq)]
pub enum Record {
    Aux(Bytes, Bytes),
    SelectDb(usize),
    ResizeDb(u64, u64),
    /// A key, its value (`None`: an empty collection, which Redis skips too) and its deadline
    /// (Unix ms, 0 = none).
    Entry {
        key: Bytes,
        value: Option<Value>,
        expire_at: u64,
    },
    /// The end; the checksum (when present) matched.
    Eof,
}

fn corrupt(s: impl Into<String>) -> RdbError {
    RdbError::Corrupt(s.into())
}

/// A cursor over bytes with RDB's primitive readers.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

enum Len {
    Plain(u64),
    /// A special string encoding (int8/16/32, LZF).
    Special(u8),
}

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or(RdbError::Truncated)?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, RdbError> {
        Ok(self.bytes(1)?[0])
    }

    fn len_or_special(&mut self) -> Result<Len, RdbError> {
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Len::Plain((first & 0x3F) as u64),
            1 => Len::Plain(((first & 0x3F) as u64) << 8 | self.u8()? as u64),
            2 => match first {
                0x80 => Len::Plain(u32::from_be_bytes(self.bytes(4)?.try_into().unwrap()) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.bytes(8)?.try_into().unwrap())),
                _ => return Err(corrupt(format!("unknown length encoding {first:#x}"))),
            },
            _ => Len::Special(first & 0x3F),
        })
    }

    fn len(&mut self) -> Result<u64, RdbError> {
        match self.len_or_special()? {
            Len::Plain(n) => Ok(n),
            Len::Special(_) => Err(corrupt("string encoding where a length was expected")),
        }
    }

    /// A count of items that follow, bounded by what the remaining bytes could hold.
    fn count(&mut self) -> Result<usize, RdbError> {
        let n = self.len()?;
        if n > (self.data.len() - self.pos) as u64 {
            return Err(RdbError::Truncated);
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<Bytes, RdbError> {
        match self.len_or_special()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| RdbError::Truncated)?;
                Ok(Bytes::copy_from_slice(self.bytes(n)?))
            }
            Len::Special(0) => Ok(int_text(self.u8()? as i8 as i64)),
            Len::Special(1) => Ok(int_text(i16::from_le_bytes(self.bytes(2)?.try_into().unwrap()) as i64)),
            Len::Special(2) => Ok(int_text(i32::from_le_bytes(self.bytes(4)?.try_into().unwrap()) as i64)),
            Len::Special(3) => {
                let clen = usize::try_from(self.len()?).map_err(|_| RdbError::Truncated)?;
                let olen = self.len()?;
                let comp = self.bytes(clen)?;
                if olen > 1 << 40 {
                    return Err(corrupt("LZF string claims an impossible length"));
                }
                lzf::decompress(comp, olen as usize)
                    .map(Bytes::from)
                    .ok_or_else(|| corrupt("invalid LZF compressed string"))
            }
            Len::Special(e) => Err(corrupt(format!("unknown string encoding {e}"))),
        }
    }

    /// A score in the old text form: a length byte (253 nan, 254 +inf, 255 -inf) and text.
    fn text_double(&mut self) -> Result<f64, RdbError> {
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => parse_score(self.bytes(n as usize)?),
        }
    }

    fn binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.bytes(8)?.try_into().unwrap()))
    }
}

fn int_text(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

fn parse_score(b: &[u8]) -> Result<f64, RdbError> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| corrupt("unreadable sorted set score"))
}

fn build_list(items: Vec<Bytes>, lim: &Limits) -> Option<Value> {
    (!items.is_empty()).then(|| Value::list(ListValue::from_items(items, lim.list_fill)))
}

fn build_set(members: impl IntoIterator<Item = Bytes>, hint: usize, lim: &Limits) -> Result<Option<Value>, RdbError> {
    let mut set: Option<SetValue> = None;
    for m in members {
        let s = set.get_or_insert_with(|| SetValue::create(&m, hint, lim.set));
        if !s.add(&m, lim.set) {
            return Err(corrupt("duplicate set members detected"));
        }
    }
    Ok(set.map(Value::set))
}

fn build_hash(pairs: impl IntoIterator<Item = (Bytes, Bytes)>, lim: &Limits) -> Result<Option<Value>, RdbError> {
    let mut h = HashValue::new();
    for (f, v) in pairs {
        if !h.set(&f, &v, lim.hash) {
            return Err(corrupt("duplicate hash fields detected"));
        }
    }
    Ok((!h.is_empty()).then_some(Value::Hash(h)))
}

fn build_zset(items: Vec<(Bytes, f64)>, lim: &Limits) -> Result<Option<Value>, RdbError> {
    let mut seen = BTreeSet::new();
    for (m, s) in &items {
        if s.is_nan() {
            return Err(corrupt("sorted set with a NaN score detected"));
        }
        if !seen.insert(m.clone()) {
            return Err(corrupt("duplicate sorted set members detected"));
        }
    }
    Ok((!items.is_empty()).then(|| Value::zset(ZSet::from_entries(items, lim.zset))))
}

fn pairs_of(items: Vec<Bytes>, what: &str) -> Result<Vec<(Bytes, Bytes)>, RdbError> {
    if items.len() % 2 != 0 {
        return Err(corrupt(format!("{what} with an odd number of elements")));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

fn scored(items: Vec<Bytes>) -> Result<Vec<(Bytes, f64)>, RdbError> {
    pairs_of(items, "sorted set")?.into_iter().map(|(m, s)| Ok((m, parse_score(&s)?))).collect()
}

/// Reads a value of RDB type `t`.
fn read_value(c: &mut Cursor<'_>, t: u8, lim: &Limits) -> Result<Option<Value>, RdbError> {
    Ok(match t {
        kind::STRING => Some(Value::Str(StrValue::from_owned(c.string()?))),
        kind::LIST => {
            let n = c.count()?;
            let items = (0..n).map(|_| c.string()).collect::<Result<Vec<_>, _>>()?;
            build_list(items, lim)
        }
        kind::SET => {
            let n = c.count()?;
            let items = (0..n).map(|_| c.string()).collect::<Result<Vec<_>, _>>()?;
            build_set(items, n, lim)?
        }
        kind::ZSET | kind::ZSET_2 => {
            let n = c.count()?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let m = c.string()?;
                let s = if t == kind::ZSET { c.text_double()? } else { c.binary_double()? };
                items.push((m, s));
            }
            build_zset(items, lim)?
        }
        kind::HASH => {
            let n = c.count()?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                pairs.push((c.string()?, c.string()?));
            }
            build_hash(pairs, lim)?
        }
        kind::HASH_ZIPMAP => build_hash(zipmap_pairs(&c.string()?)?, lim)?,
        kind::LIST_ZIPLIST => build_list(ziplist_entries(&c.string()?)?, lim),
        kind::SET_INTSET => {
            let ints = intset_decode(&c.string()?)?;
            let n = ints.len();
            build_set(ints.into_iter().map(int_text), n, lim)?
        }
        kind::ZSET_ZIPLIST => build_zset(scored(ziplist_entries(&c.string()?)?)?, lim)?,
        kind::HASH_ZIPLIST => build_hash(pairs_of(ziplist_entries(&c.string()?)?, "hash")?, lim)?,
        kind::HASH_LISTPACK => build_hash(pairs_of(listpack_entries(&c.string()?)?, "hash")?, lim)?,
        kind::ZSET_LISTPACK => build_zset(scored(listpack_entries(&c.string()?)?)?, lim)?,
        kind::LIST_QUICKLIST | kind::LIST_QUICKLIST_2 => {
            let nodes = c.count()?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                let container = if t == kind::LIST_QUICKLIST_2 { c.len()? } else { 2 };
                let blob = c.string()?;
                match (t, container) {
                    (kind::LIST_QUICKLIST, _) => items.extend(ziplist_entries(&blob)?),
                    (_, 1) => items.push(blob),
                    (_, 2) => items.extend(listpack_entries(&blob)?),
                    _ => return Err(corrupt(format!("unknown quicklist node container {container}"))),
                }
            }
            build_list(items, lim)
        }
        kind::MODULE | kind::MODULE_2 => {
            return Err(RdbError::Unsupported("a module data type (Mayfly loads no modules)".into()))
        }
        kind::STREAM_LISTPACKS | kind::STREAM_LISTPACKS_2 => {
            return Err(RdbError::Unsupported("a stream (Mayfly has no stream type)".into()))
        }
        t => return Err(corrupt(format!("unknown object type {t}"))),
    })
}

/// Reads an RDB file record by record.
pub struct Decoder<'a> {
    c: Cursor<'a>,
    version: u16,
    limits: Limits,
    done: bool,
}

impl<'a> Decoder<'a> {
    /// Checks the magic and version.
    pub fn new(data: &'a [u8], limits: Limits) -> Result<Decoder<'a>, RdbError> {
        if data.len() < 9 {
            return Err(RdbError::Truncated);
        }
        if &data[..5] != b"REDIS" {
            return Err(corrupt("wrong signature (not an RDB file)"));
        }
        let version = std::str::from_utf8(&data[5..9])
            .ok()
            .and_then(|v| v.parse::<u16>().ok())
            .ok_or_else(|| corrupt("unreadable RDB version"))?;
        if version == 0 || version > RDB_VERSION {
            return Err(RdbError::Unsupported(format!("RDB format version {version}")));
        }
        Ok(Decoder { c: Cursor { data, pos: 9 }, version, limits, done: false })
    }

    pub fn version(&self) -> u16 {
        self.version
    }

    /// How far into the data the decoder is.
    pub fn position(&self) -> usize {
        self.c.pos
    }

    /// The next record; `Eof` once the end (and a good checksum) was read.
    pub fn next_record(&mut self) -> Result<Record, RdbError> {
        if self.done {
            return Ok(Record::Eof);
        }
        let mut expire_at = 0u64;
        loop {
            let op = self.c.u8()?;
            match op {
                opcode::EXPIRETIME_MS => {
                    expire_at = u64::from_le_bytes(self.c.bytes(8)?.try_into().unwrap());
                }
                opcode::EXPIRETIME => {
                    expire_at = u32::from_le_bytes(self.c.bytes(4)?.try_into().unwrap()) as u64 * 1000;
                }
                opcode::IDLE => {
                    self.c.len()?;
                }
                opcode::FREQ => {
                    self.c.u8()?;
                }
                opcode::AUX => return Ok(Record::Aux(self.c.string()?, self.c.string()?)),
                opcode::SELECTDB => {
                    let db = self.c.len()?;
                    return Ok(Record::SelectDb(
                        usize::try_from(db).map_err(|_| corrupt("database number too large"))?,
                    ));
                }
                opcode::RESIZEDB => return Ok(Record::ResizeDb(self.c.len()?, self.c.len()?)),
                opcode::MODULE_AUX => {
                    return Err(RdbError::Unsupported("module auxiliary data (Mayfly loads no modules)".into()))
                }
                opcode::FUNCTION | opcode::FUNCTION2 => {
                    return Err(RdbError::Unsupported("a function library (Mayfly has no functions)".into()))
                }
                opcode::EOF => {
                    let end = self.c.pos;
                    if self.version >= 5 {
                        let stored = u64::from_le_bytes(self.c.bytes(8)?.try_into().unwrap());
                        if stored != 0 && stored != CRC64.checksum(&self.c.data[..end]) {
                            return Err(corrupt("wrong RDB checksum"));
                        }
                    }
                    if self.c.pos != self.c.data.len() {
                        return Err(corrupt("data after the end of the RDB"));
                    }
                    self.done = true;
                    return Ok(Record::Eof);
                }
                t => {
                    let key = self.c.string()?;
                    let value = read_value(&mut self.c, t, &self.limits)?;
                    return Ok(Record::Entry { key, value, expire_at });
                }
            }
        }
    }
}

/// Why a DUMP payload was refused: RESTORE answers differently for each.
#[derive(Debug, PartialEq)]
pub enum PayloadError {
    /// "DUMP payload version or checksum are wrong"
    VersionOrChecksum,
    /// "Bad data format"
    BadFormat,
}

/// Reads a DUMP payload (`None` never: an empty collection is a bad format, as in Redis).
pub fn decode_dump_payload(p: &[u8], limits: Limits) -> Result<Value, PayloadError> {
    if p.len() < 10 {
        return Err(PayloadError::VersionOrChecksum);
    }
    let footer = p.len() - 10;
    let version = u16::from_le_bytes([p[footer], p[footer + 1]]);
    if version > RDB_VERSION {
        return Err(PayloadError::VersionOrChecksum);
    }
    let crc = u64::from_le_bytes(p[footer + 2..].try_into().unwrap());
    if crc != CRC64.checksum(&p[..p.len() - 8]) {
        return Err(PayloadError::VersionOrChecksum);
    }
    let mut c = Cursor { data: &p[..footer], pos: 0 };
    let t = c.u8().map_err(|_| PayloadError::BadFormat)?;
    match read_value(&mut c, t, &limits) {
        Ok(Some(v)) => Ok(v),
        _ => Err(PayloadError::BadFormat),
    }
}
