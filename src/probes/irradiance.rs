//! A read-only copy of the clipmap's irradiance for workers: what a trace sees at its hits (multi-bounce).
//!
//! The manager rebuilds one level's copy a slice at a time (a fixed number of slots per frame, so the render
//! thread's cost stays flat) and swaps it in when complete; workers hold `Arc`s of whatever was current when
//! their batch started, so results depend only on the frame the batch was submitted in.

use std::sync::Arc;

use glam::{IVec3, Vec3};

use super::clipmap::{level_weights, trilinear, LevelTopology};
use super::payload::ProbePayload;
use super::sh::ShL1;
use crate::voxel::IrradianceSource;

/// One level's irradiance.
#[derive(Clone, Debug)]
pub struct LevelIrradiance {
    /// Topology when copied.
    pub topo: LevelTopology,
    /// Probe coordinate held by each slot (`i32::MIN` x for none).
    pub coords: Vec<IVec3>,
    /// Deringed SH per slot.
    pub sh: Vec<ShL1>,
    /// Confidence of usable probes, 0 otherwise.
    pub weight: Vec<f32>,
}

impl LevelIrradiance {
    /// A level with no data.
    pub fn empty(topo: LevelTopology) -> Self {
        let n = topo.len();
        LevelIrradiance {
            topo,
            coords: vec![IVec3::splat(i32::MIN); n],
            sh: vec![ShL1::default(); n],
            weight: vec![0.0; n],
        }
    }

    /// Copies slots `range` from the manager's storage (`coord_of(slot)` gives each slot's probe).
    pub fn copy_from(
        &mut self,
        range: std::ops::Range<usize>,
        coord_of: impl Fn(usize) -> IVec3,
        payloads: &[ProbePayload],
    ) {
        for i in range {
            let p = &payloads[i];
            self.coords[i] = coord_of(i);
            if p.usable() {
                self.sh[i] = p.sh.deringed();
                self.weight[i] = p.confidence;
            } else {
                self.weight[i] = 0.0;
            }
        }
    }

    fn sample(&self, pos: Vec3, normal: Vec3) -> Option<(Vec3, f32)> {
        let mut sum = Vec3::ZERO;
        let mut wsum = 0.0;
        for (g, w) in trilinear(&self.topo, pos) {
            if w <= 0.0 || !self.topo.bounds().contains(g) {
                continue;
            }
            let s = self.topo.slot(g);
            if self.coords[s] != g || self.weight[s] <= 0.0 {
                continue;
            }
            let ww = w * self.weight[s];
            sum += self.sh[s].irradiance_raw(normal).max(Vec3::ZERO) * ww;
            wsum += ww;
        }
        (wsum > 1e-4).then(|| (sum / wsum, wsum.min(1.0)))
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
    fn irradiance(&self, pos: Vec3, normal: Vec3) -> Option<Vec3> {
        let topos: Vec<LevelTopology> = self.levels.iter().map(|l| l.topo).collect();
        let mut sum = Vec3::ZERO;
        let mut wsum = 0.0;
        for (i, w) in level_weights(&topos, pos, self.band) {
            if w <= 0.0 {
                continue;
            }
            if let Some((e, conf)) = self.levels[i].sample(pos, normal) {
                sum += e * w * conf;
                wsum += w * conf;
            }
        }
        (wsum > 1e-4).then(|| sum / wsum)
    }
}
