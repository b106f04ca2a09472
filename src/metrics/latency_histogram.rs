//! A per-command latency histogram, cheap enough to update on every call: log-linear buckets
//! over nanoseconds (values below 128 ns exact, then 64 buckets per power of two, under 1.6%
//! error), like the HdrHistogram Redis 7.0 keeps per command. Each shard thread owns its own;
//! INFO latencystats and LATENCY HISTOGRAM merge them by adding counts.

/// Values below this are counted exactly.
const LINEAR: u64 = 128;
/// Buckets per power of two above `LINEAR`.
const SUB: u64 = 64;
const SUB_BITS: u32 = 6;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Grown on demand to the highest bucket seen, so a command that only ever ran fast costs
    /// a few hundred bytes.
    counts: Vec<u64>,
    total: u64,
}

fn index_of(ns: u64) -> usize {
    if ns < LINEAR {
        return ns as usize;
    }
    // `ns >> shift` falls in [SUB, 2 * SUB).
    let shift = 63 - ns.leading_zeros() - SUB_BITS;
    (LINEAR + (shift as u64 - 1) * SUB + ((ns >> shift) - SUB)) as usize
}

/// The highest value that lands in bucket `i` (what HdrHistogram reports for a percentile).
fn highest_in(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let shift = (i - LINEAR) / SUB + 1;
    let mantissa = (i - LINEAR) % SUB + SUB;
    ((mantissa + 1) << shift) - 1
}

impl LatencyHistogram {
    pub fn record(&mut self, ns: u64) {
        let i = index_of(ns.max(1));
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    /// The value (ns) at or below which `percentile`% of the recorded values lie; 0 when empty.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let want = ((percentile.clamp(0.0, 100.0) / 100.0) * self.total as f64 + 0.5) as u64;
        let want = want.max(1);
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= want {
                return highest_in(i);
            }
        }
        highest_in(self.counts.len().saturating_sub(1))
    }

    /// LATENCY HISTOGRAM's buckets: (upper bound in µs, calls at or below it) for power-of-two
    /// bounds from 1024 ns, listing only buckets where the cumulative count grew, as Redis.
    pub fn cumulative_usec_buckets(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let (mut bound, mut cumulative, mut next) = (1024u64, 0u64, 0usize);
        let mut previous = 0;
        while cumulative < self.total {
            while next < self.counts.len() && highest_in(next) < bound {
                cumulative += self.counts[next];
                next += 1;
            }
            if cumulative > previous {
                out.push(((bound - 1) / 1000, cumulative));
            }
            previous = cumulative;
            bound = bound.saturating_mul(2);
        }
        out
    }
}

/// INFO latencystats' percentile labels as Redis prints them: `%f` with trailing zeros (and a
/// trailing dot) removed, so 50 -> "50", 99.9 -> "99.9".
pub fn percentile_label(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `latency-tracking-info-percentiles`: space-separated numbers in [0, 100] ("" for none).
/// Returns them with the text CONFIG GET shows, or Redis's error.
pub fn parse_percentiles(text: &str) -> Result<(Vec<f64>, String), &'static str> {
    let mut out = Vec::new();
    for w in text.split_whitespace() {
        let p: f64 = w.parse().map_err(|_| "Invalid latency-tracking-info-percentiles parameters")?;
        if !p.is_finite() {
            return Err("Invalid latency-tracking-info-percentiles parameters");
        }
        if !(0.0..=100.0).contains(&p) {
            return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]");
        }
        out.push(p);
    }
    let shown = out.iter().map(|p| percentile_label(*p)).collect::<Vec<_>>().join(" ");
    Ok((out, shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_their_values() {
        for v in [1u64, 127, 128, 129, 200, 1000, 4095, 4096, 123_456, 9_999_999_999] {
            let i = index_of(v);
            assert!(highest_in(i) >= v, "{v}");
            assert!(i == 0 || highest_in(i - 1) < v, "{v}");
            // Under 1.6% relative error.
            assert!((highest_in(i) - v) as f64 <= v as f64 * 0.016, "{v}");
        }
    }

    #[test]
    fn percentiles() {
        let mut h = LatencyHistogram::default();
        for us in 1..=1000u64 {
            h.record(us * 1000);
        }
        let p50 = h.value_at_percentile(50.0) as f64 / 1000.0;
        let p99 = h.value_at_percentile(99.0) as f64 / 1000.0;
        let p999 = h.value_at_percentile(99.9) as f64 / 1000.0;
        assert!((500.0..=508.0).contains(&p50), "{p50}");
        assert!((990.0..=1006.0).contains(&p99), "{p99}");
        assert!((999.0..=1016.0).contains(&p999), "{p999}");
        assert_eq!(LatencyHistogram::default().value_at_percentile(50.0), 0);
    }

    #[test]
    fn merges_and_buckets() {
        let mut a = LatencyHistogram::default();
        let mut b = LatencyHistogram::default();
        a.record(500);
        b.record(3_000);
        b.record(3_100);
        a.merge(&b);
        assert_eq!(a.total(), 3);
        assert_eq!(a.cumulative_usec_buckets(), vec![(1, 1), (4, 3)]);
    }

    #[test]
    fn labels() {
        assert_eq!(percentile_label(50.0), "50");
        assert_eq!(percentile_label(99.9), "99.9");
        assert_eq!(percentile_label(99.99), "99.99");
        assert_eq!(parse_percentiles("50.0 99 99.90").unwrap().1, "50 99 99.9");
        assert_eq!(parse_percentiles("").unwrap().0, Vec::<f64>::new());
        assert!(parse_percentiles("101").unwrap_err().contains("between"));
        assert!(parse_percentiles("abc").unwrap_err().contains("Invalid"));
    }
}
