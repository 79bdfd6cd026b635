//! Summaries of repeated measurements.

use std::time::Duration;

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median<T: Copy + Into<f64>>(values: &[T]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().map(|&v| v.into()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    })
}

/// The median of durations, in milliseconds.
pub fn median_ms(values: &[Duration]) -> Option<f64> {
    let ms: Vec<f64> = values.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    median(&ms)
}

/// The exponent `k` of `y ~ x^k` through two points: how fast `y` grows with `x`.
/// `None` when a value is not positive or the two `x` are equal.
pub fn growth_exponent((x1, y1): (f64, f64), (x2, y2): (f64, f64)) -> Option<f64> {
    if x1 <= 0.0 || x2 <= 0.0 || y1 <= 0.0 || y2 <= 0.0 || x1 == x2 {
        return None;
    }
    Some((y2 / y1).ln() / (x2 / x1).ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts_and_of_nothing() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4_u32, 1, 3, 2]), Some(2.5));
        assert_eq!(median::<f64>(&[]), None);
        let ms = median_ms(&[Duration::from_millis(5), Duration::from_micros(1500)]);
        assert_eq!(ms, Some(3.25));
    }

    #[test]
    fn growth_exponent_recovers_powers() {
        let square = growth_exponent((10.0, 100.0), (40.0, 1600.0)).unwrap_or_default();
        assert!((square - 2.0).abs() < 1e-9, "{square}");
        let cube = growth_exponent((50.0, 125_000.0), (200.0, 8_000_000.0)).unwrap_or_default();
        assert!((cube - 3.0).abs() < 1e-9, "{cube}");
        assert_eq!(growth_exponent((1.0, 0.0), (2.0, 4.0)), None);
        assert_eq!(growth_exponent((2.0, 1.0), (2.0, 4.0)), None);
    }
}
