// Voxel ray march over the bricks the GPU mirrors (src/render/brick_sync.rs): a chunk (32^3 voxels) with no
// brick is skipped in one step, then an empty brick (8^3), and inside a brick a DDA visits voxel by voxel.
// Positions and distances are in voxel units relative to the grid origin. Shared by the gbuffer and lighting
// passes; needs the prelude and `frame`.

@group(1) @binding(0) var<storage, read> chunk_count: array<u32>;
@group(1) @binding(1) var<storage, read> brick_slot: array<u32>;
@group(1) @binding(2) var<storage, read> pool: array<u32>;
@group(1) @binding(3) var<storage, read> materials: array<u32>;
@group(1) @binding(4) var<storage, read> emissive: array<vec4<f32>>;

struct VoxelHit {
    // Distance along the ray (voxel units); the march's limit when nothing was hit.
    t: f32,
    // Packed material of the hit voxel; 0 when nothing was hit.
    material: u32,
    // Axis of the face that was entered (0..2), or -1 when the ray started inside the voxel.
    axis: i32,
    voxel: vec3<i32>,
}

const PI: f32 = 3.14159265;

fn world_to_voxel(p: vec3<f32>) -> vec3<f32> {
    return (p - frame.grid_origin.xyz) / frame.grid_origin.w;
}

fn voxel_to_world(p: vec3<f32>) -> vec3<f32> {
    return frame.grid_origin.xyz + p * frame.grid_origin.w;
}

// A direction with no zero component (so its inverse is finite).
fn safe_dir(d: vec3<f32>) -> vec3<f32> {
    return select(d, vec3<f32>(1e-9), abs(d) < vec3<f32>(1e-9));
}

// Distance to the exit of the box [lo, hi] and the axis of the exit face.
fn box_exit(o: vec3<f32>, d: vec3<f32>, inv: vec3<f32>, lo: vec3<f32>, hi: vec3<f32>) -> vec2<f32> {
    let t = (select(lo, hi, d > vec3<f32>(0.0)) - o) * inv;
    if t.x <= t.y && t.x <= t.z {
        return vec2<f32>(t.x, 0.0);
    }
    if t.y <= t.z {
        return vec2<f32>(t.y, 1.0);
    }
    return vec2<f32>(t.z, 2.0);
}

fn brick_bit(entry: u32, l: vec3<i32>) -> bool {
    let word = u32(2 * l.y + l.z / 4);
    let bit = u32(l.x + 8 * (l.z % 4));
    return ((pool[entry * POOL_WORDS + word] >> bit) & 1u) != 0u;
}

// Packed material of a solid voxel `l` (local to the brick): its rank among the brick's solid bits.
fn brick_material(entry: u32, l: vec3<i32>) -> u32 {
    let base = entry * POOL_WORDS;
    let word = u32(2 * l.y + l.z / 4);
    let bit = u32(l.x + 8 * (l.z % 4));
    var rank = countOneBits(pool[base + word] & ((1u << bit) - 1u));
    for (var k = 0u; k < word; k++) {
        rank += countOneBits(pool[base + k]);
    }
    return materials[pool[base + 16u] + rank];
}

