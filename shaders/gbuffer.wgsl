// Gbuffer pass: one primary ray per pixel through the voxel bricks (voxel_march.wgsl). Writes per pixel what
// the ray hit: `x` the distance (metres, f32 bits), `y` the kind (0 sky, 1 voxel, 2 probe sphere) | normal
// code << 8, `z` the packed material (voxel) or the probe's coordinate in its level (sphere), `w` the
// sphere's octahedral normal. With the probe-sphere view, level 0's probes are spheres in front of the voxels.

@group(0) @binding(0) var<uniform> frame: FrameUniform;
@group(0) @binding(1) var<storage, read_write> gbuffer: array<vec4<u32>>;

const KIND_SKY: u32 = 0u;
const KIND_VOXEL: u32 = 1u;
const KIND_SPHERE: u32 = 2u;
const SPHERE_RADIUS: f32 = 0.12;

fn octa_encode(n: vec3<f32>) -> vec2<f32> {
    let p = vec2<f32>(n.x, n.z) / (abs(n.x) + abs(n.y) + abs(n.z));
    if n.y >= 0.0 {
        return p;
    }
    let s = select(vec2<f32>(-1.0), vec2<f32>(1.0), p >= vec2<f32>(0.0));
    return (vec2<f32>(1.0) - vec2<f32>(abs(p.y), abs(p.x))) * s;
}

// The nearest level-0 probe sphere along the ray before `t_max` (metres): (distance, found) and the probe.
fn probe_sphere(eye: vec3<f32>, dir: vec3<f32>, t_max: f32, out_g: ptr<function, vec3<i32>>) -> f32 {
    if frame.grid_dims.w == 0 {
        return -1.0;
    }
    let lv = frame.levels[0];
    let q0 = eye * lv.spacing.y;
    let d = safe_dir(dir);
    let inv = 1.0 / d;
    var g = vec3<i32>(floor(q0));
    let step = select(vec3<i32>(-1), vec3<i32>(1), d > vec3<f32>(0.0));
    var tm = (vec3<f32>(g) + select(vec3<f32>(0.0), vec3<f32>(1.0), d > vec3<f32>(0.0)) - q0) * inv;
    let delta = abs(inv);
    let t_end = t_max * lv.spacing.y;
    var t = 0.0;
    let lo = lv.lo.xyz;
    let hi = lv.lo.xyz + vec3<i32>(lv.dims.xyz);
    for (var i = 0; i < 96; i++) {
        if t > t_end {
            break;
        }
        if all(g >= lo) && all(g < hi) {
            let c = vec3<f32>(g) + 0.5;
            let oc = q0 - c;
            let bq = dot(oc, dir);
            let cq = dot(oc, oc) - SPHERE_RADIUS * SPHERE_RADIUS;
            let disc = bq * bq - cq;
            if disc >= 0.0 {
                let th = -bq - sqrt(disc);
                if th > 0.0 && th < t_end {
                    let p = load_probe(0u, g);
                    if p.present && (p.flags & FLAG_DISABLED) == 0u {
                        *out_g = g;
                        return th * lv.spacing.x;
                    }
                }
            }
        }
        if tm.x <= tm.y && tm.x <= tm.z {
            t = tm.x;
            g.x += step.x;
            tm.x += delta.x;
        } else if tm.y <= tm.z {
            t = tm.y;
            g.y += step.y;
            tm.y += delta.y;
        } else {
            t = tm.z;
            g.z += step.z;
            tm.z += delta.z;
        }
    }
    return -1.0;
}

@compute @workgroup_size(SCREEN_GROUP, SCREEN_GROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= frame.size.x || id.y >= frame.size.y {
        return;
    }
    let dir = camera_ray(id.xy);
    let vs = frame.grid_origin.w;
    let far = 1e6;
    let hit = march(world_to_voxel(frame.eye.xyz), dir, far);
    var out = vec4<u32>(bitcast<u32>(far), KIND_SKY, 0u, 0u);
    var t_hit = far;
    if hit.material != 0u {
        t_hit = hit.t * vs;
        var code = 6u;
        if hit.axis >= 0 {
            code = u32(hit.axis) * 2u + select(0u, 1u, dir[hit.axis] < 0.0);
        }
        out = vec4<u32>(bitcast<u32>(t_hit), KIND_VOXEL | (code << 8u), hit.material, 0u);
    }
    if frame.size.w == VIEW_PROBES {
        var g = vec3<i32>(0);
        let ts = probe_sphere(frame.eye.xyz, dir, min(t_hit, 1e4), &g);
        if ts > 0.0 {
            let lv = frame.levels[0];
            let local = vec3<u32>(g - lv.lo.xyz);
            let c = (frame.eye.xyz + dir * ts) * lv.spacing.y - (vec3<f32>(g) + 0.5);
            let e = octa_encode(normalize(c)) * 0.5 + 0.5;
            out = vec4<u32>(bitcast<u32>(ts), KIND_SPHERE, local.x | (local.y << 10u) | (local.z << 20u), pack2x16unorm(e));
        }
    }
    gbuffer[id.x + id.y * frame.size.x] = out;
}
