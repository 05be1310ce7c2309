//! The editable voxel world: terrain of the streamed-in regions plus voxelised placements, kept as a
//! copy-on-write [`VoxelGrid`] that workers read while the render thread edits.
//!
//! - Terrain is generated per region when the region is streamed in (heights cached per column), and dropped
//!   with it. Each column is filled from its top down to one voxel below its lowest neighbour, a closed shell.
//! - Placements are voxelised with their full transform: every voxel centre in the placement's box is mapped
//!   into the asset's frame and sampled (any rotation and scale, resampled). Tint and emission are baked in.
//! - An edit never patches voxels in place: each touched brick is rebuilt from scratch from the terrain and
//!   every placement whose box overlaps it (found through a per-chunk index), in placement-id order, so removing
//!   one of two overlapping placements restores the other exactly. Only bricks inside changed boxes are rebuilt.
//! - Publishing copies the chunk table (pointers) and the touched chunks only; a worker holding the previous
//!   `Arc<VoxelGrid>` keeps a consistent old version.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use glam::{IVec2, IVec3, Mat4, Vec2, Vec3};
use rustc_hash::{FxHashMap, FxHashSet};

use super::brick::{Brick, BRICK, BRICK_VOXELS};
use super::emitters;
use super::grid::{Chunk, VoxelGrid, CHUNK};
use super::material::{EmissiveTable, PackedMaterial};
use crate::geom::Aabb;
use crate::streaming::{ChangeCause, Placement, RegionId, SceneChange};
use crate::world::{Asset, AssetModel, Terrain, World};

/// Headroom above the highest thing in the world file, metres (room for moves and additions).
pub const HEADROOM_M: f32 = 16.0;

/// Most voxels a world's grid may be tall (as many as it may be across).
pub const MAX_VOXELS_TALL: f64 = 16_384.0;

/// Most bricks (8^3 voxels) a world's grid may hold, filled or not: per brick the grid keeps about 4.3 bytes
/// of index (the batch tracer's slot, occupancy bits), so the limit caps that at about 290 MiB.
pub const MAX_GRID_BRICKS: f64 = (1u64 << 26) as f64;

/// Where a world's voxel grid sits and how many chunks it has.
#[derive(Clone, Debug, PartialEq)]
pub struct GridLayout {
    /// World position of voxel (0, 0, 0)'s minimum corner.
    pub origin: Vec3,
    /// Size in chunks.
    pub chunk_dims: IVec3,
    /// `None` when within the limits; otherwise why not (the layout is then cut down to them).
    pub over_limit: Option<String>,
}

/// The grid a world needs: its bounds across, and up and down from the terrain's height range to every
/// placement's box (initial ones and timeline additions), plus [`HEADROOM_M`] above. The loader refuses a world
/// whose grid breaks [`MAX_VOXELS_TALL`] or [`MAX_GRID_BRICKS`]; a world built by hand that does gets a grid cut
/// down to the limits (what lies outside is not voxelised).
pub fn grid_layout(world: &World) -> GridLayout {
    let vs = world.voxel_size;
    let (lo_xz, hi_xz) = world.bounds;
    let (mut y_lo, mut y_hi) = world.terrain.height_range().unwrap_or((0.0, 0.0));
    let mut grow = |b: Aabb| {
        y_lo = y_lo.min(b.min.y);
        y_hi = y_hi.max(b.max.y);
    };
    let adds = world.timeline.iter().flat_map(|e| &e.edits).filter_map(|edit| match edit {
        crate::streaming::Edit::Add(p) => Some(p),
        _ => None,
    });
    for p in world.placements.iter().chain(adds) {
        if let Some(a) = world.assets.get(&p.asset_id) {
            grow(a.bounds.transformed(&p.transform.matrix()));
        }
    }
    let origin = Vec3::new(lo_xz.x, y_lo - 2.0 * vs, lo_xz.y);
    let extent = Vec3::new(hi_xz.x - lo_xz.x, y_hi + HEADROOM_M - origin.y, hi_xz.y - lo_xz.y);
    let dims = (extent / (vs * CHUNK as f32)).ceil().max(Vec3::ONE);
    // The limits, in f64 (the f32 sizes above may be infinite or beyond i32).
    let chunk = f64::from(CHUNK);
    let tall = f64::from(dims.y) * chunk;
    let bricks = dims.as_dvec3().element_product() * f64::from(CHUNK_BRICKS_3);
    let over_limit = if !(origin.is_finite() && extent.is_finite()) || tall > MAX_VOXELS_TALL {
        Some(format!(
            "the world is {tall} voxels tall (terrain and placements from {y_lo} m to {y_hi} m), more than \
             {MAX_VOXELS_TALL}"
        ))
    } else if bricks > MAX_GRID_BRICKS {
        Some(format!("its voxel grid would have {bricks} bricks, more than {MAX_GRID_BRICKS}"))
    } else {
        None
    };
    if over_limit.is_none() {
        return GridLayout { origin, chunk_dims: dims.as_ivec3(), over_limit };
    }
    // Cut down to the limits (only a world built by hand gets here; the loader refuses it).
    let mut d =
        [f64::from(dims.x).min(1e6), (MAX_VOXELS_TALL / chunk).min(f64::from(dims.y)), f64::from(dims.z).min(1e6)];
    while d.iter().product::<f64>() * f64::from(CHUNK_BRICKS_3) > MAX_GRID_BRICKS && d[1] > 1.0 {
        d[1] = (d[1] / 2.0).floor().max(1.0);
    }
    let origin = if origin.is_finite() { origin } else { Vec3::new(lo_xz.x, 0.0, lo_xz.y) };
    GridLayout { origin, chunk_dims: IVec3::new(d[0] as i32, d[1] as i32, d[2] as i32), over_limit }
}

