//! HyperLogLog, stored exactly as Redis 7.0 stores it inside a string value (no I/O here).
//!
//! Layout: a 16-byte header (`HYLL`, the encoding byte, 3 unused bytes, the cached cardinality
//! as a little-endian u64 whose top bit means "stale"), then the registers:
//! - dense: 16384 registers of 6 bits packed from the least significant bit of each byte on;
//! - sparse: run-length opcodes `00xxxxxx` (ZERO, 1-64 zero registers), `01xxxxxx yyyyyyyy`
//!   (XZERO, 1-16384 zero registers), `1vvvvvxx` (VAL, 1-4 registers holding 1-32).
//!
//! Elements hash with MurmurHash64A (seed 0xadc83b19): the low 14 bits pick the register, the
//! position of the first 1 bit above them (counting from 1) is the candidate register value.
//! Cardinality uses Ertl's improved estimator, as Redis 7 does.

/// Register index bits.
pub const P: usize = 14;
/// Hash bits left for the run of zeroes.
pub const Q: usize = 64 - P;
pub const REGISTERS: usize = 1 << P;
pub const HDR_SIZE: usize = 16;
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * 6).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;

const SEED: u64 = 0xadc8_3b19;
const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// 0.5 / ln(2).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// A sparse representation that does not describe exactly 16384 registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash2, 64-bit variant A, reading 8-byte words little-endian (as Redis does on every
/// architecture).
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register `ele` maps to and the length of its `0...01` pattern (1..=Q+1).
pub fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    // A sentinel bit bounds the run at Q zeroes.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---- header ----

/// Whether `b` is a string PF* commands accept: Redis's isHLLObjectOrReply.
pub fn is_hll(b: &[u8]) -> bool {
    b.len() >= HDR_SIZE && &b[..4] == b"HYLL" && b[4] <= SPARSE && (b[4] != DENSE || b.len() == DENSE_SIZE)
}

pub fn encoding(b: &[u8]) -> u8 {
    b[4]
}

/// The cached cardinality, when it is still valid.
pub fn cached_count(b: &[u8]) -> Option<u64> {
    if b[15] & 0x80 != 0 {
        return None;
    }
    Some(u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")))
}

pub fn set_cached_count(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate_cache(b: &mut [u8]) {
    b[15] |= 0x80;
}

/// An empty HLL: sparse, one XZERO covering every register, cached cardinality 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR_SIZE + 2 * REGISTERS.div_ceil(SPARSE_XZERO_MAX_LEN));
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        v.extend_from_slice(&xzero_op(n));
        left -= n;
    }
    v
}

// ---- dense registers (the slice after the header) ----

pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let shift = (i * 6) & 7;
    let lo = regs[byte] as u32 >> shift;
    let hi = regs.get(byte + 1).map_or(0, |&b| (b as u32) << (8 - shift));
    ((lo | hi) & 63) as u8
}

pub fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let byte = i * 6 / 8;
    let shift = (i * 6) & 7;
    let v = v as u32;
    regs[byte] = (regs[byte] as u32 & !(63u32 << shift) | (v << shift)) as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next = (*next as u32 & !(63u32 >> (8 - shift)) | (v >> (8 - shift))) as u8;
    }
}

/// Raises register `i` of a dense HLL to `count`; true if it changed.
fn dense_raise(hll: &mut [u8], i: usize, count: u8) -> bool {
    let regs = &mut hll[HDR_SIZE..];
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

// ---- sparse opcodes ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val(u8, usize),
}

impl Op {
    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }

    fn width(self) -> usize {
        if matches!(self, Op::XZero(_)) {
            2
        } else {
            1
        }
    }
}

fn is_xzero(b: u8) -> bool {
    b & 0xc0 == 0x40
}

fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}

fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}

/// The opcode at `p`. A truncated XZERO reads its missing byte as 0 (Redis reads the string's
/// terminator there).
fn op_at(s: &[u8], p: usize) -> Op {
    let b = s[p];
    if is_zero(b) {
        Op::Zero((b & 0x3f) as usize + 1)
    } else if is_xzero(b) {
        let lo = s.get(p + 1).copied().unwrap_or(0) as usize;
        Op::XZero((((b & 0x3f) as usize) << 8 | lo) + 1)
    } else {
        Op::Val(((b >> 2) & 0x1f) + 1, (b & 3) as usize + 1)
    }
}

fn val_op(v: u8, len: usize) -> u8 {
    0x80 | ((v - 1) << 2) | (len as u8 - 1)
}

