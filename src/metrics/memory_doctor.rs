//! MEMORY DOCTOR: Redis 7.0's memory report (object.c getMemoryDoctorReport) over the figures
//! INFO memory prints. Mayfly has no script cache and does not measure client output buffers
//! separately, so those three checks never fire.

use super::info::InfoSnapshot;

const MB10: f64 = (10 << 20) as f64;

pub fn report(s: &InfoSnapshot) -> String {
    let used = s.used_memory as f64;
    if s.used_memory < 5 << 20 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in \
                these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I \
                will be back to our programming as soon as I finished rebooting.\n"
            .to_string();
    }
    let peak = s.used_memory_peak.max(s.used_memory) as f64;
    let rss = s.used_memory_rss as f64;
    let active = if s.allocator_active == 0 { used } else { s.allocator_active as f64 };
    let allocator = if s.mem_allocator.is_empty() { "libc" } else { s.mem_allocator };
    let mut found = Vec::new();
    if peak / used > 1.5 {
        found.push(
            " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The \
             allocator is normally not able to release memory after a peak, so you can expect to see a big \
             fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the \
             Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon \
             as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try \
             to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown \
             and restart the instance.\n\n"
                .to_string(),
        );
    }
    if rss / used > 1.4 && rss - used > MB10 {
        found.push(format!(
            " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means \
             that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations \
             Redis performed). This problem is usually due either to a large peak memory (check if there is a peak \
             memory entry above in the report) or may result from a workload that causes the allocator to fragment \
             memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are \
             using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \
             \"{allocator}\".\n\n"
        ));
    }
    if active / used > 1.1 && active - used > MB10 {
        found.push(
            " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. \
             This problem is usually due either to a large peak memory (check if there is a peak memory entry above in \
             the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try \
             enabling 'activedefrag' config option.\n\n"
                .to_string(),
        );
    }
    if rss / active > 1.1 && rss - active > MB10 {
        found.push(
            " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means \
             that the Resident Set Size of the allocator is much larger than the sum what the allocator actually \
             holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above \
             in the report), you can try the MEMORY PURGE command to reclaim it.\n\n"
                .to_string(),
        );
    }
    if found.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this \
                base.\n"
            .to_string();
    }
    let mut out = "Sam, I detected a few issues in this Redis instance memory implants:\n\n".to_string();
    for f in found {
        out.push_str(&f);
    }
    out.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports() {
        let mut s = InfoSnapshot { used_memory: 1 << 20, used_memory_rss: 1 << 20, ..Default::default() };
        assert!(report(&s).starts_with("Hi Sam, this instance is empty"));
        s.used_memory = 100 << 20;
        s.used_memory_rss = 110 << 20;
        s.used_memory_peak = 100 << 20;
        assert!(report(&s).starts_with("Hi Sam, I can't find any memory issue"));
        s.used_memory_peak = 400 << 20;
        s.used_memory_rss = 300 << 20;
        s.mem_allocator = "jemalloc-5.3.0";
        let r = report(&s);
        assert!(r.starts_with("Sam, I detected a few issues"), "{r}");
        assert!(r.contains(" * Peak memory:") && r.contains(" * High total RSS:") && r.contains("\"jemalloc-5.3.0\""));
        assert!(r.contains(" * High allocator RSS overhead:"));
        assert!(!r.contains("High allocator fragmentation"));
        assert!(r.ends_with("I'm here to keep you safe, Sam. I want to help you.\n"));
    }
}