/// Bricks per chunk.
const CHUNK_BRICKS_3: u32 = ((CHUNK / BRICK) * (CHUNK / BRICK) * (CHUNK / BRICK)) as u32;

struct Placed {
    id: String,
    asset: Arc<Asset>,
    inv: Mat4,
    /// For a `.vox` model placed exactly on the grid (a signed permutation with whole-voxel offsets: every
    /// MagicaVoxel scene), the model cell of grid voxel `v` as `rows * v + offset`, so the voxeliser indexes the
    /// model directly instead of transforming each cell centre. The same cells as sampling: checked at insert.
    exact: Option<ExactMap>,
    tint: Vec3,
    emission: f32,
    lo: IVec3,
    hi: IVec3,
}

struct RegionTerrain {
    /// First voxel column `(x, z)` of the region.
    col0: IVec2,
    /// Columns along x and z.
    size: IVec2,
    /// Per column: top voxel (inclusive), bottom voxel (inclusive), packed material. `top < bottom` = none.
    cols: Vec<(i32, i32, PackedMaterial)>,
}

/// What an edit did, for the probes and the stats panel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VoxelEdit {
    /// World boxes whose voxels changed because the world was edited (placements' old and new boxes).
    pub edited: Vec<Aabb>,
    /// World boxes whose voxels appeared or vanished because regions were streamed in or out (their
    /// terrain and placements).
    pub streamed: Vec<Aabb>,
    /// Bricks rebuilt.
    pub bricks_rebuilt: usize,
    /// Wall-clock time of the edit, milliseconds.
    pub millis: f64,
}

/// Counters of the voxel world.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct VoxelStats {
    /// Placements voxelised.
    pub placements: usize,
    /// Regions with terrain.
    pub regions: usize,
    /// Bricks allocated.
    pub bricks: usize,
    /// Solid voxels.
    pub solid_voxels: u64,
    /// Bytes of the grid (chunks, bricks) plus terrain caches and the placement index.
    pub bytes: usize,
    /// Bricks rebuilt by the last edit.
    pub last_bricks_rebuilt: usize,
    /// Milliseconds of the last edit.
    pub last_edit_ms: f64,
    /// Emissive values merged because the emissive table was full.
    pub emissive_merged: u64,
}

/// The editable voxel world.
pub struct VoxelWorld {
    world: Arc<World>,
    grid: Arc<VoxelGrid>,
    emissive: EmissiveTable,
    placed: Vec<Option<Placed>>,
    free: Vec<u32>,
    ids: FxHashMap<String, u32>,
    chunk_index: FxHashMap<IVec3, Vec<u32>>,
    regions: FxHashMap<RegionId, RegionTerrain>,
    /// Voxel columns `(x, z)` inside the world's bounds, counted from the grid origin: nothing is voxelised
    /// beyond them (the grid itself is rounded up to whole chunks).
    world_cols: IVec2,
    brick_bytes: usize,
    stats: VoxelStats,
}

impl VoxelWorld {
    /// An empty voxel world sized for `world` (nothing streamed in yet).
    pub fn new(world: Arc<World>) -> Self {
        let vs = world.voxel_size;
        let (lo_xz, hi_xz) = world.bounds;
        let layout = grid_layout(&world);
        let grid = VoxelGrid::empty(layout.origin, vs, layout.chunk_dims, world.lights);
        let world_cols = ((hi_xz - lo_xz) / vs).ceil().as_ivec2();
        VoxelWorld {
            world_cols,
            world,
            grid: Arc::new(grid),
            emissive: EmissiveTable::default(),
            placed: Vec::new(),
            free: Vec::new(),
            ids: FxHashMap::default(),
            chunk_index: FxHashMap::default(),
            regions: FxHashMap::default(),
            brick_bytes: 0,
            stats: VoxelStats::default(),
        }
    }

