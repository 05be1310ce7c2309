// Reading the clipmap's irradiance at a surface point, as src/probes/sample.rs does on the CPU: level weights
// (finest level holding the point, blended towards the next within the border band), per level the 8 probes
// around the point weighted trilinearly and by confidence, a leak guard (probes behind the surface's plane are
// skipped, the others when a solid voxel hides them from the point), and one Hazel non-linear L1 evaluation
// of the weighted SH (`sh_irradiance`, the twin of `ShL1::irradiance`). A record whose tag is not the wanted
// probe's (a recycled slot whose new data has not arrived) counts as missing. Needs the prelude, `frame` and
// voxel_march.wgsl.

@group(2) @binding(0) var<storage, read> probes: array<u32>;

struct Probe {
    // L00, L1y, L1z, L1x per colour channel (as stored: radiance projected on SH).
    c0: vec3<f32>,
    c1: vec3<f32>,
    c2: vec3<f32>,
    c3: vec3<f32>,
    ao: vec3<f32>,
    ao_open: f32,
    confidence: f32,
    flags: u32,
    // The record belongs to the wanted probe.
    present: bool,
}

// The twin of `gpu_data::probe_tag`: level and ring wrap count per axis.
fn probe_tag(level: u32, g: vec3<i32>) -> u32 {
    let n = vec3<i32>(frame.levels[level].dims.xyz);
    let q = g / n - select(vec3<i32>(0), vec3<i32>(1), g % n < vec3<i32>(0));
    let w = vec3<u32>(q) & vec3<u32>(511u);
    return (1u << 31u) | ((level & 15u) << 27u) | (w.x << 18u) | (w.y << 9u) | w.z;
}

// An IEEE half float's bits as f32 (WGSL's unpack2x16float needs a capability some adapters lack).
fn half_to_f32(h: u32) -> f32 {
    let e = (h >> 10u) & 31u;
    let m = f32(h & 1023u);
    var v = 0.0;
    if e == 0u {
        v = ldexp(m, -24);
    } else if e == 31u {
        v = 65504.0;
    } else {
        v = ldexp(1.0 + m / 1024.0, i32(e) - 15);
    }
    return select(v, -v, (h & 0x8000u) != 0u);
}

fn unpack_halves(w: u32) -> vec2<f32> {
    return vec2<f32>(half_to_f32(w & 0xFFFFu), half_to_f32(w >> 16u));
}

fn octa_decode(e: vec2<f32>) -> vec3<f32> {
    let y = 1.0 - abs(e.x) - abs(e.y);
    var v = vec3<f32>(e.x, y, e.y);
    if y < 0.0 {
        let s = select(vec2<f32>(-1.0), vec2<f32>(1.0), e >= vec2<f32>(0.0));
        let f = (vec2<f32>(1.0) - vec2<f32>(abs(e.y), abs(e.x))) * s;
        v.x = f.x;
        v.z = f.y;
    }
    let len = length(v);
    return select(vec3<f32>(0.0), v / len, len > 0.0);
}

// World position of probe `g` of level `l`.
fn probe_position(l: u32, g: vec3<i32>) -> vec3<f32> {
    return (vec3<f32>(g) + 0.5) * frame.levels[l].spacing.x;
}

fn load_probe(l: u32, g: vec3<i32>) -> Probe {
    let lv = frame.levels[l];
    let n = vec3<i32>(lv.dims.xyz);
    let s = ((g % n) + n) % n;
    let base = (lv.dims.w + u32(s.x + n.x * (s.y + n.y * s.z))) * PROBE_WORDS;
    var p: Probe;
    let h0 = unpack_halves(probes[base]);
    let h1 = unpack_halves(probes[base + 1u]);
    let h2 = unpack_halves(probes[base + 2u]);
    let h3 = unpack_halves(probes[base + 3u]);
    let h4 = unpack_halves(probes[base + 4u]);
    let h5 = unpack_halves(probes[base + 5u]);
    p.c0 = vec3<f32>(h0.x, h0.y, h1.x);
    p.c1 = vec3<f32>(h1.y, h2.x, h2.y);
    p.c2 = vec3<f32>(h3.x, h3.y, h4.x);
    p.c3 = vec3<f32>(h4.y, h5.x, h5.y);
    let ao = probes[base + 6u];
    let e = vec2<f32>(f32(ao & 0xFFFu), f32((ao >> 12u) & 0xFFFu)) / 4095.0 * 2.0 - 1.0;
    p.ao = octa_decode(e);
    let misc = probes[base + 7u];
    p.confidence = f32(misc & 255u) / 255.0;
    p.ao_open = f32((misc >> 8u) & 255u) / 255.0;
    p.flags = misc >> 24u;
    p.present = probes[base + 8u] == probe_tag(l, g);
    return p;
}

