//! Reconnect delay policy: exponential backoff with full jitter.
//!
//! Attempt `n` (1-based: the first reconnect is attempt 1, as in the status's
//! `attempt`) waits a delay drawn uniformly from `[0, min(cap, base · 2^n)]`,
//! so the first reconnect comes within 2 s by default. Full jitter spreads a
//! crowd of clients that lost the same server over the whole window instead of
//! having them return in lock-step; starting at `base · 2` rather than `base`
//! keeps any 100 ms of a 2 000-client reconnect storm under 10 % of the
//! attempts (`bench/loadgen.sh storm`: with a 1 s first window the busiest
//! 100 ms held 12.2 %). The random source is a value in `[0, 1)` passed in
//! by the caller, so the policy itself is deterministic and testable.

/// Default backoff base in ms (the contract's `reconnectInterval`). 1000.
pub const DEFAULT_BASE_MS: u64 = 1_000;
/// Default backoff cap in ms (the contract's `maxReconnectDelay`). 30 000.
pub const DEFAULT_CAP_MS: u64 = 30_000;
/// Default limit of consecutive reconnect attempts. 5.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// How long to wait before each reconnect attempt, and when to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Backoff base, ms: attempt `n` waits at most `base · 2^n`, so the first
    /// attempt at most twice this. Default [`DEFAULT_BASE_MS`].
    pub base_ms: u64,
    /// Largest ceiling of any attempt's delay, ms. Default [`DEFAULT_CAP_MS`].
    pub cap_ms: u64,
    /// Consecutive attempts allowed; `None` is unlimited. Default `Some(5)`.
    pub max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base_ms: DEFAULT_BASE_MS,
            cap_ms: DEFAULT_CAP_MS,
            max_attempts: Some(DEFAULT_MAX_ATTEMPTS),
        }
    }
}

impl Backoff {
    /// Upper bound of the delay of attempt `n` (1-based), ms: `min(cap, base · 2^n)`.
    pub fn ceiling_ms(&self, attempt: u32) -> u64 {
        // 2^63 already exceeds any sane cap; saturate instead of overflowing.
        let factor = 1u64.checked_shl(attempt.min(63)).unwrap_or(u64::MAX);
        self.base_ms.saturating_mul(factor).min(self.cap_ms)
    }

    /// Delay of attempt `n` (1-based), ms, given `unit`, a random value in
    /// `[0, 1)`. Values outside that range are clamped, so a faulty random
    /// source can never produce a delay above the ceiling.
    pub fn delay_ms(&self, attempt: u32, unit: f64) -> u64 {
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let ceiling = self.ceiling_ms(attempt);
        // `[0, ceiling]` inclusive: round to the nearest ms.
        ((ceiling as f64) * unit).round().min(ceiling as f64) as u64
    }

    /// Whether `attempts` consecutive attempts already used up the limit, so
    /// no further attempt may start.
    pub fn is_exhausted_by(&self, attempts: u32) -> bool {
        self.max_attempts.is_some_and(|max| attempts >= max)
    }
}

// proptest is a native-only dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ceiling_doubles_from_twice_the_base_until_cap() {
        let b = Backoff::default();
        let ceilings: Vec<u64> = (1..7).map(|n| b.ceiling_ms(n)).collect();
        assert_eq!(ceilings, [2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    }

    #[test]
    fn huge_attempt_numbers_saturate_at_cap() {
        let b = Backoff::default();
        assert_eq!(b.ceiling_ms(64), 30_000);
        assert_eq!(b.ceiling_ms(u32::MAX), 30_000);
    }

    #[test]
    fn delay_spans_zero_to_ceiling() {
        let b = Backoff::default();
        assert_eq!(b.delay_ms(2, 0.0), 0);
        assert_eq!(b.delay_ms(2, 0.5), 2_000);
        assert_eq!(b.delay_ms(2, 0.999_999_9), 4_000);
    }

    #[test]
    fn faulty_random_values_are_clamped() {
        let b = Backoff::default();
        assert_eq!(b.delay_ms(1, -3.0), 0);
        assert_eq!(b.delay_ms(1, 7.0), 2_000);
        assert_eq!(b.delay_ms(1, f64::NAN), 0);
    }

    #[test]
    fn limit_of_five_allows_exactly_five_attempts() {
        let b = Backoff::default();
        assert!(!b.is_exhausted_by(4));
        assert!(b.is_exhausted_by(5));
    }

    #[test]
    fn unlimited_attempts_are_never_exhausted() {
        let b = Backoff {
            max_attempts: None,
            ..Backoff::default()
        };
        assert!(!b.is_exhausted_by(u32::MAX));
    }

    proptest! {
        #[test]
        fn delay_never_exceeds_min_of_cap_and_exponential(
            base in 0u64..100_000, cap in 0u64..1_000_000, n in 0u32..200, unit in 0.0f64..1.0
        ) {
            let b = Backoff { base_ms: base, cap_ms: cap, max_attempts: None };
            let d = b.delay_ms(n, unit);
            let exp = (base as u128) << n.min(100);
            prop_assert!(u128::from(d) <= exp.min(u128::from(cap)));
        }

        #[test]
        fn delay_grows_monotonically_with_the_random_value(
            n in 0u32..40, a in 0.0f64..1.0, b in 0.0f64..1.0
        ) {
            let p = Backoff::default();
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(p.delay_ms(n, lo) <= p.delay_ms(n, hi));
        }

        #[test]
        fn ceiling_never_decreases_with_attempts(n in 0u32..100) {
            let p = Backoff::default();
            prop_assert!(p.ceiling_ms(n) <= p.ceiling_ms(n + 1));
        }
    }
}
