//! Redis's RDB format, version 10 (what Redis 7.0 writes and reads): `encode` writes every
//! Mayfly type in the encodings Redis 7.0 writes; `decode` reads every encoding Redis 7.0 loads,
//! including those of older versions (ziplist, zipmap, quicklist of ziplists).

pub mod decode;
pub mod encode;
mod lzf;
pub mod packed;

pub use decode::{decode_dump_payload, Decoder, Limits, PayloadError, Record};
pub use encode::{dump_payload, Encoder};

/// The RDB version written, and the newest one read.
pub const RDB_VERSION: u16 = 10;

/// The CRC Redis appends to files and DUMP payloads (crc64 "Jones", reflected).
/// Slice-by-16 tables: a snapshot checksums every byte it writes, and the byte-wise table
/// made the checksum a large share of a save's CPU time.
pub static CRC64: crc::Crc<u64, crc::Table<16>> = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS);

pub mod kind {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

pub mod opcode {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Why a file or payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdbError {
    /// The data ends before a complete record.
    Truncated,
    /// The data is not well formed (the text says where).
    Corrupt(String),
    /// Well formed, but holds something Mayfly cannot load (modules, streams, ...).
    Unsupported(String),
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RdbError::Truncated => write!(f, "unexpected end of file (truncated RDB)"),
            RdbError::Corrupt(s) => write!(f, "corrupt RDB: {s}"),
            RdbError::Unsupported(s) => write!(f, "unsupported RDB content: {s}"),
        }
    }
}

impl std::error::Error for RdbError {}

#[cfg(test)]
pub(crate) mod tests;
