//! A small EDN reader, and the Jepsen list-append history parser built on it.
//!
//! Only what Jepsen histories use is supported: nil, booleans, integers, floats, strings,
//! characters, keywords, symbols, lists, vectors, maps, sets, `#tag value` (the tag is dropped),
//! `#_` discards, `;` comments, and commas as whitespace. It is a byte-level recursive-descent
//! reader so multi-megabyte histories parse in milliseconds.

use super::{EventType, MicroOp, TxnEvent};
use std::fmt;

/// An EDN value.
#[derive(Clone, Debug, PartialEq)]
pub enum Edn {
    /// `nil`
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// An integer that fits in an i64.
    Int(i64),
    /// A floating-point number (or an integer too large for i64).
    Float(f64),
    /// A string literal, unescaped.
    Str(String),
    /// A character literal such as `\a`.
    Char(char),
    /// A keyword, without its leading colon: `:ok` is `Keyword("ok")`.
    Keyword(String),
    /// A symbol.
    Symbol(String),
    /// `( .. )`
    List(Vec<Edn>),
    /// `[ .. ]`
    Vector(Vec<Edn>),
    /// `{ .. }`, in source order.
    Map(Vec<(Edn, Edn)>),
    /// `#{ .. }`
    Set(Vec<Edn>),
}

impl Edn {
    /// Looks up a keyword key in a map: `get("type")` finds `:type`.
    pub fn get(&self, keyword: &str) -> Option<&Edn> {
        match self {
            Edn::Map(entries) => entries.iter().find_map(|(k, v)| match k {
                Edn::Keyword(name) if name == keyword => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// The elements of a list, vector or set.
    pub fn as_seq(&self) -> Option<&[Edn]> {
        match self {
            Edn::List(v) | Edn::Vector(v) | Edn::Set(v) => Some(v),
            _ => None,
        }
    }

    /// The integer value, if this is an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Edn::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The keyword's name, if this is a keyword.
    pub fn as_keyword(&self) -> Option<&str> {
        match self {
            Edn::Keyword(k) => Some(k),
            _ => None,
        }
    }

    /// The string's contents, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Edn::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Why a text could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line of the problem.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';')
}

impl<'a> Reader<'a> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError { line: self.line, message: message.into() })
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.src.get(self.pos) {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b',' => self.pos += 1,
                b';' => {
                    while let Some(&c) = self.src.get(self.pos) {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ if b.is_ascii_whitespace() => self.pos += 1,
                _ => break,
            }
        }
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(&b) = self.src.get(self.pos) {
            if is_delimiter(b) {
                break;
            }
            self.pos += 1;
        }
        // Tokens stop at ASCII delimiters, so they never split a UTF-8 sequence.
        std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("")
    }

    /// Reads the next form; `Ok(None)` at end of input or before a closing delimiter.
    fn next_form(&mut self) -> Result<Option<Edn>, ParseError> {
        loop {
            self.skip_ws();
            let Some(&b) = self.src.get(self.pos) else {
                return Ok(None);
            };
            match b {
                b')' | b']' | b'}' => return Ok(None),
                b'(' => {
                    self.pos += 1;
                    return Ok(Some(Edn::List(self.seq_until(b')')?)));
                }
                b'[' => {
                    self.pos += 1;
                    return Ok(Some(Edn::Vector(self.seq_until(b']')?)));
                }
                b'{' => {
                    self.pos += 1;
                    let items = self.seq_until(b'}')?;
                    if items.len() % 2 != 0 {
                        return self.err("map with an odd number of forms");
                    }
                    let mut entries = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        entries.push((k, v));
                    }
                    return Ok(Some(Edn::Map(entries)));
                }
                b'"' => return self.string().map(Some),
                b'#' => {
                    self.pos += 1;
                    match self.src.get(self.pos) {
                        Some(b'{') => {
                            self.pos += 1;
                            return Ok(Some(Edn::Set(self.seq_until(b'}')?)));
                        }
                        Some(b'_') => {
                            self.pos += 1;
                            if self.next_form()?.is_none() {
                                return self.err("#_ with nothing to discard");
                            }
                            continue;
                        }
                        _ => {
                            // A tagged literal: drop the tag, keep the value.
                            self.token();
                            return match self.next_form()? {
                                Some(v) => Ok(Some(v)),
                                None => self.err("tag without a value"),
                            };
                        }
                    }
                }
                b'\\' => {
                    self.pos += 1;
                    let tok = self.token();
                    let c = match tok {
                        "newline" => '\n',
                        "space" => ' ',
                        "tab" => '\t',
                        "return" => '\r',
                        _ => match tok.chars().next() {
                            Some(c) => c,
                            None => {
                                // `\(` and similar: the character is a delimiter itself.
                                let c = self.src.get(self.pos).copied().unwrap_or(b' ') as char;
                                self.pos += 1;
                                c
                            }
                        },
                    };
                    return Ok(Some(Edn::Char(c)));
                }
                _ => {
                    let tok = self.token();
                    return self.atom(tok).map(Some);
                }
            }
        }
    }

    fn seq_until(&mut self, close: u8) -> Result<Vec<Edn>, ParseError> {
        let mut out = Vec::new();
        loop {
            match self.next_form()? {
                Some(v) => out.push(v),
                None => {
                    return match self.src.get(self.pos) {
                        Some(&b) if b == close => {
                            self.pos += 1;
                            Ok(out)
                        }
                        Some(&b) => self.err(format!("expected '{}', found '{}'", close as char, b as char)),
                        None => self.err(format!("unclosed '{}'", close as char)),
                    };
                }
            }
        }
    }

    fn string(&mut self) -> Result<Edn, ParseError> {
        self.pos += 1; // opening quote
        let mut bytes = Vec::new();
        loop {
            let Some(&b) = self.src.get(self.pos) else {
                return self.err("unterminated string");
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.src.get(self.pos) else {
                        return self.err("unterminated escape");
                    };
                    self.pos += 1;
                    match e {
                        b'n' => bytes.push(b'\n'),
                        b't' => bytes.push(b'\t'),
                        b'r' => bytes.push(b'\r'),
                        b'"' => bytes.push(b'"'),
                        b'\\' => bytes.push(b'\\'),
                        other => {
                            bytes.push(b'\\');
                            bytes.push(other);
                        }
                    }
                }
                b'\n' => {
                    self.line += 1;
                    bytes.push(b);
                }
                _ => bytes.push(b),
            }
        }
        match String::from_utf8(bytes) {
            Ok(s) => Ok(Edn::Str(s)),
            Err(_) => self.err("string is not UTF-8"),
        }
    }

