//! Least-recently-used order over keys, shared by the memory region cache and the disk cache's file index.

use std::collections::BTreeMap;
use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Tracks which key was used least recently. O(log n) per operation.
#[derive(Clone, Debug)]
pub struct LruOrder<K> {
    tick: u64,
    stamps: FxHashMap<K, u64>,
    order: BTreeMap<u64, K>,
}

impl<K: Hash + Eq + Clone> Default for LruOrder<K> {
    fn default() -> Self {
        LruOrder { tick: 0, stamps: FxHashMap::default(), order: BTreeMap::new() }
    }
}

impl<K: Hash + Eq + Clone> LruOrder<K> {
    /// Marks `k` as the most recently used (adding it if new).
    pub fn touch(&mut self, k: &K) {
        self.tick += 1;
        if let Some(old) = self.stamps.insert(k.clone(), self.tick) {
            self.order.remove(&old);
        }
        self.order.insert(self.tick, k.clone());
    }

    /// Forgets `k`.
    pub fn remove(&mut self, k: &K) {
        if let Some(t) = self.stamps.remove(k) {
            self.order.remove(&t);
        }
    }

    /// Removes and returns the least recently used key.
    pub fn pop_oldest(&mut self) -> Option<K> {
        let (_, k) = self.order.pop_first()?;
        self.stamps.remove(&k);
        Some(k)
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.stamps.clear();
        self.order.clear();
    }

    /// Keys tracked.
    pub fn len(&self) -> usize {
        self.stamps.len()
    }

    /// True when nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.stamps.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_first_and_touch_refreshes() {
        let mut l = LruOrder::default();
        for k in ["a", "b", "c"] {
            l.touch(&k);
        }
        l.touch(&"a");
        l.remove(&"c");
        assert_eq!(l.len(), 2);
        assert_eq!(l.pop_oldest(), Some("b"));
        assert_eq!(l.pop_oldest(), Some("a"));
        assert_eq!(l.pop_oldest(), None);
        assert!(l.is_empty());
    }
}
