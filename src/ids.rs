//! Record ids without a system call per record: version-4 UUIDs drawn from
//! a xoshiro256** generator seeded once from the OS (`getrandom`), on the
//! worker thread. Collectors deduplicate retried batches by these ids, so
//! they only need to be unique; 122 random bits from a 2²⁵⁶-period
//! generator seeded with 256 OS-random bits are.

use uuid::{Builder, Uuid};

/// A per-worker source of random v4 UUIDs.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    s: [u64; 4],
}

impl IdGenerator {
    /// A generator seeded from the operating system's random source.
    pub fn from_os() -> Self {
        let a = Uuid::new_v4().as_u128();
        let b = Uuid::new_v4().as_u128();
        let mut s = [a as u64, (a >> 64) as u64, b as u64, (b >> 64) as u64];
        if s == [0; 4] {
            s[0] = 1; // xoshiro's one forbidden state
        }
        IdGenerator { s }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// The next id: a random (version 4, RFC 4122 variant) UUID.
    pub fn next_id(&mut self) -> Uuid {
        let bytes = (u128::from(self.next_u64()) << 64 | u128::from(self.next_u64())).to_le_bytes();
        Builder::from_random_bytes(bytes).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_v4_and_distinct() {
        let mut g = IdGenerator::from_os();
        let ids: HashSet<Uuid> = (0..100_000).map(|_| g.next_id()).collect();
        assert_eq!(ids.len(), 100_000);
        let id = g.next_id();
        assert_eq!(id.get_version_num(), 4);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn two_generators_do_not_repeat_each_other() {
        let mut a = IdGenerator::from_os();
        let mut b = IdGenerator::from_os();
        assert_ne!(a.next_id(), b.next_id());
    }
}
