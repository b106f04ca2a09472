//! Bitmap commands (Redis's bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO. Bitmaps are ordinary strings; the bit arithmetic is in `types::bitmap`.
//!
//! Argument checks come in Redis 7.0's order, which is not always "parse first": BITCOUNT and
//! BITPOS look the key up before reading their range, so a missing key answers 0 (or -1) even
//! when the range is not a number.

use super::errors;
use super::multikey::MultiKind;
use super::table::{spec, CommandSpec, KeySpec, Run};
use super::Ctx;
use crate::engine::notify::class;
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::types::bitmap::{self, BitOp, FieldType, Overflow};
use crate::types::{StrValue, Value, WRONGTYPE};
use crate::util::parse_i64_strict;
use bytes::{Bytes, BytesMut};

const W: &[&str] = &["write", "denyoom"];
const RO: &[&str] = &["readonly"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const ACL_W: &[&str] = &["@write", "@bitmap", "@slow"];
const ACL_R: &[&str] = &["@read", "@bitmap", "@slow"];
const ACL_R_FAST: &[&str] = &["@read", "@bitmap", "@fast"];

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "bitmap",
        "setbit",
        4,
        W,
        KeySpec::ONE,
        ACL_W,
        "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
        "2.2.0",
        Run::Shard(setbit, Mode::Write),
    ),
    spec(
        "bitmap",
        "getbit",
        3,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Returns a bit value by offset.",
        "2.2.0",
        Run::Shard(getbit, Mode::Read),
    ),
    spec(
        "bitmap",
        "bitcount",
        -2,
        RO,
        KeySpec::ONE,
        ACL_R,
        "Counts the number of set bits (population counting) in a string.",
        "2.6.0",
        Run::Shard(bitcount, Mode::Read),
    ),
    spec(
        "bitmap",
        "bitpos",
        -3,
        RO,
        KeySpec::ONE,
        ACL_R,
        "Finds the first set (1) or clear (0) bit in a string.",
        "2.8.7",
        Run::Shard(bitpos, Mode::Read),
    ),
    spec(
        "bitmap",
        "bitop",
        -4,
        W,
        KeySpec { first: 2, last: -1, step: 1 },
        ACL_W,
        "Performs bitwise operations on multiple strings, and stores the result.",
        "2.6.0",
        Run::Multi(MultiKind::Bitop),
    ),
    spec(
        "bitmap",
        "bitfield",
        -2,
        W,
        KeySpec::ONE,
        ACL_W,
        "Performs arbitrary bitfield integer operations on strings.",
        "3.2.0",
        Run::Shard(bitfield, Mode::Write),
    ),
    spec(
        "bitmap",
        "bitfield_ro",
        -2,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Performs arbitrary read-only bitfield integer operations on strings.",
        "6.0.0",
        Run::Shard(bitfield_ro, Mode::Read),
    ),
];

fn shutting_down() -> Reply {
    Reply::error(errors::SHUTTING_DOWN)
}

/// A bit offset argument: a non-negative integer whose byte lies below `proto-max-bulk-len`.
/// With `hash_bits` > 0 (BITFIELD) `#n` means `n * hash_bits`.
fn parse_offset(sh: &Shard, arg: &[u8], hash_bits: u32) -> Result<u64, Reply> {
    let (text, mult) = match arg.first() {
        Some(b'#') if hash_bits > 0 => (&arg[1..], hash_bits as i64),
        _ => (arg, 1),
    };
    parse_i64_strict(text)
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n >= 0 && ((n as u64) >> 3) < sh.config.proto_max_bulk_len as u64)
        .map(|n| n as u64)
        .ok_or_else(|| Reply::error(errors::BIT_OFFSET))
}

/// A key's string bytes for reading (an integer-encoded string reads as its text).
fn read_bytes(sh: &mut Shard, db: usize, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    match sh.lookup(db, key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(s.to_bytes())),
            #[allow(unreachable_patterns)]
            _ => Err(Reply::error(WRONGTYPE)),
        },
    }
}

/// A string taken out of its key for writing, zero-padded as far as the command reaches.
struct Target {
    buf: BytesMut,
    existed: bool,
    /// Created or lengthened: a change even if no bit flips.
    dirty: bool,
}

/// Redis's lookupStringForBitCommand: the key's bytes, at least `len` long. The stored value
/// is moved out (no copy when nobody shares it) and must go back through `put_back`.
fn take_for_write(sh: &mut Shard, db: usize, key: &[u8], len: usize) -> Result<Target, Reply> {
    let (mut buf, existed) = match sh.lookup_write(db, key) {
        None => (BytesMut::new(), false),
        Some(e) => match &mut e.value {
            Value::Str(s) => {
                let buf = BytesMut::from(Bytes::from(std::mem::replace(s, StrValue::Int(0)).into_vec()));
                (buf, true)
            }
            #[allow(unreachable_patterns)]
            _ => return Err(Reply::error(WRONGTYPE)),
        },
    };
    let dirty = !existed || buf.len() < len;
    if buf.len() < len {
        buf.resize(len, 0);
    }
    Ok(Target { buf, existed, dirty })
}

/// Stores a `take_for_write` string back under its key (keeping the TTL), as raw bytes.
fn put_back(sh: &mut Shard, db: usize, key: &[u8], t: Target) {
    let v = Value::Str(StrValue::from_vec(Vec::from(t.buf.freeze())));
    if t.existed {
        if let Some(e) = sh.dbs[db].table.get_mut(key) {
            e.value = v;
        }
    } else {
        sh.dbs[db].set(Bytes::copy_from_slice(key), v, 0);
    }
}

