//! Keyspace commands (Redis's db.c and expire.c): DEL, EXISTS, TTLs, RENAME, SCAN, ...

use super::multikey::{by_shard, MultiKind};
use super::table::{spec, CommandSpec, KeySpec, Run};
use super::Ctx;
use super::{errors, strings};
use crate::engine::notify::class;
use crate::engine::{Entry, Mode, Shard};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::types::{StrValue, Value};
use crate::util::{glob_match, parse_i64_strict};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "generic",
        "del",
        -2,
        W,
        KeySpec::ALL,
        ACL_W_SLOW,
        "Deletes one or more keys.",
        "1.0.0",
        Run::Multi(MultiKind::CountKeys(CountOp::Del)),
    ),
    spec(
        "generic",
        "unlink",
        -2,
        W_FAST,
        KeySpec::ALL,
        ACL_W_FAST,
        "Asynchronously deletes one or more keys.",
        "4.0.0",
        Run::Multi(MultiKind::CountKeys(CountOp::Unlink)),
    ),
    spec(
        "generic",
        "exists",
        -2,
        RO_FAST,
        KeySpec::ALL,
        ACL_R_FAST,
        "Determines whether one or more keys exist.",
        "1.0.0",
        Run::Multi(MultiKind::CountKeys(CountOp::Exists)),
    ),
    spec(
        "generic",
        "touch",
        -2,
        RO_FAST,
        KeySpec::ALL,
        ACL_R_FAST,
        "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
        "3.2.1",
        Run::Multi(MultiKind::CountKeys(CountOp::Touch)),
    ),
    spec(
        "generic",
        "expire",
        -3,
        W_FAST,
        KeySpec::ONE,
        ACL_W_FAST,
        "Sets the expiration time of a key in seconds.",
        "1.0.0",
        Run::Shard(expire, Mode::Write),
    ),
    spec(
        "generic",
        "pexpire",
        -3,
        W_FAST,
        KeySpec::ONE,
        ACL_W_FAST,
        "Sets the expiration time of a key in milliseconds.",
        "2.6.0",
        Run::Shard(pexpire, Mode::Write),
    ),
    spec(
        "generic",
        "expireat",
        -3,
        W_FAST,
        KeySpec::ONE,
        ACL_W_FAST,
        "Sets the expiration time of a key to a Unix timestamp.",
        "1.2.0",
        Run::Shard(expireat, Mode::Write),
    ),
    spec(
        "generic",
        "pexpireat",
        -3,
        W_FAST,
        KeySpec::ONE,
        ACL_W_FAST,
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        "2.6.0",
        Run::Shard(pexpireat, Mode::Write),
    ),
    spec(
        "generic",
        "ttl",
        2,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Returns the expiration time in seconds of a key.",
        "1.0.0",
        Run::Shard(ttl, Mode::Read),
    ),
    spec(
        "generic",
        "pttl",
        2,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Returns the expiration time in milliseconds of a key.",
        "2.6.0",
        Run::Shard(pttl, Mode::Read),
    ),
    spec(
        "generic",
        "expiretime",
        2,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Returns the expiration time of a key as a Unix timestamp.",
        "7.0.0",
        Run::Shard(expiretime, Mode::Read),
    ),
    spec(
        "generic",
        "pexpiretime",
        2,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        "7.0.0",
        Run::Shard(pexpiretime, Mode::Read),
    ),
    spec(
        "generic",
        "persist",
        2,
        W_FAST,
        KeySpec::ONE,
        ACL_W_FAST,
        "Removes the expiration time of a key.",
        "2.2.0",
        Run::Shard(persist, Mode::Write),
    ),
    spec(
        "generic",
        "type",
        2,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Determines the type of value stored at a key.",
        "1.0.0",
        Run::Shard(type_cmd, Mode::Read),
    ),
    spec(
        "generic",
        "move",
        3,
        W_FAST,
        KeySpec::ONE,
        ACL_W_FAST,
        "Moves a key to another database.",
        "1.0.0",
        Run::Shard(move_cmd, Mode::Write),
    ),
    spec(
        "generic",
        "rename",
        3,
        W,
        KeySpec::TWO,
        ACL_W_SLOW,
        "Renames a key and overwrites the destination.",
        "1.0.0",
        Run::Multi(MultiKind::Rename { nx: false }),
    ),
    spec(
        "generic",
        "renamenx",
        3,
        W_FAST,
        KeySpec::TWO,
        ACL_W_FAST,
        "Renames a key only when the target key name doesn't exist.",
        "1.0.0",
        Run::Multi(MultiKind::Rename { nx: true }),
    ),
    spec(
        "generic",
        "copy",
        -3,
        &["write", "denyoom"],
        KeySpec::TWO,
        ACL_W_SLOW,
        "Copies the value of a key to a new key.",
        "6.2.0",
        Run::Multi(MultiKind::Copy),
    ),
    spec(
        "generic",
        "keys",
        2,
        RO,
        KeySpec::NONE,
        &["@keyspace", "@read", "@slow", "@dangerous"],
        "Returns all key names that match a pattern.",
        "1.0.0",
        Run::Multi(MultiKind::Keys),
    ),
    spec(
        "generic",
        "scan",
        -2,
        RO,
        KeySpec::NONE,
        ACL_R_SLOW,
        "Iterates over the key names in the database.",
        "2.8.0",
        Run::Multi(MultiKind::Scan),
    ),
    spec(
        "generic",
        "randomkey",
        1,
        RO,
        KeySpec::NONE,
        ACL_R_SLOW,
        "Returns a random key name from the database.",
        "1.0.0",
        Run::Multi(MultiKind::RandomKey),
    ),
    spec(
        "generic",
        "object",
        -2,
        RO,
        KeySpec { first: 2, last: 2, step: 1 },
        ACL_R_SLOW,
        "A container for object introspection commands.",
        "2.2.3",
        Run::Multi(MultiKind::Object),
    ),
];