fn probe_usable(p: Probe) -> bool {
    return p.present && (p.flags & FLAG_VALID) != 0u && (p.flags & FLAG_DISABLED) == 0u;
}

// One channel of Hazel's reconstruction: mean irradiance `r0`, half the linear gradient `r1`, unit normal `n`.
fn hazel(r0: f32, r1: vec3<f32>, n: vec3<f32>) -> f32 {
    if r0 <= 0.0 {
        return 0.0;
    }
    let len = length(r1);
    if len <= 1e-6 * r0 {
        return r0;
    }
    let r = min(len / r0, 1.0);
    let q = clamp(0.5 * (1.0 + dot(n, r1) / len), 0.0, 1.0);
    let p = 1.0 + 2.0 * r;
    let a = (1.0 - r) / (1.0 + r);
    let qp = select(pow(q, p), 0.0, q <= 0.0);
    return r0 * (a + (1.0 - a) * (p + 1.0) * qp);
}

// Irradiance for unit normal `n` from L1 SH coefficients (L00, L1y, L1z, L1x): never negative.
fn sh_irradiance(c0: vec3<f32>, c1: vec3<f32>, c2: vec3<f32>, c3: vec3<f32>, n: vec3<f32>) -> vec3<f32> {
    let r0 = c0 * SH_E0;
    let k = 0.5 * SH_E1;
    return vec3<f32>(
        hazel(r0.x, vec3<f32>(c3.x, c1.x, c2.x) * k, n),
        hazel(r0.y, vec3<f32>(c3.y, c1.y, c2.y) * k, n),
        hazel(r0.z, vec3<f32>(c3.z, c1.z, c2.z) * k, n),
    );
}

// Distance (probes) from `p` to the nearest face of level `l`'s box of probe centres; negative outside.
fn inner_distance(l: u32, p: vec3<f32>) -> f32 {
    let lv = frame.levels[l];
    let q = p * lv.spacing.y - 0.5;
    let lo = q - vec3<f32>(lv.lo.xyz);
    let hi = vec3<f32>(lv.lo.xyz + vec3<i32>(lv.dims.xyz) - 1) - q;
    let m = min(lo, hi);
    return min(m.x, min(m.y, m.z));
}

struct LevelWeights {
    i0: u32,
    w0: f32,
    i1: u32,
    w1: f32,
}

// Which levels light `p` and how much (the twin of `clipmap::level_weights`).
// True when the lighting pass reads level `i` (the viewer can turn levels off).
fn level_on(i: u32) -> bool {
    return frame.levels[i].spacing.z > 0.5;
}

fn level_weights(p: vec3<f32>) -> LevelWeights {
    let band = max(frame.params.w, 1e-3);
    let count = u32(frame.grid_dims.w);
    var out = LevelWeights(0u, 0.0, 0u, 0.0);
    for (var i = 0u; i < count; i++) {
        if !level_on(i) {
            continue;
        }
        let d = inner_distance(i, p);
        if d < 0.0 {
            continue;
        }
        let w = min(d / band, 1.0);
        out.i0 = i;
        out.w0 = w;
        out.i1 = i;
        if w < 1.0 {
            for (var j = i + 1u; j < count; j++) {
                if level_on(j) {
                    out.i1 = j;
                    out.w1 = 1.0 - w;
                    break;
                }
            }
        }
        return out;
    }
    return out;
}

