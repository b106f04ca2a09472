//! Bit helpers for bitmaps, which are plain strings: bit 0 is the most significant bit of the
//! first byte. Bits past the end of a string read as zero. No I/O, no commands.

/// The bit at `offset` (false past the end).
pub fn get_bit(s: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    match s.get(byte) {
        Some(b) => b & (0x80 >> (offset & 7)) != 0,
        None => false,
    }
}

/// Sets the bit at `offset` (which must be inside `s`) and returns its previous value.
pub fn set_bit(s: &mut [u8], offset: u64, on: bool) -> bool {
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let old = s[byte] & mask != 0;
    if on {
        s[byte] |= mask;
    } else {
        s[byte] &= !mask;
    }
    old
}

/// Set bits in the whole of `s`.
pub fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let mut n: u64 = 0;
    for c in &mut chunks {
        let w = u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        n += w.count_ones() as u64;
    }
    n + chunks.remainder().iter().map(|b| b.count_ones() as u64).sum::<u64>()
}

/// Set bits in the inclusive bit range `first..=last`, both inside `s`.
pub fn count_range(s: &[u8], first: u64, last: u64) -> u64 {
    if first > last {
        return 0;
    }
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    // Masks keeping only the in-range bits of the first and last bytes.
    let head = 0xFFu8 >> (first & 7);
    let tail = 0xFFu8 << (7 - (last & 7));
    if fb == lb {
        return (s[fb] & head & tail).count_ones() as u64;
    }
    (s[fb] & head).count_ones() as u64 + popcount(&s[fb + 1..lb]) + (s[lb] & tail).count_ones() as u64
}

/// The first bit equal to `bit` in the inclusive bit range `first..=last` (inside `s`).
pub fn find_bit(s: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    if first > last {
        return None;
    }
    // A byte with no bit worth looking at.
    let skip = if bit { 0x00u8 } else { 0xFF };
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let in_byte = |byte: usize, lo: u64, hi: u64| -> Option<u64> {
        (lo..=hi).map(|i| (byte as u64) * 8 + i).find(|&pos| get_bit(s, pos) == bit)
    };
    if fb == lb {
        return in_byte(fb, first & 7, last & 7);
    }
    if let Some(p) = in_byte(fb, first & 7, 7) {
        return Some(p);
    }
    let mut i = fb + 1;
    // Whole words of nothing to find are skipped eight bytes at a time.
    let skip_word = if bit { 0u64 } else { u64::MAX };
    while i + 8 <= lb {
        let w = u64::from_ne_bytes([s[i], s[i + 1], s[i + 2], s[i + 3], s[i + 4], s[i + 5], s[i + 6], s[i + 7]]);
        if w != skip_word {
            break;
        }
        i += 8;
    }
    while i < lb {
        if s[i] != skip {
            return in_byte(i, 0, 7);
        }
        i += 1;
    }
    in_byte(lb, 0, last & 7)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP's result: every source zero-padded to the longest one, combined byte by byte
/// (NOT takes exactly one source). Empty when every source is.
pub fn bitop(op: BitOp, srcs: &[&[u8]]) -> Vec<u8> {
    let max = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out: Vec<u8> = vec![0; max];
    let Some((first, rest)) = srcs.split_first() else { return out };
    out[..first.len()].copy_from_slice(first);
    match op {
        BitOp::Not => out.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for s in rest {
                for (o, b) in out.iter_mut().zip(s.iter()) {
                    *o &= b;
                }
                // Past a shorter source every byte ANDs with zero.
                out[s.len()..].iter_mut().for_each(|b| *b = 0);
            }
        }
        BitOp::Or => {
            for s in rest {
                out.iter_mut().zip(s.iter()).for_each(|(o, b)| *o |= b);
            }
        }
        BitOp::Xor => {
            for s in rest {
                out.iter_mut().zip(s.iter()).for_each(|(o, b)| *o ^= b);
            }
        }
    }
    out
}

/// An unsigned `bits`-wide (1..=64) field at bit `offset`; bits past the end read as zero.
pub fn get_field(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v: u64 = 0;
    for i in 0..bits as u64 {
        v = (v << 1) | get_bit(s, offset + i) as u64;
    }
    v
}

/// The same field read as a two's complement signed integer.
pub fn get_field_signed(s: &[u8], offset: u64, bits: u32) -> i64 {
    sign_extend(get_field(s, offset, bits), bits)
}

/// Writes the low `bits` bits of `value` at bit `offset` (the field must lie inside `s`).
pub fn set_field(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..bits as u64 {
        let on = (value >> (bits as u64 - 1 - i)) & 1 == 1;
        set_bit(s, offset + i, on);
    }
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits >= 64 {
        return v as i64;
    }
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// What BITFIELD does when a SET or INCRBY leaves the field's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// A bitfield integer type: `i1`..`i64` or `u1`..`u63`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldType {
    pub signed: bool,
    pub bits: u32,
}

impl FieldType {
    /// Parses `i16`, `u8`, ...: Redis rejects u64 (its value may not fit a reply integer).
    pub fn parse(text: &[u8]) -> Option<FieldType> {
        let (&sign, digits) = text.split_first()?;
        let signed = match sign {
            b'i' => true,
            b'u' => false,
            _ => return None,
        };
        let bits = crate::util::parse_i64_strict(digits)?;
        let max = if signed { 64 } else { 63 };
        (1..=max).contains(&bits).then_some(FieldType { signed, bits: bits as u32 })
    }

    fn range(self) -> (i128, i128) {
        if self.signed {
            (-(1i128 << (self.bits - 1)), (1i128 << (self.bits - 1)) - 1)
        } else {
            (0, (1i128 << self.bits) - 1)
        }
    }

