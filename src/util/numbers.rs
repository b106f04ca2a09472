//! Number parsing with Redis's strictness: what `string2ll` and `string2ld` accept, nothing more.

/// A decimal `i64` with no spaces, no `+`, no leading zeros (except `0` itself) and no overflow.
pub fn parse_i64_strict(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

pub fn parse_u64_strict(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || (s[0] == b'0' && s.len() > 1) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

/// A float as Redis's `string2ld` reads it: no surrounding spaces, no NaN.
pub fn parse_f64_strict(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if text.is_empty()
        || text.len() > 5120
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// `a + b` for INCRBYFLOAT/HINCRBYFLOAT. Redis adds in `long double` and keeps 17 significant
/// digits; the result is shown to ~15 digits here (see the callers), so a sum that cancels to
/// below that precision of its operands is the noise of the shorter stored text: it is zero.
pub fn add_floats(a: f64, b: f64) -> f64 {
    let r = a + b;
    if r != 0.0 && r.is_finite() && r.abs() <= a.abs().max(b.abs()) * 1e-14 {
        0.0
    } else {
        r
    }
}

/// The text INCRBYFLOAT stores: no exponent for ordinary magnitudes, no trailing zeros.
pub fn format_f64_human(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e17 {
        return format!("{}", v as i64);
    }
    let s = format!("{v}");
    if s.contains('e') {
        format!("{v:.17}").trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64_strict(b"0"), Some(0));
        assert_eq!(parse_i64_strict(b"-12"), Some(-12));
        assert_eq!(parse_i64_strict(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"01", b"-0", b"+1", b" 1", b"1 ", b"9223372036854775808", b"1.0"] {
            assert_eq!(parse_i64_strict(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn strict_floats() {
        assert_eq!(parse_f64_strict(b"1.5"), Some(1.5));
        assert_eq!(parse_f64_strict(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64_strict(b"nan"), None);
        assert_eq!(parse_f64_strict(b" 1"), None);
        assert_eq!(format_f64_human(10.5), "10.5");
        assert_eq!(format_f64_human(3.0), "3");
        assert_eq!(add_floats(0.024390243902439, -0.024390243902439025), 0.0);
        assert_eq!(add_floats(1.5, 2.25), 3.75);
        assert_eq!(add_floats(1e-300, 0.0), 1e-300);
    }

    proptest! {
        #[test]
        fn i64_round_trip(n in any::<i64>()) {
            prop_assert_eq!(parse_i64_strict(n.to_string().as_bytes()), Some(n));
        }
    }
}
