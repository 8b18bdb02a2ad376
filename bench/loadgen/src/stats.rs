//! Summaries of what the clients recorded.

/// `p`-th percentile (0–100) of sorted `values`, nearest rank; 0 when empty.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Most events in any `window_us`-long interval (sliding, not aligned), for
/// sorted timestamps.
pub fn busiest_window(sorted_us: &[u64], window_us: u64) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..sorted_us.len() {
        while sorted_us[hi] - sorted_us[lo] >= window_us {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

/// Events per aligned `bin_us` bin starting at `origin_us` (events before it go to bin 0).
pub fn histogram(sorted_us: &[u64], origin_us: u64, bin_us: u64) -> Vec<usize> {
    let mut bins = Vec::new();
    for &t in sorted_us {
        let i = (t.saturating_sub(origin_us) / bin_us) as usize;
        if bins.len() <= i {
            bins.resize(i + 1, 0);
        }
        bins[i] += 1;
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_uses_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn busiest_window_slides_instead_of_aligning() {
        // Aligned 100 µs bins would split these 4 events 2 + 2; a sliding window sees all 4.
        let t = [90, 95, 105, 110, 500];
        assert_eq!(busiest_window(&t, 100), 4);
        assert_eq!(busiest_window(&t, 10), 2);
        assert_eq!(busiest_window(&[], 100), 0);
    }

    #[test]
    fn histogram_counts_per_bin_from_origin() {
        assert_eq!(histogram(&[5, 100, 150, 420], 0, 100), vec![1, 2, 0, 0, 1]);
        assert_eq!(histogram(&[5, 160], 50, 100), vec![1, 1]);
    }
}