const W: &[&str] = &["write"];
const W_FAST: &[&str] = &["write", "fast"];
const RO: &[&str] = &["readonly"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const ACL_W_SLOW: &[&str] = &["@keyspace", "@write", "@slow"];
const ACL_W_FAST: &[&str] = &["@keyspace", "@write", "@fast"];
const ACL_R_FAST: &[&str] = &["@keyspace", "@read", "@fast"];
const ACL_R_SLOW: &[&str] = &["@keyspace", "@read", "@slow"];

/// Multi-key commands that count the keys they acted on.
#[derive(Clone, Copy, Debug)]
pub enum CountOp {
    Del,
    Unlink,
    Exists,
    Touch,
}

impl CountOp {
    pub fn mode(self) -> Mode {
        match self {
            CountOp::Del | CountOp::Unlink => Mode::Write,
            CountOp::Exists | CountOp::Touch => Mode::Read,
        }
    }

    /// Applies the operation to `keys` (all on this shard); a key named twice counts twice.
    pub fn apply(self, sh: &mut Shard, db: usize, keys: &[Bytes]) -> i64 {
        let mut n = 0;
        for k in keys {
            let hit = match self {
                CountOp::Del | CountOp::Unlink => {
                    let hit = sh.lookup_write(db, k).is_some() && sh.dbs[db].remove(k).is_some();
                    if hit {
                        sh.notify(db, class::GENERIC, "del", k);
                    }
                    hit
                }
                CountOp::Exists | CountOp::Touch => sh.lookup(db, k).is_some(),
            };
            n += hit as i64;
        }
        n
    }
}

fn is_expired(e: &Entry, now: u64) -> bool {
    e.expire_at() != 0 && e.expire_at() <= now
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX | XX | GT | LT (Redis 7.0 semantics).
fn expire_generic(sh: &mut Shard, db: usize, args: &[Bytes], relative: bool, seconds: bool, name: &str) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &args[3..] {
        match a.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => return Reply::error(errors::unsupported_option(a)),
        }
    }
    if nx && (xx || gt || lt) {
        return Reply::error(errors::EXPIRE_NX_CONFLICT);
    }
    if gt && lt {
        return Reply::error(errors::EXPIRE_GT_LT);
    }
    let Some(mut when) = parse_i64_strict(&args[2]) else { return Reply::error(errors::NOT_INTEGER) };
    if seconds {
        match when.checked_mul(1000) {
            Some(ms) => when = ms,
            None => return Reply::error(errors::invalid_expire(name)),
        }
    }
    let now = sh.now_ms as i64;
    if relative {
        match when.checked_add(now) {
            Some(w) => when = w,
            None => return Reply::error(errors::invalid_expire(name)),
        }
    }
    let Some(e) = sh.lookup_write(db, &args[1]) else { return Reply::Int(0) };
    let current = if e.expire_at() == 0 { -1 } else { e.expire_at() as i64 };
    if (nx && current != -1)
        || (xx && current == -1)
        || (gt && (current == -1 || when <= current))
        || (lt && current != -1 && when >= current)
    {
        return Reply::Int(0);
    }
    if when <= now {
        sh.dbs[db].remove(&args[1]);
        sh.notify(db, class::GENERIC, "del", &args[1]);
    } else {
        sh.dbs[db].set_expire(&args[1], when as u64);
        sh.notify(db, class::GENERIC, "expire", &args[1]);
    }
    Reply::Int(1)
}

fn expire(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    expire_generic(sh, db, args, true, true, "expire")
}

fn pexpire(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    expire_generic(sh, db, args, true, false, "pexpire")
}

fn expireat(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    expire_generic(sh, db, args, false, true, "expireat")
}

