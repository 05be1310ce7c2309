//! Clipmap topology: camera-centred levels of probes, exact snapping, ring addressing, level choice and
//! cross-level blend weights. Pure integer/float math, shared by the manager and (through the same formulas)
//! the lighting shader.
//!
//! Level `L` has spacing `s = base * 2^L`. Probes are named by global integer coordinates `g` (probe units):
//! probe `g` sits at `(g + 0.5) * s`. With `anchor = floor(camera / s)` the level holds the box
//! `[anchor - N/2, anchor + N/2)` (so `origin = (anchor - N/2) * s` is its minimum corner), and probe `g` lives in
//! storage slot `g mod N` per axis (Euclidean). That is the ring buffer: when the anchor moves by `d` probes only
//! the slab of `|d|` entered planes maps to new contents, and nothing is copied; `|d| >= N` renews the level.

use glam::{IVec3, UVec3, Vec3};

/// A box of probe coordinates `[lo, hi)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProbeBox {
    /// Inclusive minimum.
    pub lo: IVec3,
    /// Exclusive maximum.
    pub hi: IVec3,
}

impl ProbeBox {
    /// True when the box holds no coordinate.
    pub fn is_empty(&self) -> bool {
        self.lo.cmpge(self.hi).any()
    }

    /// Number of coordinates.
    pub fn volume(&self) -> usize {
        if self.is_empty() {
            0
        } else {
            let d = self.hi - self.lo;
            (d.x as usize) * (d.y as usize) * (d.z as usize)
        }
    }

    /// True when `g` lies inside.
    pub fn contains(&self, g: IVec3) -> bool {
        g.cmpge(self.lo).all() && g.cmplt(self.hi).all()
    }

    /// The common part.
    pub fn intersect(&self, o: &ProbeBox) -> ProbeBox {
        ProbeBox { lo: self.lo.max(o.lo), hi: self.hi.min(o.hi) }
    }

    /// Every coordinate, z-major then y then x (a fixed, deterministic order).
    pub fn iter(self) -> impl Iterator<Item = IVec3> {
        let (lo, hi) = (self.lo, self.hi);
        (lo.z..hi.z.max(lo.z)).flat_map(move |z| {
            (lo.y..hi.y.max(lo.y)).flat_map(move |y| (lo.x..hi.x.max(lo.x)).map(move |x| IVec3::new(x, y, z)))
        })
    }

    /// The `i`-th coordinate in [`ProbeBox::iter`] order (`i < volume()`).
    pub fn at(&self, i: usize) -> IVec3 {
        let d = self.hi - self.lo;
        let i = i as i32;
        self.lo + IVec3::new(i % d.x, (i / d.x) % d.y, i / (d.x * d.y))
    }

    /// The cells of an `r`-probe grid (regions) holding any of this box's coordinates, in cell coordinates.
    pub fn cells(&self, r: i32) -> ProbeBox {
        if self.is_empty() {
            return ProbeBox { lo: IVec3::ZERO, hi: IVec3::ZERO };
        }
        ProbeBox { lo: self.lo.div_euclid(IVec3::splat(r)), hi: (self.hi - 1).div_euclid(IVec3::splat(r)) + 1 }
    }

    /// `self` minus `other` as at most six disjoint boxes.
    pub fn subtract(&self, other: &ProbeBox) -> Vec<ProbeBox> {
        let cut = self.intersect(other);
        if cut.is_empty() {
            return if self.is_empty() { Vec::new() } else { vec![*self] };
        }
        let mut out = Vec::new();
        let mut rest = *self;
        for a in 0..3 {
            if rest.lo[a] < cut.lo[a] {
                let mut b = rest;
                b.hi[a] = cut.lo[a];
                out.push(b);
                rest.lo[a] = cut.lo[a];
            }
            if cut.hi[a] < rest.hi[a] {
                let mut b = rest;
                b.lo[a] = cut.hi[a];
                out.push(b);
                rest.hi[a] = cut.hi[a];
            }
        }
        out
    }
}