fn zero_op(len: usize) -> u8 {
    (len - 1) as u8
}

fn xzero_op(len: usize) -> [u8; 2] {
    let l = len - 1;
    [0x40 | (l >> 8) as u8, (l & 0xff) as u8]
}

/// Appends the shortest zero-run opcode for `len` registers.
fn push_zeros(seq: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        seq.extend_from_slice(&xzero_op(len));
    } else {
        seq.push(zero_op(len));
    }
}

/// Rewrites a sparse HLL as dense (header kept, encoding byte changed). No-op when dense.
pub fn to_dense(hll: &mut Vec<u8>) -> Result<(), Corrupt> {
    if encoding(hll) == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR_SIZE].copy_from_slice(&hll[..HDR_SIZE]);
    dense[4] = DENSE;
    let mut idx = 0usize;
    let mut p = HDR_SIZE;
    while p < hll.len() {
        let op = op_at(hll, p);
        match op {
            Op::Zero(n) | Op::XZero(n) => idx += n,
            Op::Val(v, n) => {
                if idx + n > REGISTERS {
                    break;
                }
                for i in idx..idx + n {
                    dense_put(&mut dense[HDR_SIZE..], i, v);
                }
                idx += n;
            }
        }
        p += op.width();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    *hll = dense;
    Ok(())
}