fn pexpireat(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    expire_generic(sh, db, args, false, false, "pexpireat")
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 when missing, -1 without a deadline.
fn ttl_generic(sh: &mut Shard, db: usize, key: &[u8], ms: bool, absolute: bool) -> Reply {
    let now = sh.now_ms;
    let Some(e) = sh.lookup(db, key) else { return Reply::Int(-2) };
    if e.expire_at() == 0 {
        return Reply::Int(-1);
    }
    let t = if absolute { e.expire_at() } else { e.expire_at().saturating_sub(now) } as i64;
    Reply::Int(if ms {
        t
    } else if absolute {
        t / 1000
    } else {
        (t + 500) / 1000
    })
}

fn ttl(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    ttl_generic(sh, db, &args[1], false, false)
}

fn pttl(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    ttl_generic(sh, db, &args[1], true, false)
}

fn expiretime(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    ttl_generic(sh, db, &args[1], false, true)
}

fn pexpiretime(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    ttl_generic(sh, db, &args[1], true, true)
}

fn persist(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match sh.lookup_write(db, &args[1]) {
        Some(e) if e.expire_at() != 0 => {
            sh.dbs[db].set_expire(&args[1], 0);
            sh.notify(db, class::GENERIC, "persist", &args[1]);
            Reply::Int(1)
        }
        _ => Reply::Int(0),
    }
}

fn type_cmd(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match sh.lookup(db, &args[1]) {
        Some(e) => Reply::simple(e.value.type_name()),
        None => Reply::simple("none"),
    }
}

/// Parses a database index as Redis's `getIntFromObjectOrReply` + `selectDb` do.
fn parse_db(text: &[u8], dbnum: usize) -> Result<usize, Reply> {
    let n = parse_i64_strict(text)
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or_else(|| Reply::error(errors::NOT_INTEGER))?;
    if n < 0 || n as usize >= dbnum {
        return Err(Reply::error(errors::DB_RANGE));
    }
    Ok(n as usize)
}

/// MOVE key db: the key's shard is the same in every database.
fn move_cmd(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let target = match parse_db(&args[2], sh.dbs.len()) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if target == db {
        return Reply::error(errors::SAME_OBJECT);
    }
    if sh.lookup_write(db, &args[1]).is_none() || sh.lookup_write(target, &args[1]).is_some() {
        return Reply::Int(0);
    }
    let Some(e) = sh.dbs[db].remove(&args[1]) else { return Reply::Int(0) };
    let (key, value, deadline) = e.into_parts();
    sh.dbs[target].set(key, value, deadline);
    sh.notify(db, class::GENERIC, "move_from", &args[1]);
    sh.notify(target, class::GENERIC, "move_to", &args[1]);
    Reply::Int(1)
}

/// RENAME / RENAMENX when both keys live on this shard.
pub fn rename_local(sh: &mut Shard, db: usize, src: &Bytes, dst: &Bytes, nx: bool) -> Reply {
    if sh.lookup_write(db, src).is_none() {
        return Reply::error(errors::NO_SUCH_KEY);
    }
    let done = if nx { Reply::Int(1) } else { Reply::Ok };
    if src == dst {
        return if nx { Reply::Int(0) } else { Reply::Ok };
    }
    if nx && sh.lookup_write(db, dst).is_some() {
        return Reply::Int(0);
    }
    if let Some(e) = sh.dbs[db].remove(src) {
        let (_, value, deadline) = e.into_parts();
        sh.dbs[db].set(dst.clone(), value, deadline);
        sh.notify(db, class::GENERIC, "rename_from", src);
        sh.notify(db, class::GENERIC, "rename_to", dst);
    }
    done
}

/// A live key's value and deadline, cloned.
fn read_entry(sh: &mut Shard, db: usize, key: &[u8]) -> Option<(Value, u64)> {
    sh.lookup_write(db, key).map(|e| (e.value.clone(), e.expire_at()))
}

/// COPY's write: stores the copy unless the destination exists and REPLACE was not given.
fn copy_into(sh: &mut Shard, db: usize, key: &Bytes, v: (Value, u64), replace: bool) -> Reply {
    if !replace && sh.lookup_write(db, key).is_some() {
        return Reply::Int(0);
    }
    sh.dbs[db].set(key.clone(), v.0, v.1);
    sh.notify(db, class::GENERIC, "copy_to", key);
    Reply::Int(1)
}

/// KEYS on one shard.
fn keys_on(sh: &mut Shard, db: usize, pattern: &[u8]) -> Vec<Bytes> {
    let now = sh.now_ms;
    let all = pattern == b"*";
    sh.dbs[db]
        .table
        .iter()
        .filter(|e| !is_expired(e, now) && (all || glob_match(pattern, e.key(), false)))
        .map(|e| e.key_bytes())
        .collect()
}

/// One SCAN step on one shard: `(keys visited, next position, keys that pass the filters)`.
/// Expired keys met on the way are removed, as Redis does.
pub fn scan_step(
    sh: &mut Shard,
    db: usize,
    pos: u64,
    count: usize,
    pattern: Option<&[u8]>,
    type_name: Option<&[u8]>,
) -> (usize, Option<u64>, Vec<Bytes>) {
    let now = sh.now_ms;
    let mut visited = 0;
    let mut found = Vec::new();
    let mut expired = Vec::new();
    let next = sh.dbs[db].table.scan(pos, count, |e| {
        visited += 1;
        if is_expired(e, now) {
            expired.push(e.key_bytes());
        } else if pattern.is_none_or(|p| glob_match(p, e.key(), false))
            && type_name.is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()))
        {
            found.push(e.key_bytes());
        }
    });
    // A replica leaves expired keys to its primary's DEL (they are only hidden).
    if sh.replica_mode {
        expired.clear();
    }
    for k in expired {
        if sh.dbs[db].remove(&k).is_some() {
            sh.stats.expired_keys += 1;
            sh.notify(db, class::EXPIRED, "expired", &k);
        }
    }
    (visited, next, found)
}