/// One level's placement in the world.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevelTopology {
    /// Level index (0 = finest).
    pub level: u32,
    /// Probes per axis.
    pub dims: UVec3,
    /// Distance between probes, metres.
    pub spacing: f32,
    /// `floor(camera / spacing)`, probe units.
    pub anchor: IVec3,
}

impl LevelTopology {
    /// The level for a camera position.
    pub fn new(level: u32, dims: UVec3, base_spacing: f32, camera: Vec3) -> Self {
        let spacing = base_spacing * (1u32 << level) as f32;
        LevelTopology { level, dims, spacing, anchor: anchor_for(camera, spacing) }
    }

    /// The probe coordinates held.
    pub fn bounds(&self) -> ProbeBox {
        let half = (self.dims / 2).as_ivec3();
        ProbeBox { lo: self.anchor - half, hi: self.anchor - half + self.dims.as_ivec3() }
    }

    /// Minimum corner of the level's volume, metres: `(anchor - N/2) * spacing`.
    pub fn origin(&self) -> Vec3 {
        self.bounds().lo.as_vec3() * self.spacing
    }

    /// World position of probe `g`.
    pub fn position(&self, g: IVec3) -> Vec3 {
        (g.as_vec3() + 0.5) * self.spacing
    }

    /// Storage slot (linear) of probe `g`: `g mod N` per axis (Euclidean). Power-of-two sizes (the default)
    /// use a mask, which is the same in two's complement and avoids three divisions per probe.
    #[inline]
    pub fn slot(&self, g: IVec3) -> usize {
        let n = self.dims.as_ivec3();
        let m = |v: i32, n: i32| if n & (n - 1) == 0 { v & (n - 1) } else { v.rem_euclid(n) };
        let s = IVec3::new(m(g.x, n.x), m(g.y, n.y), m(g.z, n.z));
        (s.x + n.x * (s.y + n.y * s.z)) as usize
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        (self.dims.x * self.dims.y * self.dims.z) as usize
    }

    /// Always false for a real level.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves to a new camera position; returns the boxes of probes that entered (empty when the anchor did not
    /// move; the whole level when it moved by `N` or more on an axis).
    pub fn shift(&mut self, camera: Vec3) -> Vec<ProbeBox> {
        let new_anchor = anchor_for(camera, self.spacing);
        if new_anchor == self.anchor {
            return Vec::new();
        }
        let old = self.bounds();
        self.anchor = new_anchor;
        self.bounds().subtract(&old)
    }

    /// Position in continuous probe coordinates (probe centres at integers).
    pub fn probe_space(&self, p: Vec3) -> Vec3 {
        p / self.spacing - 0.5
    }

    /// Distance (in probes) from `p` to the nearest face of the level's interpolation volume (the box of probe
    /// centres); negative outside.
    pub fn inner_distance(&self, p: Vec3) -> f32 {
        let b = self.bounds();
        let q = self.probe_space(p);
        let lo = q - b.lo.as_vec3();
        let hi = (b.hi - 1).as_vec3() - q;
        lo.min(hi).min_element()
    }
}

/// Largest anchor coordinate, probes: a camera farther out (or not finite) is held at this distance, so a
/// level's box and its ring arithmetic stay far inside `i32` (a 64-metre spacing puts the edge at 6.4e10 m).
pub const MAX_ANCHOR: i32 = 1 << 30;

/// `floor(camera / spacing)`, exact and deterministic, within +-[`MAX_ANCHOR`].
pub fn anchor_for(camera: Vec3, spacing: f32) -> IVec3 {
    let a = (camera / spacing).floor();
    let limit = MAX_ANCHOR as f32;
    Vec3::new(
        if a.x.is_nan() { 0.0 } else { a.x },
        if a.y.is_nan() { 0.0 } else { a.y },
        if a.z.is_nan() { 0.0 } else { a.z },
    )
    .clamp(Vec3::splat(-limit), Vec3::splat(limit))
    .as_ivec3()
}