    fn atom(&self, tok: &str) -> Result<Edn, ParseError> {
        if tok.is_empty() {
            return self.err("unexpected character");
        }
        if let Some(name) = tok.strip_prefix(':') {
            return Ok(Edn::Keyword(name.to_string()));
        }
        match tok {
            "nil" => return Ok(Edn::Nil),
            "true" => return Ok(Edn::Bool(true)),
            "false" => return Ok(Edn::Bool(false)),
            _ => {}
        }
        let first = tok.as_bytes()[0];
        let numeric = first.is_ascii_digit()
            || ((first == b'-' || first == b'+') && tok.len() > 1 && tok.as_bytes()[1].is_ascii_digit());
        if numeric {
            let t = tok.trim_end_matches('N');
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Edn::Int(i));
            }
            if let Ok(f) = tok.trim_end_matches('M').parse::<f64>() {
                return Ok(Edn::Float(f));
            }
            return self.err(format!("bad number {tok:?}"));
        }
        Ok(Edn::Symbol(tok.to_string()))
    }
}

/// Reads every top-level form of `text`.
pub fn parse_all(text: &str) -> Result<Vec<Edn>, ParseError> {
    let mut r = Reader { src: text.as_bytes(), pos: 0, line: 1 };
    let mut out = Vec::new();
    loop {
        match r.next_form()? {
            Some(v) => out.push(v),
            None => {
                return match r.src.get(r.pos) {
                    None => Ok(out),
                    Some(&b) => r.err(format!("unexpected '{}'", b as char)),
                };
            }
        }
    }
}

/// Reads exactly one form.
pub fn parse(text: &str) -> Result<Edn, ParseError> {
    let mut forms = parse_all(text)?;
    if forms.len() != 1 {
        return Err(ParseError { line: 1, message: format!("expected one form, found {}", forms.len()) });
    }
    Ok(forms.remove(0))
}

fn micro_op(v: &Edn) -> Result<MicroOp, String> {
    let parts = v.as_seq().ok_or_else(|| format!("micro-op is not a vector: {v:?}"))?;
    let (f, key) = match parts {
        [f, k, ..] => (f, k),
        _ => return Err(format!("short micro-op: {v:?}")),
    };
    let key = key.as_int().ok_or_else(|| format!("non-integer key in {v:?}"))?;
    match f.as_keyword() {
        Some("append") => {
            let value =
                parts.get(2).and_then(Edn::as_int).ok_or_else(|| format!("non-integer append value in {v:?}"))?;
            Ok(MicroOp::Append { key, value })
        }
        Some("r") => {
            let value = match parts.get(2) {
                None | Some(Edn::Nil) => None,
                Some(list) => {
                    let elems = list.as_seq().ok_or_else(|| format!("read value is not a list in {v:?}"))?;
                    let mut out = Vec::with_capacity(elems.len());
                    for e in elems {
                        out.push(e.as_int().ok_or_else(|| format!("non-integer element in {v:?}"))?);
                    }
                    Some(out)
                }
            };
            Ok(MicroOp::Read { key, value })
        }
        _ => Err(format!("unknown micro-op function in {v:?}")),
    }
}

