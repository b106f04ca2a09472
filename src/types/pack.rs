//! The compact form of small hashes and sets (Redis's "listpack"): one contiguous allocation of
//! length-prefixed entries. A length is a LEB128 varint (one byte up to 127), so a small entry
//! costs its bytes plus one.

/// Appends one entry, growing the buffer by exactly what it needs.
pub fn push(buf: &mut Vec<u8>, item: &[u8]) {
    buf.reserve_exact(varint_len(item.len()) + item.len());
    put_varint(buf, item.len());
    buf.extend_from_slice(item);
}

fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

fn put_varint(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

/// Reads the entry at `pos`: its bytes' range and where the next entry starts.
fn read(buf: &[u8], mut pos: usize) -> (std::ops::Range<usize>, usize) {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let b = buf[pos];
        pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    (pos..pos + n, pos + n)
}

/// Every entry in order, each with its start offset (where its length prefix begins).
pub fn iter(buf: &[u8]) -> Iter<'_> {
    Iter { buf, pos: 0 }
}

pub struct Iter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    /// (offset of the entry, its bytes)
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let (r, next) = read(self.buf, start);
        self.pos = next;
        Some((start, &self.buf[r]))
    }
}

/// Where the entry at `offset` ends (the next entry's offset).
pub fn end_of(buf: &[u8], offset: usize) -> usize {
    read(buf, offset).1
}

/// Replaces the bytes `range` of the buffer (whole entries) with `with` entries' encoding,
/// keeping the allocation exact.
pub fn splice(buf: &mut Vec<u8>, range: std::ops::Range<usize>, with: &[&[u8]]) {
    let mut enc = Vec::new();
    for w in with {
        put_varint(&mut enc, w.len());
        enc.extend_from_slice(w);
    }
    let new_len = buf.len() - range.len() + enc.len();
    if new_len > buf.len() {
        buf.reserve_exact(new_len - buf.len());
    }
    buf.splice(range, enc);
    if buf.capacity() > buf.len() + 16 {
        buf.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_splice() {
        let mut buf = Vec::new();
        let big = vec![7u8; 300];
        for item in [&b"a"[..], b"", &big, b"xyz"] {
            push(&mut buf, item);
        }
        let items: Vec<&[u8]> = iter(&buf).map(|(_, b)| b).collect();
        assert_eq!(items, vec![&b"a"[..], b"", &big[..], b"xyz"]);
        let (off, _) = iter(&buf).nth(2).unwrap();
        let end = end_of(&buf, off);
        splice(&mut buf, off..end, &[b"mid"]);
        let items: Vec<&[u8]> = iter(&buf).map(|(_, b)| b).collect();
        assert_eq!(items, vec![&b"a"[..], b"", b"mid", b"xyz"]);
        assert_eq!(buf.capacity(), buf.len());
    }
}