/// Which levels to sample at `p` and with what weights: the finest level that holds `p` inside its
/// interpolation volume, blended towards the next level within `band` probes of its border, and outside every
/// level a fade over the coarsest level's band (no hard cut). Weights sum to at most 1; less means "fade to no
/// probe light" outside the clipmap.
pub fn level_weights(levels: &[LevelTopology], p: Vec3, band: f32) -> [(usize, f32); 2] {
    let band = band.max(1e-3);
    for (i, l) in levels.iter().enumerate() {
        let d = l.inner_distance(p);
        if d < 0.0 {
            continue;
        }
        let w = (d / band).min(1.0);
        if w >= 1.0 {
            return [(i, 1.0), (i, 0.0)];
        }
        if i + 1 == levels.len() {
            // Fading out at the border of the coarsest level.
            return [(i, w), (i, 0.0)];
        }
        return [(i, w), (i + 1, 1.0 - w)];
    }
    [(0, 0.0), (0, 0.0)]
}

/// Trilinear corners and weights of `p` in a level: eight `(probe coordinate, weight)` pairs.
pub fn trilinear(level: &LevelTopology, p: Vec3) -> [(IVec3, f32); 8] {
    let q = level.probe_space(p);
    let base = q.floor();
    let f = q - base;
    let b = base.as_ivec3();
    std::array::from_fn(|i| {
        let o = IVec3::new((i & 1) as i32, ((i >> 1) & 1) as i32, ((i >> 2) & 1) as i32);
        let w = (if o.x == 1 { f.x } else { 1.0 - f.x })
            * (if o.y == 1 { f.y } else { 1.0 - f.y })
            * (if o.z == 1 { f.z } else { 1.0 - f.z });
        (b + o, w)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn level(camera: Vec3) -> LevelTopology {
        LevelTopology::new(1, UVec3::splat(8), 0.5, camera)
    }

    #[test]
    fn snapping_follows_the_formulas() {
        let l = LevelTopology::new(2, UVec3::splat(32), 1.0, Vec3::new(5.0, -3.0, 13.9));
        assert_eq!(l.spacing, 4.0);
        assert_eq!(l.anchor, IVec3::new(1, -1, 3));
        assert_eq!(l.origin(), (IVec3::new(1, -1, 3) - 16).as_vec3() * 4.0);
        assert_eq!(l.position(IVec3::ZERO), Vec3::splat(2.0));
        assert_eq!(l.slot(IVec3::new(-1, 0, 0)), 31);
        assert_eq!(l.slot(IVec3::new(32, 1, 0)), 32);
    }

    proptest! {
        /// Along any path, each level holds every coordinate of its box exactly once (distinct slots), slots
        /// re-map only when the anchor shifts, a shift brings in exactly the new slab, and a jump of N or more
        /// renews everything.
        #[test]
        fn ring_addressing_laws(path in prop::collection::vec((-40.0f32..40.0, -40.0f32..40.0, -40.0f32..40.0), 1..30)) {
            let mut l = level(Vec3::ZERO);
            let mut held: std::collections::HashMap<usize, IVec3> = l.bounds().iter().map(|g| (l.slot(g), g)).collect();
            prop_assert_eq!(held.len(), l.len());
            for (x, y, z) in path {
                let old = l.bounds();
                let old_anchor = l.anchor;
                let entered = l.shift(Vec3::new(x, y, z));
                let new = l.bounds();
                let entered_set: HashSet<IVec3> = entered.iter().flat_map(|b| b.iter().collect::<Vec<_>>()).collect();
                let want: HashSet<IVec3> = new.iter().filter(|g| !old.contains(*g)).collect();
                prop_assert_eq!(&entered_set, &want, "entered = new minus old");
                prop_assert_eq!(entered.iter().map(|b| b.volume()).sum::<usize>(), want.len(), "boxes are disjoint");
                let d = (l.anchor - old_anchor).abs();
                if d.max_element() >= 8 {
                    prop_assert_eq!(want.len(), l.len(), "a teleport renews the level");
                }
                if d == IVec3::ZERO {
                    prop_assert!(entered.is_empty());
                }
                for g in &entered_set {
                    held.insert(l.slot(*g), *g);
                }
                // Every slot holds a coordinate of the new box, all distinct: exact cover.
                prop_assert_eq!(held.len(), l.len());
                let covered: HashSet<IVec3> = held.values().copied().collect();
                let box_set: HashSet<IVec3> = new.iter().collect();
                prop_assert_eq!(covered, box_set);
            }
        }
    }

    #[test]
    fn indexing_and_cells_agree_with_iteration() {
        let b = ProbeBox { lo: IVec3::new(-9, 2, -1), hi: IVec3::new(3, 5, 7) };
        for (i, g) in b.iter().enumerate() {
            assert_eq!(b.at(i), g);
        }
        let c = b.cells(8);
        assert_eq!(c, ProbeBox { lo: IVec3::new(-2, 0, -1), hi: IVec3::new(1, 1, 1) });
        assert!(b.iter().all(|g| c.contains(g.div_euclid(IVec3::splat(8)))));
        assert!(ProbeBox { lo: IVec3::ONE, hi: IVec3::ONE }.cells(8).is_empty());
    }

    #[test]
    fn masked_slots_equal_euclidean_remainders() {
        for dims in [UVec3::splat(32), UVec3::new(8, 4, 16), UVec3::new(6, 10, 3)] {
            let l = LevelTopology::new(0, dims, 1.0, Vec3::ZERO);
            let n = dims.as_ivec3();
            for g in (ProbeBox { lo: IVec3::splat(-70), hi: IVec3::splat(70) }).iter().step_by(7) {
                let want = g.rem_euclid(n);
                assert_eq!(l.slot(g), (want.x + n.x * (want.y + n.y * want.z)) as usize, "{g} in {dims}");
            }
        }
    }

    #[test]
    fn level_choice_prefers_the_finest_and_blends_at_borders() {
        let cam = Vec3::new(0.3, 0.3, 0.3);
        let levels: Vec<LevelTopology> = (0..3).map(|i| LevelTopology::new(i, UVec3::splat(16), 1.0, cam)).collect();
        let w = level_weights(&levels, cam, 2.0);
        assert_eq!(w[0], (0, 1.0));
        // Near level 0's border: part level 0, part level 1.
        let edge = Vec3::new(6.7, 0.3, 0.3);
        let w = level_weights(&levels, edge, 2.0);
        assert_eq!((w[0].0, w[1].0), (0, 1));
        assert!(w[0].1 > 0.0 && w[0].1 < 1.0 && (w[0].1 + w[1].1 - 1.0).abs() < 1e-6, "{w:?}");
        // Far outside everything: no weight; just inside the coarsest border: a partial fade.
        assert_eq!(level_weights(&levels, Vec3::splat(1000.0), 2.0)[0].1, 0.0);
        let fade = level_weights(&levels, Vec3::new(26.5, 0.3, 0.3), 2.0);
        assert!(fade[0].0 == 2 && fade[0].1 > 0.0 && fade[0].1 < 1.0, "{fade:?}");
    }

    #[test]
    fn trilinear_weights_sum_to_one_and_hit_exact_probes() {
        let l = LevelTopology::new(0, UVec3::splat(16), 1.0, Vec3::ZERO);
        let c = trilinear(&l, Vec3::new(2.2, 3.9, -1.4));
        assert!((c.iter().map(|x| x.1).sum::<f32>() - 1.0).abs() < 1e-6);
        let at = trilinear(&l, l.position(IVec3::new(3, 4, 5)));
        assert!(at.iter().any(|(g, w)| *g == IVec3::new(3, 4, 5) && (*w - 1.0).abs() < 1e-6));
    }
}