struct LevelSample {
    // Irradiance from this level's usable, visible probes (normalised by their weight).
    irradiance: vec3<f32>,
    // Sum of trilinear times confidence weights of those probes (at most 1).
    weight: f32,
    // Weighted ShortRangeAO direction and openness.
    ao: vec3<f32>,
    ao_open: f32,
    // Trilinear weight of probes whose state is known (traced, or disabled inside solid voxels), visible or
    // not: where it is below 1 the sky's irradiance fills in.
    known: f32,
}

// One level's irradiance at surface point `pos` (metres) with normal `n`; `bent` is the normal the SH is
// evaluated with (the surface normal bent by ShortRangeAO, or `n`).
fn sample_level(l: u32, pos: vec3<f32>, n: vec3<f32>, guard: bool) -> LevelSample {
    let lv = frame.levels[l];
    let q = pos * lv.spacing.y - 0.5;
    let base = floor(q);
    let f = q - base;
    let b = vec3<i32>(base);
    var c0 = vec3<f32>(0.0);
    var c1 = vec3<f32>(0.0);
    var c2 = vec3<f32>(0.0);
    var c3 = vec3<f32>(0.0);
    var out: LevelSample;
    out.weight = 0.0;
    out.known = 0.0;
    out.ao = vec3<f32>(0.0);
    out.ao_open = 0.0;
    let lo = lv.lo.xyz;
    let hi = lv.lo.xyz + vec3<i32>(lv.dims.xyz);
    let start = world_to_voxel(pos);
    for (var i = 0u; i < 8u; i++) {
        let o = vec3<i32>(i32(i & 1u), i32((i >> 1u) & 1u), i32((i >> 2u) & 1u));
        let fw = select(1.0 - f, f, o == vec3<i32>(1));
        let w = fw.x * fw.y * fw.z;
        let g = b + o;
        if w <= 0.0 || any(g < lo) || any(g >= hi) {
            continue;
        }
        let p = load_probe(l, g);
        if p.present && (p.flags & (FLAG_VALID | FLAG_DISABLED)) != 0u {
            out.known += w;
        }
        if !probe_usable(p) || p.confidence <= 0.0 {
            continue;
        }
        let d = probe_position(l, g) - pos;
        if guard {
            if dot(d, n) < 0.0 {
                continue;
            }
            let len = length(d);
            if len > 1e-6 && occluded(start, d / len, len / frame.grid_origin.w) {
                continue;
            }
        }
        let ww = w * p.confidence;
        c0 += p.c0 * ww;
        c1 += p.c1 * ww;
        c2 += p.c2 * ww;
        c3 += p.c3 * ww;
        out.ao += p.ao * ww;
        out.ao_open += p.ao_open * ww;
        out.weight += ww;
    }
    if out.weight > 1e-4 {
        let s = 1.0 / out.weight;
        out.ao = out.ao * s;
        out.ao_open = out.ao_open * s;
        var bent = n;
        let al = length(out.ao);
        if al > 1e-3 && dot(out.ao, n) > 0.0 {
            // Bend towards the open direction, more where little is open.
            bent = normalize(n + out.ao / al * (0.5 * (1.0 - out.ao_open)));
        }
        out.irradiance = sh_irradiance(c0 * s, c1 * s, c2 * s, c3 * s, bent);
        out.weight = min(out.weight, 1.0);
    } else {
        out.irradiance = vec3<f32>(0.0);
        out.weight = 0.0;
    }
    return out;
}

struct ProbeLight {
    // Indirect irradiance.
    irradiance: vec3<f32>,
    // Summed confidence weight (0..1) and the finest level used.
    confidence: f32,
    level: u32,
    ao: vec3<f32>,
}