/// SETBIT key offset value: replies with the bit's previous value.
fn setbit(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let off = match parse_offset(sh, &args[2], 0) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let on = match parse_i64_strict(&args[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Reply::error(errors::BIT_VALUE),
    };
    let mut t = match take_for_write(sh, db, &args[1], (off >> 3) as usize + 1) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let old = bitmap::set_bit(&mut t.buf, off, on);
    let changed = t.dirty || old != on;
    put_back(sh, db, &args[1], t);
    if changed {
        sh.notify(db, class::STRING, "setbit", &args[1]);
    }
    Reply::Int(old as i64)
}

/// GETBIT key offset: 0 past the end or for a missing key.
fn getbit(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let off = match parse_offset(sh, &args[2], 0) {
        Ok(o) => o,
        Err(e) => return e,
    };
    match read_bytes(sh, db, &args[1]) {
        Ok(v) => Reply::Int(v.is_some_and(|s| bitmap::get_bit(&s, off)) as i64),
        Err(e) => e,
    }
}

/// Redis's index rules for a range over `total` units: negatives count from the end, then
/// both ends are clamped into the string (`end` may come out below `start`: empty).
fn clamp(start: i64, end: i64, total: i64) -> (i64, i64) {
    let start = if start < 0 { total.saturating_add(start) } else { start }.max(0);
    let end = if end < 0 { total.saturating_add(end) } else { end }.max(0);
    (start, end.min(total - 1))
}

/// BYTE or BIT (any case); anything else is a syntax error.
fn parse_unit(arg: &[u8]) -> Result<bool, Reply> {
    if arg.eq_ignore_ascii_case(b"bit") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Ok(false)
    } else {
        Err(Reply::error(errors::SYNTAX))
    }
}

fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64_strict(arg).ok_or_else(|| Reply::error(errors::NOT_INTEGER))
}

/// BITCOUNT key [start end [BYTE | BIT]]
fn bitcount(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match bitcount_inner(sh, db, args) {
        Ok(n) => Reply::Int(n),
        Err(e) => e,
    }
}

fn bitcount_inner(sh: &mut Shard, db: usize, args: &[Bytes]) -> Result<i64, Reply> {
    let Some(s) = read_bytes(sh, db, &args[1])? else { return Ok(0) };
    let len = s.len() as i64;
    let (first, last) = match args.len() {
        2 => (0, len * 8 - 1),
        4 | 5 => {
            let (start, end) = (int_arg(&args[2])?, int_arg(&args[3])?);
            if start < 0 && end < 0 && start > end {
                return Ok(0);
            }
            let bit = if args.len() == 5 { parse_unit(&args[4])? } else { false };
            if bit {
                clamp(start, end, len * 8)
            } else {
                let (s, e) = clamp(start, end, len);
                (s * 8, e * 8 + 7)
            }
        }
        _ => return Err(Reply::error(errors::SYNTAX)),
    };
    if first > last {
        return Ok(0);
    }
    Ok(bitmap::count_range(&s, first as u64, last as u64) as i64)
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match bitpos_inner(sh, db, args) {
        Ok(n) => Reply::Int(n),
        Err(e) => e,
    }
}

fn bitpos_inner(sh: &mut Shard, db: usize, args: &[Bytes]) -> Result<i64, Reply> {
    let bit = match int_arg(&args[2])? {
        0 => false,
        1 => true,
        _ => return Err(Reply::error(errors::BITPOS_BIT)),
    };
    // A missing key is an endless run of zeros.
    let Some(s) = read_bytes(sh, db, &args[1])? else { return Ok(if bit { -1 } else { 0 }) };
    let len = s.len() as i64;
    let mut end_given = false;
    let (first, last) = match args.len() {
        3 => (0, len * 8 - 1),
        4..=6 => {
            let start = int_arg(&args[3])?;
            let unit_bit = if args.len() == 6 { parse_unit(&args[5])? } else { false };
            let end = if args.len() >= 5 {
                end_given = true;
                int_arg(&args[4])?
            } else {
                len - 1
            };
            if unit_bit {
                clamp(start, end, len * 8)
            } else {
                let (s, e) = clamp(start, end, len);
                (s * 8, e * 8 + 7)
            }
        }
        _ => return Err(Reply::error(errors::SYNTAX)),
    };
    if first > last {
        return Ok(-1);
    }
    Ok(match bitmap::find_bit(&s, bit, first as u64, last as u64) {
        Some(p) => p as i64,
        None if bit || end_given => -1,
        // No clear bit in the string: the padding just past it is one, unless the caller
        // bounded the range.
        None => last + 1,
    })
}

/// BITOP's operation; NOT takes exactly one source.
fn bitop_op(args: &[Bytes]) -> Result<BitOp, Reply> {
    let name = &args[1];
    let op = if name.eq_ignore_ascii_case(b"and") {
        BitOp::And
    } else if name.eq_ignore_ascii_case(b"or") {
        BitOp::Or
    } else if name.eq_ignore_ascii_case(b"xor") {
        BitOp::Xor
    } else if name.eq_ignore_ascii_case(b"not") {
        BitOp::Not
    } else {
        return Err(Reply::error(errors::SYNTAX));
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(Reply::error(errors::BITOP_NOT_ONE_KEY));
    }
    Ok(op)
}

/// Writes BITOP's result to `dst` (no TTL), or deletes `dst` when the result is empty; replies
/// with the result's length.
fn store_result(sh: &mut Shard, db: usize, dst: &[u8], out: Vec<u8>) -> Reply {
    let n = out.len() as i64;
    let existed = sh.lookup_write(db, dst).is_some();
    if n == 0 {
        if existed {
            sh.dbs[db].remove(dst);
            sh.notify(db, class::GENERIC, "del", dst);
        }
        return Reply::Int(0);
    }
    sh.dbs[db].set(Bytes::copy_from_slice(dst), Value::Str(StrValue::from_vec(out)), 0);
    sh.notify(db, class::STRING, "set", dst);
    Reply::Int(n)
}

fn combine(op: BitOp, read: Vec<Result<Option<Bytes>, Reply>>) -> Result<Vec<u8>, Reply> {
    let mut vals = Vec::with_capacity(read.len());
    for r in read {
        // The first source of another type (in argument order) decides the error.
        vals.push(r?.unwrap_or_default());
    }
    let refs: Vec<&[u8]> = vals.iter().map(|b| &b[..]).collect();
    Ok(bitmap::bitop(op, &refs))
}

