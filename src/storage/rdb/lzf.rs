//! LZF, the compressor Redis applies to long strings in RDB files (lzf_c.c / lzf_d.c's format):
//! a stream of literal runs (control byte < 32: that many plus one bytes follow) and back
//! references (control byte's top three bits: length - 2, 7 meaning "plus the next byte"; its
//! low five bits and the next byte: distance - 1, up to 8 KiB back).

const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);
const HASH_BITS: u32 = 14;

fn hash3(b: &[u8], bits: u32) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2654435761) >> (32 - bits)) as usize
}

fn flush_literals(out: &mut Vec<u8>, lit: &[u8]) {
    for chunk in lit.chunks(MAX_LIT) {
        out.push((chunk.len() - 1) as u8);
        out.extend_from_slice(chunk);
    }
}

/// Compresses `input`; `None` unless the result is at most `max_out` bytes.
#[cfg(test)]
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(max_out.min(input.len()));
    compress_into(input, max_out, &mut out, &mut Vec::new()).then_some(out)
}

/// Compresses `input` into `out` (cleared first), using `table` as the match table (reused
/// between calls so a snapshot of millions of strings allocates nothing per string). False,
/// with `out` unspecified, when the result would be longer than `max_out` bytes.
pub fn compress_into(input: &[u8], max_out: usize, out: &mut Vec<u8>, table: &mut Vec<u32>) -> bool {
    out.clear();
    // A table sized to the input: a snapshot compresses millions of short strings, and zeroing
    // a full 16k-slot table for each cost more than the compression itself.
    let bits = (input.len().next_power_of_two().trailing_zeros() + 1).clamp(4, HASH_BITS);
    table.clear();
    table.resize(1 << bits, 0);
    let mut lit_start = 0;
    let mut ip = 0;
    while ip + 2 < input.len() {
        let h = hash3(&input[ip..], bits);
        let cand = table[h] as usize;
        table[h] = ip as u32 + 1;
        if cand > 0 {
            let r = cand - 1;
            let off = ip - r - 1;
            if off < MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
                flush_literals(out, &input[lit_start..ip]);
                let max_len = (input.len() - ip).min(MAX_REF);
                let mut len = 3;
                while len < max_len && input[r + len] == input[ip + len] {
                    len += 1;
                }
                let code = len - 2;
                if code < 7 {
                    out.push(((code << 5) | (off >> 8)) as u8);
                } else {
                    out.push(((7 << 5) | (off >> 8)) as u8);
                    out.push((code - 7) as u8);
                }
                out.push((off & 0xff) as u8);
                ip += len;
                lit_start = ip;
                if out.len() > max_out {
                    return false;
                }
                continue;
            }
        }
        ip += 1;
    }
    flush_literals(out, &input[lit_start..]);
    out.len() <= max_out
}

/// Decompresses `input` into exactly `out_len` bytes; `None` when the stream is malformed.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            if ip + n > input.len() || out.len() + n > out_len {
                return None;
            }
            out.extend_from_slice(&input[ip..ip + n]);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            len += 2;
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let from = out.len() - back;
            for i in 0..len {
                let b = out[from + i];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn compresses_repetitive_text() {
        let text = b"abcdefgh".repeat(40);
        let c = compress(&text, text.len() - 4).unwrap();
        assert!(c.len() < 40);
        assert_eq!(decompress(&c, text.len()).unwrap(), text);
        assert!(compress(b"abcdefghijklmnopqrstuvwxyz", 22).is_none());
    }

    proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..3000)) {
            if let Some(c) = compress(&data, data.len() + data.len() / 16 + 64) {
                prop_assert_eq!(decompress(&c, data.len()).unwrap(), data);
            }
        }
    }
}
