// The direct light of the emissive voxels at a shading point, the same sum in the same order as
// src/voxel/emitter_light.rs: every light (a brick's open emissive faces of one direction and plane) is a small
// area light at its centroid, E = L A cos_r cos_e / (d^2 + A / pi); the SHADOWED_LIGHTS brightest get a shadow
// ray each, and the others' visibility is estimated by REMAINDER_RAYS stratified picks along their running sum
// of light, from an offset hashed per voxel face. The probes hold everything else (their records leave this
// light out).

@group(1) @binding(5) var<storage, read> emitter_lights: array<GpuEmitterLight>;

fn emitter_face_normal(face: u32) -> vec3<f32> {
    var n = vec3<f32>(0.0);
    n[face / 2u] = select(1.0, -1.0, (face & 1u) == 1u);
    return n;
}

// Unshadowed irradiance of light `l` at `p` on a surface facing unit `n`.
fn emitter_light_irradiance(l: GpuEmitterLight, p: vec3<f32>, n: vec3<f32>) -> vec3<f32> {
    let w = l.center.xyz - p;
    let d2 = dot(w, w);
    if d2 <= 1e-12 {
        return vec3<f32>(0.0);
    }
    let dir = w / sqrt(d2);
    let cos_r = dot(n, dir);
    let cos_e = -dot(emitter_face_normal(u32(l.center.w)), dir);
    if cos_r <= 0.0 || cos_e <= 0.0 {
        return vec3<f32>(0.0);
    }
    let area = l.radiance.w;
    return l.radiance.xyz * (area * cos_r * cos_e / (d2 + area / PI));
}

// PCG's 32-bit output permutation of an LCG step (as `pcg` in src/voxel/emitter_light.rs).
fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// The stratification offset in [0, 1) of a shading point: a hash of its voxel and the normal's main direction.
fn emitter_face_offset(p: vec3<f32>, n: vec3<f32>) -> f32 {
    let v = vec3<i32>(floor((p - frame.grid_origin.xyz) / frame.grid_origin.w));
    let a = abs(n);
    var axis = 0u;
    if a.y > a.x {
        axis = 1u;
    }
    if a.z > max(a.x, a.y) {
        axis = 2u;
    }
    let code = axis * 2u + select(0u, 1u, n[axis] < 0.0);
    let h = pcg_hash(bitcast<u32>(v.x) ^ pcg_hash(bitcast<u32>(v.y) ^ pcg_hash(bitcast<u32>(v.z) ^ pcg_hash(code))));
    return f32(h >> 8u) * (1.0 / 16777216.0);
}

fn emitter_arrives(p: vec3<f32>, i: u32) -> bool {
    let w = emitter_lights[i].center.xyz - p;
    let d = length(w);
    let vs = frame.grid_origin.w;
    return !occluded(world_to_voxel(p), w / d, max(d - 0.02 * vs, 0.0) / vs);
}

// Direct irradiance of every emitter light at `p` (just off the surface) facing unit `n`.
fn emitter_irradiance(p: vec3<f32>, n: vec3<f32>) -> vec3<f32> {
    var total = vec3<f32>(0.0);
    // The brightest lights so far, brightest first: luminance and index.
    var top_lum: array<f32, SHADOWED_LIGHTS>;
    var top_at: array<u32, SHADOWED_LIGHTS>;
    var kept = 0u;
    let count = min(frame.lights.x, arrayLength(&emitter_lights));
    for (var i = 0u; i < count; i++) {
        let e = emitter_light_irradiance(emitter_lights[i], p, n);
        let lum = (e.x + e.y + e.z) / 3.0;
        if lum <= 0.0 {
            continue;
        }
        total += e;
        if kept == SHADOWED_LIGHTS && lum <= top_lum[kept - 1u] {
            continue;
        }
        var j = min(kept, SHADOWED_LIGHTS - 1u);
        while j > 0u && top_lum[j - 1u] < lum {
            top_lum[j] = top_lum[j - 1u];
            top_at[j] = top_at[j - 1u];
            j--;
        }
        top_lum[j] = lum;
        top_at[j] = i;
        kept = min(kept + 1u, SHADOWED_LIGHTS);
    }
    if kept == 0u {
        return vec3<f32>(0.0);
    }
    let sum = (total.x + total.y + total.z) / 3.0;
    var arrived = 0.0;
    var top_sum = 0.0;
    for (var k = 0u; k < kept; k++) {
        top_sum += top_lum[k];
        if emitter_arrives(p, top_at[k]) {
            arrived += top_lum[k];
        }
    }
    let rest = sum - top_sum;
    if rest > 1e-6 * sum {
        // Stratified picks along the remainder's running sum of light, in light order.
        let u0 = emitter_face_offset(p, n);
        var acc = 0.0;
        var pick = 0u;
        var seen = 0u;
        var last = count;
        var last_tested = false;
        var last_visible = false;
        for (var i = 0u; i < count && pick < REMAINDER_RAYS; i++) {
            var in_top = false;
            for (var k = 0u; k < kept; k++) {
                in_top = in_top || top_at[k] == i;
            }
            if in_top {
                continue;
            }
            let e = emitter_light_irradiance(emitter_lights[i], p, n);
            let lum = (e.x + e.y + e.z) / 3.0;
            if lum <= 0.0 {
                continue;
            }
            acc += lum;
            var tested = false;
            var visible = false;
            while pick < REMAINDER_RAYS && (f32(pick) + u0) / f32(REMAINDER_RAYS) * rest < acc {
                if !tested {
                    visible = emitter_arrives(p, i);
                    tested = true;
                }
                seen += select(0u, 1u, visible);
                pick++;
            }
            last = i;
            last_tested = tested;
            last_visible = visible;
        }
        // Rounding can leave the last picks past the running sum's end: the last light takes them.
        if pick < REMAINDER_RAYS && last < count {
            if !last_tested {
                last_visible = emitter_arrives(p, last);
            }
            seen += select(0u, REMAINDER_RAYS - pick, last_visible);
        }
        arrived += rest * f32(seen) / f32(REMAINDER_RAYS);
    }
    return total * (arrived / sum);
}
