//! The work queue of one level: a bucket queue over the priority `(class, updates done, squared distance to the
//! camera in probes)`, with the slot index as the final, stable tie-break. Pushing is O(1); popping takes the
//! lowest non-empty bucket and, inside it, the lowest slot (a bucket is sorted lazily when it starts to drain).
//! The order therefore depends only on what is queued, never on the order it was queued in, which keeps
//! scheduling deterministic however results arrive.
//!
//! Entries carry a stamp; the manager skips entries whose stamp is no longer the slot's live one.

/// Classes of work (0 = new, dirty or not converged; 1 = cached, stale on entry; 2 = stale by age).
pub const CLASSES: usize = 3;
/// Updates-done levels distinguished by priority (more count as the last).
pub const UPDATE_LEVELS: usize = 8;

/// A bucket queue of `(slot, stamp)` entries.
#[derive(Clone, Debug)]
pub struct WorkQueue {
    distances: usize,
    buckets: Vec<Vec<(u32, u32)>>,
    sorted: Vec<bool>,
    lowest: usize,
    len: usize,
}

impl WorkQueue {
    /// A queue for squared distances `0..=max_dist2` (larger ones share the last bucket).
    pub fn new(max_dist2: u32) -> Self {
        let distances = max_dist2 as usize + 1;
        let n = CLASSES * UPDATE_LEVELS * distances;
        WorkQueue { distances, buckets: vec![Vec::new(); n], sorted: vec![true; n], lowest: n, len: 0 }
    }

    /// Entries queued (including stale ones not yet skipped).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn bucket(&self, class: u8, updates: u32, dist2: u32) -> usize {
        let c = usize::from(class).min(CLASSES - 1);
        let u = (updates as usize).min(UPDATE_LEVELS - 1);
        let d = (dist2 as usize).min(self.distances - 1);
        (c * UPDATE_LEVELS + u) * self.distances + d
    }

    /// Queues a slot.
    pub fn push(&mut self, class: u8, updates: u32, dist2: u32, slot: u32, stamp: u32) {
        let b = self.bucket(class, updates, dist2);
        let bucket = &mut self.buckets[b];
        if !bucket.is_empty() {
            self.sorted[b] = false;
        }
        bucket.push((slot, stamp));
        self.lowest = self.lowest.min(b);
        self.len += 1;
    }

    /// Takes the entry with the lowest priority, ties broken by the lowest slot.
    pub fn pop(&mut self) -> Option<(u32, u32)> {
        while self.lowest < self.buckets.len() {
            let b = self.lowest;
            if self.buckets[b].is_empty() {
                self.lowest += 1;
                continue;
            }
            if !self.sorted[b] {
                // Descending, so the lowest slot is popped from the end.
                self.buckets[b].sort_unstable_by(|x, y| y.cmp(x));
                self.sorted[b] = true;
            }
            self.len -= 1;
            return self.buckets[b].pop();
        }
        None
    }

    /// The slot `n` pops ahead inside the current lowest bucket, if it holds that many (a prefetch hint; it
    /// changes nothing).
    pub fn peek_ahead(&self, n: usize) -> Option<u32> {
        let bucket = self.buckets.get(self.lowest)?;
        if !self.sorted[self.lowest] || bucket.len() <= n {
            return None;
        }
        Some(bucket[bucket.len() - 1 - n].0)
    }

    /// Every queued `(slot, stamp)` entry, in no particular order (consistency checks).
    pub fn entries(&self) -> impl Iterator<Item = &(u32, u32)> {
        self.buckets.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Pops come out in (class, updates, distance, slot) order, whatever the push order, and nothing is lost.
        #[test]
        fn pops_in_priority_order(items in prop::collection::vec((0u8..3, 0u32..12, 0u32..40, 0u32..1000), 0..200)) {
            let mut q = WorkQueue::new(32);
            for (i, (c, u, d, s)) in items.iter().enumerate() {
                q.push(*c, *u, *d, *s, i as u32);
            }
            let key = |i: u32| {
                let (c, u, d, s) = items[i as usize];
                (c, u.min(UPDATE_LEVELS as u32 - 1), d.min(32), s)
            };
            let mut got = Vec::new();
            while let Some((slot, stamp)) = q.pop() {
                prop_assert_eq!(slot, key(stamp).3);
                got.push(key(stamp));
            }
            prop_assert_eq!(got.len(), items.len());
            prop_assert!(got.windows(2).all(|w| w[0] <= w[1]), "{:?}", got);
        }
    }

    #[test]
    fn peek_ahead_names_the_slot_popped_that_many_pops_later() {
        let mut q = WorkQueue::new(10);
        for slot in [9, 4, 7, 1, 3] {
            q.push(0, 0, 2, slot, 0);
        }
        assert_eq!(q.peek_ahead(1), None, "the bucket is not sorted before its first pop");
        assert_eq!(q.pop(), Some((1, 0)));
        assert_eq!(q.peek_ahead(2), Some(7));
        assert_eq!(q.peek_ahead(4), None);
        assert_eq!(q.pop(), Some((3, 0)));
        assert_eq!(q.pop(), Some((4, 0)));
        assert_eq!(q.pop(), Some((7, 0)));
    }

    #[test]
    fn interleaved_pushes_below_the_cursor_come_first() {
        let mut q = WorkQueue::new(10);
        q.push(2, 0, 5, 7, 0);
        q.push(2, 0, 5, 3, 0);
        assert_eq!(q.pop(), Some((3, 0)));
        q.push(0, 1, 9, 8, 1);
        assert_eq!(q.pop(), Some((8, 1)));
        assert_eq!(q.pop(), Some((7, 0)));
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
    }
}
