// Lighting pass: shades each gbuffer pixel into HDR radiance. Direct light: the sun with an exact shadow ray
// through the voxels, the emissive voxels as small area lights (emitter_light.wgsl), and emission. Indirect
// light by GI mode: a flat ambient term (off), the probes (probe_sample.wgsl; no ambient term anywhere),
// indirect alone, or split (off left, probes right). Debug views replace or tint the result. Radiance stays
// linear HDR; the tonemap pass comes after.

@group(0) @binding(0) var<uniform> frame: FrameUniform;
@group(0) @binding(1) var<storage, read> gbuffer: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> hdr: array<vec4<f32>>;

// Least irradiance of the flat ambient term (GI off).
const AMBIENT_FLOOR: f32 = 0.3;

fn decode_normal(code: u32, dir: vec3<f32>) -> vec3<f32> {
    if code >= 6u {
        return -dir;
    }
    var n = vec3<f32>(0.0);
    n[code / 2u] = select(-1.0, 1.0, (code & 1u) == 1u);
    return n;
}

fn level_tint(l: u32) -> vec3<f32> {
    switch l {
        case 0u: { return vec3<f32>(1.0, 0.35, 0.3); }
        case 1u: { return vec3<f32>(0.35, 1.0, 0.35); }
        case 2u: { return vec3<f32>(0.35, 0.5, 1.0); }
        case 3u: { return vec3<f32>(1.0, 0.9, 0.3); }
        default: { return vec3<f32>(0.9, 0.4, 1.0); }
    }
}

// Colour of a probe's state: disabled red, in flight blue, stale yellow, valid green, no data dark grey.
fn state_colour(p: Probe) -> vec3<f32> {
    if !p.present {
        return vec3<f32>(0.05);
    }
    if (p.flags & FLAG_DISABLED) != 0u {
        return vec3<f32>(0.8, 0.05, 0.05);
    }
    if (p.flags & FLAG_IN_FLIGHT) != 0u {
        return vec3<f32>(0.1, 0.3, 1.0);
    }
    if (p.flags & FLAG_VALID) == 0u {
        return vec3<f32>(0.05);
    }
    if (p.flags & FLAG_STALE) != 0u {
        return vec3<f32>(0.9, 0.8, 0.1);
    }
    return vec3<f32>(0.1, 0.8, 0.2);
}

@compute @workgroup_size(SCREEN_GROUP, SCREEN_GROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= frame.size.x || id.y >= frame.size.y {
        return;
    }
    let idx = id.x + id.y * frame.size.x;
    let g = gbuffer[idx];
    let dir = camera_ray(id.xy);
    let kind = g.y & 255u;
    let t = bitcast<f32>(g.x);
    let view = frame.size.w;
    var mode = frame.size.z;
    let split_x = u32(frame.params.z * f32(frame.size.x));
    if mode == GI_SPLIT {
        if id.x == split_x || id.x + 1u == split_x {
            hdr[idx] = vec4<f32>(4.0, 4.0, 4.0, 1.0);
            return;
        }
        mode = select(GI_PROBES, GI_OFF, id.x < split_x);
    }
    var colour = vec3<f32>(0.0);
    if kind == 0u {
        colour = sky_radiance(dir);
    } else if kind == 2u {
        let lv = frame.levels[0];
        let local = vec3<i32>(vec3<u32>(g.z & 1023u, (g.z >> 10u) & 1023u, (g.z >> 20u) & 1023u));
        let p = load_probe(0u, lv.lo.xyz + local);
        let n = octa_decode(unpack2x16unorm(g.w) * 2.0 - 1.0);
        if view == VIEW_PROBES && probe_usable(p) {
            colour = sh_irradiance(p.c0, p.c1, p.c2, p.c3, n) * (0.8 / PI);
        } else {
            colour = state_colour(p) * 0.2;
        }
    } else {
        let pos = frame.eye.xyz + dir * t;
        let n = decode_normal(g.y >> 8u, dir);
        let albedo = material_albedo(g.z);
        let emission = material_emission(g.z);
        let p = pos + n * (0.05 * frame.grid_origin.w);
        var indirect = vec3<f32>(0.0);
        var light: ProbeLight;
        if mode == GI_OFF {
            // A flat ambient term: the open sky's irradiance scaled, never below a dim grey (so a room lit
            // only by lamps still shows its shapes with GI off).
            indirect = max(sky_irradiance(n) * frame.params.y, vec3<f32>(AMBIENT_FLOOR * (0.75 + 0.25 * n.y)));
        } else {
            light = probe_irradiance(p, n);
            indirect = light.irradiance;
        }
        if view == VIEW_IRRADIANCE {
            // Everything but the sun: the HDR value is read back as it is (lumon compare); the tonemap shows it
            // with the exposure.
            colour = (indirect + emitter_irradiance(p, n)) / PI;
        } else if mode == GI_INDIRECT {
            colour = albedo / PI * indirect;
        } else {
            colour = emission + albedo / PI * (sun_irradiance(p, n) + emitter_irradiance(p, n) + indirect);
        }
        if view == VIEW_LEVELS || view == VIEW_CONFIDENCE || view == VIEW_AO || view == VIEW_STATE {
            if mode == GI_OFF {
                light = probe_irradiance(p, n);
            }
            if view == VIEW_LEVELS {
                colour = colour * level_tint(light.level) + level_tint(light.level) * 0.05;
            } else if view == VIEW_CONFIDENCE {
                colour = vec3<f32>(light.confidence);
            } else if view == VIEW_AO {
                colour = light.ao * 0.5 + 0.5;
            } else {
                let lv = frame.levels[light.level];
                let nearest = vec3<i32>(floor(p * lv.spacing.y));
                colour = state_colour(load_probe(light.level, nearest));
            }
            // Debug colours are display values: undo the exposure so the tonemap shows them as they are.
            colour = colour / max(frame.params.x, 1e-6);
        }
    }
    hdr[idx] = vec4<f32>(colour, 1.0);
}
