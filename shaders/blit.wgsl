// Blit pass: the tonemapped image (packed sRGB bytes, one u32 per pixel) drawn onto a window's surface with a
// fullscreen triangle. `info.z` = 1 when the surface encodes sRGB itself (the bytes are decoded first).

struct BlitInfo {
    width: u32,
    height: u32,
    decode_srgb: u32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read> ldr: array<u32>;
@group(0) @binding(1) var<uniform> info: BlitInfo;

@vertex
fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let uv = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    return vec4<f32>(uv * 2.0 - 1.0, 0.0, 1.0);
}

fn to_linear(c: vec3<f32>) -> vec3<f32> {
    return select(pow((c + 0.055) / 1.055, vec3<f32>(2.4)), c / 12.92, c <= vec3<f32>(0.04045));
}

@fragment
fn fs(@builtin(position) p: vec4<f32>) -> @location(0) vec4<f32> {
    let x = min(u32(p.x), info.width - 1u);
    let y = min(u32(p.y), info.height - 1u);
    var c = unpack4x8unorm(ldr[x + y * info.width]).xyz;
    if info.decode_srgb == 1u {
        c = to_linear(c);
    }
    return vec4<f32>(c, 1.0);
}
