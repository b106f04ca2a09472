//! Receiving the RDB payload of a full sync, in either of the two forms a primary sends:
//!
//! - disk-backed: `$<len>\r\n` followed by exactly `len` bytes;
//! - diskless: `$EOF:<40 random bytes>\r\n`, the payload, then the same 40 bytes again.
//!
//! Before the preamble a primary may send bare `\n` keepalives while it prepares the snapshot.
//! Bytes are fed as they arrive, split anywhere; whatever follows the payload is the start of
//! the replication stream and is handed back untouched.

/// Length of the diskless end marker.
pub const EOF_MARK_LEN: usize = 40;

/// The longest preamble line accepted (`$EOF:` + 40 bytes, or a length).
const MAX_PREAMBLE: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// Waiting for the `$` line.
    Preamble,
    Sized {
        len: u64,
    },
    EofMarked {
        mark: [u8; EOF_MARK_LEN],
    },
}

/// What one `feed` produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    More,
    /// The payload is complete; `rest` is what came after it (stream bytes).
    Done { rest: Vec<u8> },
}

pub struct RdbReceiver {
    framing: Framing,
    line: Vec<u8>,
    payload: Vec<u8>,
}

impl Default for RdbReceiver {
    fn default() -> Self {
        RdbReceiver::new()
    }
}

impl RdbReceiver {
    pub fn new() -> RdbReceiver {
        RdbReceiver { framing: Framing::Preamble, line: Vec::new(), payload: Vec::new() }
    }

    pub fn framing(&self) -> &Framing {
        &self.framing
    }

    /// Payload bytes received so far (INFO's master_sync_read_bytes).
    pub fn received(&self) -> usize {
        self.payload.len()
    }

    /// The expected size, when the primary announced one (-1 for the EOF-marked form).
    pub fn expected(&self) -> i64 {
        match self.framing {
            Framing::Sized { len } => len as i64,
            _ => -1,
        }
    }

