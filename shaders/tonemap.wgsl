// Tonemap pass: exposure, the ACES filmic curve (Narkowicz's fit), sRGB encoding; packs RGBA8 per pixel.

@group(0) @binding(0) var<uniform> frame: FrameUniform;
@group(0) @binding(1) var<storage, read> hdr: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> ldr: array<u32>;

fn aces(x: vec3<f32>) -> vec3<f32> {
    let a = 2.51;
    let b = 0.03;
    let c = 2.43;
    let d = 0.59;
    let e = 0.14;
    return clamp((x * (a * x + b)) / (x * (c * x + d) + e), vec3<f32>(0.0), vec3<f32>(1.0));
}

fn srgb(c: vec3<f32>) -> vec3<f32> {
    let lo = c * 12.92;
    let hi = 1.055 * pow(c, vec3<f32>(1.0 / 2.4)) - 0.055;
    return select(hi, lo, c <= vec3<f32>(0.0031308));
}

@compute @workgroup_size(SCREEN_GROUP, SCREEN_GROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= frame.size.x || id.y >= frame.size.y {
        return;
    }
    let idx = id.x + id.y * frame.size.x;
    let c = srgb(aces(max(hdr[idx].xyz, vec3<f32>(0.0)) * frame.params.x));
    ldr[idx] = pack4x8unorm(vec4<f32>(c, 1.0));
}