/// RANDOMKEY on one shard: a live key, removing expired ones it meets.
pub fn random_on(sh: &mut Shard, db: usize) -> Option<Bytes> {
    let now = sh.now_ms;
    for _ in 0..100 {
        let (r1, r2) = (sh.next_rand(), sh.next_rand());
        let (key, expired) = {
            let e = sh.dbs[db].table.random(r1, r2)?;
            (e.key_bytes(), is_expired(e, now))
        };
        if !expired {
            return Some(key);
        }
        if sh.replica_mode {
            continue;
        }
        sh.dbs[db].remove(&key);
        sh.stats.expired_keys += 1;
        sh.notify(db, class::EXPIRED, "expired", &key);
    }
    None
}

fn shutting_down() -> Reply {
    Reply::error(errors::SHUTTING_DOWN)
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
];

/// OBJECT's answer for a present key; it does not count as an access. FREQ and IDLETIME read
/// the entry's LFU field or LRU clock (`engine::memory`).
fn object_on(sh: &mut Shard, db: usize, key: &[u8], sub: &[u8], lfu: bool) -> Reply {
    let (now, decay) = (sh.now_ms, sh.config.lfu_decay_time);
    let Some(e) = sh.peek(db, key) else { return Reply::Nil };
    match sub {
        b"ENCODING" => Reply::bulk_str(e.value.encoding()),
        b"REFCOUNT" => match &e.value {
            // Redis shares the integers 0..10000 and reports INT_MAX for them.
            Value::Str(StrValue::Int(n)) if (0..10_000).contains(n) => Reply::Int(i32::MAX as i64),
            _ => Reply::Int(1),
        },
        b"FREQ" if !lfu => Reply::error(errors::NO_LFU),
        b"IDLETIME" if lfu => Reply::error(errors::NO_LRU),
        b"FREQ" => Reply::Int(crate::engine::memory::lfu_decayed(e.access, now, decay) as i64),
        b"IDLETIME" if e.access == 0 => Reply::Int(0),
        b"IDLETIME" => Reply::Int((crate::engine::memory::lru_idle_ms(e.access, now) / 1000) as i64),
        _ => Reply::Int(0),
    }
}

/// Commands that need a coordinator: MSETNX, RENAME(NX), COPY, LCS, KEYS, SCAN, RANDOMKEY, OBJECT.
pub async fn run_cross<R: Rt>(ctx: &mut Ctx<'_, R>, kind: MultiKind, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    match kind {
        MultiKind::Msetnx => msetnx(ctx, args).await,
        MultiKind::Rename { nx } => rename(ctx, args, nx).await,
        MultiKind::Copy => copy(ctx, args).await,
        MultiKind::Lcs => {
            let (ka, kb) = (args[1].clone(), args[2].clone());
            let (sa, sb) = (ctx.shards.shard_of(&ka), ctx.shards.shard_of(&kb));
            let (va, vb) = if sa == sb {
                let r = ctx
                    .shards
                    .run_keyed(ctx.rt, ctx.home, sa, db as u16, &args[1..3], Mode::Read, move |sh| {
                        (strings::lcs_value(sh, db, &ka), strings::lcs_value(sh, db, &kb))
                    })
                    .await;
                match r {
                    Some(v) => v,
                    None => return shutting_down(),
                }
            } else {
                let keys = vec![(ka.clone(), Mode::Read), (kb.clone(), Mode::Read)];
                let tx = ctx.shards.lock(ctx.rt, db as u16, &keys).await;
                let va = tx.run(sa, move |sh| strings::lcs_value(sh, db, &ka)).await;
                let vb = tx.run(sb, move |sh| strings::lcs_value(sh, db, &kb)).await;
                drop(tx);
                match (va, vb) {
                    (Some(a), Some(b)) => (a, b),
                    _ => return shutting_down(),
                }
            };
            match (va, vb) {
                (Ok(a), Ok(b)) => strings::lcs_reply(&a, &b, args),
                (Err(e), _) | (_, Err(e)) => e,
            }
        }
        MultiKind::Keys => {
            let mut out = Vec::new();
            for s in 0..ctx.shards.num_shards() {
                let p = args[1].clone();
                if let Some(ks) = ctx.shards.hop(ctx.rt, s, move |sh| keys_on(sh, db, &p)).await {
                    out.extend(ks.into_iter().map(Reply::Bulk));
                }
            }
            Reply::Array(out)
        }
        MultiKind::Scan => scan(ctx, args).await,
        MultiKind::RandomKey => {
            let n = ctx.shards.num_shards();
            let start = (ctx.home.borrow_mut().next_rand() % n as u64) as usize;
            for k in 0..n {
                let s = (start + k) % n;
                if let Some(Some(key)) = ctx.shards.hop(ctx.rt, s, move |sh| random_on(sh, db)).await {
                    return Reply::Bulk(key);
                }
            }
            Reply::Nil
        }
        MultiKind::Object => {
            let sub = args[1].to_ascii_uppercase();
            match (sub.as_slice(), args.len()) {
                (b"HELP", 2) => Reply::Array(OBJECT_HELP.iter().map(|l| Reply::simple(*l)).collect()),
                (b"ENCODING" | b"FREQ" | b"IDLETIME" | b"REFCOUNT", 3) => {
                    let lfu = ctx
                        .server
                        .config
                        .read()
                        .map(|c| c.get("maxmemory-policy").is_some_and(|p| p.contains("lfu")))
                        .unwrap_or(false);
                    let key = args[2].clone();
                    let k2 = key.clone();
                    super::multikey::on_key(ctx, &key, Mode::Read, move |sh| object_on(sh, db, &k2, &sub, lfu))
                        .await
                        .unwrap_or_else(shutting_down)
                }
                (b"HELP" | b"ENCODING" | b"FREQ" | b"IDLETIME" | b"REFCOUNT", _) => Reply::error(errors::wrong_args(
                    &format!("object|{}", String::from_utf8_lossy(&sub).to_ascii_lowercase()),
                )),
                _ => Reply::error(errors::unknown_subcommand("object", &args[1])),
            }
        }
        _ => Reply::error(errors::SYNTAX),
    }
}

