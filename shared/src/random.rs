//! Randomness from the operating system, for token ids, generated passwords
//! and the throttle's occasional sweep. `rand_core`'s `OsRng` (already here
//! for argon2's salts) is the source; a general RNG crate would add nothing.

use argon2::password_hash::rand_core::{OsRng, RngCore};

/// `n` random bytes, hex-encoded.
pub fn hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes.
pub fn bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// True once in `n` calls, on average.
pub fn one_in(n: u32) -> bool {
    OsRng.next_u32().is_multiple_of(n.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_has_two_digits_a_byte_and_differs_each_time() {
        let a = hex(16);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, hex(16));
    }

    #[test]
    fn one_in_one_is_always() {
        assert!((0..100).all(|_| one_in(1)));
    }
}
