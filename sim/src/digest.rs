//! The run's fingerprint: every request and reply (with its virtual timestamp) and every
//! `Rt::trace` event folds into a 64-bit FNV-1a digest. Two runs of one seed must produce the same
//! digest; a difference means something outside the simulator leaked into the run.

use std::sync::{Arc, Mutex};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

struct Inner {
    digest: u64,
    /// Every folded event, kept only when tracing.
    lines: Option<Vec<String>>,
}

/// Shared by the runtime and every client of one run.
#[derive(Clone)]
pub struct Digest(Arc<Mutex<Inner>>);

impl Digest {
    pub fn new(keep_trace: bool) -> Self {
        Digest(Arc::new(Mutex::new(Inner { digest: FNV_OFFSET, lines: keep_trace.then(Vec::new) })))
    }

    /// Folds one event, given as text, into the digest.
    pub fn fold(&self, event: impl FnOnce() -> String) {
        let text = event();
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut h = g.digest;
        for &b in text.as_bytes().iter().chain(b"\n") {
            h ^= b as u64;
            h = h.wrapping_mul(FNV_PRIME);
        }
        g.digest = h;
        if let Some(lines) = g.lines.as_mut() {
            lines.push(text);
        }
    }

    pub fn value(&self) -> u64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).digest
    }

    pub fn take_trace(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).lines.take().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_matters() {
        let (a, b) = (Digest::new(false), Digest::new(false));
        a.fold(|| "x".into());
        a.fold(|| "y".into());
        b.fold(|| "y".into());
        b.fold(|| "x".into());
        assert_ne!(a.value(), b.value());
    }
}
