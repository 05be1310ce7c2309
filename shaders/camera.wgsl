// The primary ray of a pixel, shared by the gbuffer and lighting passes. Needs the prelude and `frame`.

fn camera_ray(px: vec2<u32>) -> vec3<f32> {
    let size = vec2<f32>(frame.size.xy);
    let ndc = vec2<f32>((f32(px.x) + 0.5) / size.x * 2.0 - 1.0, 1.0 - (f32(px.y) + 0.5) / size.y * 2.0);
    let t = frame.eye.w;
    return normalize(frame.forward.xyz + frame.right.xyz * (ndc.x * t * frame.right.w) + frame.up.xyz * (ndc.y * t));
}
