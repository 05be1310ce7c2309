//! GPU pass times from timestamp queries, through `wgpu-profiler`: each of the renderer's passes (the upload
//! scatters, gbuffer, lighting, tonemap) is a compute pass with begin and end timestamps. Results come back a
//! frame or more later, when their read-back buffers are mapped; nothing here waits for the GPU. Adapters
//! without `TIMESTAMP_QUERY` give no pass times (`None`), never made-up ones.

use serde::{Deserialize, Serialize};
use wgpu_profiler::{GpuProfiler, GpuProfilerQuery, GpuProfilerSettings, GpuTimerQueryResult};

/// The timed passes, in frame order.
pub const PASSES: [&str; 4] = ["upload", "gbuffer", "lighting", "tonemap"];

/// One frame's GPU time per pass, milliseconds (the upload scatters summed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuPassTimes {
    /// Scatter passes that write uploaded bricks and probes into place (0 when nothing was uploaded).
    pub upload: f64,
    /// Primary rays through the bricks.
    pub gbuffer: f64,
    /// Sun, emission, probes, debug views.
    pub lighting: f64,
    /// ACES and sRGB.
    pub tonemap: f64,
}

impl GpuPassTimes {
    /// The passes as `(name, milliseconds)` in [`PASSES`] order.
    pub fn named(&self) -> [(&'static str, f64); 4] {
        [(PASSES[0], self.upload), (PASSES[1], self.gbuffer), (PASSES[2], self.lighting), (PASSES[3], self.tonemap)]
    }

    /// Sum over the passes.
    pub fn total(&self) -> f64 {
        self.upload + self.gbuffer + self.lighting + self.tonemap
    }

    fn add(&mut self, label: &str, ms: f64) {
        match label {
            "upload" => self.upload += ms,
            "gbuffer" => self.gbuffer += ms,
            "lighting" => self.lighting += ms,
            "tonemap" => self.tonemap += ms,
            _ => {}
        }
    }
}

/// Timestamp queries around the renderer's passes.
pub struct GpuTimer {
    profiler: Option<GpuProfiler>,
    /// Turned off by the caller (queries are not issued).
    enabled: bool,
    latest: Option<GpuPassTimes>,
    /// Finished frames not yet taken by [`GpuTimer::take_finished`] (at most [`KEEP_FINISHED`]).
    finished: Vec<GpuPassTimes>,
}

/// Finished frames kept for [`GpuTimer::take_finished`] (older ones are dropped when nobody takes them).
pub const KEEP_FINISHED: usize = 1024;

impl GpuTimer {
    /// A timer on `device`; inert when the device lacks `TIMESTAMP_QUERY`.
    pub fn new(device: &wgpu::Device) -> Self {
        let profiler = device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
            .then(|| {
                let settings = GpuProfilerSettings { enable_debug_groups: false, ..GpuProfilerSettings::default() };
                GpuProfiler::new(device, settings).map_err(|e| log::warn!("GPU pass timing is off: {e}")).ok()
            })
            .flatten();
        GpuTimer { profiler, enabled: true, latest: None, finished: Vec::new() }
    }

    /// True when the adapter gives pass times and they are on.
    pub fn supported(&self) -> bool {
        self.profiler.is_some() && self.enabled
    }

    /// Turns the queries off or on; off, [`GpuTimer::latest`] is `None`.
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
        if !on {
            self.latest = None;
        }
    }

    /// Opens a timed compute pass named `label` (one of [`PASSES`]) on `enc`.
    pub fn begin(&self, label: &'static str, enc: &mut wgpu::CommandEncoder) -> Option<GpuProfilerQuery> {
        self.profiler.as_ref().filter(|_| self.enabled).map(|p| p.begin_pass_query(label, enc))
    }

    /// The timestamp writes of a pass opened with [`GpuTimer::begin`].
    pub fn writes(query: &Option<GpuProfilerQuery>) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        query.as_ref().and_then(GpuProfilerQuery::compute_pass_timestamp_writes)
    }

    /// Closes a query once its pass has ended.
    pub fn end(&self, enc: &mut wgpu::CommandEncoder, query: Option<GpuProfilerQuery>) {
        if let (Some(p), Some(q)) = (&self.profiler, query) {
            p.end_query(enc, q);
        }
    }

    /// Copies the closed queries' timestamps into read-back buffers (before `enc` is submitted).
    pub fn resolve(&mut self, enc: &mut wgpu::CommandEncoder) {
        if let Some(p) = &mut self.profiler {
            p.resolve_queries(enc);
        }
    }

    /// Ends the profiler frame (after its encoders are submitted) and takes any finished frame's results.
    pub fn end_frame(&mut self, queue: &wgpu::Queue) {
        let Some(p) = self.profiler.as_mut().filter(|_| self.enabled) else { return };
        if let Err(e) = p.end_frame() {
            log::warn!("GPU pass timing: {e}");
        }
        self.poll(queue);
    }

    /// Takes the results of frames whose timestamps have been read back since the last call (the device must
    /// have been polled for them to arrive).
    pub fn poll(&mut self, queue: &wgpu::Queue) {
        let Some(p) = self.profiler.as_mut().filter(|_| self.enabled) else { return };
        while let Some(results) = p.process_finished_frame(queue.get_timestamp_period()) {
            if results.is_empty() {
                continue;
            }
            let mut t = GpuPassTimes::default();
            collect(&results, &mut t);
            log::debug!("GPU pass times: {t:?}");
            self.latest = Some(t);
            if self.finished.len() == KEEP_FINISHED {
                self.finished.remove(0);
            }
            self.finished.push(t);
        }
    }

    /// The finished frames' pass times, oldest first, since the last call.
    pub fn take_finished(&mut self) -> Vec<GpuPassTimes> {
        std::mem::take(&mut self.finished)
    }

    /// The latest finished frame's pass times.
    pub fn latest(&self) -> Option<GpuPassTimes> {
        self.latest
    }
}

fn collect(results: &[GpuTimerQueryResult], out: &mut GpuPassTimes) {
    for r in results {
        if let Some(t) = &r.time {
            out.add(&r.label, (t.end - t.start) * 1000.0);
        }
        collect(&r.nested_queries, out);
    }
}