    /// Reads the field as this type.
    pub fn get(self, s: &[u8], offset: u64) -> i64 {
        if self.signed {
            get_field_signed(s, offset, self.bits)
        } else {
            get_field(s, offset, self.bits) as i64
        }
    }

    /// The value to store for `value + incr` (with `value` already in this type's terms: an
    /// unsigned SET value is taken as the u64 of its bits, as Redis does), or `None` when it
    /// overflows under FAIL.
    pub fn add(self, value: i128, incr: i64, ow: Overflow) -> Option<i64> {
        let (min, max) = self.range();
        let sum = value + incr as i128;
        let up = value > max || sum > max;
        let down = !up && (value < min || sum < min);
        if !up && !down {
            return Some(sum as i64);
        }
        match ow {
            Overflow::Fail => None,
            Overflow::Sat => Some(if up { max } else { min } as i64),
            Overflow::Wrap => {
                let low = (sum as u128 as u64) & mask(self.bits);
                Some(if self.signed { sign_extend(low, self.bits) } else { low as i64 })
            }
        }
    }
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_numbered_from_the_most_significant() {
        let mut s = vec![0u8; 2];
        assert!(!set_bit(&mut s, 1, true));
        assert!(!set_bit(&mut s, 15, true));
        assert_eq!(s, vec![0x40, 0x01]);
        assert!(get_bit(&s, 1) && get_bit(&s, 15) && !get_bit(&s, 0) && !get_bit(&s, 100));
        assert!(set_bit(&mut s, 1, false));
        assert_eq!(s, vec![0x00, 0x01]);
    }

    #[test]
    fn counting_and_finding() {
        let s = b"foobar";
        assert_eq!(popcount(s), 26);
        assert_eq!(count_range(s, 0, 47), 26);
        assert_eq!(count_range(s, 8, 39), popcount(b"ooba"));
        assert_eq!(count_range(s, 1, 1), 1);
        assert_eq!(count_range(s, 0, 0), 0);
        let v = b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01";
        assert_eq!(find_bit(v, true, 0, 167), Some(167));
        assert_eq!(find_bit(v, true, 3, 166), None);
        assert_eq!(find_bit(v, false, 0, 167), Some(0));
        assert_eq!(find_bit(b"\xff\xf0\x00", false, 0, 23), Some(12));
        assert_eq!(find_bit(b"\xff\xff", false, 0, 15), None);
        assert_eq!(find_bit(b"\x00\xff\x00", true, 9, 9), Some(9));
    }

    #[test]
    fn bitop_pads_with_zeros() {
        let (a, b): (&[u8], &[u8]) = (b"\x01\x02\xff\xff", b"\x01\x02\xff");
        assert_eq!(bitop(BitOp::And, &[a, b]), b"\x01\x02\xff\x00");
        assert_eq!(bitop(BitOp::Or, &[a, b]), b"\x01\x02\xff\xff");
        assert_eq!(bitop(BitOp::Xor, &[a, b]), b"\x00\x00\x00\xff");
        assert_eq!(bitop(BitOp::And, &[b"", a]), b"\x00\x00\x00\x00");
        assert_eq!(bitop(BitOp::Not, &[b"\xaa\x00\xff\x55"]), b"\x55\xff\x00\xaa");
        assert!(bitop(BitOp::Or, &[b"", b""]).is_empty());
    }

    #[test]
    fn fields() {
        let mut s = vec![0u8; 2];
        set_field(&mut s, 7, 5, 23);
        assert_eq!(s, vec![0b0000_0001, 0b0111_0000]);
        assert_eq!(get_field(&s, 7, 5), 23);
        set_field(&mut s, 0, 8, 0xff);
        assert_eq!(get_field_signed(&s, 0, 8), -1);
        assert_eq!(get_field(&s, 12, 64), 0, "past the end reads zeros");
        assert_eq!(FieldType::parse(b"i64"), Some(FieldType { signed: true, bits: 64 }));
        assert_eq!(FieldType::parse(b"u64"), None);
        assert_eq!(FieldType::parse(b"u0"), None);
        assert_eq!(FieldType::parse(b"x8"), None);
        assert_eq!(FieldType::parse(b""), None);
    }

    #[test]
    fn overflow_rules() {
        let u8t = FieldType { signed: false, bits: 8 };
        let i8t = FieldType { signed: true, bits: 8 };
        assert_eq!(u8t.add(100, 257, Overflow::Wrap), Some(101));
        assert_eq!(u8t.add(100, 257, Overflow::Sat), Some(255));
        assert_eq!(u8t.add(100, -255, Overflow::Sat), Some(0));
        assert_eq!(u8t.add(100, -255, Overflow::Fail), None);
        assert_eq!(i8t.add(100, 257, Overflow::Wrap), Some(101));
        assert_eq!(i8t.add(100, 257, Overflow::Sat), Some(127));
        assert_eq!(i8t.add(100, -255, Overflow::Sat), Some(-128));
        assert_eq!(i8t.add(255, 0, Overflow::Wrap), Some(-1));
        // An unsigned SET of a negative number is a huge positive one: overflow upwards.
        assert_eq!(u8t.add(-1i64 as u64 as i128, 0, Overflow::Sat), Some(255));
        let i64t = FieldType { signed: true, bits: 64 };
        assert_eq!(i64t.add(i64::MAX as i128, 1, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(i64t.add(i64::MIN as i128, -1, Overflow::Sat), Some(i64::MIN));
        assert_eq!(i64t.add(i64::MIN as i128, -1, Overflow::Fail), None);
        let u63 = FieldType { signed: false, bits: 63 };
        assert_eq!(u63.add(0, -1, Overflow::Wrap), Some(i64::MAX));
    }
}