/// BITOP when the destination and every source live on this shard.
fn bitop_local(sh: &mut Shard, db: usize, op: BitOp, dst: &[u8], srcs: &[Bytes]) -> Reply {
    let mut read = Vec::with_capacity(srcs.len());
    for k in srcs {
        let r = read_bytes(sh, db, k);
        let stop = r.is_err();
        read.push(r);
        if stop {
            break;
        }
    }
    match combine(op, read) {
        Ok(out) => store_result(sh, db, dst, out),
        Err(e) => e,
    }
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]. Across shards: sources are read under read
/// locks and the destination written under a write lock, all held until the end.
pub async fn run_bitop<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let op = match bitop_op(args) {
        Ok(op) => op,
        Err(e) => return e,
    };
    let dst = args[2].clone();
    let srcs: Vec<Bytes> = args[3..].to_vec();
    let dst_shard = ctx.shards.shard_of(&dst);
    if srcs.iter().all(|k| ctx.shards.shard_of(k) == dst_shard) {
        return ctx
            .shards
            .run_keyed(ctx.rt, ctx.home, dst_shard, db as u16, &args[2..], Mode::Write, move |sh| {
                bitop_local(sh, db, op, &dst, &srcs)
            })
            .await
            .unwrap_or_else(shutting_down);
    }
    let mut locks: Vec<(Bytes, Mode)> = srcs.iter().map(|k| (k.clone(), Mode::Read)).collect();
    locks.push((dst.clone(), Mode::Write));
    let tx = ctx.shards.lock(ctx.rt, db as u16, &locks).await;
    let mut read: Vec<Result<Option<Bytes>, Reply>> = (0..srcs.len()).map(|_| Ok(None)).collect();
    for (shard, idx) in super::multikey::by_shard(ctx, args, 3..args.len()) {
        let keys: Vec<Bytes> = idx.iter().map(|&i| args[i].clone()).collect();
        let Some(vals) = tx.run(shard, move |sh| keys.iter().map(|k| read_bytes(sh, db, k)).collect::<Vec<_>>()).await
        else {
            return shutting_down();
        };
        for (i, v) in idx.into_iter().zip(vals) {
            read[i - 3] = v;
        }
    }
    match combine(op, read) {
        Ok(out) => tx.run(dst_shard, move |sh| store_result(sh, db, &dst, out)).await.unwrap_or_else(shutting_down),
        Err(e) => e,
    }
}

#[derive(Clone, Copy, Debug)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

#[derive(Clone, Copy, Debug)]
struct FieldStep {
    op: FieldOp,
    ty: FieldType,
    offset: u64,
    overflow: Overflow,
}

/// Parses BITFIELD's subcommands; also returns the last bit any SET/INCRBY reaches.
fn parse_bitfield(sh: &Shard, args: &[Bytes]) -> Result<(Vec<FieldStep>, Option<u64>), Reply> {
    let mut steps = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut highest: Option<u64> = None;
    let mut j = 2;
    while j < args.len() {
        let rem = args.len() - j - 1;
        let sub = &args[j];
        let is = |name: &str| sub.eq_ignore_ascii_case(name.as_bytes());
        let op_kind = if is("get") && rem >= 2 {
            0
        } else if is("set") && rem >= 3 {
            1
        } else if is("incrby") && rem >= 3 {
            2
        } else if is("overflow") && rem >= 1 {
            let t = &args[j + 1];
            overflow = if t.eq_ignore_ascii_case(b"wrap") {
                Overflow::Wrap
            } else if t.eq_ignore_ascii_case(b"sat") {
                Overflow::Sat
            } else if t.eq_ignore_ascii_case(b"fail") {
                Overflow::Fail
            } else {
                return Err(Reply::error(errors::BITFIELD_OVERFLOW));
            };
            j += 2;
            continue;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        };
        let ty = FieldType::parse(&args[j + 1]).ok_or_else(|| Reply::error(errors::BITFIELD_TYPE))?;
        let offset = parse_offset(sh, &args[j + 2], ty.bits)?;
        let op = match op_kind {
            0 => FieldOp::Get,
            k => {
                let last = offset + ty.bits as u64 - 1;
                highest = Some(highest.map_or(last, |h| h.max(last)));
                let v = int_arg(&args[j + 3])?;
                if k == 1 {
                    FieldOp::Set(v)
                } else {
                    FieldOp::IncrBy(v)
                }
            }
        };
        steps.push(FieldStep { op, ty, offset, overflow });
        j += if op_kind == 0 { 3 } else { 4 };
    }
    Ok((steps, highest))
}

fn bitfield(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    bitfield_generic(sh, db, args, false)
}

fn bitfield_ro(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    bitfield_generic(sh, db, args, true)
}