    /// The current version, for workers.
    pub fn snapshot(&self) -> Arc<VoxelGrid> {
        self.grid.clone()
    }

    /// Counters.
    pub fn stats(&self) -> VoxelStats {
        self.stats
    }

    /// Regions with terrain.
    pub fn loaded_regions(&self) -> BTreeSet<RegionId> {
        self.regions.keys().copied().collect()
    }

    /// Streams in every region and every placement of the world at time 0 (tests, benches, references).
    pub fn load_everything(&mut self) -> VoxelEdit {
        let grid = self.world.grid();
        let regions: BTreeSet<RegionId> =
            (grid.min.0..grid.max.0).flat_map(|x| (grid.min.1..grid.max.1).map(move |z| RegionId::new(x, z))).collect();
        let changes: Vec<SceneChange> = self
            .world
            .placements
            .iter()
            .map(|p| SceneChange {
                cause: ChangeCause::Streamed,
                before: None,
                after: Some(Arc::new(p.clone())),
                before_box: None,
                after_box: None,
            })
            .collect();
        self.apply(&changes, &regions)
    }

    /// Applies scene changes and the streamed-in region set; rebuilds only the touched bricks.
    pub fn apply(&mut self, changes: &[SceneChange], loaded: &BTreeSet<RegionId>) -> VoxelEdit {
        let start = Instant::now();
        let mut dirty: FxHashSet<IVec3> = FxHashSet::default();
        let mut streamed = Vec::new();
        let mut edited = Vec::new();

        let dropped: Vec<RegionId> = self.regions.keys().filter(|r| !loaded.contains(r)).copied().collect();
        let entered: Vec<RegionId> = loaded.iter().filter(|r| !self.regions.contains_key(r)).copied().collect();
        for r in &dropped {
            if let Some(t) = self.regions.remove(r) {
                self.dirty_region(&t, &mut dirty);
                streamed.push(self.columns_box(t.col0, t.size));
            }
        }
        for r in &entered {
            let t = self.region_terrain(*r);
            self.dirty_region(&t, &mut dirty);
            streamed.push(self.columns_box(t.col0, t.size));
            self.regions.insert(*r, t);
        }

        for ch in changes {
            let boxes = match ch.cause {
                ChangeCause::Edited => &mut edited,
                ChangeCause::Streamed => &mut streamed,
            };
            if let Some(b) = &ch.before {
                if let Some(slot) = self.ids.remove(&b.placement_id) {
                    self.remove_slot(slot, &mut dirty, boxes);
                }
            }
            if let Some(a) = &ch.after {
                if let Some(slot) = self.ids.remove(&a.placement_id) {
                    self.remove_slot(slot, &mut dirty, boxes);
                }
                self.insert(a, &mut dirty, boxes);
            }
        }

        let columns = ColumnMap::new(&self.grid, &self.world, &self.regions);
        let mut bricks: Vec<IVec3> = dirty.into_iter().collect();
        bricks.sort_unstable_by_key(|b| (b.z, b.y, b.x));
        let rebuilt: Vec<(IVec3, Option<Brick>)> =
            bricks.iter().map(|b| (*b, self.build_brick(*b, &columns))).collect();
        self.publish(rebuilt, columns);

        let millis = start.elapsed().as_secs_f64() * 1000.0;
        self.stats.last_bricks_rebuilt = bricks.len();
        self.stats.last_edit_ms = millis;
        self.stats.placements = self.ids.len();
        self.stats.regions = self.regions.len();
        self.stats.emissive_merged = self.emissive.merged;
        VoxelEdit { edited, streamed, bricks_rebuilt: bricks.len(), millis }
    }

