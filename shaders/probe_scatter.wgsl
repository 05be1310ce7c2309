// Probe upload pass: the frame's uploaded probe records (each with its record index) scattered into the
// levels' ring-addressed storage. The first record's `index` holds the number of records that follow.

@group(0) @binding(0) var<storage, read> uploads: array<ProbeUploadRecord>;
@group(0) @binding(1) var<storage, read_write> probes: array<u32>;

@compute @workgroup_size(SCATTER_GROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * SCATTER_GROUP;
    if i >= uploads[0].index {
        return;
    }
    let r = uploads[i + 1u];
    let base = r.index * PROBE_WORDS;
    for (var k = 0u; k < PROBE_WORDS; k++) {
        probes[base + k] = r.words[k];
    }
}
