//! Redis's compact blobs as they appear inside RDB strings: listpack (written and read),
//! ziplist, zipmap (read only: older files) and intset (written and read). Entries are handed
//! back as bytes; integers as their decimal text, as Redis returns them.

use super::RdbError;
use crate::util::parse_i64_strict;
use bytes::Bytes;

fn int_text(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

fn corrupt(what: &str) -> RdbError {
    RdbError::Corrupt(what.to_string())
}

// ---- listpack -------------------------------------------------------------------------------

/// Builds a listpack (lpNew + lpAppend): header (total bytes, element count), entries each
/// followed by its back-length, and the 0xFF terminator.
#[derive(Default)]
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..16383 => 2,
        16383..2097151 => 3,
        2097151..268435455 => 4,
        _ => 5,
    }
}

impl ListpackWriter {
    pub fn new() -> ListpackWriter {
        ListpackWriter { buf: vec![0; 6], count: 0 }
    }

    /// Appends an element, as an integer when it is the canonical text of one.
    pub fn push(&mut self, item: &[u8]) {
        match parse_i64_strict(item) {
            Some(n) => self.push_int(n),
            None => self.push_str(item),
        }
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = if v < 0 { (1i64 << 13) + v } else { v } as u16;
            self.buf.push(0xC0 | (u >> 8) as u8);
            self.buf.push(u as u8);
        } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
            self.buf.push(0xF1);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            self.buf.push(0xF2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            self.buf.push(0xF3);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            self.buf.push(0xF4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self.finish_entry(start);
    }

    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf.push(0xE0 | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let l = self.buf.len() - start;
        // The back-length: 7 bits per byte, most significant group first, every byte but the
        // first (the last one read backwards) flagged with the high bit.
        let size = backlen_size(l);
        for i in (0..size).rev() {
            let group = ((l >> (7 * i)) & 127) as u8;
            self.buf.push(if i == size - 1 { group } else { group | 128 });
        }
        self.count += 1;
    }

    /// The bytes this listpack would take if finished now.
    pub fn size(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], RdbError> {
    let end = pos.checked_add(n).filter(|&e| e <= b.len()).ok_or_else(|| corrupt("packed entry past its end"))?;
    let s = &b[*pos..end];
    *pos = end;
    Ok(s)
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Every element of a listpack.
pub fn listpack_entries(b: &[u8]) -> Result<Vec<Bytes>, RdbError> {
    if b.len() < 7 {
        return Err(corrupt("listpack shorter than its header"));
    }
    let total = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    if total != b.len() || b[b.len() - 1] != 0xFF {
        return Err(corrupt("listpack header does not match its size"));
    }
    let declared = u16::from_le_bytes(b[4..6].try_into().unwrap()) as usize;
    let mut out = Vec::with_capacity(declared.min(65535));
    let mut pos = 6;
    loop {
        let start = pos;
        let first = *b.get(pos).ok_or_else(|| corrupt("listpack without terminator"))?;
        pos += 1;
        let item = if first == 0xFF {
            if pos != b.len() {
                return Err(corrupt("listpack terminator before its end"));
            }
            break;
        } else if first & 0x80 == 0 {
            int_text(first as i64)
        } else if first & 0xC0 == 0x80 {
            Bytes::copy_from_slice(take(b, &mut pos, (first & 0x3F) as usize)?)
        } else if first & 0xE0 == 0xC0 {
            let lo = take(b, &mut pos, 1)?[0] as u64;
            int_text(sign_extend(((first & 0x1F) as u64) << 8 | lo, 13))
        } else if first & 0xF0 == 0xE0 {
            let lo = take(b, &mut pos, 1)?[0] as usize;
            let n = ((first & 0x0F) as usize) << 8 | lo;
            Bytes::copy_from_slice(take(b, &mut pos, n)?)
        } else {
            match first {
                0xF0 => {
                    let n = u32::from_le_bytes(take(b, &mut pos, 4)?.try_into().unwrap()) as usize;
                    Bytes::copy_from_slice(take(b, &mut pos, n)?)
                }
                0xF1..=0xF4 => {
                    let width = [2usize, 3, 4, 8][(first - 0xF1) as usize];
                    let raw = take(b, &mut pos, width)?;
                    let mut v = 0u64;
                    for (i, &x) in raw.iter().enumerate() {
                        v |= (x as u64) << (8 * i);
                    }
                    int_text(sign_extend(v, 8 * width as u32))
                }
                _ => return Err(corrupt("listpack entry with an unknown encoding")),
            }
        };
        let back = backlen_size(pos - start);
        take(b, &mut pos, back)?;
        out.push(item);
    }
    if declared != 65535 && declared != out.len() {
        return Err(corrupt("listpack element count does not match its header"));
    }
    Ok(out)
}

// ---- ziplist (Redis < 7) --------------------------------------------------------------------

/// Every element of a ziplist.
pub fn ziplist_entries(b: &[u8]) -> Result<Vec<Bytes>, RdbError> {
    if b.len() < 11 {
        return Err(corrupt("ziplist shorter than its header"));
    }
    let total = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    if total != b.len() || b[b.len() - 1] != 0xFF {
        return Err(corrupt("ziplist header does not match its size"));
    }
    let declared = u16::from_le_bytes(b[8..10].try_into().unwrap()) as usize;
    let mut out = Vec::new();
    let mut pos = 10;
    loop {
        let prev = *b.get(pos).ok_or_else(|| corrupt("ziplist without terminator"))?;
        if prev == 0xFF {
            if pos + 1 != b.len() {
                return Err(corrupt("ziplist terminator before its end"));
            }
            break;
        }
        pos += if prev == 0xFE { 5 } else { 1 };
        let enc = take(b, &mut pos, 1)?[0];
        let item = match enc >> 6 {
            0 => Bytes::copy_from_slice(take(b, &mut pos, (enc & 0x3F) as usize)?),
            1 => {
                let lo = take(b, &mut pos, 1)?[0] as usize;
                Bytes::copy_from_slice(take(b, &mut pos, ((enc & 0x3F) as usize) << 8 | lo)?)
            }
            2 => {
                let n = u32::from_be_bytes(take(b, &mut pos, 4)?.try_into().unwrap()) as usize;
                Bytes::copy_from_slice(take(b, &mut pos, n)?)
            }
            _ => {
                let width = match enc {
                    0xC0 => 2,
                    0xD0 => 4,
                    0xE0 => 8,
                    0xF0 => 3,
                    0xFE => 1,
                    0xF1..=0xFD => 0,
                    _ => return Err(corrupt("ziplist entry with an unknown encoding")),
                };
                if width == 0 {
                    int_text((enc & 0x0F) as i64 - 1)
                } else {
                    let raw = take(b, &mut pos, width)?;
                    let mut v = 0u64;
                    for (i, &x) in raw.iter().enumerate() {
                        v |= (x as u64) << (8 * i);
                    }
                    int_text(sign_extend(v, 8 * width as u32))
                }
            }
        };
        out.push(item);
    }
    if declared != 65535 && declared != out.len() {
        return Err(corrupt("ziplist element count does not match its header"));
    }
    Ok(out)
}

// ---- zipmap (Redis < 2.6 hashes) ------------------------------------------------------------

/// The (field, value) pairs of a zipmap.
pub fn zipmap_pairs(b: &[u8]) -> Result<Vec<(Bytes, Bytes)>, RdbError> {
    let mut pos = 1;
    let mut out = Vec::new();
    let read_len = |pos: &mut usize| -> Result<Option<usize>, RdbError> {
        let first = take(b, pos, 1)?[0];
        Ok(match first {
            0xFF => None,
            0xFE => Some(u32::from_le_bytes(take(b, pos, 4)?.try_into().unwrap()) as usize),
            n => Some(n as usize),
        })
    };
    while let Some(flen) = read_len(&mut pos)? {
        let field = Bytes::copy_from_slice(take(b, &mut pos, flen)?);
        let vlen = read_len(&mut pos)?.ok_or_else(|| corrupt("zipmap field without value"))?;
        let free = take(b, &mut pos, 1)?[0] as usize;
        let value = Bytes::copy_from_slice(take(b, &mut pos, vlen)?);
        take(b, &mut pos, free)?;
        out.push((field, value));
    }
    if pos != b.len() {
        return Err(corrupt("zipmap terminator before its end"));
    }
    Ok(out)
}

// ---- intset ---------------------------------------------------------------------------------

/// An intset of sorted distinct integers, in the narrowest width that holds them all.
pub fn intset_encode(ints: &[i64]) -> Vec<u8> {
    let fits = |lo: i64, hi: i64| ints.iter().all(|&v| (lo..=hi).contains(&v));
    let width: usize = if fits(i16::MIN as i64, i16::MAX as i64) {
        2
    } else if fits(i32::MIN as i64, i32::MAX as i64) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * ints.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(ints.len() as u32).to_le_bytes());
    for &v in ints {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

pub fn intset_decode(b: &[u8]) -> Result<Vec<i64>, RdbError> {
    if b.len() < 8 {
        return Err(corrupt("intset shorter than its header"));
    }
    let width = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    let len = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
    if !matches!(width, 2 | 4 | 8) || len.checked_mul(width).and_then(|n| n.checked_add(8)) != Some(b.len()) {
        return Err(corrupt("intset header does not match its size"));
    }
    let mut out: Vec<i64> = Vec::with_capacity(len);
    for c in b[8..].chunks(width) {
        let mut v = 0u64;
        for (i, &x) in c.iter().enumerate() {
            v |= (x as u64) << (8 * i);
        }
        let v = sign_extend(v, 8 * width as u32);
        if out.last().is_some_and(|&p| p >= v) {
            return Err(corrupt("intset not sorted or with duplicates"));
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trips_every_encoding() {
        let items: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"128".to_vec(),
            b"-4096".to_vec(),
            b"4095".to_vec(),
            b"-32768".to_vec(),
            b"8388607".to_vec(),
            b"-8388608".to_vec(),
            b"2147483647".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"9223372036854775807".to_vec(),
            b"".to_vec(),
            b"007".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 4096],
            vec![b'v'; 20000],
        ];
        let mut w = ListpackWriter::new();
        for i in &items {
            w.push(i);
        }
        let lp = w.finish();
        let got = listpack_entries(&lp).unwrap();
        assert_eq!(got.iter().map(|b| b.to_vec()).collect::<Vec<_>>(), items);
    }

    #[test]
    fn intset_widths() {
        for ints in [vec![-5, 1, 2], vec![1, 70000], vec![-1, 5_000_000_000]] {
            assert_eq!(intset_decode(&intset_encode(&ints)).unwrap(), ints);
        }
        assert_eq!(intset_encode(&[1, 2]).len(), 8 + 4);
    }
}