    fn insert(&mut self, p: &Placement, dirty: &mut FxHashSet<IVec3>, changed: &mut Vec<Aabb>) {
        let Some(asset) = self.world.assets.get(&p.asset_id).cloned() else {
            log::warn!("placement {} uses unknown asset {}; not voxelised", p.placement_id, p.asset_id);
            return;
        };
        if p.flags & crate::streaming::flags::VISIBLE == 0 {
            return;
        }
        let m = p.transform.matrix();
        let world_box = asset.bounds.transformed(&m);
        let vs = self.grid.voxel_size;
        let lo = ((world_box.min - self.grid.origin) / vs).floor().as_ivec3().max(IVec3::ZERO);
        let hi = ((world_box.max - self.grid.origin) / vs).ceil().as_ivec3().min(self.grid.dims);
        changed.push(world_box);
        if lo.cmpge(hi).any() {
            log::warn!("placement {} lies outside the voxel grid; not voxelised", p.placement_id);
            return;
        }
        let inv = m.inverse();
        let exact = ExactMap::new(&asset, &inv, &self.grid);
        let placed =
            Placed { id: p.placement_id.clone(), asset, inv, exact, tint: p.tint, emission: p.emission, lo, hi };
        let slot = match self.free.pop() {
            Some(s) => {
                self.placed[s as usize] = Some(placed);
                s
            }
            None => {
                self.placed.push(Some(placed));
                (self.placed.len() - 1) as u32
            }
        };
        self.ids.insert(p.placement_id.clone(), slot);
        for c in chunk_range(lo, hi) {
            self.chunk_index.entry(c).or_default().push(slot);
        }
        mark_bricks(lo, hi, dirty);
    }

    fn remove_slot(&mut self, slot: u32, dirty: &mut FxHashSet<IVec3>, changed: &mut Vec<Aabb>) {
        let Some(p) = self.placed[slot as usize].take() else { return };
        self.free.push(slot);
        for c in chunk_range(p.lo, p.hi) {
            if let Some(list) = self.chunk_index.get_mut(&c) {
                list.retain(|s| *s != slot);
                if list.is_empty() {
                    self.chunk_index.remove(&c);
                }
            }
        }
        mark_bricks(p.lo, p.hi, dirty);
        let vs = self.grid.voxel_size;
        changed.push(Aabb { min: self.grid.origin + p.lo.as_vec3() * vs, max: self.grid.origin + p.hi.as_vec3() * vs });
    }