    /// Takes the complete payload (after `Progress::Done`).
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    pub fn feed(&mut self, mut data: &[u8]) -> Result<Progress, String> {
        while let Framing::Preamble = self.framing {
            let Some(&b) = data.first() else { return Ok(Progress::More) };
            data = &data[1..];
            if b == b'\n' {
                if self.line.is_empty() {
                    continue; // a keepalive
                }
                self.framing = parse_preamble(&self.line)?;
                self.line.clear();
            } else {
                if self.line.len() >= MAX_PREAMBLE {
                    return Err("the primary's RDB preamble line is too long".into());
                }
                self.line.push(b);
            }
        }
        match &self.framing {
            Framing::Preamble => unreachable!("left the loop above only with a framing"),
            Framing::Sized { len } => {
                let want = (*len as usize).saturating_sub(self.payload.len());
                let take = want.min(data.len());
                self.payload.extend_from_slice(&data[..take]);
                if self.payload.len() as u64 == *len {
                    return Ok(Progress::Done { rest: data[take..].to_vec() });
                }
                Ok(Progress::More)
            }
            Framing::EofMarked { mark } => {
                // The marker may straddle reads: look for it in the tail of what we have.
                let before = self.payload.len();
                self.payload.extend_from_slice(data);
                let from = before.saturating_sub(EOF_MARK_LEN - 1);
                let mark = *mark;
                if let Some(at) = find(&self.payload[from..], &mark) {
                    let end = from + at;
                    let rest = self.payload[end + EOF_MARK_LEN..].to_vec();
                    self.payload.truncate(end);
                    return Ok(Progress::Done { rest });
                }
                Ok(Progress::More)
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_preamble(line: &[u8]) -> Result<Framing, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.first() == Some(&b'-') {
        return Err(format!("the primary aborted the sync: {}", String::from_utf8_lossy(&line[1..])));
    }
    let Some(body) = line.strip_prefix(b"$") else {
        return Err(format!(
            "bad protocol from the primary, expected the RDB payload: '{}'",
            String::from_utf8_lossy(line)
        ));
    };
    if let Some(mark) = body.strip_prefix(b"EOF:") {
        let mark: [u8; EOF_MARK_LEN] =
            mark.try_into().map_err(|_| format!("bad EOF marker length {} (want 40)", mark.len()))?;
        return Ok(Framing::EofMarked { mark });
    }
    let len = std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| format!("bad RDB payload length '{}'", String::from_utf8_lossy(body)))?;
    Ok(Framing::Sized { len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MARK: &[u8; 40] = b"0123456789abcdefghij0123456789ABCDEFGHIJ";

    fn sized(payload: &[u8], rest: &[u8]) -> Vec<u8> {
        let mut v = b"\n\n".to_vec();
        v.extend_from_slice(format!("${}\r\n", payload.len()).as_bytes());
        v.extend_from_slice(payload);
        v.extend_from_slice(rest);
        v
    }

    fn marked(payload: &[u8], rest: &[u8]) -> Vec<u8> {
        let mut v = b"\n$EOF:".to_vec();
        v.extend_from_slice(MARK);
        v.extend_from_slice(b"\r\n");
        v.extend_from_slice(payload);
        v.extend_from_slice(MARK);
        v.extend_from_slice(rest);
        v
    }

    /// Feeds `wire` in pieces cut at `cuts`; returns (payload, rest).
    fn receive(wire: &[u8], cuts: &[usize]) -> (Vec<u8>, Vec<u8>) {
        let mut r = RdbReceiver::new();
        let mut last = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort();
        for p in points {
            match r.feed(&wire[last..p]).unwrap() {
                Progress::More => {}
                Progress::Done { mut rest } => {
                    rest.extend_from_slice(&wire[p..]);
                    return (r.into_payload(), rest);
                }
            }
            last = p;
        }
        panic!("never completed");
    }

    #[test]
    fn both_forms_at_every_single_split() {
        let payload = b"REDIS0010\xfa\x09redis-ver\x067.0.15\xff12345678".to_vec();
        let rest = b"*1\r\n$4\r\nPING\r\n".to_vec();
        for wire in [sized(&payload, &rest), marked(&payload, &rest)] {
            for cut in 0..=wire.len() {
                assert_eq!(receive(&wire, &[cut]), (payload.clone(), rest.clone()), "cut at {cut}");
            }
        }
    }

    #[test]
    fn errors_are_reported_not_panicked() {
        assert!(RdbReceiver::new().feed(b"-ERR no\r\n").unwrap_err().contains("aborted"));
        assert!(RdbReceiver::new().feed(b"+OK\r\n").unwrap_err().contains("bad protocol"));
        assert!(RdbReceiver::new().feed(b"$abc\r\n").unwrap_err().contains("length"));
        assert!(RdbReceiver::new().feed(b"$EOF:short\r\n").unwrap_err().contains("marker"));
        assert!(RdbReceiver::new().feed(&[b'$'; 200]).unwrap_err().contains("too long"));
    }

    #[test]
    fn an_empty_sized_payload_completes_at_once() {
        let mut r = RdbReceiver::new();
        assert_eq!(r.feed(b"$0\r\nxy").unwrap(), Progress::Done { rest: b"xy".to_vec() });
    }

    proptest! {
        #[test]
        fn any_split_of_any_payload(payload in proptest::collection::vec(any::<u8>(), 0..300),
                                    rest in proptest::collection::vec(any::<u8>(), 0..40),
                                    cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
            prop_assert_eq!(receive(&sized(&payload, &rest), &cuts), (payload.clone(), rest.clone()));
            // A diskless payload cannot contain the marker itself (the primary picks it at random).
            prop_assume!(find(&payload, MARK).is_none());
            prop_assert_eq!(receive(&marked(&payload, &rest), &cuts), (payload, rest));
        }
    }
}
