//! DEBUG DIGEST and DIGEST-VALUE with Redis 7.0's algorithm (debug.c): SHA-1 digests combined
//! by XOR where order does not matter (keys, set members, hash fields, sorted set elements) and
//! by feedback where it does (list elements, the parts of one entry), so the same dataset gives
//! the same 40 hex digits as Redis would.

use crate::engine::Shard;
use crate::protocol::format_double;
use crate::types::Value;
use crate::util::sha1::sha1;

pub type Digest = [u8; 20];

/// `digest ^= SHA1(data)`: order-independent.
fn xor_in(d: &mut Digest, data: &[u8]) {
    for (a, b) in d.iter_mut().zip(sha1(data)) {
        *a ^= b;
    }
}

/// `digest = SHA1(digest ^ SHA1(data))`: order matters.
fn mix_in(d: &mut Digest, data: &[u8]) {
    xor_in(d, data);
    *d = sha1(d);
}

fn xor_digest(d: &mut Digest, other: &Digest) {
    for (a, b) in d.iter_mut().zip(other) {
        *a ^= b;
    }
}

/// Redis's object type numbers (OBJ_STRING ... OBJ_HASH).
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
    }
}

/// Continues `d` with a value's type, contents and whether it has a TTL (xorObjectDigest).
pub fn object_digest(d: &mut Digest, v: &Value, has_ttl: bool) {
    mix_in(d, &type_code(v).to_be_bytes());
    match v {
        Value::Str(s) => mix_in(d, &s.to_bytes()),
        Value::List(l) => l.iter().for_each(|e| mix_in(d, e)),
        Value::Set(s) => s.for_each(|m| xor_in(d, m)),
        Value::ZSet(z) => {
            for (member, score) in z.range(0, z.len()) {
                let mut e = [0u8; 20];
                mix_in(&mut e, &member);
                mix_in(&mut e, format_double(score).as_bytes());
                xor_in(d, &e);
            }
        }
        Value::Hash(h) => {
            for (field, value) in h.entries() {
                let mut e = [0u8; 20];
                mix_in(&mut e, field);
                mix_in(&mut e, value);
                xor_in(d, &e);
            }
        }
    }
    if has_ttl {
        xor_in(d, b"!!expire!!");
    }
}

/// DIGEST-VALUE of one key of `db` (all zeros when missing); logically expired keys count, as
/// in Redis, which reads the table directly.
pub fn key_value_digest(sh: &Shard, db: usize, key: &[u8]) -> Digest {
    let mut d = [0u8; 20];
    if let Some(e) = sh.dbs[db].table.get(key) {
        object_digest(&mut d, &e.value, e.expire_at() != 0);
    }
    d
}

/// Per database, the XOR of the SHA-1s of this shard's key digests (`None` for a db with no keys here).
pub fn shard_digests(sh: &Shard) -> Vec<Option<Digest>> {
    sh.dbs
        .iter()
        .map(|db| {
            let mut acc: Option<Digest> = None;
            for e in db.table.iter() {
                let mut d = [0u8; 20];
                mix_in(&mut d, e.key());
                object_digest(&mut d, &e.value, e.expire_at() != 0);
                xor_in(acc.get_or_insert([0; 20]), &d);
            }
            acc
        })
        .collect()
}

/// DEBUG DIGEST from every shard's part: each non-empty database is announced by mixing its
/// index in, then its keys' digests are XORed (so how keys spread over shards does not matter).
pub fn dataset_digest(parts: &[Vec<Option<Digest>>]) -> Digest {
    let mut out = [0u8; 20];
    let dbs = parts.iter().map(Vec::len).max().unwrap_or(0);
    for j in 0..dbs {
        let mut db_acc: Option<Digest> = None;
        for p in parts {
            if let Some(Some(d)) = p.get(j) {
                xor_digest(db_acc.get_or_insert([0; 20]), d);
            }
        }
        if let Some(d) = db_acc {
            mix_in(&mut out, &(j as u32).to_be_bytes());
            xor_digest(&mut out, &d);
        }
    }
    out
}

pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
