//! Key routing: Redis Cluster's hash slot (CRC16/XMODEM of the key or of its `{tag}`), and the
//! shard that owns a slot.

use crc::{Crc, CRC_16_XMODEM};

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_XMODEM);
pub const SLOTS: u16 = 16384;

/// The part of a key that is hashed in cluster mode: the text between the first `{` and the
/// next `}`, when that text is not empty; otherwise the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// CLUSTER KEYSLOT: always honours hash tags.
pub fn key_slot(key: &[u8]) -> u16 {
    CRC16.checksum(hash_tag(key)) & (SLOTS - 1)
}

/// Decides which shard owns a key.
#[derive(Clone, Copy, Debug)]
pub struct Router {
    pub num_shards: usize,
    /// Hash only the `{tag}` when choosing a shard (cluster modes, `--lock_on_hashtags`).
    pub use_tags: bool,
}

impl Router {
    pub fn shard_of(&self, key: &[u8]) -> usize {
        if self.num_shards == 1 {
            return 0;
        }
        let slot = if self.use_tags { key_slot(key) } else { CRC16.checksum(key) & (SLOTS - 1) };
        slot as usize % self.num_shards
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"{user1000}.followers"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(key_slot(b"123456789"), 0x31C3 & 16383);
    }
}