/// BITFIELD key [GET type offset | [OVERFLOW WRAP|SAT|FAIL] SET type offset value |
/// [OVERFLOW ...] INCRBY type offset increment] ...; BITFIELD_RO allows GET only.
fn bitfield_generic(sh: &mut Shard, db: usize, args: &[Bytes], read_only: bool) -> Reply {
    let (steps, highest) = match parse_bitfield(sh, args) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let key = &args[1];
    let Some(highest) = highest else {
        // Only GETs: a read, zeros for a missing key.
        let s = match read_bytes(sh, db, key) {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => return e,
        };
        return Reply::Array(steps.iter().map(|st| Reply::Int(st.ty.get(&s, st.offset))).collect());
    };
    if read_only {
        return Reply::error(errors::BITFIELD_RO_GET_ONLY);
    }
    let mut t = match take_for_write(sh, db, key, (highest >> 3) as usize + 1) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let mut changes = 0;
    let mut out = Vec::with_capacity(steps.len());
    for st in &steps {
        let old = st.ty.get(&t.buf, st.offset);
        let (stored, reply_new) = match st.op {
            FieldOp::Get => {
                out.push(Reply::Int(old));
                continue;
            }
            // An unsigned SET takes the value's 64 bits as unsigned, as Redis does.
            FieldOp::Set(v) if st.ty.signed => (st.ty.add(v as i128, 0, st.overflow), false),
            FieldOp::Set(v) => (st.ty.add(v as u64 as i128, 0, st.overflow), false),
            FieldOp::IncrBy(d) => (st.ty.add(old as i128, d, st.overflow), true),
        };
        match stored {
            None => out.push(Reply::Nil),
            Some(new) => {
                bitmap::set_field(&mut t.buf, st.offset, st.ty.bits, new as u64);
                if t.dirty || new != old {
                    changes += 1;
                }
                out.push(Reply::Int(if reply_new { new } else { old }));
            }
        }
    }
    put_back(sh, db, key, t);
    if changes > 0 {
        sh.notify(db, class::STRING, "setbit", key);
    }
    Reply::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::notify::NotifyFlags;
    use proptest::prelude::*;

    fn shard() -> Shard {
        Shard::new(0, 16, 7)
    }

    fn args(parts: &[&[u8]]) -> Vec<Bytes> {
        parts.iter().map(|p| Bytes::copy_from_slice(p)).collect()
    }

    fn call(sh: &mut Shard, f: fn(&mut Shard, usize, &[Bytes]) -> Reply, parts: &[&str]) -> Reply {
        let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
        f(sh, 0, &args(&parts))
    }

    fn put(sh: &mut Shard, key: &str, v: &[u8]) {
        sh.dbs[0].set(Bytes::copy_from_slice(key.as_bytes()), Value::Str(StrValue::from_bytes(v)), 0);
    }

    fn get(sh: &mut Shard, key: &str) -> Option<Bytes> {
        read_bytes(sh, 0, key.as_bytes()).unwrap()
    }

    fn err(s: &str) -> Reply {
        Reply::error(s.to_string())
    }

    fn ints(v: &[i64]) -> Reply {
        Reply::Array(v.iter().map(|&n| Reply::Int(n)).collect())
    }

    /// BITOP run on one shard (the cross-shard path is covered over TCP).
    fn bitop(sh: &mut Shard, parts: &[&str]) -> Reply {
        let a: Vec<Bytes> = parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect();
        match bitop_op(&a) {
            Ok(op) => bitop_local(sh, 0, op, &a[2], &a[3..]),
            Err(e) => e,
        }
    }

    #[test]
    fn setbit_and_getbit() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, setbit, &["setbit", "k", "1", "1"]), Reply::Int(0));
        assert_eq!(get(&mut sh, "k").as_deref(), Some(&b"\x40"[..]));
        assert_eq!(call(&mut sh, setbit, &["setbit", "k", "1", "0"]), Reply::Int(1));
        assert_eq!(call(&mut sh, setbit, &["setbit", "k", "17", "1"]), Reply::Int(0));
        assert_eq!(get(&mut sh, "k").as_deref(), Some(&b"\x00\x00\x40"[..]));
        // An integer-encoded string is worked on through its text.
        put(&mut sh, "n", b"1");
        assert_eq!(call(&mut sh, setbit, &["setbit", "n", "6", "1"]), Reply::Int(0));
        assert_eq!(get(&mut sh, "n").as_deref(), Some(&b"3"[..]));
        assert_eq!(call(&mut sh, setbit, &["setbit", "n", "2", "0"]), Reply::Int(1));
        assert_eq!(get(&mut sh, "n").as_deref(), Some(&b"\x13"[..]));
        put(&mut sh, "i", b"1");
        assert_eq!(call(&mut sh, getbit, &["getbit", "i", "2"]), Reply::Int(1));
        assert_eq!(call(&mut sh, getbit, &["getbit", "i", "3"]), Reply::Int(1));
        assert_eq!(call(&mut sh, getbit, &["getbit", "i", "0"]), Reply::Int(0));
        assert_eq!(call(&mut sh, getbit, &["getbit", "i", "10000"]), Reply::Int(0));
        assert_eq!(call(&mut sh, getbit, &["getbit", "none", "0"]), Reply::Int(0));
        for bad in ["4294967296", "-1", "x", "1.5"] {
            assert_eq!(call(&mut sh, setbit, &["setbit", "k", bad, "1"]), err(errors::BIT_OFFSET), "{bad}");
            assert_eq!(call(&mut sh, getbit, &["getbit", "k", bad]), err(errors::BIT_OFFSET), "{bad}");
        }
        for bad in ["-1", "2", "10", "x"] {
            assert_eq!(call(&mut sh, setbit, &["setbit", "k", "0", bad]), err(errors::BIT_VALUE), "{bad}");
        }
        // The offset is checked before the bit, and both before the type.
        sh.dbs[0].set(Bytes::from_static(b"h"), Value::list(crate::types::ListValue::default()), 0);
        assert_eq!(call(&mut sh, setbit, &["setbit", "h", "0", "1"]), err(WRONGTYPE));
        assert_eq!(call(&mut sh, setbit, &["setbit", "h", "-1", "1"]), err(errors::BIT_OFFSET));
        assert_eq!(call(&mut sh, getbit, &["getbit", "h", "0"]), err(WRONGTYPE));
        // The limit follows proto-max-bulk-len.
        sh.config.proto_max_bulk_len = 10;
        assert_eq!(call(&mut sh, setbit, &["setbit", "k", "80", "1"]), err(errors::BIT_OFFSET));
        assert_eq!(call(&mut sh, setbit, &["setbit", "k", "79", "1"]), Reply::Int(0));
    }

    #[test]
    fn setbit_keeps_the_ttl_and_notifies_only_changes() {
        let mut sh = shard();
        sh.set_notify(NotifyFlags::parse("KEAn").unwrap());
        sh.dbs[0].set_quietly(Bytes::from_static(b"k"), Value::Str(StrValue::from_bytes(b"\x00")), u64::MAX - 1);
        sh.events.clear();
        assert_eq!(call(&mut sh, setbit, &["setbit", "k", "0", "0"]), Reply::Int(0));
        assert!(sh.events.is_empty(), "no change, no event");
        assert_eq!(call(&mut sh, setbit, &["setbit", "k", "0", "1"]), Reply::Int(0));
        assert_eq!(sh.events.iter().map(|e| e.event).collect::<Vec<_>>(), vec!["setbit"]);
        sh.events.clear();
        // Growing the string is a change even when the bit stays clear.
        assert_eq!(call(&mut sh, setbit, &["setbit", "k", "90", "0"]), Reply::Int(0));
        assert_eq!(sh.events.iter().map(|e| e.event).collect::<Vec<_>>(), vec!["setbit"]);
        assert_eq!(sh.dbs[0].table.get(b"k".as_slice()).unwrap().expire_at(), u64::MAX - 1);
        sh.events.clear();
        assert_eq!(call(&mut sh, setbit, &["setbit", "new", "0", "0"]), Reply::Int(0));
        assert_eq!(sh.events.iter().map(|e| e.event).collect::<Vec<_>>(), vec!["new", "setbit"]);
    }

    #[test]
    fn bitcount_ranges() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, bitcount, &["bitcount", "none"]), Reply::Int(0));
        assert_eq!(call(&mut sh, bitcount, &["bitcount", "none", "0", "1000", "bit"]), Reply::Int(0));
        assert_eq!(call(&mut sh, bitcount, &["bitcount", "none", "x", "y"]), Reply::Int(0));
        put(&mut sh, "s", b"foobar");
        let bc = |sh: &mut Shard, r: &[&str]| {
            let mut p = vec!["bitcount", "s"];
            p.extend_from_slice(r);
            call(sh, bitcount, &p)
        };
        let count = |s: &[u8]| Reply::Int(bitmap::popcount(s) as i64);
        let bits = |a: u64, b: u64| Reply::Int(bitmap::count_range(b"foobar", a, b) as i64);
        assert_eq!(bc(&mut sh, &[]), count(b"foobar"));
        assert_eq!(bc(&mut sh, &["0", "-1"]), count(b"foobar"));
        assert_eq!(bc(&mut sh, &["1", "-2"]), count(b"ooba"));
        assert_eq!(bc(&mut sh, &["-2", "1"]), Reply::Int(0));
        assert_eq!(bc(&mut sh, &["0", "1000"]), count(b"foobar"));
        assert_eq!(bc(&mut sh, &["0", "-1", "bit"]), count(b"foobar"));
        assert_eq!(bc(&mut sh, &["10", "14", "BIT"]), bits(10, 14));
        assert_eq!(bc(&mut sh, &["3", "29", "bit"]), bits(3, 29));
        assert_eq!(bc(&mut sh, &["10", "-34", "bit"]), bits(10, 14));
        assert_eq!(bc(&mut sh, &["3", "-19", "bit"]), bits(3, 29));
        assert_eq!(bc(&mut sh, &["-2", "1", "bit"]), Reply::Int(0));
        assert_eq!(bc(&mut sh, &["0", "1000", "bit"]), count(b"foobar"));
        assert_eq!(bc(&mut sh, &["1", "1", "byte"]), count(b"o"));
        assert_eq!(bc(&mut sh, &["-6", "-7"]), Reply::Int(0));
        assert_eq!(bc(&mut sh, &["-6", "-15", "bit"]), Reply::Int(0));
        assert_eq!(bc(&mut sh, &["-6", "-7", "nope"]), Reply::Int(0), "an empty range wins over the unit");
        assert_eq!(bc(&mut sh, &["6", "10"]), Reply::Int(0));
        assert_eq!(bc(&mut sh, &["0"]), err(errors::SYNTAX));
        assert_eq!(bc(&mut sh, &["0", "1", "hello"]), err(errors::SYNTAX));
        assert_eq!(bc(&mut sh, &["0", "1", "bit", "x"]), err(errors::SYNTAX));
        assert_eq!(bc(&mut sh, &["a", "1"]), err(errors::NOT_INTEGER));
        assert_eq!(bc(&mut sh, &["0", "4294967296"]), count(b"foobar"));
        put(&mut sh, "str", b"ab");
        assert_eq!(call(&mut sh, bitcount, &["bitcount", "str", "1", "-1"]), Reply::Int(3));
        put(&mut sh, "str", b"__PPxxxxxxxxxxxxxxxxRR__");
        assert_eq!(call(&mut sh, bitcount, &["bitcount", "str", "2", "-3"]), Reply::Int(74));
        put(&mut sh, "n", b"123");
        assert_eq!(call(&mut sh, bitcount, &["bitcount", "n"]), count(b"123"));
    }

    #[test]
    fn bitpos_edges() {
        let mut sh = shard();
        let bp = |sh: &mut Shard, r: &[&str]| {
            let mut p = vec!["bitpos", "str"];
            p.extend_from_slice(r);
            call(sh, bitpos, &p)
        };
        assert_eq!(bp(&mut sh, &["0"]), Reply::Int(0));
        assert_eq!(bp(&mut sh, &["0", "0", "-1", "bit"]), Reply::Int(0));
        assert_eq!(bp(&mut sh, &["1"]), Reply::Int(-1));
        assert_eq!(bp(&mut sh, &["1", "0", "-1"]), Reply::Int(-1));
        assert_eq!(bp(&mut sh, &["2"]), err(errors::BITPOS_BIT));
        assert_eq!(bp(&mut sh, &["x"]), err(errors::NOT_INTEGER));
        put(&mut sh, "str", b"\xff\xf0\x00");
        assert_eq!(bp(&mut sh, &["0"]), Reply::Int(12));
        assert_eq!(bp(&mut sh, &["0", "0", "-1", "bit"]), Reply::Int(12));
        assert_eq!(bp(&mut sh, &["0", "1"]), Reply::Int(12));
        put(&mut sh, "str", b"\x00\x0f\xff");
        assert_eq!(bp(&mut sh, &["1", "1"]), Reply::Int(12));
        assert_eq!(bp(&mut sh, &["1", "1", "-1", "bit"]), Reply::Int(12));
        put(&mut sh, "str", b"\x00\xff\x00");
        for (r, want) in [
            (&["0", "0", "-1"][..], 0),
            (&["0", "1", "-1"], 16),
            (&["0", "2", "-1"], 16),
            (&["0", "2", "200"], 16),
            (&["0", "1", "1"], -1),
            (&["0", "8", "-1", "bit"], 16),
            (&["0", "16", "200", "bit"], 16),
            (&["0", "8", "8", "bit"], -1),
            (&["1", "0", "-1"], 8),
            (&["1", "2", "-1"], -1),
            (&["1", "2", "200"], -1),
            (&["1", "1", "1"], 8),
            (&["1", "16", "-1", "bit"], -1),
            (&["1", "8", "8", "bit"], 8),
            (&["1", "9", "12", "bit"], 9),
            (&["1", "5", "3", "bit"], -1),
        ] {
            assert_eq!(bp(&mut sh, r), Reply::Int(want), "{r:?}");
        }
        put(&mut sh, "str", b"\xff\xff\xff");
        assert_eq!(bp(&mut sh, &["0"]), Reply::Int(24));
        assert_eq!(bp(&mut sh, &["0", "0"]), Reply::Int(24));
        assert_eq!(bp(&mut sh, &["0", "0", "-1"]), Reply::Int(-1));
        assert_eq!(bp(&mut sh, &["0", "0", "-1", "bit"]), Reply::Int(-1));
        assert_eq!(bp(&mut sh, &["0", "0", "-1", "bits"]), err(errors::SYNTAX));
        assert_eq!(bp(&mut sh, &["0", "0", "x", "bits"]), err(errors::SYNTAX), "the unit is read before end");
        assert_eq!(bp(&mut sh, &["0", "0", "x"]), err(errors::NOT_INTEGER));
        assert_eq!(bp(&mut sh, &["0", "0", "1", "bit", "x"]), err(errors::SYNTAX));
        put(&mut sh, "str", b"");
        assert_eq!(bp(&mut sh, &["0"]), Reply::Int(-1));
        assert_eq!(bp(&mut sh, &["1"]), Reply::Int(-1));
    }

    #[test]
    fn bitop_on_one_shard() {
        let mut sh = shard();
        put(&mut sh, "s", b"\xaa\x00\xff\x55");
        assert_eq!(bitop(&mut sh, &["bitop", "not", "s", "s"]), Reply::Int(4));
        assert_eq!(get(&mut sh, "s").as_deref(), Some(&b"\x55\xff\x00\xaa"[..]));
        put(&mut sh, "a", b"1");
        put(&mut sh, "b", b"2");
        assert_eq!(bitop(&mut sh, &["bitop", "xor", "dest", "a", "b", "a"]), Reply::Int(1));
        assert_eq!(get(&mut sh, "dest").as_deref(), Some(&b"2"[..]));
        assert_eq!(bitop(&mut sh, &["bitop", "AND", "dest", "nokey", "a"]), Reply::Int(1));
        assert_eq!(get(&mut sh, "dest").as_deref(), Some(&b"\x00"[..]));
        put(&mut sh, "e", b"");
        assert_eq!(bitop(&mut sh, &["bitop", "not", "dest", "e"]), Reply::Int(0));
        assert_eq!(get(&mut sh, "dest"), None, "an empty result deletes the destination");
        assert_eq!(bitop(&mut sh, &["bitop", "not", "dest", "a", "b"]), err(errors::BITOP_NOT_ONE_KEY));
        assert_eq!(bitop(&mut sh, &["bitop", "nand", "dest", "a"]), err(errors::SYNTAX));
        sh.dbs[0].set(Bytes::from_static(b"l"), Value::list(crate::types::ListValue::default()), 0);
        assert_eq!(bitop(&mut sh, &["bitop", "or", "dest", "a", "l", "b"]), err(WRONGTYPE));
        put(&mut sh, "z", &[0u8; 32]);
        assert_eq!(bitop(&mut sh, &["bitop", "or", "x", "z", "missing"]), Reply::Int(32));
        // The destination loses its TTL.
        sh.dbs[0].set(Bytes::from_static(b"t"), Value::Str(StrValue::from_bytes(b"x")), u64::MAX - 1);
        assert_eq!(bitop(&mut sh, &["bitop", "or", "t", "a"]), Reply::Int(1));
        assert_eq!(sh.dbs[0].table.get(b"t".as_slice()).unwrap().expire_at(), 0);
    }

    fn bf(sh: &mut Shard, parts: &[&str]) -> Reply {
        let mut p = vec!["bitfield", "bits"];
        p.extend_from_slice(parts);
        call(sh, bitfield, &p)
    }

    #[test]
    fn bitfield_basics() {
        let mut sh = shard();
        assert_eq!(bf(&mut sh, &["set", "i8", "0", "-100"]), ints(&[0]));
        assert_eq!(bf(&mut sh, &["set", "i8", "0", "101"]), ints(&[-100]));
        assert_eq!(bf(&mut sh, &["get", "i8", "0"]), ints(&[101]));
        sh.dbs[0].remove(b"bits");
        assert_eq!(
            bf(&mut sh, &["set", "i8", "0", "255", "set", "i8", "0", "100", "get", "i8", "0"]),
            ints(&[0, -1, 100])
        );
        sh.dbs[0].remove(b"bits");
        assert_eq!(
            bf(&mut sh, &["set", "u8", "0", "255", "incrby", "u8", "0", "100", "get", "u8", "0"]),
            ints(&[0, 99, 99])
        );
        assert_eq!(bf(&mut sh, &[]), Reply::Array(vec![]));
        sh.dbs[0].remove(b"bits");
        bf(&mut sh, &["set", "u8", "#0", "65", "SET", "u8", "#1", "66", "Set", "u8", "#2", "67"]);
        assert_eq!(get(&mut sh, "bits").as_deref(), Some(&b"ABC"[..]));
        sh.dbs[0].remove(b"bits");
        bf(&mut sh, &["set", "u8", "#0", "10"]);
        assert_eq!(bf(&mut sh, &["incrby", "u8", "#0", "100", "incrby", "u8", "#0", "100"]), ints(&[110, 210]));
        // Overflow modes apply to the subcommands after them.
        bf(&mut sh, &["set", "u8", "#0", "100"]);
        assert_eq!(bf(&mut sh, &["overflow", "wrap", "incrby", "u8", "#0", "257"]), ints(&[101]));
        assert_eq!(bf(&mut sh, &["overflow", "wrap", "incrby", "u8", "#0", "255"]), ints(&[100]));
        assert_eq!(bf(&mut sh, &["overflow", "sat", "incrby", "u8", "#0", "257"]), ints(&[255]));
        assert_eq!(bf(&mut sh, &["overflow", "sat", "incrby", "u8", "#0", "-300"]), ints(&[0]));
        assert_eq!(
            bf(&mut sh, &["overflow", "fail", "incrby", "u8", "0", "-1", "get", "u8", "0"]),
            Reply::Array(vec![Reply::Nil, Reply::Int(0)])
        );
        assert_eq!(bf(&mut sh, &["overflow", "fail", "set", "u8", "0", "256"]), Reply::Array(vec![Reply::Nil]));
        bf(&mut sh, &["set", "u8", "#0", "100"]);
        assert_eq!(bf(&mut sh, &["overflow", "sat", "incrby", "i8", "#0", "257"]), ints(&[127]));
        assert_eq!(bf(&mut sh, &["overflow", "sat", "incrby", "i8", "#0", "-255"]), ints(&[-128]));
        sh.dbs[0].remove(b"bits");
        assert_eq!(
            bf(&mut sh, &["SET", "i8", "0", "10", "SET", "i8", "64", "10", "INCRBY", "i8", "10", "99900"]),
            ints(&[0, 0, 60])
        );
        put(&mut sh, "bits", b"1");
        assert_eq!(bf(&mut sh, &["get", "u1", "0"]), ints(&[0]));
        assert_eq!(bf(&mut sh, &["get", "i64", "0", "set", "i64", "0", "-1", "get", "i64", "0"]).clone(), {
            let v = i64::from_be_bytes(*b"1\0\0\0\0\0\0\0");
            ints(&[v, v, -1])
        });
    }

    #[test]
    fn bitfield_errors() {
        let mut sh = shard();
        assert_eq!(bf(&mut sh, &["get", "u64", "0"]), err(errors::BITFIELD_TYPE));
        assert_eq!(bf(&mut sh, &["get", "i65", "0"]), err(errors::BITFIELD_TYPE));
        assert_eq!(bf(&mut sh, &["get", "x8", "0"]), err(errors::BITFIELD_TYPE));
        assert_eq!(bf(&mut sh, &["get", "u8", "-1"]), err(errors::BIT_OFFSET));
        assert_eq!(bf(&mut sh, &["get", "u8", "#x"]), err(errors::BIT_OFFSET));
        assert_eq!(bf(&mut sh, &["get", "u8", "4294967296"]), err(errors::BIT_OFFSET));
        assert_eq!(bf(&mut sh, &["get", "u8"]), err(errors::SYNTAX));
        assert_eq!(bf(&mut sh, &["set", "u8", "0"]), err(errors::SYNTAX));
        assert_eq!(bf(&mut sh, &["set", "u8", "0", "x"]), err(errors::NOT_INTEGER));
        assert_eq!(bf(&mut sh, &["overflow", "maybe", "get", "u8", "0"]), err(errors::BITFIELD_OVERFLOW));
        assert_eq!(bf(&mut sh, &["overflow"]), err(errors::SYNTAX));
        assert_eq!(bf(&mut sh, &["foo", "u8", "0"]), err(errors::SYNTAX));
        assert_eq!(get(&mut sh, "bits"), None, "nothing was written");
        let ro = |sh: &mut Shard, parts: &[&str]| {
            let mut p = vec!["bitfield_ro", "bits"];
            p.extend_from_slice(parts);
            call(sh, bitfield_ro, &p)
        };
        assert_eq!(ro(&mut sh, &[]), Reply::Array(vec![]));
        assert_eq!(ro(&mut sh, &["get", "u8", "0"]), ints(&[0]));
        assert_eq!(ro(&mut sh, &["set", "u8", "0", "100", "get", "u8", "0"]), err(errors::BITFIELD_RO_GET_ONLY));
        assert_eq!(ro(&mut sh, &["set", "u8", "0", "100", "get", "u9"]), err(errors::SYNTAX));
        sh.dbs[0].set(Bytes::from_static(b"bits"), Value::list(crate::types::ListValue::default()), 0);
        assert_eq!(ro(&mut sh, &[]), err(WRONGTYPE));
        assert_eq!(bf(&mut sh, &["set", "u8", "0", "1"]), err(WRONGTYPE));
        assert_eq!(ro(&mut sh, &["set", "u8", "0", "1"]), err(errors::BITFIELD_RO_GET_ONLY));
    }

    #[test]
    fn bitfield_notifies_only_changes() {
        let mut sh = shard();
        sh.set_notify(NotifyFlags::parse("KEAn").unwrap());
        let events = |sh: &mut Shard| sh.events.drain(..).map(|e| e.event).collect::<Vec<_>>();
        bf(&mut sh, &["set", "i5", "0", "0"]);
        assert_eq!(events(&mut sh), vec!["new", "setbit"]);
        bf(&mut sh, &["set", "i5", "0", "0"]);
        assert!(events(&mut sh).is_empty());
        bf(&mut sh, &["set", "i5", "0", "1", "get", "u8", "100"]);
        assert_eq!(events(&mut sh), vec!["setbit"]);
        bf(&mut sh, &["set", "i5", "90", "0"]);
        assert_eq!(events(&mut sh), vec!["setbit"], "growing is a change");
        bf(&mut sh, &["get", "i5", "0"]);
        assert!(events(&mut sh).is_empty());
    }

    #[test]
    fn bitfield_overflow_matches_exact_arithmetic() {
        // Redis's overflow fuzzer, against i128 arithmetic, over every width.
        let mut sh = shard();
        let mut seed = 12345u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let bits = (rnd() % 64 + 1) as u32;
            let signed = bits == 64 || rnd() % 2 == 0;
            let range = 1i128 << bits;
            let (min, ty) = if signed { (-(range / 2), format!("i{bits}")) } else { (0, format!("u{bits}")) };
            let max = min + range - 1;
            let pick = |r: u64| -> i128 {
                let v = min * 2 + (r as i128 % (range * 2));
                v.clamp(i64::MIN as i128, i64::MAX as i128)
            };
            let (value, incr) = (pick(rnd()), pick(rnd()));
            let overflow = value > max || value < min || value + incr > max || value + incr < min;
            sh.dbs[0].remove(b"bits");
            let r1 = bf(&mut sh, &["overflow", "fail", "set", &ty, "0", &value.to_string()]);
            let r2 = bf(&mut sh, &["overflow", "fail", "incrby", &ty, "0", &incr.to_string()]);
            let nil = |r: &Reply| *r == Reply::Array(vec![Reply::Nil]);
            assert_eq!(overflow, nil(&r1) || nil(&r2), "{ty} {value}+{incr}");
            sh.dbs[0].remove(b"bits");
            bf(&mut sh, &["overflow", "wrap", "set", &ty, "0", &value.to_string()]);
            bf(&mut sh, &["overflow", "wrap", "incrby", &ty, "0", &incr.to_string()]);
            let got = bf(&mut sh, &["get", &ty, "0"]);
            let mut want = (value + incr + if signed { max + 1 } else { 0 }).rem_euclid(range);
            if signed {
                want += min;
            }
            assert_eq!(got, ints(&[want as i64]), "{ty} {value}+{incr}");
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u16, bool),
        Get(u16),
        Count(i16, i16, bool),
        Pos(bool, Option<(i16, Option<(i16, bool)>)>),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u16..300, any::<bool>()).prop_map(|(o, b)| Op::Set(o, b)),
            1 => (0u16..320).prop_map(Op::Get),
            2 => (-50i16..50, -50i16..50, any::<bool>()).prop_map(|(a, b, bit)| Op::Count(a, b, bit)),
            3 => (any::<bool>(), proptest::option::of((-330i16..330, proptest::option::of((-330i16..330, any::<bool>())))))
                .prop_map(|(b, r)| Op::Pos(b, r)),
        ]
    }

    /// The model's index rules: like Redis's, over `total` units.
    fn model_range(start: i64, end: i64, total: i64) -> Option<(i64, i64)> {
        let s = if start < 0 { (total + start).max(0) } else { start };
        let e = if end < 0 { (total + end).max(0) } else { end }.min(total - 1);
        (s <= e).then_some((s, e))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn bits_behave_like_a_vec_of_bools(ops in prop::collection::vec(op(), 1..120)) {
            let mut sh = shard();
            // The model: the bits of the string; its length is always whole bytes.
            let mut model: Option<Vec<bool>> = None;
            for op in ops {
                match op {
                    Op::Set(o, b) => {
                        let m = model.get_or_insert_with(Vec::new);
                        let need = (o as usize / 8 + 1) * 8;
                        if m.len() < need {
                            m.resize(need, false);
                        }
                        let old = std::mem::replace(&mut m[o as usize], b);
                        let got = call(&mut sh, setbit, &["setbit", "k", &o.to_string(), if b { "1" } else { "0" }]);
                        prop_assert_eq!(got, Reply::Int(old as i64));
                    }
                    Op::Get(o) => {
                        let want = model.as_ref().and_then(|m| m.get(o as usize).copied()).unwrap_or(false);
                        prop_assert_eq!(call(&mut sh, getbit, &["getbit", "k", &o.to_string()]), Reply::Int(want as i64));
                    }
                    Op::Count(a, b, bit) => {
                        let m = model.clone().unwrap_or_default();
                        let total = if bit { m.len() as i64 } else { m.len() as i64 / 8 };
                        let (a, b) = (a as i64, b as i64);
                        let want = if model.is_none() || (a < 0 && b < 0 && a > b) {
                            0
                        } else {
                            match model_range(a, b, total) {
                                None => 0,
                                Some((s, e)) => {
                                    let (s, e) = if bit { (s, e) } else { (s * 8, e * 8 + 7) };
                                    m[s as usize..=e as usize].iter().filter(|x| **x).count() as i64
                                }
                            }
                        };
                        let got = call(&mut sh, bitcount, &["bitcount", "k", &a.to_string(), &b.to_string(), if bit { "bit" } else { "byte" }]);
                        prop_assert_eq!(got, Reply::Int(want));
                        if a == 0 && b == -1 {
                            prop_assert_eq!(call(&mut sh, bitcount, &["bitcount", "k"]), Reply::Int(want));
                        }
                    }
                    Op::Pos(bit, range) => {
                        let mut p = vec!["bitpos".to_string(), "k".to_string(), (bit as u8).to_string()];
                        let want = match &model {
                            None => if bit { -1 } else { 0 },
                            Some(m) => {
                                let nbytes = m.len() as i64 / 8;
                                let (start, end, unit_bit, end_given) = match range {
                                    None => (0, nbytes - 1, false, false),
                                    Some((s, None)) => (s as i64, nbytes - 1, false, false),
                                    Some((s, Some((e, ub)))) => (s as i64, e as i64, ub, true),
                                };
                                let total = if unit_bit { m.len() as i64 } else { nbytes };
                                match model_range(start, end, total) {
                                    None => -1,
                                    Some((s, e)) => {
                                        let (s, e) = if unit_bit { (s, e) } else { (s * 8, e * 8 + 7) };
                                        match (s..=e).find(|&i| m[i as usize] == bit) {
                                            Some(i) => i,
                                            None if bit || end_given => -1,
                                            None => e + 1,
                                        }
                                    }
                                }
                            }
                        };
                        if let Some((s, e)) = range {
                            p.push(s.to_string());
                            if let Some((e, ub)) = e {
                                p.push(e.to_string());
                                p.push(if ub { "BIT" } else { "BYTE" }.to_string());
                            }
                        }
                        let parts: Vec<&str> = p.iter().map(|s| s.as_str()).collect();
                        prop_assert_eq!(call(&mut sh, bitpos, &parts), Reply::Int(want), "{:?}", parts);
                    }
                }
            }
        }
    }
}
