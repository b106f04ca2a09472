//! Redis's glob matching (`stringmatchlen`), binary-safe: `*`, `?`, `[abc]`, `[^a-z]`, and `\`
//! escapes. Each token other than `*` consumes exactly one byte, so one backtrack point suffices
//! and matching is O(pattern × string) even for hostile patterns.

pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while s < string.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, s));
                    continue;
                }
                _ => {
                    if let Some(next_p) = match_one(pattern, p, string[s], nocase) {
                        p = next_p;
                        s += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, ss)) => {
                p = sp;
                s = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// Matches the single token at `pattern[p]` against `c`; returns the position after the token.
fn match_one(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<usize> {
    let eq = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    match pattern[p] {
        b'?' => Some(p + 1),
        b'[' => {
            let mut i = p + 1;
            let negate = pattern.get(i) == Some(&b'^');
            if negate {
                i += 1;
            }
            let mut matched = false;
            // An unterminated class ends with the pattern, as in Redis.
            while let Some(&t) = pattern.get(i) {
                if t == b']' {
                    i += 1;
                    break;
                }
                if t == b'\\' && i + 1 < pattern.len() {
                    if eq(pattern[i + 1], c) {
                        matched = true;
                    }
                    i += 2;
                } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' {
                    let (mut lo, mut hi) = (t, pattern[i + 2]);
                    if lo > hi {
                        std::mem::swap(&mut lo, &mut hi);
                    }
                    let (cl, lol, hil) = if nocase {
                        (c.to_ascii_lowercase(), lo.to_ascii_lowercase(), hi.to_ascii_lowercase())
                    } else {
                        (c, lo, hi)
                    };
                    if cl >= lol && cl <= hil {
                        matched = true;
                    }
                    i += 3;
                } else {
                    if eq(t, c) {
                        matched = true;
                    }
                    i += 1;
                }
            }
            (matched != negate).then_some(i)
        }
        b'\\' if p + 1 < pattern.len() => eq(pattern[p + 1], c).then_some(p + 2),
        t => eq(t, c).then_some(p + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn redis_rules() {
        assert!(m("*", ""));
        assert!(m("h?llo", "hello"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("[abc", "a"));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(!m("?", ""));
        assert!(m("foo*", "foo"));
    }

    /// A straightforward exponential reference matcher for the same rules, without classes.
    fn reference(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (None, Some(_)) => false,
            (Some(b'*'), _) => reference(&p[1..], s) || (!s.is_empty() && reference(p, &s[1..])),
            (Some(b'?'), Some(_)) => reference(&p[1..], &s[1..]),
            (Some(&c), Some(&d)) => c == d && reference(&p[1..], &s[1..]),
            (Some(_), None) => false,
        }
    }

    proptest! {
        #[test]
        fn agrees_with_reference(p in "[ab*?]{0,8}", s in "[ab]{0,10}") {
            prop_assert_eq!(glob_match(p.as_bytes(), s.as_bytes(), false), reference(p.as_bytes(), s.as_bytes()));
        }

        #[test]
        fn never_panics(p in prop::collection::vec(any::<u8>(), 0..20), s in prop::collection::vec(any::<u8>(), 0..20)) {
            let _ = glob_match(&p, &s, true);
        }
    }
}