    fn region_terrain(&mut self, r: RegionId) -> RegionTerrain {
        let g = &self.grid;
        let vs = g.voxel_size;
        let (lo, hi) = self.world.grid().region_rect(r);
        let col = |x: f32| ((x - g.origin.x) / vs).round() as i32;
        let colz = |z: f32| ((z - g.origin.z) / vs).round() as i32;
        let bdims = g.brick_columns() * BRICK;
        let col0 = IVec2::new(col(lo.x).clamp(0, bdims.x), colz(lo.y).clamp(0, bdims.y));
        let col1 = IVec2::new(col(hi.x).clamp(0, bdims.x), colz(hi.y).clamp(0, bdims.y));
        let size = (col1 - col0).max(IVec2::ZERO);
        let terrain = &self.world.terrain;
        let top_of = |cx: i32, cz: i32| -> Option<(i32, f32)> {
            let x = g.origin.x + (cx as f32 + 0.5) * vs;
            let z = g.origin.z + (cz as f32 + 0.5) * vs;
            let h = terrain.height(x, z)?;
            Some((((h - g.origin.y) / vs - 0.5).ceil() as i32 - 1, h))
        };
        let w = (size.x + 2) as usize;
        let mut tops = vec![None; w * (size.y + 2) as usize];
        for j in 0..size.y + 2 {
            for i in 0..size.x + 2 {
                tops[i as usize + w * j as usize] = top_of(col0.x + i - 1, col0.y + j - 1);
            }
        }
        let (flat_mat, slope_mat) = match terrain {
            Terrain::None => (0, 0),
            Terrain::Flat { material, .. } => (*material, *material),
            Terrain::Noise(n) => (n.material, n.slope_material),
        };
        let mut pack = |m: u16| {
            let mat = &self.world.materials[usize::from(m)];
            PackedMaterial::new(mat.albedo, self.emissive.intern(mat.emissive))
        };
        let (flat, slope) = (pack(flat_mat), pack(slope_mat));
        let mut cols = Vec::with_capacity((size.x * size.y) as usize);
        for j in 1..=size.y {
            for i in 1..=size.x {
                let at = |di: i32, dj: i32| tops[(i + di) as usize + w * (j + dj) as usize];
                let Some((top, h)) = at(0, 0) else {
                    cols.push((-1, 0, PackedMaterial::EMPTY));
                    continue;
                };
                let mut lowest = top;
                let mut steep = false;
                for (di, dj) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                    if let Some((t, hn)) = at(di, dj) {
                        lowest = lowest.min(t);
                        steep |= (hn - h).abs() > vs;
                    }
                }
                let bottom = (lowest - 1).max(0);
                cols.push((top.min(g.dims.y - 1), bottom, if steep { slope } else { flat }));
            }
        }
        RegionTerrain { col0, size, cols }
    }

    fn terrain_column(&self, cx: i32, cz: i32, columns: &ColumnMap) -> Option<(i32, i32, PackedMaterial)> {
        let r = columns.region_of_column(cx, cz)?;
        let t = self.regions.get(&r)?;
        let (i, j) = (cx - t.col0.x, cz - t.col0.y);
        if i < 0 || j < 0 || i >= t.size.x || j >= t.size.y {
            return None;
        }
        let c = t.cols[(i + j * t.size.x) as usize];
        (c.0 >= c.1).then_some(c)
    }

    fn build_brick(&mut self, b: IVec3, columns: &ColumnMap) -> Option<Brick> {
        let base = b * BRICK;
        if !columns.loaded(b.x, b.z) || base.x >= self.world_cols.x || base.z >= self.world_cols.y {
            return None;
        }
        let mut dense = [PackedMaterial::EMPTY; BRICK_VOXELS];
        // Columns of this brick inside the world's bounds.
        let cols = (self.world_cols - IVec2::new(base.x, base.z)).min(IVec2::splat(BRICK));
        let mut any = false;
        for z in 0..cols.y {
            for x in 0..cols.x {
                if let Some((top, bottom, m)) = self.terrain_column(base.x + x, base.z + z, columns) {
                    let y0 = (bottom - base.y).max(0);
                    let y1 = (top - base.y).min(BRICK - 1);
                    for y in y0..=y1 {
                        dense[(x + 8 * y + 64 * z) as usize] = m;
                        any = true;
                    }
                }
            }
        }
        let mut candidates: Vec<u32> = self.chunk_index.get(&(base / CHUNK)).cloned().unwrap_or_default();
        candidates.retain(|s| {
            let p = self.placed[*s as usize].as_ref();
            p.is_some_and(|p| p.lo.cmplt(base + BRICK).all() && p.hi.cmpgt(base).all())
        });
        candidates.sort_unstable_by(|a, b| {
            let pa = self.placed[*a as usize].as_ref().map(|p| p.id.as_str());
            let pb = self.placed[*b as usize].as_ref().map(|p| p.id.as_str());
            pa.cmp(&pb)
        });
        let (origin, vs) = (self.grid.origin, self.grid.voxel_size);
        for slot in candidates {
            let Some(p) = self.placed[slot as usize].as_ref() else { continue };
            let lo = (p.lo - base).max(IVec3::ZERO);
            let hi = (p.hi - base).min(IVec3::new(cols.x, BRICK, cols.y));
            if lo.cmpge(hi).any()
                || !may_be_solid(
                    p,
                    origin + ((base + lo).as_vec3() + 0.5) * vs,
                    origin + ((base + hi).as_vec3() - 0.5) * vs,
                )
            {
                continue;
            }
            let mut cache: [(u16, PackedMaterial); 4] = [(u16::MAX, PackedMaterial::EMPTY); 4];
            for z in lo.z..hi.z {
                for y in lo.y..hi.y {
                    for x in lo.x..hi.x {
                        let v = base + IVec3::new(x, y, z);
                        let sampled = match &p.exact {
                            Some(e) => e.sample(v),
                            None => p.asset.sample(p.inv.transform_point3(origin + (v.as_vec3() + 0.5) * vs)),
                        };
                        let Some(m) = sampled else { continue };
                        let packed = match cache.iter().find(|c| c.0 == m) {
                            Some(c) => c.1,
                            None => {
                                let mat = &self.world.materials[usize::from(m)];
                                let e = self.emissive.intern(mat.emissive * p.emission);
                                let packed = PackedMaterial::new(mat.albedo * p.tint, e);
                                cache.rotate_right(1);
                                cache[0] = (m, packed);
                                packed
                            }
                        };
                        dense[(x + 8 * y + 64 * z) as usize] = packed;
                        any = true;
                    }
                }
            }
        }
        if any {
            Brick::from_dense(&dense, &self.emissive)
        } else {
            None
        }
    }

    fn publish(&mut self, bricks: Vec<(IVec3, Option<Brick>)>, columns: ColumnMap) {
        let emissive = Arc::new(self.emissive.clone());
        let grid = Arc::make_mut(&mut self.grid);
        grid.emissive = emissive;
        let old_columns = std::mem::replace(&mut grid.column_loaded, columns.flags);
        let nb = grid.dims / BRICK;
        let set_stop = |grid: &mut VoxelGrid, b: IVec3| {
            let lin = grid.brick_linear(b);
            let stop = grid.brick_bits[lin >> 6] >> (lin & 63) & 1 != 0 || !grid.column_loaded(b.x, b.z);
            grid.stop_bits[lin >> 6] = grid.stop_bits[lin >> 6] & !(1 << (lin & 63)) | u64::from(stop) << (lin & 63);
        };
        let changed: Vec<usize> =
            (0..old_columns.len()).filter(|i| old_columns[*i] != grid.column_loaded[*i]).collect();
        let mut refresh: Vec<IVec3> = Vec::with_capacity(bricks.len() + changed.len() * nb.y as usize);
        for i in changed {
            let (bx, bz) = (i as i32 % nb.x, i as i32 / nb.x);
            for by in 0..nb.y {
                set_stop(grid, IVec3::new(bx, by, bz));
                refresh.push(IVec3::new(bx, by, bz));
            }
        }
        refresh.extend(bricks.iter().map(|(b, _)| *b));
        let mut lamps: Vec<IVec3> = bricks
            .iter()
            .flat_map(|(b, _)| {
                [IVec3::ZERO, IVec3::X, IVec3::NEG_X, IVec3::Y, IVec3::NEG_Y, IVec3::Z, IVec3::NEG_Z].map(|d| *b + d)
            })
            .filter(|b| b.cmpge(IVec3::ZERO).all() && b.cmplt(nb).all())
            .collect();
        lamps.sort_unstable_by_key(|b| (b.z, b.y, b.x));
        lamps.dedup();
        let mut touched: Vec<usize> = Vec::new();
        for (b, brick) in bricks {
            let lin = grid.brick_linear(b);
            match &brick {
                Some(_) => grid.brick_bits[lin >> 6] |= 1 << (lin & 63),
                None => grid.brick_bits[lin >> 6] &= !(1 << (lin & 63)),
            }
            set_stop(grid, b);
            let c: IVec3 = b / 4;
            let ci = (c.x + grid.chunk_dims.x * (c.y + grid.chunk_dims.y * c.z)) as usize;
            let i = ((b.x & 3) + 4 * (b.y & 3) + 16 * (b.z & 3)) as usize;
            let slot = &mut grid.chunks[ci];
            if slot.is_none() && brick.is_none() {
                continue;
            }
            touched.push(ci);
            let chunk = Arc::make_mut(slot.get_or_insert_with(|| Arc::new(Chunk::default())));
            if let Some(nb) = &brick {
                self.stats.bricks += 1;
                self.stats.solid_voxels += nb.solid_count() as u64;
                self.brick_bytes += nb.material_bytes();
            }
            if let Some(old) = chunk.set(i, brick) {
                self.stats.bricks -= 1;
                self.stats.solid_voxels -= old.len() as u64;
                self.brick_bytes -= 16 + old.len() * std::mem::size_of::<PackedMaterial>();
            }
            if chunk.occupancy == 0 {
                *slot = None;
            }
        }
        for b in refresh {
            grid.refresh_ray_slot(b);
        }
        for b in lamps {
            let entry = emitters::scan(grid, b);
            let lin = grid.brick_linear(b) as u32;
            Arc::make_mut(&mut grid.emitters).put(lin, entry);
        }
        touched.sort_unstable();
        touched.dedup();
        for ci in touched {
            grid.chunk_hash[ci] = match &grid.chunks[ci] {
                None => 0,
                Some(c) => chunk_hash(c),
            };
        }
        grid.version += 1;
        let chunks = grid.chunks.iter().flatten().count();
        let terrain: usize =
            self.regions.values().map(|t| t.cols.len() * std::mem::size_of::<(i32, i32, PackedMaterial)>()).sum();
        let index: usize = self.chunk_index.values().map(|v| v.capacity() * 4 + 48).sum();
        let tables = grid.chunks.len() * std::mem::size_of::<Option<Arc<Chunk>>>()
            + grid.column_loaded.len()
            + grid.ray_index_bytes();
        self.stats.bytes = self.brick_bytes
            + tables
            + chunks * std::mem::size_of::<Chunk>()
            + terrain
            + index
            + self.placed.len() * std::mem::size_of::<Option<Placed>>();
    }

    /// Marks the bricks of a region's columns that hold (or, once it is loaded, will hold) anything: the
    /// terrain's height range, and the part of every placement's box that reaches into the columns. The rest of
    /// the columns is empty whether the region is loaded or not, so it is not rebuilt.
    fn dirty_region(&self, t: &RegionTerrain, dirty: &mut FxHashSet<IVec3>) {
        let (col0, size) = (t.col0, t.size);
        if size.cmple(IVec2::ZERO).any() {
            return;
        }
        let (mut y0, mut y1) = (i32::MAX, i32::MIN);
        for &(top, bottom, _) in &t.cols {
            if top >= bottom {
                y0 = y0.min(bottom);
                y1 = y1.max(top);
            }
        }
        if y0 <= y1 {
            mark_bricks(
                IVec3::new(col0.x, y0.max(0), col0.y),
                IVec3::new(col0.x + size.x, y1 + 1, col0.y + size.y),
                dirty,
            );
        }
        let lo = IVec3::new(col0.x, 0, col0.y);
        let hi = IVec3::new(col0.x + size.x, self.grid.dims.y, col0.y + size.y);
        // A brick column that a region border cuts is loaded only once every region it overlaps is: when the
        // last of them streams in (or the first streams out), a neighbour's content in it appears (or goes), at
        // any height. Such edge columns are rebuilt whole.
        let top = self.grid.dims.y;
        for (x, cut) in [(col0.x, col0.x % BRICK != 0), (col0.x + size.x - 1, (col0.x + size.x) % BRICK != 0)] {
            if cut {
                mark_bricks(IVec3::new(x, 0, col0.y), IVec3::new(x + 1, top, col0.y + size.y), dirty);
            }
        }
        for (z, cut) in [(col0.y, col0.y % BRICK != 0), (col0.y + size.y - 1, (col0.y + size.y) % BRICK != 0)] {
            if cut {
                mark_bricks(IVec3::new(col0.x, 0, z), IVec3::new(col0.x + size.x, top, z + 1), dirty);
            }
        }
        let mut seen: FxHashSet<u32> = FxHashSet::default();
        for c in chunk_range(lo, hi) {
            for &slot in self.chunk_index.get(&c).into_iter().flatten() {
                if !seen.insert(slot) {
                    continue;
                }
                if let Some(p) = self.placed[slot as usize].as_ref() {
                    mark_bricks(p.lo.max(lo), p.hi.min(hi), dirty);
                }
            }
        }
    }

    fn columns_box(&self, col0: IVec2, size: IVec2) -> Aabb {
        let vs = self.grid.voxel_size;
        let o = self.grid.origin;
        Aabb {
            min: o + Vec3::new(col0.x as f32, 0.0, col0.y as f32) * vs,
            max: o + Vec3::new((col0.x + size.x) as f32, self.grid.dims.y as f32, (col0.y + size.y) as f32) * vs,
        }
    }
}

