//! A tiny deterministic generator (SplitMix64). The scheduler's choices and
//! context ids must be reproducible from the seed kept in `model.json`, so no
//! system randomness is used.

/// Advances `state` and returns the next value.
pub fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix(*state)
}

/// The SplitMix64 output function: a good 64-bit hash of `value`.
pub fn mix(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in `0..bound` (`bound` > 0).
pub fn below(state: &mut u64, bound: usize) -> usize {
    (next(state) % bound as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let (mut a, mut b) = (42, 42);
        let xs: Vec<u64> = (0..5).map(|_| next(&mut a)).collect();
        let ys: Vec<u64> = (0..5).map(|_| next(&mut b)).collect();
        assert_eq!(xs, ys);
        let mut c = 43;
        assert_ne!(next(&mut c), xs[0]);
        assert!((0..100).all(|_| below(&mut a, 3) < 3));
    }
}
