//! Reproducible random streams.
//!
//! Every draw in a run comes from a stream derived from `(scenario seed, entity, purpose,
//! ...)` by a fixed mixing function, never from a shared generator. Two consequences the
//! rest of the code relies on:
//! - adding an entity (a fleet, a restore drill) cannot change any other entity's draws,
//!   because no other stream's key changes;
//! - streams can be derived on demand (e.g. per VM per day) instead of stored, so a million
//!   VMs cost no generator state.
//!
//! The generator is PCG-64 MCG (`rand_pcg::Pcg64Mcg`): portable, specified, and with the
//! same output on every platform and thread count. Names are folded in with FNV-1a, not
//! with `std`'s hasher, whose algorithm is not guaranteed across releases.

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

/// A random stream: a seeded PCG-64 generator.
pub type Stream = Pcg64Mcg;

/// SplitMix64 finaliser: a bijective, well-mixing map of 64-bit words.
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a hash of a name, for use as a stream key part.
pub const fn name_key(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// Folds key parts into one 64-bit stream key. Order matters: `[a, b] != [b, a]`.
pub fn stream_key(seed: u64, parts: &[u64]) -> u64 {
    fold_key(mix64(seed ^ 0x5851_f42d_4c95_7f2d), parts)
}

/// Folds more parts into a key: `fold_key(stream_key(seed, a), b)` is
/// `stream_key(seed, a ++ b)`, so a caller drawing many streams under one prefix (a
/// fleet's jobs) folds the prefix once.
pub fn fold_key(mut key: u64, parts: &[u64]) -> u64 {
    for &p in parts {
        key = mix64(key.wrapping_add(0x9e37_79b9_7f4a_7c15) ^ mix64(p));
    }
    key
}

/// The stream for `(seed, parts...)`.
pub fn stream(seed: u64, parts: &[u64]) -> Stream {
    stream_of_key(stream_key(seed, parts))
}

/// The stream of a key from [`stream_key`] or [`fold_key`].
pub fn stream_of_key(k: u64) -> Stream {
    let hi = mix64(k ^ 0xa076_1d64_78bd_642f) as u128;
    let lo = mix64(k.wrapping_add(0xe703_7ed1_a0b4_28db)) as u128;
    Pcg64Mcg::from_seed(((hi << 64) | lo | 1).to_le_bytes())
}

/// A probability drawn exactly as `Rng::gen_bool(p)` draws it (the same draws from the
/// stream, the same outcomes), its 64-bit threshold, which `gen_bool` computes from the
/// float at every call, computed once: for the chances a job draws (a VM running, its
/// agent answering, a step failing).
#[derive(Clone, Copy, Debug)]
pub struct Chance(rand::distributions::Bernoulli);

impl Chance {
    /// The chance `p`, a probability in `[0, 1]` (panics otherwise, as `gen_bool` does).
    pub fn new(p: f64) -> Chance {
        match rand::distributions::Bernoulli::new(p) {
            Ok(b) => Chance(b),
            Err(_) => panic!("{p} is not a probability"),
        }
    }

    /// Draws it from `r`: what `r.gen_bool(p)` gives, with the same draws.
    #[inline]
    pub fn draw<R: rand::Rng + ?Sized>(&self, r: &mut R) -> bool {
        r.sample(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// A chance gives `gen_bool`'s outcomes and leaves the stream where `gen_bool` does,
    /// at the edges (never, always: no draw) and between.
    #[test]
    fn a_chance_draws_as_gen_bool() {
        let ps = [0.0, 1e-12, 0.03, 0.5, 0.5 + 1e-16, 0.97, 1.0 - 1e-16, 1.0];
        for (i, &p) in ps.iter().enumerate() {
            let c = Chance::new(p);
            let (mut a, mut b) = (stream(3, &[i as u64]), stream(3, &[i as u64]));
            for _ in 0..2_000 {
                assert_eq!(c.draw(&mut a), b.gen_bool(p), "p = {p}");
                assert_eq!(
                    a.gen::<u32>(),
                    b.gen::<u32>(),
                    "p = {p}: stream moved alike"
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "is not a probability")]
    fn a_chance_above_one_panics() {
        let _ = Chance::new(1.5);
    }

    /// A prefix folded once and the rest folded on is the whole key, and its stream.
    #[test]
    fn a_folded_prefix_is_the_whole_key() {
        let parts = [3, 1 << 40, 0, u64::MAX, 17];
        for split in 0..=parts.len() {
            let (a, b) = parts.split_at(split);
            let k = fold_key(stream_key(9, a), b);
            assert_eq!(k, stream_key(9, &parts), "split at {split}");
            let x: u64 = stream_of_key(k).gen();
            assert_eq!(x, stream(9, &parts).gen::<u64>());
        }
        assert_ne!(stream_key(9, &[1, 2]), stream_key(9, &[2, 1]));
    }

    #[test]
    fn same_key_same_draws() {
        let a: Vec<u64> = (0..8)
            .map(|_| 0)
            .scan(stream(7, &[1, 2]), |r, _: u64| Some(r.gen()))
            .collect();
        let b: Vec<u64> = (0..8)
            .map(|_| 0)
            .scan(stream(7, &[1, 2]), |r, _: u64| Some(r.gen()))
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn order_and_seed_matter() {
        let k = |s, p: &[u64]| stream(s, p).gen::<u64>();
        assert_ne!(k(7, &[1, 2]), k(7, &[2, 1]));
        assert_ne!(k(7, &[1, 2]), k(8, &[1, 2]));
        assert_ne!(k(7, &[1]), k(7, &[1, 0]));
    }

    /// `stream_key(42, [name_key("web"), 3])` and the stream's first three draws, as
    /// computed when the stream function was fixed.
    const PINNED_KEY: u64 = 4_117_672_773_744_400_173;
    const PINNED_DRAWS: [u64; 3] = [
        14_917_867_994_314_760_479,
        258_545_754_217_819_555,
        9_251_423_180_808_603_767,
    ];

    #[test]
    fn output_is_pinned() {
        // The stream function is part of the results format: changing it changes every
        // summary.json. This pins it.
        assert_eq!(stream_key(42, &[name_key("web"), 3]), PINNED_KEY);
        let first: Vec<u64> = {
            let mut r = stream(42, &[name_key("web"), 3]);
            (0..3).map(|_| r.gen()).collect()
        };
        assert_eq!(first, PINNED_DRAWS);
        assert_eq!(name_key(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name_key("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