/// Which region each brick column belongs to and whether it is streamed in (or lies outside the world).
struct ColumnMap {
    origin: Vec2,
    voxel_size: f32,
    region_size: f32,
    nbx: i32,
    flags: Vec<bool>,
}

impl ColumnMap {
    fn new(grid: &VoxelGrid, world: &World, regions: &FxHashMap<RegionId, RegionTerrain>) -> Self {
        let cols = grid.brick_columns();
        let rg = world.grid();
        let mut m = ColumnMap {
            origin: Vec2::new(grid.origin.x, grid.origin.z),
            voxel_size: grid.voxel_size,
            region_size: world.region_size,
            nbx: cols.x,
            flags: vec![false; (cols.x * cols.y) as usize],
        };
        let vs = grid.voxel_size;
        for bz in 0..cols.y {
            for bx in 0..cols.x {
                let lo = m.origin + Vec2::new(bx as f32, bz as f32) * (BRICK as f32 * vs);
                let hi = lo + Vec2::splat(BRICK as f32 * vs - vs * 0.01);
                let rs = rg.region_size;
                let (x0, x1) = ((lo.x / rs).floor() as i32, (hi.x / rs).floor() as i32);
                let (z0, z1) = ((lo.y / rs).floor() as i32, (hi.y / rs).floor() as i32);
                // Cells outside the world's region grid can never be streamed: they are known to be empty.
                let all = (x0..=x1).all(|x| {
                    (z0..=z1).all(|z| {
                        let r = RegionId::new(x, z);
                        !rg.contains(r) || regions.contains_key(&r)
                    })
                });
                m.flags[(bx + bz * cols.x) as usize] = all;
            }
        }
        m
    }

