// Scatter pass for the brick arrays: `(word index, value)` pairs written into place. The first pair holds the
// number of pairs that follow.

@group(0) @binding(0) var<storage, read> pairs: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(SCATTER_GROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * SCATTER_GROUP;
    if i >= pairs[0].x {
        return;
    }
    let p = pairs[i + 1u];
    dst[p.x] = p.y;
}
