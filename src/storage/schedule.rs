//! When background saves start on their own: Redis's save points (`save "3600 1 300 100"`: save
//! when at least 1 change is 3600 s old, or 100 changes 300 s old) and Dragonfly's
//! `snapshot_cron` (a 5-field cron in UTC). The server's scheduler task checks both once a second.

/// Parses Redis's `save` value: pairs of (seconds, changes); empty means none.
pub fn parse_save_points(v: &str) -> Result<Vec<(u64, u64)>, String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() % 2 != 0 {
        return Err("Invalid save parameters".into());
    }
    parts
        .chunks(2)
        .map(|p| match (p[0].parse::<u64>(), p[1].parse::<u64>()) {
            (Ok(s), Ok(c)) => Ok((s, c)),
            _ => Err("Invalid save parameters".into()),
        })
        .collect()
}

/// Whether a save point is reached: `changes` since the last save, `elapsed` seconds since it.
pub fn save_point_reached(points: &[(u64, u64)], changes: u64, elapsed: u64) -> bool {
    points.iter().any(|&(secs, min_changes)| changes >= min_changes && elapsed >= secs && changes > 0)
}

/// A 5-field cron schedule: minute, hour, day of month, month, day of week (0 or 7 = Sunday).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    fields: [u64; 5],
    /// Cron's rule: when both day fields are restricted, either may match.
    dom_any: bool,
    dow_any: bool,
}

const RANGES: [(u64, u64); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];

fn parse_field(f: &str, (lo, hi): (u64, u64)) -> Option<u64> {
    let mut bits = 0u64;
    for part in f.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u64>().ok().filter(|&s| s > 0)?),
            None => (part, 1),
        };
        let (a, b) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let n = r.parse().ok()?;
                    (n, if part.contains('/') { hi } else { n })
                }
            },
        };
        if a < lo || b > hi || a > b {
            return None;
        }
        (a..=b).step_by(step as usize).for_each(|n| bits |= 1 << n);
    }
    Some(bits)
}

impl Cron {
    pub fn parse(v: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = v.split_whitespace().collect();
        if parts.len() != 5 {
            return Err("a cron schedule has 5 fields: minute hour day-of-month month day-of-week".into());
        }
        let mut fields = [0u64; 5];
        for (i, p) in parts.iter().enumerate() {
            fields[i] = parse_field(p, RANGES[i]).ok_or_else(|| format!("bad cron field `{p}`"))?;
        }
        // Sunday is both 0 and 7.
        if fields[4] & (1 << 7) != 0 {
            fields[4] |= 1;
        }
        Ok(Cron { fields, dom_any: parts[2] == "*", dow_any: parts[4] == "*" })
    }

    /// Whether the minute holding Unix time `secs` (UTC) is on the schedule.
    pub fn matches(&self, secs: u64) -> bool {
        let (days, rem) = (secs / 86400, secs % 86400);
        let (minute, hour) = (rem / 60 % 60, rem / 3600);
        let dow = (days + 4) % 7; // 1970-01-01 was a Thursday
        let (_, month, dom) = civil_date(days);
        let has = |i: usize, n: u64| self.fields[i] & (1 << n) != 0;
        let day = match (self.dom_any, self.dow_any) {
            (false, false) => has(2, dom) || has(4, dow),
            _ => has(2, dom) && has(4, dow),
        };
        has(0, minute) && has(1, hour) && has(3, month) && day
    }
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_date(days: u64) -> (i64, u64, u64) {
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_points_parse_and_fire() {
        assert_eq!(parse_save_points("3600 1 300 100").unwrap(), vec![(3600, 1), (300, 100)]);
        assert_eq!(parse_save_points("").unwrap(), vec![]);
        assert!(parse_save_points("3600").is_err());
        assert!(parse_save_points("a 1").is_err());
        let p = parse_save_points("3600 1 300 100").unwrap();
        assert!(!save_point_reached(&p, 0, 10_000), "nothing changed");
        assert!(!save_point_reached(&p, 50, 400));
        assert!(save_point_reached(&p, 100, 300));
        assert!(save_point_reached(&p, 1, 3600));
    }

    #[test]
    fn cron_fields() {
        // 2024-05-01T12:00:00Z, a Wednesday.
        let t = 1_714_564_800;
        assert!(Cron::parse("0 */6 * * *").unwrap().matches(t));
        assert!(!Cron::parse("0 */5 * * *").unwrap().matches(t));
        assert!(Cron::parse("0 12 1 5 *").unwrap().matches(t));
        assert!(Cron::parse("* * * * 3").unwrap().matches(t));
        assert!(!Cron::parse("* * * * 0,7").unwrap().matches(t));
        assert!(Cron::parse("0-5 10-14 * 1-12/2 *").unwrap().matches(t));
        // Both day fields restricted: either matches (the 2nd is no Wednesday, but dow is).
        assert!(Cron::parse("0 12 2 * 3").unwrap().matches(t));
        assert!(!Cron::parse("0 12 2 * 4").unwrap().matches(t));
        assert!(!Cron::parse("1 12 * * *").unwrap().matches(t + 120));
        for bad in ["", "* * * *", "60 * * * *", "* * 0 * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
    }
}