    fn loaded(&self, bx: i32, bz: i32) -> bool {
        self.flags.get((bx + bz * self.nbx) as usize).copied().unwrap_or(false)
    }

    fn region_of_column(&self, cx: i32, cz: i32) -> Option<RegionId> {
        let x = self.origin.x + (cx as f32 + 0.5) * self.voxel_size;
        let z = self.origin.y + (cz as f32 + 0.5) * self.voxel_size;
        Some(RegionId::new((x / self.region_size).floor() as i32, (z / self.region_size).floor() as i32))
    }
}

/// A grid-exact placement of a `.vox` model: model cell = `rows * grid voxel + offset`.
struct ExactMap {
    model: Arc<Asset>,
    rows: [IVec3; 3],
    offset: IVec3,
}

impl ExactMap {
    /// The integer map of a placement, when its inverse transform maps grid cell centres onto model cell
    /// centres (to within a hundredth of a cell) by a signed permutation; `None` otherwise.
    fn new(asset: &Arc<Asset>, inv: &Mat4, grid: &VoxelGrid) -> Option<ExactMap> {
        let AssetModel::Vox(m) = &asset.model else { return None };
        let (origin, vs) = (grid.origin, grid.voxel_size);
        let cell = |v: IVec3| inv.transform_point3(origin + (v.as_vec3() + 0.5) * vs) / m.voxel_size + m.pivot;
        let c0 = cell(IVec3::ZERO);
        let axes = [IVec3::X, IVec3::Y, IVec3::Z].map(|a| cell(a) - c0);
        let mut cols = [IVec3::ZERO; 3];
        for (i, d) in axes.iter().enumerate() {
            let r = d.round();
            if (*d - r).abs().max_element() > 1e-3 || r.abs().element_sum() != 1.0 {
                return None;
            }
            cols[i] = r.as_ivec3();
        }
        let frac = c0 - c0.floor();
        if (frac - 0.5).abs().max_element() > 1e-2 {
            return None;
        }
        let rows = [
            IVec3::new(cols[0].x, cols[1].x, cols[2].x),
            IVec3::new(cols[0].y, cols[1].y, cols[2].y),
            IVec3::new(cols[0].z, cols[1].z, cols[2].z),
        ];
        let map = ExactMap { model: asset.clone(), rows, offset: c0.floor().as_ivec3() };
        // The far corner of the grid agrees too (no drift from rounding over distance).
        let far = grid.dims - 1;
        let f = cell(far);
        if (f - f.floor() - 0.5).abs().max_element() > 1e-2 || f.floor().as_ivec3() != map.cell(far) {
            return None;
        }
        Some(map)
    }

