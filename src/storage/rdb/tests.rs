use super::*;
use crate::types::zset::ZLimits;
use crate::types::{HashValue, ListValue, SetValue, StrValue, Value, ZSet};
use bytes::Bytes;
use proptest::prelude::*;

/// A value's contents independent of its encoding: type and sorted elements.
pub fn canonical(v: &Value) -> (&'static str, Vec<Vec<u8>>) {
    let mut items: Vec<Vec<u8>> = match v {
        Value::Str(s) => vec![s.to_bytes().to_vec()],
        Value::List(l) => return ("list", l.iter().map(|b| b.to_vec()).collect()),
        Value::Set(s) => s.members().iter().map(|b| b.to_vec()).collect(),
        Value::Hash(h) => h.entries().iter().map(|(f, v)| [f, &b"="[..], v].concat()).collect(),
        Value::ZSet(z) => {
            return ("zset", z.range(0, z.len()).iter().map(|(m, s)| [&m[..], &s.to_le_bytes()[..]].concat()).collect())
        }
    };
    items.sort();
    (v.type_name(), items)
}

fn limits() -> Limits {
    Limits::default()
}

fn value() -> impl Strategy<Value = Value> {
    let lim = limits();
    let member = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        (0i64..300).prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..12),
        (1usize..200).prop_map(|n| b"abcab".repeat(n)),
    ];
    let score = prop_oneof![
        any::<i32>().prop_map(|n| n as f64),
        -1e300f64..1e300,
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.1)
    ];
    prop_oneof![
        member.clone().prop_map(|m| Value::Str(StrValue::from_owned(Bytes::from(m)))),
        proptest::collection::vec(member.clone(), 1..300).prop_map(move |items| Value::list(ListValue::from_items(
            items.into_iter().map(Bytes::from),
            lim.list_fill
        ))),
        proptest::collection::vec(member.clone(), 1..300).prop_map(move |items| {
            let mut s = SetValue::create(&items[0], 1, lim.set);
            for i in &items {
                s.add(i, lim.set);
            }
            Value::set(s)
        }),
        proptest::collection::vec(any::<i64>(), 1..600).prop_map(move |items| {
            let mut s = SetValue::create(b"1", 1, lim.set);
            for i in &items {
                s.add(i.to_string().as_bytes(), lim.set);
            }
            Value::set(s)
        }),
        proptest::collection::vec((member.clone(), member.clone()), 1..200).prop_map(move |items| {
            let mut h = HashValue::new();
            for (f, v) in &items {
                h.set(f, v, lim.hash);
            }
            Value::Hash(h)
        }),
        proptest::collection::vec((member, score), 1..200).prop_map(move |items| {
            let mut z = ZSet::new();
            for (m, s) in &items {
                z.insert(m, *s, lim.zset);
            }
            Value::zset(z)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn files_round_trip(values in proptest::collection::vec((value(), prop_oneof![Just(0u64), 1u64..u64::MAX / 2]), 1..6)) {
        let mut e = Encoder::new(-2, &[("redis-ver", "7.0.15".to_string())]);
        e.select_db(0, values.len(), 0);
        let mut file = Vec::new();
        for (i, (v, exp)) in values.iter().enumerate() {
            e.entry(format!("key{i}").as_bytes(), v, *exp);
            if i % 2 == 0 {
                file.extend(e.take());
            }
        }
        file.extend(e.finish());
        let mut d = Decoder::new(&file, limits()).unwrap();
        prop_assert_eq!(d.next_record().unwrap(), Record::Aux(Bytes::from("redis-ver"), Bytes::from("7.0.15")));
        prop_assert_eq!(d.next_record().unwrap(), Record::SelectDb(0));
        prop_assert_eq!(d.next_record().unwrap(), Record::ResizeDb(values.len() as u64, 0));
        for (i, (v, exp)) in values.iter().enumerate() {
            match d.next_record().unwrap() {
                Record::Entry { key, value: Some(got), expire_at } => {
                    prop_assert_eq!(key.to_vec(), format!("key{i}").into_bytes());
                    prop_assert_eq!(expire_at, *exp);
                    prop_assert_eq!(canonical(&got), canonical(v));
                    prop_assert_eq!(got.encoding(), v.encoding());
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        prop_assert_eq!(d.next_record().unwrap(), Record::Eof);
    }

    #[test]
    fn dump_payloads_round_trip(v in value()) {
        let p = dump_payload(&v, -2);
        let got = decode_dump_payload(&p, limits()).unwrap();
        prop_assert_eq!(canonical(&got), canonical(&v));
    }

    #[test]
    fn damaged_files_are_refused(v in value(), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut e = Encoder::new(-2, &[]);
        e.select_db(0, 1, 0);
        e.entry(b"k", &v, 0);
        let file = e.finish();
        let read_all = |data: &[u8]| -> Result<(), RdbError> {
            let mut d = Decoder::new(data, limits())?;
            while d.next_record()? != Record::Eof {}
            Ok(())
        };
        prop_assert!(read_all(&file[..cut.index(file.len())]).is_err());
        let mut bad = file.clone();
        bad[flip.index(file.len())] ^= 1 << bit;
        prop_assert!(read_all(&bad).is_err());
    }
}

#[test]
fn strings_use_redis_encodings() {
    let mut out = Vec::new();
    encode::put_string(&mut out, b"-12");
    assert_eq!(out, [0xC0, 0xF4]);
    out.clear();
    encode::put_string(&mut out, b"12345678901");
    assert_eq!(out[0], 11, "past 32 bits stays text");
    out.clear();
    let long = b"abcdefgh".repeat(40);
    encode::put_string(&mut out, &long);
    assert_eq!(out[0], 0xC3);
    out.clear();
    encode::put_string(&mut out, b"0123");
    assert_eq!(out, b"\x040123");
}

#[test]
fn bad_payloads() {
    let v = Value::Str(StrValue::from_bytes(b"hello"));
    let mut p = dump_payload(&v, -2);
    let n = p.len();
    p[n - 10] = 11;
    assert_eq!(decode_dump_payload(&p, limits()), Err(PayloadError::VersionOrChecksum));
    let mut p = dump_payload(&v, -2);
    p[2] ^= 1;
    assert_eq!(decode_dump_payload(&p, limits()), Err(PayloadError::VersionOrChecksum));
    // An empty list: well formed, but Redis calls it a bad format.
    let mut body = vec![kind::LIST, 0];
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(decode_dump_payload(&body, limits()), Err(PayloadError::BadFormat));
}

#[test]
fn zset_limits_choose_encodings() {
    let lim = ZLimits { entries: 128, value: 64 };
    let z = ZSet::from_entries(vec![(Bytes::from("a"), 1.5)], lim);
    let p = dump_payload(&Value::zset(z), -2);
    assert_eq!(p[0], kind::ZSET_LISTPACK);
}