/// MSETNX: all-or-nothing; under the locks every shard is checked before any is written.
async fn msetnx<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let groups = by_shard(ctx, args, (1..args.len()).step_by(2));
    let pairs = |idx: &[usize]| -> Vec<(Bytes, Bytes)> {
        idx.iter().map(|&i| (args[i].clone(), args[i + 1].clone())).collect()
    };
    if groups.len() == 1 {
        let p = pairs(&groups[0].1);
        let keys: Vec<Bytes> = p.iter().map(|(k, _)| k.clone()).collect();
        let ks = keys.clone();
        let r = ctx
            .shards
            .run_keyed(ctx.rt, ctx.home, groups[0].0, db as u16, &keys, Mode::Write, move |sh| {
                if strings::any_exists(sh, db, &ks) {
                    0
                } else {
                    strings::set_pairs(sh, db, &p);
                    1
                }
            })
            .await;
        return r.map_or_else(shutting_down, Reply::Int);
    }
    let keys: Vec<(Bytes, Mode)> = (1..args.len()).step_by(2).map(|i| (args[i].clone(), Mode::Write)).collect();
    let tx = ctx.shards.lock(ctx.rt, db as u16, &keys).await;
    for (shard, idx) in &groups {
        let ks: Vec<Bytes> = idx.iter().map(|&i| args[i].clone()).collect();
        match tx.run(*shard, move |sh| strings::any_exists(sh, db, &ks)).await {
            Some(false) => {}
            Some(true) => return Reply::Int(0),
            None => return shutting_down(),
        }
    }
    for (shard, idx) in groups {
        let p = pairs(&idx);
        tx.run(shard, move |sh| strings::set_pairs(sh, db, &p)).await;
    }
    Reply::Int(1)
}

/// RENAME / RENAMENX: value and TTL move from the source to the destination.
async fn rename<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes], nx: bool) -> Reply {
    let db = ctx.client.db;
    let (src, dst) = (args[1].clone(), args[2].clone());
    let (ss, ds) = (ctx.shards.shard_of(&src), ctx.shards.shard_of(&dst));
    if ss == ds {
        return ctx
            .shards
            .run_keyed(ctx.rt, ctx.home, ss, db as u16, &args[1..3], Mode::Write, move |sh| {
                rename_local(sh, db, &src, &dst, nx)
            })
            .await
            .unwrap_or_else(shutting_down);
    }
    let keys = vec![(src.clone(), Mode::Write), (dst.clone(), Mode::Write)];
    let tx = ctx.shards.lock(ctx.rt, db as u16, &keys).await;
    let s2 = src.clone();
    match tx.run(ss, move |sh| sh.lookup_write(db, &s2).is_some()).await {
        Some(true) => {}
        Some(false) => return Reply::error(errors::NO_SUCH_KEY),
        None => return shutting_down(),
    }
    if nx {
        let d2 = dst.clone();
        match tx.run(ds, move |sh| sh.lookup_write(db, &d2).is_some()).await {
            Some(false) => {}
            Some(true) => return Reply::Int(0),
            None => return shutting_down(),
        }
    }
    let Some(Some(e)) = tx
        .run(ss, move |sh| {
            let e = sh.dbs[db].remove(&src);
            sh.notify(db, class::GENERIC, "rename_from", &src);
            e
        })
        .await
    else {
        return shutting_down();
    };
    tx.run(ds, move |sh| {
        let (_, value, deadline) = e.into_parts();
        sh.dbs[db].set(dst.clone(), value, deadline);
        sh.notify(db, class::GENERIC, "rename_to", &dst);
    })
    .await;
    if nx {
        Reply::Int(1)
    } else {
        Reply::Ok
    }
}