// Marches from `o` along unit `dir` (voxel units) up to `t_max`.
fn march(o: vec3<f32>, dir: vec3<f32>, t_max: f32) -> VoxelHit {
    var hit: VoxelHit;
    hit.t = t_max;
    hit.material = 0u;
    hit.axis = -1;
    let d = safe_dir(dir);
    let inv = 1.0 / d;
    let dims = vec3<f32>(frame.grid_dims.xyz);
    let t0 = (vec3<f32>(0.0) - o) * inv;
    let t1 = (dims - o) * inv;
    let tn = min(t0, t1);
    let tf = max(t0, t1);
    var t = max(max(tn.x, tn.y), max(tn.z, 0.0));
    let t_end = min(min(tf.x, tf.y), min(tf.z, t_max));
    if t >= t_end {
        return hit;
    }
    var axis = -1;
    if t > 0.0 {
        axis = select(select(2, 1, tn.y >= tn.z), 0, tn.x >= tn.y && tn.x >= tn.z);
    }
    let cdims = frame.grid_dims.xyz / 32;
    let bdims = frame.grid_dims.xyz / 8;
    let step = select(vec3<i32>(-1), vec3<i32>(1), d > vec3<f32>(0.0));
    let delta = abs(inv);
    for (var i = 0; i < 2048; i++) {
        if t >= t_end {
            break;
        }
        // The cell the ray is in: nudged along each axis's direction of travel, so a ray that starts on (or
        // exits through) a cell face lands in the cell ahead, never back in the one it left.
        let p = o + d * t + vec3<f32>(step) * 2e-3;
        let v0 = clamp(vec3<i32>(floor(p)), vec3<i32>(0), frame.grid_dims.xyz - 1);
        let c = v0 >> vec3<u32>(5u);
        if chunk_count[c.x + cdims.x * (c.y + cdims.y * c.z)] == 0u {
            let e = box_exit(o, d, inv, vec3<f32>(c * 32), vec3<f32>(c * 32 + 32));
            t = e.x;
            axis = i32(e.y);
            continue;
        }
        let b = v0 >> vec3<u32>(3u);
        let entry = brick_slot[b.x + bdims.x * (b.y + bdims.y * b.z)];
        let bmin = b * 8;
        if entry == 0u {
            let e = box_exit(o, d, inv, vec3<f32>(bmin), vec3<f32>(bmin + 8));
            t = e.x;
            axis = i32(e.y);
            continue;
        }
        var v = v0;
        var tm = (vec3<f32>(v) + select(vec3<f32>(0.0), vec3<f32>(1.0), d > vec3<f32>(0.0)) - o) * inv;
        for (var k = 0; k < 25; k++) {
            let l = v - bmin;
            if brick_bit(entry, l) {
                hit.t = t;
                hit.axis = axis;
                hit.voxel = v;
                hit.material = brick_material(entry, l);
                return hit;
            }
            if tm.x <= tm.y && tm.x <= tm.z {
                axis = 0;
                t = tm.x;
                v.x += step.x;
                tm.x += delta.x;
            } else if tm.y <= tm.z {
                axis = 1;
                t = tm.y;
                v.y += step.y;
                tm.y += delta.y;
            } else {
                axis = 2;
                t = tm.z;
                v.z += step.z;
                tm.z += delta.z;
            }
            if t >= t_end || any(v < bmin) || any(v >= bmin + 8) {
                break;
            }
        }
    }
    hit.t = t_max;
    return hit;
}

// Outward normal of the face a hit entered.
fn hit_normal(hit: VoxelHit, dir: vec3<f32>) -> vec3<f32> {
    if hit.axis < 0 {
        return -dir;
    }
    var n = vec3<f32>(0.0);
    n[hit.axis] = -sign(safe_dir(dir)[hit.axis]);
    return n;
}

// True when a solid voxel lies on the segment from `o` (voxel units) along unit `dir` for `len` voxels.
fn occluded(o: vec3<f32>, dir: vec3<f32>, len: f32) -> bool {
    return march(o, dir, len).material != 0u;
}

// Linear albedo of a packed material (square-root encoded 8-bit channels).
fn material_albedo(m: u32) -> vec3<f32> {
    let c = vec3<f32>(f32(m & 255u), f32((m >> 8u) & 255u), f32((m >> 16u) & 255u)) / 255.0;
    return c * c;
}

fn material_emission(m: u32) -> vec3<f32> {
    return emissive[m >> 24u].xyz;
}

// The world's sky radiance along a unit direction.
fn sky_radiance(dir: vec3<f32>) -> vec3<f32> {
    if dir.y < 0.0 {
        return frame.sky_ground.xyz;
    }
    return mix(frame.sky_horizon.xyz, frame.sky_zenith.xyz, sqrt(dir.y));
}

// The sun's irradiance on a surface point `p` (metres) facing `n`, with an exact shadow ray through the voxels.
fn sun_irradiance(p: vec3<f32>, n: vec3<f32>) -> vec3<f32> {
    if frame.sun_dir.w == 0.0 {
        return vec3<f32>(0.0);
    }
    let l = frame.sun_dir.xyz;
    let ndl = dot(n, l);
    if ndl <= 0.0 {
        return vec3<f32>(0.0);
    }
    if occluded(world_to_voxel(p), l, SHADOW_DISTANCE_M / frame.grid_origin.w) {
        return vec3<f32>(0.0);
    }
    return frame.sun_radiance.xyz * ndl;
}