/// Parses a Jepsen list-append history: a sequence of op maps (optionally wrapped in one vector)
/// with `:type`, `:value` (micro-ops), and optionally `:process`, `:time`, `:index`, `:f`.
/// Ops whose `:f` is present and not `:txn` (e.g. nemesis ops) are skipped, as are ops whose
/// process is not an integer.
pub fn parse_list_append(text: &str) -> Result<Vec<TxnEvent>, ParseError> {
    let mut forms = parse_all(text)?;
    if forms.len() == 1 {
        if let Edn::Vector(inner) = &forms[0] {
            if inner.iter().all(|f| matches!(f, Edn::Map(_))) {
                forms = inner.clone();
            }
        }
    }
    let mut out = Vec::with_capacity(forms.len());
    for (i, form) in forms.iter().enumerate() {
        let bad = |message: String| ParseError { line: i + 1, message };
        if !matches!(form, Edn::Map(_)) {
            return Err(bad(format!("op {i} is not a map")));
        }
        if let Some(f) = form.get("f") {
            if f.as_keyword() != Some("txn") {
                continue;
            }
        }
        let process = match form.get("process") {
            None | Some(Edn::Nil) => None,
            Some(Edn::Int(p)) if *p >= 0 => Some(*p as u64),
            Some(_) => continue,
        };
        let kind = match form.get("type").and_then(Edn::as_keyword) {
            Some("invoke") => EventType::Invoke,
            Some("ok") => EventType::Ok,
            Some("fail") => EventType::Fail,
            Some("info") => EventType::Info,
            other => return Err(bad(format!("op {i} has bad :type {other:?}"))),
        };
        let ops = match form.get("value") {
            None | Some(Edn::Nil) => Vec::new(),
            Some(v) => v
                .as_seq()
                .ok_or_else(|| bad(format!("op {i} :value is not a vector")))?
                .iter()
                .map(micro_op)
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?,
        };
        let time = form.get("time").and_then(Edn::as_int).map(|t| t as u64);
        let index = form.get("index").and_then(Edn::as_int).map(|t| t as u64);
        out.push(TxnEvent { kind, process, time, index, ops });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scalars_and_collections() {
        let v = parse(r#"{:a 1, :b [nil true -3 2.5 "x\"y"], :c #{:k}, :d (sym) #_ 9 :e \a}"#).unwrap();
        assert_eq!(v.get("a"), Some(&Edn::Int(1)));
        assert_eq!(
            v.get("b"),
            Some(&Edn::Vector(vec![Edn::Nil, Edn::Bool(true), Edn::Int(-3), Edn::Float(2.5), Edn::Str("x\"y".into())]))
        );
        assert_eq!(v.get("c"), Some(&Edn::Set(vec![Edn::Keyword("k".into())])));
        assert_eq!(v.get("d"), Some(&Edn::List(vec![Edn::Symbol("sym".into())])));
        assert_eq!(v.get("e"), Some(&Edn::Char('a')));
    }

    #[test]
    fn comments_tags_and_errors() {
        let forms = parse_all("; hi\n1 #inst \"2020\" ; tail\n").unwrap();
        assert_eq!(forms, vec![Edn::Int(1), Edn::Str("2020".into())]);
        assert!(parse_all("[1 2").is_err());
        assert!(parse_all("{:a}").is_err());
        assert!(parse_all(")").is_err());
    }

    #[test]
    fn parses_list_append_ops() {
        let h = parse_list_append(
            "{:type :invoke, :f :txn, :value [[:append 1 2] [:r 1 nil]], :process 3, :index 0}\n\
             {:type :ok, :f :txn, :value [[:append 1 2] [:r 1 [2]]], :process 3, :index 1}\n\
             {:type :info, :f :start-partition, :process :nemesis}",
        )
        .unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].kind, EventType::Ok);
        assert_eq!(
            h[1].ops,
            vec![MicroOp::Append { key: 1, value: 2 }, MicroOp::Read { key: 1, value: Some(vec![2]) }]
        );
    }
}
