//! The batch tracer's flat index of the grid's bricks (`traverse_batch.rs` reads it with unchecked 32-bit
//! gathers). One type keeps its invariant: it has one slot per brick of the grid it was made for, and every
//! slot is [`RAY_EMPTY`], [`RAY_UNKNOWN`] or the index of a mask it holds. Its fields are private, so nothing
//! else can break that.

/// A slot: the brick holds nothing.
pub(crate) const RAY_EMPTY: u32 = 0;
/// A slot: the brick's column is not streamed in.
pub(crate) const RAY_UNKNOWN: u32 = 1;

/// Per brick (indexed like the grid's `brick_bits`) [`RAY_EMPTY`], [`RAY_UNKNOWN`] or the index of its mask.
#[derive(Clone, Debug)]
pub(crate) struct RayIndex {
    slots: Vec<u32>,
    /// Masks of existing bricks as 16 32-bit words (word `2 y + z / 4`, bit `x + 8 (z % 4)`), so a 32-bit gather
    /// reads one voxel's bit; entries 0 and 1 stay all zero (empty and unknown bricks).
    masks: Vec<[u32; 16]>,
    /// Entries of `masks` no brick uses, reused first.
    free: Vec<u32>,
}

impl RayIndex {
    /// An index of `bricks` bricks, all unknown.
    pub(crate) fn new(bricks: usize) -> Self {
        RayIndex { slots: vec![RAY_UNKNOWN; bricks], masks: vec![[0; 16]; 2], free: Vec::new() }
    }

    /// Bricks indexed.
    pub(crate) fn bricks(&self) -> usize {
        self.slots.len()
    }

    /// Masks held (the two all-zero entries included).
    pub(crate) fn masks(&self) -> usize {
        self.masks.len()
    }

    /// Sets brick `lin`: `None` when its column is not streamed in, else its 8x8x8 occupancy (one `u64` per
    /// y row pair, as [`super::brick::Mask`]). Panics when `lin` is not a brick of the index.
    pub(crate) fn set(&mut self, lin: usize, mask: Option<[u64; 8]>) {
        let old = self.slots[lin];
        let slot = match mask {
            None => RAY_UNKNOWN,
            Some(m) if m == [0; 8] => RAY_EMPTY,
            Some(m) => {
                let words: [u32; 16] = std::array::from_fn(|i| (m[i / 2] >> (32 * (i % 2))) as u32);
                let slot = if old > RAY_UNKNOWN {
                    old
                } else if let Some(free) = self.free.pop() {
                    free
                } else {
                    self.masks.push([0; 16]);
                    (self.masks.len() - 1) as u32
                };
                self.masks[slot as usize] = words;
                slot
            }
        };
        if old > RAY_UNKNOWN && slot != old {
            self.masks[old as usize] = [0; 16];
            self.free.push(old);
        }
        self.slots[lin] = slot;
    }

    /// Brick `lin`'s slot.
    #[cfg(test)]
    pub(crate) fn slot(&self, lin: usize) -> u32 {
        self.slots[lin]
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.len() * 4 + self.masks.len() * 64 + self.free.len() * 4
    }

    /// The slots and the masks' words, for the batch march's gathers: slot `i` is in `slots[i]`, and a slot
    /// `s` above [`RAY_UNKNOWN`] has its 16 words at `words[16 s..16 s + 16]`; slots 0 and 1 read as zero.
    pub(crate) fn raw(&self) -> (&[u32], &[u32]) {
        (&self.slots, self.masks.as_flattened())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_always_point_at_held_masks_and_freed_masks_are_reused() {
        let mut r = RayIndex::new(4);
        assert!((0..4).all(|i| r.slot(i) == RAY_UNKNOWN));
        r.set(0, Some([1, 0, 0, 0, 0, 0, 0, 0]));
        r.set(1, Some([0; 8]));
        r.set(2, Some([u64::MAX; 8]));
        assert_eq!((r.slot(0), r.slot(1), r.slot(2), r.slot(3)), (2, RAY_EMPTY, 3, RAY_UNKNOWN));
        let (_, words) = r.raw();
        assert_eq!(words[16 * 2], 1);
        assert_eq!(words[16 * 3 + 15], u32::MAX);
        r.set(0, None);
        assert_eq!(r.slot(0), RAY_UNKNOWN);
        r.set(3, Some([2, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(r.slot(3), 2, "the freed mask is reused");
        assert_eq!(r.masks(), 4);
        let (slots, words) = r.raw();
        assert!(slots.iter().all(|s| (*s as usize) < r.masks()));
        assert_eq!(words.len(), 16 * r.masks());
    }
}
