//! Medians from the rollups' histograms (migration 19): bucket `b >= 1`
//! holds times in `[2^((b-1)/16), 2^(b/16))` seconds, bucket 0 those under a
//! second, the last everything from a year on. A median is read as its
//! bucket's geometric middle, within 2.2% (or half a second) of the exact one.

pub const BUCKETS: usize = 401;

/// The middle of bucket `b`, in seconds.
fn middle(b: usize) -> f64 {
    match b {
        0 => 0.5,
        b if b >= BUCKETS - 1 => 2f64.powf((BUCKETS - 2) as f64 / 16.0),
        b => 2f64.powf((b as f64 - 0.5) / 16.0),
    }
}

/// Counts per bucket, summed over signed parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram(Vec<i64>);

impl Default for Histogram {
    fn default() -> Self {
        Self(vec![0; BUCKETS])
    }
}

impl Histogram {
    pub fn add(&mut self, counts: &[i32], sign: i64) {
        for (total, n) in self.0.iter_mut().zip(counts) {
            *total += sign * i64::from(*n);
        }
    }

    pub fn add_all(&mut self, other: &Self, sign: i64) {
        for (total, n) in self.0.iter_mut().zip(&other.0) {
            *total += sign * n;
        }
    }

    pub fn add_one(&mut self, bucket: usize, n: i64) {
        if let Some(total) = self.0.get_mut(bucket) {
            *total += n;
        }
    }

    /// The median as `percentile_cont(0.5)` takes it (the mean of the two
    /// middle times when there are an even number), each time read as its
    /// bucket's middle; `None` with nothing in it.
    pub fn median(&self) -> Option<f64> {
        let total: i64 = self.0.iter().map(|n| (*n).max(0)).sum();
        if total == 0 {
            return None;
        }
        let nth = |rank: i64| {
            let mut seen = 0;
            for (b, n) in self.0.iter().enumerate() {
                seen += (*n).max(0);
                if seen > rank {
                    return middle(b);
                }
            }
            middle(BUCKETS - 1)
        };
        Some((nth((total - 1) / 2) + nth(total / 2)) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket migration 19's `alert_stats_bucket` puts a time in.
    fn bucket(seconds: f64) -> usize {
        if seconds < 1.0 {
            0
        } else {
            (1 + (16.0 * seconds.log2()).floor() as usize).min(BUCKETS - 1)
        }
    }

    #[test]
    fn a_median_is_within_its_bound() {
        for times in [
            vec![3.0],
            vec![0.2, 0.7, 12.0],
            vec![60.0, 61.0, 3_600.0, 7_200.0],
            (1..500).map(|i| f64::from(i) * 37.3).collect(),
            (1..64).map(|i| 1.9f64.powi(i % 20)).collect(),
        ] {
            let mut sorted = times.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len();
            let exact = (sorted[(n - 1) / 2] + sorted[n / 2]) / 2.0;
            let mut h = Histogram::default();
            for t in &times {
                h.add_one(bucket(*t), 1);
            }
            let median = h.median().unwrap();
            assert!(
                (median - exact).abs() <= exact * 0.022 + 0.5,
                "{median} against {exact} for {times:?}"
            );
        }
    }

    #[test]
    fn parts_taken_away_cancel_and_empty_has_no_median() {
        let mut h = Histogram::default();
        assert_eq!(h.median(), None);
        let mut counts = vec![0; BUCKETS];
        counts[100] = 3;
        h.add(&counts, 1);
        h.add(&counts, -1);
        assert_eq!(h.median(), None);
        h.add_one(100, 1);
        assert_eq!(h.median(), Some(middle(100)));
    }
}
