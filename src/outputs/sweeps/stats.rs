//! Statistics across replications: Student-t confidence intervals.

use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------
// Statistics.

/// Two-sided 95% quantiles t(0.975, df) of Student's t for df = 1..=30 (computed to 17
/// significant digits with mpmath).
const T975: [f64; 30] = [
    12.706204736174705,
    4.302652729749464,
    3.1824463052837095,
    2.7764451051977943,
    2.5705818356363155,
    2.44691185114497,
    2.3646242515927853,
    2.3060041352041667,
    2.2621571627982053,
    2.228138851986275,
    2.20098516009164,
    2.178812829667229,
    2.1603686564627926,
    2.144786687917804,
    2.1314495455597755,
    2.1199052992212546,
    2.109815577833317,
    2.1009220402410387,
    2.0930240544083096,
    2.085963447265865,
    2.0796138447276804,
    2.073873067904026,
    2.0686576104190486,
    2.063898561628026,
    2.0595385527532977,
    2.055529438642873,
    2.0518305164802855,
    2.048407141795245,
    2.0452296421327043,
    2.042272456301238,
];

/// Student's t quantile t(0.975, df), for 95% two-sided intervals; `df >= 1`.
///
/// A table up to df = 30, then the Cornish-Fisher expansion around the normal quantile
/// (error below 4e-8 at df = 31, shrinking as df^-5). Only `+ - * /` are used, so the
/// value is the same on every platform.
pub fn t975(df: u64) -> f64 {
    assert!(df >= 1, "t quantile needs df >= 1");
    if df <= 30 {
        return T975[df as usize - 1];
    }
    let z: f64 = 1.959_963_984_540_054_2;
    let v = df as f64;
    let (z2, z3) = (z * z, z * z * z);
    let (z5, z7, z9) = (z3 * z2, z3 * z2 * z2, z3 * z3 * z3);
    z + (z3 + z) / (4.0 * v)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v * v)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v * v * v)
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z)
            / (92160.0 * v * v * v * v)
}

/// Mean, sample standard deviation and 95% confidence interval of the mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1 denominator); `None` for a single value.
    pub sd: Option<f64>,
    /// `mean ± t(0.975, n-1) · sd / √n`; `None` for a single value.
    pub ci95: Option<(f64, f64)>,
}

/// Statistics of `xs` in the given order (summation order is fixed so the result does not
/// depend on anything but the values); `None` when empty.
pub fn stats(xs: &[f64]) -> Option<Stats> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some(Stats {
            n,
            mean,
            sd: None,
            ci95: None,
        });
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    let half = t975(n as u64 - 1) * sd / (n as f64).sqrt();
    Some(Stats {
        n,
        mean,
        sd: Some(sd),
        ci95: Some((mean - half, mean + half)),
    })
}

/// Batch means of one run (`run --batches K`): for each metric with its value in every
/// batch, `batches.<metric>` (the mean of the batch values) and `batches.<metric>.ci95`
/// (the Student-t 95% half-width over the batches, `t(0.975, n-1) · sd / √n`). A batch
/// without an observation of the metric is left out (`n` is then below K); a metric with
/// fewer than two batch values gets no keys. Rounded to 6 decimals, as the summary's means.
pub fn batch_summary(batches: &BTreeMap<String, Vec<Option<f64>>>) -> BTreeMap<String, f64> {
    let round6 = |x: f64| (x * 1e6).round() / 1e6;
    let mut out = BTreeMap::new();
    for (metric, values) in batches {
        let xs: Vec<f64> = values.iter().flatten().copied().collect();
        if let Some(Stats {
            mean,
            ci95: Some((lo, hi)),
            ..
        }) = stats(&xs)
        {
            out.insert(format!("batches.{metric}"), round6(mean));
            out.insert(format!("batches.{metric}.ci95"), round6((hi - lo) / 2.0));
        }
    }
    out
}

/// The number format of every aggregate file: Rust's shortest representation that reads
/// back to the same `f64` (`2095`, `0.9355`, `0.30000000000000004`), never exponents.
pub fn fmt_num(x: f64) -> String {
    format!("{x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles() {
        let near = |a: f64, b: f64, tol: f64| assert!((a - b).abs() < tol, "{a} vs {b}");
        near(t975(1), 12.706, 5e-4);
        near(t975(2), 4.303, 5e-4);
        near(t975(4), 2.776, 5e-4);
        near(t975(10), 2.228, 5e-4);
        near(t975(30), 2.042, 5e-4);
        // Past the table (reference values from mpmath).
        near(t975(31), 2.0395134463964085, 1e-7);
        near(t975(40), 2.0210753903062734, 1e-8);
        near(t975(60), 2.0002978220142605, 1e-8);
        near(t975(120), 1.979930405082441, 1e-9);
        near(t975(1000), 1.9623390808264085, 1e-12);
        near(t975(u64::MAX / 2), 1.959963984540054, 1e-12);
        // Decreasing in df, and continuous across the end of the table.
        for df in 1..200 {
            assert!(t975(df) > t975(df + 1), "df {df}");
        }
    }

    #[test]
    fn mean_sd_ci() {
        assert_eq!(stats(&[]), None);
        let one = stats(&[3.5]).unwrap();
        assert_eq!((one.mean, one.sd, one.ci95), (3.5, None, None));
        let s = stats(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.mean, 5.0);
        let sd = (32.0f64 / 7.0).sqrt();
        assert!((s.sd.unwrap() - sd).abs() < 1e-12);
        let half = 2.3646242515927853 * sd / 8f64.sqrt();
        let (lo, hi) = s.ci95.unwrap();
        assert!((lo - (5.0 - half)).abs() < 1e-12 && (hi - (5.0 + half)).abs() < 1e-12);
        let flat = stats(&[1.0, 1.0, 1.0]).unwrap();
        assert_eq!(flat.ci95, Some((1.0, 1.0)));
    }

    #[test]
    fn batch_means_over_the_batches_with_values() {
        let b = BTreeMap::from([
            ("m".to_string(), vec![Some(1.0), None, Some(3.0), Some(2.0)]),
            ("few".to_string(), vec![Some(1.0), None]),
        ]);
        let s = batch_summary(&b);
        // Mean 2, sd 1, n 3: half-width t(0.975, 2) / √3.
        assert_eq!(s["batches.m"], 2.0);
        assert_eq!(s["batches.m.ci95"], 2.484138);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn number_format() {
        assert_eq!(fmt_num(2095.0), "2095");
        assert_eq!(fmt_num(0.9355), "0.9355");
        assert_eq!(fmt_num(229555320923936.0), "229555320923936");
        assert_eq!(fmt_num(1e-7), "0.0000001");
    }
}
