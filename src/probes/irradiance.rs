//! A read-only copy of the clipmap's irradiance for workers: what a trace sees at its hits (multi-bounce).
//!
//! The manager rebuilds one level's copy a slice at a time (a fixed number of slots per frame, so the render
//! thread's cost stays flat) and swaps it in when complete; workers hold `Arc`s of whatever was current when
//! their batch started, so results depend only on the frame the batch was submitted in. Retired copies are
//! reused once no worker holds them, so publishing allocates and frees nothing in steady state.
//!
//! Ray hits read the probes' whole light ([`ProbePayload::sh`]); the viewer's reference mode reads the copy
//! as shading does ([`ClipmapIrradiance::shading_irradiance`]: without the emitters' direct light, which
//! shading adds per point).

use std::sync::Arc;

use glam::{IVec3, Vec3};

use super::clipmap::LevelTopology;
use super::payload::ProbePayload;
use super::sample::{sample, LeakGuard, ProbeLevel};
use super::sh::ShL1;
use crate::voxel::{emitter_irradiance, IrradianceSource, VoxelGrid};

/// One level's irradiance.
#[derive(Clone, Debug)]
pub struct LevelIrradiance {
    /// Topology when copied.
    pub topo: LevelTopology,
    /// Probe coordinate held by each slot (`i32::MIN` x for none).
    pub coords: Vec<IVec3>,
    /// Raw SH per slot (shading reconstructs it, [`ShL1::irradiance`]).
    pub sh: Vec<ShL1>,
    /// The emitters' direct light in `sh` per slot ([`ProbePayload::emitted`]).
    pub emitted: Vec<ShL1>,
    /// Confidence of usable probes, 0 otherwise.
    pub weight: Vec<f32>,
    /// Summed bounce level ([`ProbePayload::bounce`]) of the usable probes copied so far.
    pub bounce_sum: f64,
    /// Summed light level of the usable probes copied so far.
    pub light_sum: f64,
}

impl LevelIrradiance {
    /// A level with no data (nothing allocated).
    pub fn empty(topo: LevelTopology) -> Self {
        LevelIrradiance {
            topo,
            coords: Vec::new(),
            sh: Vec::new(),
            emitted: Vec::new(),
            weight: Vec::new(),
            bounce_sum: 0.0,
            light_sum: 0.0,
        }
    }

    /// A level with no data yet and room for every slot (no reallocation while it fills).
    pub fn with_capacity(topo: LevelTopology) -> Self {
        let n = topo.len();
        LevelIrradiance {
            topo,
            coords: Vec::with_capacity(n),
            sh: Vec::with_capacity(n),
            emitted: Vec::with_capacity(n),
            weight: Vec::with_capacity(n),
            bounce_sum: 0.0,
            light_sum: 0.0,
        }
    }

    /// Clears the data but keeps the allocations, for the next copy.
    pub fn reset(&mut self, topo: LevelTopology) {
        self.topo = topo;
        self.coords.clear();
        self.sh.clear();
        self.emitted.clear();
        self.weight.clear();
        self.bounce_sum = 0.0;
        self.light_sum = 0.0;
    }

    /// Slots copied so far.
    pub fn len(&self) -> usize {
        self.coords.len()
    }

    /// True before the first copy.
    pub fn is_empty(&self) -> bool {
        self.coords.is_empty()
    }

    /// Appends the next `count` slots from the manager's storage (`coord_of(slot)` gives each slot's probe).
    pub fn copy_next(&mut self, count: usize, coord_of: impl Fn(usize) -> IVec3, payloads: &[ProbePayload]) {
        let start = self.coords.len();
        for (i, p) in payloads.iter().enumerate().skip(start).take(count) {
            self.coords.push(coord_of(i));
            let usable = p.usable();
            self.sh.push(if usable { p.sh } else { ShL1::default() });
            self.emitted.push(if usable { p.emitted } else { ShL1::default() });
            self.weight.push(if usable { p.confidence } else { 0.0 });
            if usable {
                self.bounce_sum += f64::from(p.bounce.level());
                self.light_sum += f64::from(p.sh.level());
            }
        }
    }
}

impl ProbeLevel for LevelIrradiance {
    fn topology(&self) -> &LevelTopology {
        &self.topo
    }

    #[inline]
    fn probe(&self, g: IVec3) -> Option<(ShL1, f32)> {
        let s = self.topo.slot(g);
        (self.coords.get(s) == Some(&g) && self.weight[s] > 0.0).then(|| (self.sh[s], self.weight[s]))
    }
}

/// A level read as shading reads it: without the emitters' direct light.
struct Shading<'a>(&'a LevelIrradiance);

impl ProbeLevel for Shading<'_> {
    fn topology(&self) -> &LevelTopology {
        &self.0.topo
    }

    #[inline]
    fn probe(&self, g: IVec3) -> Option<(ShL1, f32)> {
        let l = self.0;
        let s = l.topo.slot(g);
        (l.coords.get(s) == Some(&g) && l.weight[s] > 0.0).then(|| (l.sh[s].minus(&l.emitted[s]), l.weight[s]))
    }
}

/// The clipmap's irradiance as an [`IrradianceSource`].
#[derive(Clone, Debug, Default)]
pub struct ClipmapIrradiance {
    /// One entry per level.
    pub levels: Vec<Arc<LevelIrradiance>>,
    /// Border band for level blending, probes.
    pub band: f32,
}

impl IrradianceSource for ClipmapIrradiance {
    /// The shading read ([`sample`]) at a hit point `pos` on a surface facing `normal`, with the visibility
    /// leak guard (so no light reaches a sealed room through its one-voxel walls).
    fn irradiance(&self, grid: &VoxelGrid, pos: Vec3, normal: Vec3) -> Option<Vec3> {
        sample(&self.levels, self.band, pos, normal, LeakGuard::SurfaceVisibility(grid))
    }
}

impl ClipmapIrradiance {
    /// Irradiance at a surface point as the renderer's lighting pass computes it besides the sun: the probes
    /// without the emitters' direct light, read with the visibility leak guard, plus that light per point
    /// ([`emitter_irradiance`]). The probes' part is zero where no level holds a usable probe.
    pub fn shading_irradiance(&self, grid: &VoxelGrid, pos: Vec3, normal: Vec3) -> Vec3 {
        let levels: Vec<Shading> = self.levels.iter().map(|l| Shading(l)).collect();
        let probes = sample(&levels, self.band, pos, normal, LeakGuard::SurfaceVisibility(grid));
        probes.unwrap_or(Vec3::ZERO) + emitter_irradiance(grid, pos, normal)
    }
}