// Indirect irradiance at a surface point from the clipmap. Inside the clipmap it comes from the probes only
// (a sealed room is black); where no level holds data yet, or outside every level, it fades to the sky's
// irradiance, never with a hard cut.
fn probe_irradiance(pos: vec3<f32>, n: vec3<f32>) -> ProbeLight {
    let lw = level_weights(pos);
    var sum = vec3<f32>(0.0);
    var wsum = 0.0;
    var known = 0.0;
    var out: ProbeLight;
    out.level = lw.i0;
    out.ao = vec3<f32>(0.0);
    if lw.w0 > 0.0 {
        let s = sample_level(lw.i0, pos, n, true);
        sum += s.irradiance * lw.w0 * s.weight;
        wsum += lw.w0 * s.weight;
        known += lw.w0 * min(s.known, 1.0);
        out.ao = s.ao;
    }
    if lw.w1 > 0.0 {
        let s = sample_level(lw.i1, pos, n, true);
        sum += s.irradiance * lw.w1 * s.weight;
        wsum += lw.w1 * s.weight;
        known += lw.w1 * min(s.known, 1.0);
    }
    out.confidence = wsum;
    let probe_part = select(vec3<f32>(0.0), sum / wsum, wsum > 1e-4);
    let k = min(known, 1.0);
    var fallback = vec3<f32>(0.0);
    if k < 1.0 {
        fallback = surface_sky_light(pos, n);
    }
    out.irradiance = probe_part * k + fallback * (1.0 - k);
    return out;
}

// Rays of the probe-less estimate: a fixed cosine-distributed Fibonacci set over the hemisphere.
const FAR_RAYS: u32 = 12u;
// Their range in spacings of the coarsest level.
const FAR_RANGE_SPACINGS: f32 = 8.0;
// Share of the sky a surface hit by those rays is taken to see.
const FAR_HIT_SKY: f32 = 0.5;

// Where no probe knows the light (outside the clipmap, or before the probes have data): the light the surface
// point `pos` facing `n` gets from the sky and from what its own rays hit nearby (lit by the sun, with a
// shadow ray, and by half the open sky), instead of the open sky alone, which lit far slopes, trees and eaves
// 70 % too brightly. One bounce, no probes: an estimate, smooth because every pixel uses the same rays.
fn surface_sky_light(pos: vec3<f32>, n: vec3<f32>) -> vec3<f32> {
    let count = u32(frame.grid_dims.w);
    let range = FAR_RANGE_SPACINGS * frame.levels[max(count, 1u) - 1u].spacing.x / frame.grid_origin.w;
    let up = select(vec3<f32>(0.0, 1.0, 0.0), vec3<f32>(1.0, 0.0, 0.0), abs(n.y) > 0.9);
    let t = normalize(cross(up, n));
    let b = cross(n, t);
    let o = world_to_voxel(pos);
    var sum = vec3<f32>(0.0);
    for (var i = 0u; i < FAR_RAYS; i++) {
        let r = sqrt((f32(i) + 0.5) / f32(FAR_RAYS));
        let phi = f32(i) * 2.3999632;
        let d = normalize(t * (r * cos(phi)) + b * (r * sin(phi)) + n * sqrt(max(1.0 - r * r, 0.0)));
        let hit = march(o, d, range);
        if hit.material == 0u {
            sum += sky_radiance(d);
        } else {
            let hn = hit_normal(hit, d);
            let hp = voxel_to_world(o + d * hit.t) + hn * (0.05 * frame.grid_origin.w);
            let e = sun_irradiance(hp, hn) + sky_irradiance(hn) * FAR_HIT_SKY;
            sum += material_emission(hit.material) + material_albedo(hit.material) / PI * e;
        }
    }
    return sum * (PI / f32(FAR_RAYS));
}

// Irradiance of the open sky on a surface facing `n` (no occlusion): the fallback where no probe knows.
fn sky_irradiance(n: vec3<f32>) -> vec3<f32> {
    let up = 0.5 + 0.5 * n.y;
    let sky = mix(frame.sky_horizon.xyz, frame.sky_zenith.xyz, 0.6);
    return 3.14159265 * (sky * up + frame.sky_ground.xyz * (1.0 - up));
}
