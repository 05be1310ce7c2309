//! Every WGSL pass parses and validates with naga (no GPU needed), and the prelude's structs have the layout
//! of their Rust twins.

use lumon::render::gpu_data::struct_sizes;
use lumon::render::shaders::Pass;

fn module(pass: Pass) -> naga::Module {
    let src = pass.source();
    naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{}: {}", pass.name(), e.emit_to_string(&src)))
}

#[test]
fn every_pass_validates() {
    for pass in Pass::ALL {
        let m = module(pass);
        let mut v =
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default());
        if let Err(e) = v.validate(&m) {
            panic!("{}: {}", pass.name(), e.emit_to_string(&pass.source()));
        }
    }
}

#[test]
fn shared_structs_match_rust_layouts() {
    let m = module(Pass::Gbuffer);
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(m.to_ctx()).expect("layout");
    for (name, size) in struct_sizes() {
        let (handle, _) = m
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from the prelude"));
        assert_eq!(layouter[handle].size as usize, size, "{name}: WGSL size differs from Rust");
    }
}