/// COPY source destination [DB index] [REPLACE]
async fn copy<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let mut dst_db = db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        match args[i].to_ascii_uppercase().as_slice() {
            b"REPLACE" => replace = true,
            b"DB" if i + 1 < args.len() => {
                match parse_db(&args[i + 1], ctx.shards.dbnum) {
                    Ok(d) => dst_db = d,
                    Err(e) => return e,
                }
                i += 1;
            }
            _ => return Reply::error(errors::SYNTAX),
        }
        i += 1;
    }
    let (src, dst) = (args[1].clone(), args[2].clone());
    if dst_db == db && src == dst {
        return Reply::error(errors::SAME_OBJECT);
    }
    let (ss, ds) = (ctx.shards.shard_of(&src), ctx.shards.shard_of(&dst));
    if ss == ds {
        return ctx
            .shards
            .run_keyed(ctx.rt, ctx.home, ss, db as u16, &args[1..3], Mode::Write, move |sh| {
                match read_entry(sh, db, &src) {
                    Some(v) => copy_into(sh, dst_db, &dst, v, replace),
                    None => Reply::Int(0),
                }
            })
            .await
            .unwrap_or_else(shutting_down);
    }
    let keys = vec![(db as u16, src.clone(), Mode::Read), (dst_db as u16, dst.clone(), Mode::Write)];
    let tx = ctx.shards.lock_in(ctx.rt, &keys).await;
    let v = match tx.run(ss, move |sh| read_entry(sh, db, &src)).await {
        Some(Some(v)) => v,
        Some(None) => return Reply::Int(0),
        None => return shutting_down(),
    };
    tx.run(ds, move |sh| copy_into(sh, dst_db, &dst, v, replace)).await.unwrap_or_else(shutting_down)
}