/// Raises register `index` of a sparse HLL to `count` in place (Redis's hllSparseSet): splits
/// the opcode covering it, merges equal neighbouring VALs, and promotes to dense when `count`
/// exceeds 32 or the string would grow past `max_bytes`. True if the register changed.
fn sparse_raise(hll: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(hll, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let end = hll.len();
    let mut p = HDR_SIZE;
    let mut first = 0usize;
    let mut prev = None;
    let mut span = 0usize;
    while p < end {
        let op = op_at(hll, p);
        span = op.span();
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += op.width();
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let op = op_at(hll, p);
    // Step 2: the cases that need no split.
    let mut in_place = false;
    match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => {
            hll[p] = val_op(count, 1);
            in_place = true;
        }
        _ => {}
    }
    if !in_place {
        // Step 3: split into [run before] VAL(count) [run after].
        let last = first + span - 1;
        let mut seq = Vec::with_capacity(5);
        match op {
            Op::Zero(_) | Op::XZero(_) => {
                if index != first {
                    push_zeros(&mut seq, index - first);
                }
                seq.push(val_op(count, 1));
                if index != last {
                    push_zeros(&mut seq, last - index);
                }
            }
            Op::Val(cur, _) => {
                if index != first {
                    seq.push(val_op(cur, index - first));
                }
                seq.push(val_op(count, 1));
                if index != last {
                    seq.push(val_op(cur, last - index));
                }
            }
        }
        let old_len = op.width();
        if seq.len() > old_len && hll.len() + seq.len() - old_len > max_bytes {
            return promote(hll, index, count);
        }
        let stop = (p + old_len).min(hll.len());
        hll.splice(p..stop, seq);
    }
    // Step 4: merge adjacent VALs of equal value, scanning up to 5 opcodes from the previous one.
    let mut q = prev.unwrap_or(HDR_SIZE);
    let mut budget = 5;
    while q < hll.len() && budget > 0 {
        budget -= 1;
        let b = hll[q];
        if is_xzero(b) {
            q += 2;
            continue;
        }
        if is_zero(b) {
            q += 1;
            continue;
        }
        if q + 1 < hll.len() && is_val(hll[q + 1]) {
            if let (Op::Val(v1, l1), Op::Val(v2, l2)) = (op_at(hll, q), op_at(hll, q + 1)) {
                if v1 == v2 && l1 + l2 <= SPARSE_VAL_MAX_LEN {
                    hll[q + 1] = val_op(v1, l1 + l2);
                    hll.remove(q);
                    continue;
                }
            }
        }
        q += 1;
    }
    invalidate_cache(hll);
    Ok(true)
}

fn promote(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(hll)?;
    Ok(dense_raise(hll, index, count))
}

/// Raises register `index` to `count` in either encoding. True if it changed.
pub fn raise(hll: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    match encoding(hll) {
        DENSE => Ok(dense_raise(hll, index, count)),
        SPARSE => sparse_raise(hll, index, count, max_bytes),
        _ => Err(Corrupt),
    }
}

/// PFADD of one element. True if a register changed.
pub fn add(hll: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(ele);
    raise(hll, index, count, max_bytes)
}

/// `max[i] = max(max[i], register i)` over all 16384 registers (`max` holds one byte each).
pub fn merge_into(max: &mut [u8], hll: &[u8]) -> Result<(), Corrupt> {
    if encoding(hll) == DENSE {
        let regs = &hll[HDR_SIZE..];
        for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    let mut i = 0usize;
    let mut p = HDR_SIZE;
    while p < hll.len() {
        let op = op_at(hll, p);
        match op {
            Op::Zero(n) | Op::XZero(n) => i += n,
            Op::Val(v, n) => {
                if i + n > REGISTERS {
                    break;
                }
                for m in &mut max[i..i + n] {
                    *m = (*m).max(v);
                }
                i += n;
            }
        }
        p += op.width();
    }
    if i != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// How many registers hold each value.
pub type Histogram = [u64; 64];

fn histogram(hll: &[u8]) -> Result<Histogram, Corrupt> {
    let mut h = [0u64; 64];
    if encoding(hll) == DENSE {
        let regs = &hll[HDR_SIZE..];
        for i in 0..REGISTERS {
            h[dense_get(regs, i) as usize] += 1;
        }
        return Ok(h);
    }
    let mut idx = 0usize;
    let mut p = HDR_SIZE;
    while p < hll.len() {
        let op = op_at(hll, p);
        match op {
            Op::Zero(n) | Op::XZero(n) => {
                idx += n;
                h[0] += n as u64;
            }
            Op::Val(v, n) => {
                idx += n;
                h[v as usize] += n as u64;
            }
        }
        p += op.width();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(h)
}

/// Histogram of one-byte-per-register values (PFCOUNT over several keys).
pub fn raw_histogram(regs: &[u8]) -> Histogram {
    let mut h = [0u64; 64];
    for &r in regs {
        h[(r & 63) as usize] += 1;
    }
    h
}

/// Ertl's sigma function ("New cardinality estimation algorithms for HyperLogLog sketches").
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

/// Ertl's tau function.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a register histogram.
pub fn estimate(h: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as i64 as u64
}

/// The cardinality of a valid HLL, computed from its registers (the cache is not consulted).
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    histogram(hll).map(|h| estimate(&h))
}

/// PFDEBUG DECODE's text for a sparse HLL: `z:len`, `Z:len`, `v:value,len`.
pub fn decode(hll: &[u8]) -> String {
    let mut out = String::new();
    let mut p = HDR_SIZE;
    while p < hll.len() {
        let op = op_at(hll, p);
        if !out.is_empty() {
            out.push(' ');
        }
        match op {
            Op::Zero(n) => out.push_str(&format!("z:{n}")),
            Op::XZero(n) => out.push_str(&format!("Z:{n}")),
            Op::Val(v, n) => out.push_str(&format!("v:{v},{n}")),
        }
        p += op.width();
    }
    out
}

/// Every register value, one byte each (decoding either encoding; corrupt sparse is an error).
pub fn registers(hll: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut r = vec![0u8; REGISTERS];
    merge_into(&mut r, hll)?;
    Ok(r)
}

/// PFMERGE's write: raises every register of `hll` to `max` (one byte per register), then marks
/// the cached cardinality stale. A sparse `hll` may be promoted on the way.
pub fn raise_all(hll: &mut Vec<u8>, max: &[u8], max_bytes: usize) -> Result<(), Corrupt> {
    for (i, &v) in max.iter().enumerate().take(REGISTERS) {
        if v != 0 {
            raise(hll, i, v, max_bytes)?;
        }
    }
    invalidate_cache(hll);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Answers recorded from redis-server 7.0.15 by tests/fixtures/gen_hll_fixtures.py.
    const FIXTURES: &str = include_str!("../../tests/fixtures/hll-redis-7.0.15.tsv");

    fn fx(name: &str) -> &'static str {
        FIXTURES
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('\t')))
            .unwrap_or_else(|| panic!("fixture {name}"))
    }

    fn fx_bytes(name: &str) -> Vec<u8> {
        let hex = fx(name).strip_prefix("hex:").expect("hex fixture");
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }

    fn fx_int(name: &str) -> u64 {
        fx(name).parse().unwrap()
    }

    fn elems(prefix: &str, n: usize, start: usize) -> Vec<Vec<u8>> {
        (start..start + n).map(|i| format!("{prefix}{i}").into_bytes()).collect()
    }

    /// PFADD's effect on a stored value: create when absent, add, invalidate the cache if changed.
    fn pfadd(hll: &mut Option<Vec<u8>>, items: &[Vec<u8>], max_bytes: usize) -> bool {
        let mut changed = hll.is_none();
        let h = hll.get_or_insert_with(new_sparse);
        for e in items {
            changed |= add(h, e, max_bytes).unwrap();
        }
        if changed {
            invalidate_cache(h);
        }
        changed
    }

    /// PFCOUNT on one key: the cache or a fresh count written to the cache.
    fn pfcount(h: &mut [u8]) -> u64 {
        if let Some(c) = cached_count(h) {
            return c;
        }
        let c = count(h).unwrap();
        set_cached_count(h, c);
        c
    }

    #[test]
    fn pattern_is_in_range() {
        // An empty key with seed 0 hashes to 0 (h = 0 and every mixing step keeps it 0).
        assert_eq!(murmur64a(b"", 0), 0);
        assert_ne!(murmur64a(b"a", SEED), murmur64a(b"b", SEED));
        let (i, c) = pattern(b"a");
        assert!(i < REGISTERS && (1..=51).contains(&c));
    }

    #[test]
    fn empty_and_abc_match_redis_bytes() {
        let mut h = None;
        assert!(pfadd(&mut h, &[], 3000));
        let mut h = h.unwrap();
        assert_eq!(h, fx_bytes("get empty"));
        assert_eq!(pfcount(&mut h), 0);
        assert_eq!(h, fx_bytes("get empty after count"));

        let mut h = None;
        assert!(pfadd(&mut h, &[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()], 3000));
        let mut h = h.unwrap();
        assert_eq!(h, fx_bytes("get abc"));
        assert_eq!(decode(&h).as_bytes(), fx_bytes("decode abc"));
        assert_eq!(pfcount(&mut h), fx_int("pfcount abc"));
        assert_eq!(h, fx_bytes("get abc after count"));
        let mut h = Some(h);
        assert!(!pfadd(&mut h, &[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()], 3000));
        assert_eq!(h.as_deref().unwrap(), fx_bytes("get abc after count"));
        assert!(pfadd(&mut h, &[b"".to_vec()], 3000));
        assert_eq!(h.unwrap(), fx_bytes("get abc empty string"));
    }

    #[test]
    fn sparse_growth_matches_redis_bytes() {
        for n in [10usize, 100, 300, 700] {
            let mut h = None;
            for chunk in (0..n).step_by(50) {
                pfadd(&mut h, &elems("e", 50.min(n - chunk), chunk), 3000);
            }
            let mut h = h.unwrap();
            assert_eq!(h, fx_bytes(&format!("get s{n}")), "s{n}");
            assert_eq!(encoding(&h), SPARSE);
            assert_eq!(fx(&format!("encoding s{n}")), "sparse");
            if n <= 100 {
                assert_eq!(decode(&h).as_bytes(), fx_bytes(&format!("decode s{n}")));
            }
            assert_eq!(pfcount(&mut h), fx_int(&format!("pfcount s{n}")), "s{n}");
        }
    }

    #[test]
    fn dense_promotion_and_counts_match_redis() {
        let mut h = None;
        for chunk in (0..5000).step_by(100) {
            pfadd(&mut h, &elems("e", 100, chunk), 3000);
        }
        let mut h = h.unwrap();
        assert_eq!(encoding(&h), DENSE);
        assert_eq!(h, fx_bytes("get d5000"));
        assert_eq!(pfcount(&mut h), fx_int("pfcount d5000"));
        assert_eq!(h, fx_bytes("get d5000 after count"));

        let mut big = None;
        for chunk in (0..100_000).step_by(1000) {
            pfadd(&mut big, &elems("x", 1000, chunk), 3000);
        }
        let mut big = big.unwrap();
        assert_eq!(pfcount(&mut big), fx_int("pfcount d100k"));
        assert_eq!(big, fx_bytes("get d100k after count"));

        // A small sparse-max-bytes promotes early.
        let mut p = None;
        pfadd(&mut p, &elems("e", 10, 0), 60);
        assert_eq!(p.as_deref().unwrap(), fx_bytes("get p60 10"));
        pfadd(&mut p, &elems("e", 30, 10), 60);
        assert_eq!(p.unwrap(), fx_bytes("get p60 40"));

        // Binary and long elements (every hash tail length).
        let mut bins: Vec<Vec<u8>> = (0..25u8).map(|n| (0..n).collect()).collect();
        bins.extend((1..20u8).map(|n| (0..n).map(|i| 255 - i).collect()));
        bins.push(vec![b'x'; 1000]);
        let mut b = None;
        assert!(pfadd(&mut b, &bins, 3000));
        let mut b = b.unwrap();
        assert_eq!(b, fx_bytes("get bin"));
        assert_eq!(pfcount(&mut b), fx_int("pfcount bin"));
    }

    #[test]
    fn todense_and_merge_match_redis() {
        let mut td = None;
        pfadd(&mut td, &elems("e", 20, 0), 3000);
        let mut td = td.unwrap();
        to_dense(&mut td).unwrap();
        assert_eq!(td, fx_bytes("get td"));

        let (mut m1, mut m2) = (None, None);
        pfadd(&mut m1, &elems("e", 30, 0), 3000);
        pfadd(&mut m2, &elems("e", 30, 20), 3000);
        let (m1, m2) = (m1.unwrap(), m2.unwrap());
        let mut max = vec![0u8; REGISTERS];
        merge_into(&mut max, &m1).unwrap();
        merge_into(&mut max, &m2).unwrap();
        assert_eq!(estimate(&raw_histogram(&max)), fx_int("pfcount m1 m2"));
        let mut msp = new_sparse();
        raise_all(&mut msp, &max, 3000).unwrap();
        assert_eq!(msp, fx_bytes("get msp"));
        assert_eq!(count(&msp).unwrap(), fx_int("pfcount msp"));

        let mut d5000 = fx_bytes("get d5000 after count");
        merge_into(&mut max, &d5000).unwrap();
        assert_eq!(estimate(&raw_histogram(&max)), fx_int("pfcount m1 m2 d5000"));

        // PFMERGE mde m1 d5000: a dense source makes the destination dense.
        let mut max = vec![0u8; REGISTERS];
        merge_into(&mut max, &m1).unwrap();
        merge_into(&mut max, &d5000).unwrap();
        let mut mde = new_sparse();
        to_dense(&mut mde).unwrap();
        raise_all(&mut mde, &max, 3000).unwrap();
        assert_eq!(mde, fx_bytes("get mde"));
        assert_eq!(pfcount(&mut d5000), fx_int("pfcount mde"));

        // PFMERGE mexist m1, where mexist already holds "zz".
        let mut mexist = None;
        pfadd(&mut mexist, &[b"zz".to_vec()], 3000);
        let mut mexist = mexist.unwrap();
        let mut max = vec![0u8; REGISTERS];
        merge_into(&mut max, &mexist).unwrap();
        merge_into(&mut max, &m1).unwrap();
        raise_all(&mut mexist, &max, 3000).unwrap();
        assert_eq!(mexist, fx_bytes("get mexist"));

        let mut none = new_sparse();
        raise_all(&mut none, &[0; REGISTERS], 3000).unwrap();
        assert_eq!(none, fx_bytes("get mnone"));
    }

    fn dense_from(regs: &[u8]) -> Vec<u8> {
        let mut h = new_sparse();
        to_dense(&mut h).unwrap();
        for (i, &r) in regs.iter().enumerate() {
            dense_put(&mut h[HDR_SIZE..], i, r);
        }
        invalidate_cache(&mut h);
        h
    }

    #[test]
    fn estimator_matches_redis_on_crafted_registers() {
        fn spread(i: usize) -> u8 {
            ((i * 7) % 64) as u8
        }
        fn q1(i: usize) -> u8 {
            if i % 3 == 0 {
                51
            } else {
                0
            }
        }
        fn high(i: usize) -> u8 {
            40 + (i % 24) as u8
        }
        fn allone(_: usize) -> u8 {
            1
        }
        fn fewzero(i: usize) -> u8 {
            if i < 5 {
                0
            } else {
                12
            }
        }
        type Case = (&'static str, fn(usize) -> u8);
        let cases: [Case; 5] =
            [("spread", spread), ("q1", q1), ("high", high), ("allone", allone), ("fewzero", fewzero)];
        for (name, f) in cases {
            let regs: Vec<u8> = (0..REGISTERS).map(f).collect();
            let h = dense_from(&regs);
            assert_eq!(registers(&h).unwrap(), regs);
            assert_eq!(count(&h).unwrap(), fx_int(&format!("pfcount craft-{name}")), "{name}");
            assert_eq!(estimate(&raw_histogram(&regs)), fx_int(&format!("pfcount2 craft-{name}")), "{name}");
        }

        let mut sp = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80".to_vec();
        let mut idx = 0;
        for v in 1..=32u8 {
            for len in [1usize, 4] {
                sp.push(val_op(v, len));
                idx += len;
            }
        }
        let mut rest = REGISTERS - idx;
        while rest > 0 {
            let n = rest.min(SPARSE_XZERO_MAX_LEN);
            sp.extend_from_slice(&xzero_op(n));
            rest -= n;
        }
        let mut sp = Some(sp);
        assert_eq!(pfcount(sp.as_mut().unwrap()), fx_int("pfcount craft-sparse"));
        assert_eq!(decode(sp.as_ref().unwrap()).as_bytes(), fx_bytes("decode craft-sparse"));
        assert!(pfadd(&mut sp, &elems("e", 40, 0), 3000));
        assert_eq!(sp.unwrap(), fx_bytes("get craft-sparse"));
    }

    #[test]
    fn validity_and_corruption() {
        assert!(is_hll(&new_sparse()));
        assert!(!is_hll(b"hello"));
        let mut h = new_sparse();
        h[0] = b'0';
        assert!(!is_hll(&h));
        let mut h = new_sparse();
        h[4] = b'x';
        assert!(!is_hll(&h));
        let mut h = new_sparse();
        h[4] = DENSE;
        assert!(!is_hll(&h), "dense of the wrong length");
        let mut h = fx_bytes("get abc");
        h.extend_from_slice(b"hello");
        assert!(is_hll(&h));
        assert_eq!(count(&h), Err(Corrupt));
        assert_eq!(registers(&h), Err(Corrupt));
        assert_eq!(to_dense(&mut h.clone()), Err(Corrupt));
    }

    #[test]
    fn register_access_roundtrips() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
        let vals: Vec<u8> = (0..REGISTERS).map(|i| ((i * 37 + i / 7) % 64) as u8).collect();
        for (i, &v) in vals.iter().enumerate() {
            dense_put(&mut regs, i, v);
        }
        for (i, &v) in vals.iter().enumerate() {
            assert_eq!(dense_get(&regs, i), v, "register {i}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// The same elements give the same registers and count in sparse and dense form.
        #[test]
        fn sparse_and_dense_agree(items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 0..300),
                                  max_bytes in prop_oneof![Just(3000usize), 20usize..400]) {
            let mut sparse = new_sparse();
            let mut dense = new_sparse();
            to_dense(&mut dense).unwrap();
            for e in &items {
                let a = add(&mut sparse, e, max_bytes).unwrap();
                let b = add(&mut dense, e, max_bytes).unwrap();
                prop_assert_eq!(a, b);
            }
            prop_assert!(is_hll(&sparse));
            if encoding(&sparse) == SPARSE {
                prop_assert!(sparse.len() <= max_bytes.max(18));
            }
            prop_assert_eq!(registers(&sparse).unwrap(), registers(&dense).unwrap());
            prop_assert_eq!(count(&sparse).unwrap(), count(&dense).unwrap());
        }

        /// Raising arbitrary registers (values up to 51, forcing promotion past 32) agrees.
        #[test]
        fn raises_agree(ops in proptest::collection::vec((0usize..REGISTERS, 1u8..=51), 0..200)) {
            let mut sparse = new_sparse();
            let mut model = vec![0u8; REGISTERS];
            for &(i, v) in &ops {
                let changed = raise(&mut sparse, i, v, 3000).unwrap();
                prop_assert_eq!(changed, v > model[i]);
                model[i] = model[i].max(v);
                prop_assert_eq!(encoding(&sparse) == DENSE, model.iter().any(|&r| r > 32) || encoding(&sparse) == DENSE);
            }
            prop_assert_eq!(registers(&sparse).unwrap(), model.clone());
            prop_assert_eq!(count(&sparse).unwrap(), estimate(&raw_histogram(&model)));
        }

        /// Corrupted bytes never panic.
        #[test]
        fn corruption_never_panics(n in 0usize..60, edits in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..5)) {
            let mut h = new_sparse();
            for e in elems("e", n, 0) {
                add(&mut h, &e, 3000).unwrap();
            }
            for (pos, b) in edits {
                let p = pos as usize % h.len();
                h[p] = b;
            }
            if is_hll(&h) {
                let _ = count(&h);
                let _ = decode(&h);
                let _ = registers(&h);
                let mut c = h.clone();
                let _ = add(&mut c, b"x", 3000);
                let mut c = h.clone();
                let _ = to_dense(&mut c);
                let mut c = h.clone();
                let max: Vec<u8> = (0..REGISTERS).map(|i| if i % 997 == 0 { 7 } else { 0 }).collect();
                let _ = raise_all(&mut c, &max, 3000);
            }
        }
    }
}
