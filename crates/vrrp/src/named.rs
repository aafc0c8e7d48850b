//! What is named once: a peer's mismatched setting, a neighbouring virtual router's
//! VRID, a VIP another VRID claims. The first time is logged in words an operator acts
//! on; every later packet is only counted (RFC 6527's counters, `keepup status`, the
//! metrics). Each set is bounded, so forged packets from many sources cannot grow it:
//! once full, nothing more is named (still counted).
use std::collections::HashSet;
use std::hash::Hash;

#[derive(Debug, Clone)]
pub(crate) struct Once<K> {
    seen: HashSet<K>,
    cap: usize,
}

impl<K: Hash + Eq> Once<K> {
    pub(crate) fn new(cap: usize) -> Once<K> {
        Once {
            seen: HashSet::new(),
            cap,
        }
    }

    /// Whether `k` is new (and there was room to remember it).
    pub(crate) fn first(&mut self, k: K) -> bool {
        self.seen.len() < self.cap && self.seen.insert(k)
    }
}

#[cfg(test)]
mod tests {
    use super::Once;

    #[test]
    fn once_each_and_bounded() {
        let mut o = Once::new(2);
        assert!(o.first(1));
        assert!(!o.first(1));
        assert!(o.first(2));
        assert!(!o.first(3), "full: nothing more is named");
    }
}