/// A SCAN cursor: decimal digits (leading zeros allowed, as `strtoul` reads them) fitting a u64.
fn parse_cursor(text: &[u8]) -> Option<u64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    text.iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add((d - b'0') as u64))
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The cursor is `(pos << 8) | shard`.
async fn scan<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let Some(cursor) = parse_cursor(&args[1]) else { return Reply::error(errors::INVALID_CURSOR) };
    let mut count: usize = 10;
    let mut pattern: Option<Bytes> = None;
    let mut type_name: Option<Bytes> = None;
    let mut i = 2;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Reply::error(errors::SYNTAX);
        }
        match args[i].to_ascii_uppercase().as_slice() {
            b"COUNT" => match parse_i64_strict(&args[i + 1]) {
                Some(n) if n >= 1 => count = n.min(1 << 30) as usize,
                Some(_) => return Reply::error(errors::SYNTAX),
                None => return Reply::error(errors::NOT_INTEGER),
            },
            // A lone `*` matches everything: skip matching, as Redis does.
            b"MATCH" => pattern = (args[i + 1].as_ref() != b"*").then(|| args[i + 1].clone()),
            b"TYPE" => type_name = Some(args[i + 1].clone()),
            _ => return Reply::error(errors::SYNTAX),
        }
        i += 2;
    }
    let n = ctx.shards.num_shards();
    let mut shard = (cursor & 0xff) as usize;
    let mut pos = cursor >> 8;
    let mut budget = count;
    let mut keys = Vec::new();
    let reply = |cursor: u64, keys: Vec<Bytes>| {
        Reply::Array(vec![
            Reply::bulk(Bytes::from(cursor.to_string())),
            Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
        ])
    };
    while shard < n {
        let (p, t) = (pattern.clone(), type_name.clone());
        let Some((visited, next, found)) =
            ctx.shards.hop(ctx.rt, shard, move |sh| scan_step(sh, db, pos, budget, p.as_deref(), t.as_deref())).await
        else {
            return shutting_down();
        };
        keys.extend(found);
        budget = budget.saturating_sub(visited);
        match next {
            Some(p) => return reply((p << 8) | shard as u64, keys),
            None => {
                shard += 1;
                pos = 0;
                if budget == 0 && shard < n {
                    return reply(shard as u64, keys);
                }
            }
        }
    }
    reply(0, keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const NOW: u64 = 1_700_000_000_000;

    fn shard() -> Shard {
        let mut sh = Shard::new(0, 16, 11);
        sh.now_ms = NOW;
        sh
    }

    fn args(parts: &[&str]) -> Vec<Bytes> {
        parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect()
    }

    fn call(sh: &mut Shard, f: crate::commands::table::ShardFn, parts: &[&str]) -> Reply {
        f(sh, 0, &args(parts))
    }

    fn put(sh: &mut Shard, key: &str, expire_at: u64) {
        sh.dbs[0].set(Bytes::copy_from_slice(key.as_bytes()), Value::Str(StrValue::from_bytes(b"v")), expire_at);
    }

    fn err(s: &str) -> Reply {
        Reply::error(s.to_string())
    }

    #[test]
    fn expire_options_and_errors() {
        let mut sh = shard();
        put(&mut sh, "k", 0);
        assert_eq!(call(&mut sh, expire, &["expire", "missing", "10"]), Reply::Int(0));
        assert_eq!(call(&mut sh, expire, &["expire", "k", "10", "XX"]), Reply::Int(0));
        assert_eq!(call(&mut sh, expire, &["expire", "k", "10", "GT"]), Reply::Int(0), "no TTL counts as infinite");
        assert_eq!(call(&mut sh, expire, &["expire", "k", "10", "LT"]), Reply::Int(1));
        assert_eq!(call(&mut sh, pttl, &["pttl", "k"]), Reply::Int(10_000));
        assert_eq!(call(&mut sh, expire, &["expire", "k", "20", "NX"]), Reply::Int(0));
        assert_eq!(call(&mut sh, expire, &["expire", "k", "5", "GT"]), Reply::Int(0));
        assert_eq!(call(&mut sh, expire, &["expire", "k", "20", "gt"]), Reply::Int(1));
        assert_eq!(call(&mut sh, expire, &["expire", "k", "30", "LT"]), Reply::Int(0));
        assert_eq!(call(&mut sh, expire, &["expire", "k", "15", "LT", "XX"]), Reply::Int(1));
        assert_eq!(call(&mut sh, ttl, &["ttl", "k"]), Reply::Int(15));
        assert_eq!(call(&mut sh, expire, &["expire", "k", "1", "NX", "XX"]), err(errors::EXPIRE_NX_CONFLICT));
        assert_eq!(call(&mut sh, expire, &["expire", "k", "1", "GT", "LT"]), err(errors::EXPIRE_GT_LT));
        assert_eq!(call(&mut sh, expire, &["expire", "k", "1", "FOO"]), err("ERR Unsupported option FOO"));
        assert_eq!(call(&mut sh, expire, &["expire", "k", "1.5"]), err(errors::NOT_INTEGER));
        assert_eq!(
            call(&mut sh, expire, &["expire", "k", "9223372036854775807"]),
            err("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            call(&mut sh, pexpire, &["pexpire", "k", "9223372036854775807"]),
            err("ERR invalid expire time in 'pexpire' command")
        );
        assert_eq!(
            call(&mut sh, expireat, &["expireat", "k", "9223372036854775807"]),
            err("ERR invalid expire time in 'expireat' command")
        );
        // PEXPIREAT at i64::MAX is no overflow: the key just lives (almost) forever.
        assert_eq!(call(&mut sh, pexpireat, &["pexpireat", "k", "9223372036854775807"]), Reply::Int(1));
        assert_eq!(call(&mut sh, pexpiretime, &["pexpiretime", "k"]), Reply::Int(i64::MAX));
        assert_eq!(call(&mut sh, pexpireat, &["pexpireat", "k", &(NOW + 1234).to_string()]), Reply::Int(1));
        assert_eq!(call(&mut sh, expiretime, &["expiretime", "k"]), Reply::Int(((NOW + 1234) / 1000) as i64));
        // A deadline in the past (or a negative TTL) deletes the key and answers 1.
        assert_eq!(call(&mut sh, expire, &["expire", "k", "-1"]), Reply::Int(1));
        assert_eq!(call(&mut sh, ttl, &["ttl", "k"]), Reply::Int(-2));
        put(&mut sh, "k", 0);
        assert_eq!(call(&mut sh, pexpireat, &["pexpireat", "k", &NOW.to_string()]), Reply::Int(1));
        assert!(sh.dbs[0].table.get(b"k").is_none());
    }

    #[test]
    fn ttl_family_and_persist() {
        let mut sh = shard();
        put(&mut sh, "plain", 0);
        put(&mut sh, "soon", NOW + 1499);
        assert_eq!(call(&mut sh, ttl, &["ttl", "none"]), Reply::Int(-2));
        assert_eq!(call(&mut sh, pttl, &["pttl", "plain"]), Reply::Int(-1));
        assert_eq!(call(&mut sh, expiretime, &["expiretime", "plain"]), Reply::Int(-1));
        assert_eq!(call(&mut sh, pexpiretime, &["pexpiretime", "none"]), Reply::Int(-2));
        assert_eq!(call(&mut sh, ttl, &["ttl", "soon"]), Reply::Int(1), "TTL rounds to the nearest second");
        assert_eq!(call(&mut sh, pttl, &["pttl", "soon"]), Reply::Int(1499));
        sh.now_ms = NOW + 1499;
        assert_eq!(call(&mut sh, ttl, &["ttl", "soon"]), Reply::Int(-2), "expired at the deadline");
        assert_eq!(call(&mut sh, persist, &["persist", "plain"]), Reply::Int(0));
        put(&mut sh, "t", NOW + 1_000_000);
        assert_eq!(call(&mut sh, persist, &["persist", "t"]), Reply::Int(1));
        assert_eq!(call(&mut sh, ttl, &["ttl", "t"]), Reply::Int(-1));
        assert_eq!(sh.dbs[0].expires_count(), 0);
        assert_eq!(call(&mut sh, type_cmd, &["type", "t"]), Reply::simple("string"));
        assert_eq!(call(&mut sh, type_cmd, &["type", "nope"]), Reply::simple("none"));
    }

    #[test]
    fn move_and_rename_on_one_shard() {
        let mut sh = shard();
        put(&mut sh, "a", NOW + 5000);
        assert_eq!(call(&mut sh, move_cmd, &["move", "a", "0"]), err(errors::SAME_OBJECT));
        assert_eq!(call(&mut sh, move_cmd, &["move", "a", "16"]), err(errors::DB_RANGE));
        assert_eq!(call(&mut sh, move_cmd, &["move", "a", "x"]), err(errors::NOT_INTEGER));
        assert_eq!(call(&mut sh, move_cmd, &["move", "nope", "1"]), Reply::Int(0));
        assert_eq!(call(&mut sh, move_cmd, &["move", "a", "1"]), Reply::Int(1));
        assert_eq!(sh.dbs[1].table.get(b"a").map(|e| e.expire_at()), Some(NOW + 5000));
        put(&mut sh, "a", 0);
        assert_eq!(call(&mut sh, move_cmd, &["move", "a", "1"]), Reply::Int(0), "target exists");

        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        assert_eq!(rename_local(&mut sh, 0, &b("zz"), &b("zz"), false), err(errors::NO_SUCH_KEY));
        assert_eq!(rename_local(&mut sh, 0, &b("a"), &b("a"), false), Reply::Ok);
        assert_eq!(rename_local(&mut sh, 0, &b("a"), &b("a"), true), Reply::Int(0));
        put(&mut sh, "t", NOW + 9000);
        assert_eq!(rename_local(&mut sh, 0, &b("t"), &b("a"), true), Reply::Int(0));
        assert_eq!(rename_local(&mut sh, 0, &b("t"), &b("a"), false), Reply::Ok);
        assert!(sh.dbs[0].table.get(b"t").is_none());
        assert_eq!(sh.dbs[0].table.get(b"a").map(|e| e.expire_at()), Some(NOW + 9000));
        assert_eq!(rename_local(&mut sh, 0, &b("a"), &b("c"), true), Reply::Int(1));
        assert_eq!(sh.dbs[0].expires_count(), 1);
    }

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"007"), Some(7));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        for bad in [&b""[..], b"-1", b" 1", b"1x", b"18446744073709551616"] {
            assert_eq!(parse_cursor(bad), None);
        }
    }

    #[test]
    fn object_subcommands() {
        let mut sh = shard();
        sh.dbs[0].set(Bytes::from_static(b"i"), Value::Str(StrValue::Int(5)), 0);
        sh.dbs[0].set(Bytes::from_static(b"big"), Value::Str(StrValue::Int(123_456)), 0);
        sh.dbs[0].set(Bytes::from_static(b"s"), Value::Str(StrValue::from_bytes(b"hello")), 0);
        assert_eq!(object_on(&mut sh, 0, b"i", b"ENCODING", false), Reply::bulk_str("int"));
        assert_eq!(object_on(&mut sh, 0, b"s", b"ENCODING", false), Reply::bulk_str("embstr"));
        assert_eq!(object_on(&mut sh, 0, b"nope", b"ENCODING", false), Reply::Nil);
        assert_eq!(object_on(&mut sh, 0, b"i", b"REFCOUNT", false), Reply::Int(i32::MAX as i64));
        assert_eq!(object_on(&mut sh, 0, b"big", b"REFCOUNT", false), Reply::Int(1));
        assert_eq!(object_on(&mut sh, 0, b"s", b"FREQ", false), err(errors::NO_LFU));
        assert_eq!(object_on(&mut sh, 0, b"s", b"FREQ", true), Reply::Int(0));
        assert_eq!(object_on(&mut sh, 0, b"s", b"IDLETIME", false), Reply::Int(0));
        assert_eq!(object_on(&mut sh, 0, b"s", b"IDLETIME", true), err(errors::NO_LRU));
    }

    #[test]
    fn keys_randomkey_skip_expired() {
        let mut sh = shard();
        put(&mut sh, "user:1", 0);
        put(&mut sh, "user:2", NOW - 1);
        put(&mut sh, "other", 0);
        let mut k = keys_on(&mut sh, 0, b"user:*");
        k.sort();
        assert_eq!(k, vec![Bytes::from_static(b"user:1")]);
        assert_eq!(keys_on(&mut sh, 0, b"*").len(), 2);
        for _ in 0..50 {
            let r = random_on(&mut sh, 0).unwrap();
            assert_ne!(r, Bytes::from_static(b"user:2"));
        }
        let mut empty = shard();
        put(&mut empty, "gone", NOW - 1);
        assert_eq!(random_on(&mut empty, 0), None);
        assert_eq!(empty.dbs[0].len(), 0, "expired keys met are removed");
    }

    #[test]
    fn scan_returns_every_key_present_throughout() {
        let mut sh = shard();
        for i in 0..5000 {
            put(&mut sh, &format!("old:{i}"), 0);
        }
        for i in 0..100 {
            put(&mut sh, &format!("dead:{i}"), NOW - 1);
        }
        let mut seen = BTreeSet::new();
        let mut pos = 0;
        let mut round = 0;
        loop {
            let (visited, next, found) = scan_step(&mut sh, 0, pos, 50, None, None);
            assert!(visited >= found.len());
            seen.extend(found);
            // Concurrent inserts and deletes of other keys between steps.
            for j in 0..40 {
                put(&mut sh, &format!("new:{round}:{j}"), 0);
            }
            sh.dbs[0].remove(format!("new:{}:0", round.max(1) - 1).as_bytes());
            round += 1;
            match next {
                Some(p) => pos = p,
                None => break,
            }
        }
        for i in 0..5000 {
            assert!(seen.contains(format!("old:{i}").as_bytes()), "missed old:{i}");
        }
        assert!(!seen.iter().any(|k| k.starts_with(b"dead:")), "expired keys are not returned");
        let (_, _, only) = scan_step(&mut sh, 0, 0, 1 << 20, Some(b"old:1?"), Some(b"STRING"));
        assert_eq!(only.len(), 10);
        let (_, next, none) = scan_step(&mut sh, 0, 0, 1 << 20, None, Some(b"list"));
        assert!(none.is_empty() && next.is_none());
    }
}