    fn cell(&self, v: IVec3) -> IVec3 {
        IVec3::new(self.rows[0].dot(v), self.rows[1].dot(v), self.rows[2].dot(v)) + self.offset
    }

    fn sample(&self, v: IVec3) -> Option<u16> {
        let AssetModel::Vox(m) = &self.model.model else { return None };
        m.cell(self.cell(v))
    }
}

/// False only when a `.vox` placement's model holds no solid cell where the world box of cell centres
/// `a..=b` maps to (the image of the box's corners bounds the image of every point inside: the map is affine).
fn may_be_solid(p: &Placed, a: Vec3, b: Vec3) -> bool {
    let AssetModel::Vox(m) = &p.asset.model else { return true };
    let (mut lo, mut hi) = (Vec3::splat(f32::INFINITY), Vec3::splat(f32::NEG_INFINITY));
    for i in 0..8 {
        let corner = Vec3::new(
            if i & 1 == 0 { a.x } else { b.x },
            if i & 2 == 0 { a.y } else { b.y },
            if i & 4 == 0 { a.z } else { b.z },
        );
        let c = p.inv.transform_point3(corner) / m.voxel_size + m.pivot;
        lo = lo.min(c);
        hi = hi.max(c);
    }
    m.may_be_solid((lo - 1e-3).floor().as_ivec3(), (hi + 1e-3).floor().as_ivec3())
}

/// Content hash of a chunk: its bricks' hashes (computed when each brick was built) and their places.
fn chunk_hash(c: &Chunk) -> u64 {
    (0..64).filter(|i| c.occupancy >> i & 1 != 0).fold(0u64, |h, i| crate::hash::mix64(h ^ i ^ c.hashes[i as usize]))
}

fn chunk_range(lo: IVec3, hi: IVec3) -> impl Iterator<Item = IVec3> {
    let c0 = lo / CHUNK;
    let c1 = (hi - 1) / CHUNK;
    (c0.z..=c1.z).flat_map(move |z| (c0.y..=c1.y).flat_map(move |y| (c0.x..=c1.x).map(move |x| IVec3::new(x, y, z))))
}

fn mark_bricks(lo: IVec3, hi: IVec3, dirty: &mut FxHashSet<IVec3>) {
    if lo.cmpge(hi).any() {
        return;
    }
    let b0 = lo / BRICK;
    let b1 = (hi - 1) / BRICK;
    for z in b0.z..=b1.z {
        for y in b0.y..=b1.y {
            for x in b0.x..=b1.x {
                dirty.insert(IVec3::new(x, y, z));
            }
        }
    }
}
