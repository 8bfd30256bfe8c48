//! Float arithmetic for the hot paths, bit for bit the standard library's.

/// 2^52: every `f64` of at least this magnitude is an integer.
const INTEGRAL_FROM: f64 = 4_503_599_627_370_496.0;

/// [`f64::round`] (half away from zero), bit for bit, without its library call: without
/// SSE4.1 `f64::round` is a call into `libm`, and durations, sizes and bytes are rounded
/// once or more per job step.
///
/// For `|x| < 2^52` the conversion through `i64` truncates, and `x − trunc(x)` is exact
/// (the fraction of a number has no more bits than the number), and so is doubling it,
/// so truncating twice the fraction gives the step away from zero exactly; the sign is
/// copied back so that a negative fraction rounds to `-0.0`, as `f64::round` gives.
/// Larger magnitudes, infinities and NaN are returned as they are, which is what
/// `f64::round` returns for them.
#[inline]
pub fn round(x: f64) -> f64 {
    if x.abs() < INTEGRAL_FROM {
        let t = x as i64 as f64;
        let f = x - t;
        // `2f` is exact and within (−2, 2): truncated, it is ±1 exactly when `|f| ≥ ½`.
        // No branch: the fraction of a drawn value is as likely above a half as below.
        let r = t + (f + f) as i64 as f64;
        r.copysign(x)
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values where rounding is decided: halves, the neighbours of halves, the
    /// largest double below 0.5, signed zeros, the edge of 2^52, infinities and NaN.
    #[test]
    fn round_is_std_round_at_the_edges() {
        let below_half = 0.5f64.next_down();
        let mut xs = vec![
            0.0,
            -0.0,
            below_half,
            -below_half,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.5f64.next_up(),
            -(0.5f64.next_up()),
            INTEGRAL_FROM,
            INTEGRAL_FROM.next_down(),
            -INTEGRAL_FROM.next_down(),
            INTEGRAL_FROM.next_down() - 0.5,
            INTEGRAL_FROM / 2.0 + 0.5,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -3.7e15,
        ];
        for k in 0..64 {
            xs.push(k as f64 + 0.5);
            xs.push((k as f64 + 0.5).next_down());
            xs.push((k as f64 + 0.5).next_up());
        }
        for x in xs {
            assert_eq!(round(x).to_bits(), x.round().to_bits(), "round({x:e})");
        }
        assert!(round(f64::NAN).is_nan());
    }

    proptest::proptest! {
        /// Any double, by its bits: the same bits as `f64::round` (NaN for NaN).
        #[test]
        fn prop_round_is_std_round(bits in proptest::prelude::any::<u64>()) {
            let x = f64::from_bits(bits);
            if x.is_nan() {
                proptest::prop_assert!(round(x).is_nan());
            } else {
                proptest::prop_assert_eq!(round(x).to_bits(), x.round().to_bits());
            }
        }

        /// Values of the magnitudes the model rounds (microseconds, bytes), where random
        /// bits seldom land: the same bits as `f64::round`.
        #[test]
        fn prop_round_is_std_round_in_range(x in -1e16f64..1e16) {
            proptest::prop_assert_eq!(round(x).to_bits(), x.round().to_bits());
        }
    }
}
