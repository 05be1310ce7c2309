//! Writing `.vox` files (MagicaVoxel version 200): the tests' scenes, the example scenes and anything that
//! wants to hand lumon content. [`write`] writes a [`VoxFile`] as [`super::parse::parse`] reads it back;
//! [`SceneBuilder`] makes the usual shape of a scene (a root transform over one group of instances).

use super::parse::{Dict, Node, NodeKind, RawModel, VoxFile};

/// The bytes of `file`: header, `MAIN`, then models, palette, nodes, layers, materials, cameras and render
/// settings in that order.
pub fn write(file: &VoxFile) -> Vec<u8> {
    let mut body = Vec::new();
    if file.models.len() > 1 {
        chunk(&mut body, b"PACK", &(file.models.len() as u32).to_le_bytes());
    }
    for m in &file.models {
        let mut c = Vec::new();
        for s in m.size {
            c.extend_from_slice(&s.to_le_bytes());
        }
        chunk(&mut body, b"SIZE", &c);
        let mut c = (m.voxels.len() as u32).to_le_bytes().to_vec();
        for v in &m.voxels {
            c.extend_from_slice(v);
        }
        chunk(&mut body, b"XYZI", &c);
    }
    for (id, n) in &file.nodes {
        let mut c = id.to_le_bytes().to_vec();
        dict(&mut c, &n.attrs);
        let tag = match &n.kind {
            NodeKind::Transform { child, layer, frames } => {
                for v in [*child, -1, *layer, frames.len() as i32] {
                    c.extend_from_slice(&v.to_le_bytes());
                }
                for f in frames {
                    dict(&mut c, f);
                }
                b"nTRN"
            }
            NodeKind::Group { children } => {
                c.extend_from_slice(&(children.len() as i32).to_le_bytes());
                for ch in children {
                    c.extend_from_slice(&ch.to_le_bytes());
                }
                b"nGRP"
            }
            NodeKind::Shape { models } => {
                c.extend_from_slice(&(models.len() as i32).to_le_bytes());
                for (m, d) in models {
                    c.extend_from_slice(&m.to_le_bytes());
                    dict(&mut c, d);
                }
                b"nSHP"
            }
        };
        chunk(&mut body, tag, &c);
    }
    for (id, d) in &file.layers {
        let mut c = id.to_le_bytes().to_vec();
        dict(&mut c, d);
        c.extend_from_slice(&(-1i32).to_le_bytes());
        chunk(&mut body, b"LAYR", &c);
    }
    let mut c = Vec::with_capacity(1024);
    for i in 1..=256usize {
        c.extend_from_slice(&file.palette.get(i).copied().unwrap_or([0, 0, 0, 255]));
    }
    chunk(&mut body, b"RGBA", &c);
    for (id, d) in &file.materials {
        let mut c = id.to_le_bytes().to_vec();
        dict(&mut c, d);
        chunk(&mut body, b"MATL", &c);
    }
    for (id, d) in &file.cameras {
        let mut c = id.to_le_bytes().to_vec();
        dict(&mut c, d);
        chunk(&mut body, b"rCAM", &c);
    }
    for d in &file.render {
        let mut c = Vec::new();
        dict(&mut c, d);
        chunk(&mut body, b"rOBJ", &c);
    }
    let mut out = b"VOX ".to_vec();
    out.extend_from_slice(&200u32.to_le_bytes());
    out.extend_from_slice(b"MAIN");
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Appends one chunk without children.
pub fn chunk(out: &mut Vec<u8>, id: &[u8; 4], content: &[u8]) {
    out.extend_from_slice(id);
    out.extend_from_slice(&(content.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(content);
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn dict(out: &mut Vec<u8>, d: &Dict) {
    out.extend_from_slice(&(d.0.len() as i32).to_le_bytes());
    for (k, v) in &d.0 {
        string(out, k);
        string(out, v);
    }
}

/// A dictionary from pairs.
pub fn dict_of(pairs: &[(&str, &str)]) -> Dict {
    Dict(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// Builds the usual scene: node 0 a transform over group 1, and per instance a transform over a shape.
#[derive(Clone, Debug)]
pub struct SceneBuilder {
    file: VoxFile,
    children: Vec<i32>,
    next: i32,
}

impl Default for SceneBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SceneBuilder {
    /// An empty scene with a grey palette.
    pub fn new() -> Self {
        let mut palette = vec![[200u8, 200, 200, 255]; 256];
        palette[0] = [0, 0, 0, 0];
        SceneBuilder { file: VoxFile { version: 200, palette, ..VoxFile::default() }, children: Vec::new(), next: 2 }
    }

    /// Sets colour index `index`'s RGBA.
    pub fn colour(mut self, index: u8, rgba: [u8; 4]) -> Self {
        self.file.palette[usize::from(index)] = rgba;
        self
    }

    /// Sets colour index `index`'s material (`MATL`).
    pub fn material(mut self, index: u8, pairs: &[(&str, &str)]) -> Self {
        self.file.materials.insert(i32::from(index), dict_of(pairs));
        self
    }

    /// Adds a model; returns its id.
    pub fn model(&mut self, size: [u32; 3], voxels: Vec<[u8; 4]>) -> i32 {
        self.file.models.push(RawModel { size, voxels });
        (self.file.models.len() - 1) as i32
    }

    /// Adds a layer.
    pub fn layer(mut self, id: i32, name: &str, hidden: bool) -> Self {
        let mut d = dict_of(&[("_name", name)]);
        if hidden {
            d.0.push(("_hidden".into(), "1".into()));
        }
        self.file.layers.insert(id, d);
        self
    }

    /// Adds an instance of `model` under one transform with keyframes `(frame, rotation byte, translation)`
    /// and shape keys `(frame, model)` (empty: `model` throughout). Returns the transform's node id.
    pub fn animated(&mut self, attrs: Dict, layer: i32, keys: &[(u32, u8, [i32; 3])], shapes: &[(u32, i32)]) -> i32 {
        let (t, s) = (self.next, self.next + 1);
        self.next += 2;
        let frames = keys
            .iter()
            .map(|(f, r, p)| {
                dict_of(&[
                    ("_f", &f.to_string()),
                    ("_r", &r.to_string()),
                    ("_t", &format!("{} {} {}", p[0], p[1], p[2])),
                ])
            })
            .collect();
        self.file.nodes.insert(t, Node { attrs, kind: NodeKind::Transform { child: s, layer, frames } });
        let models = shapes.iter().map(|(f, m)| (*m, dict_of(&[("_f", &f.to_string())]))).collect();
        self.file.nodes.insert(s, Node { attrs: Dict::default(), kind: NodeKind::Shape { models } });
        self.children.push(t);
        t
    }

    /// Adds a still instance of `model` with rotation byte `rot` at `t`.
    pub fn instance(&mut self, model: i32, rot: u8, t: [i32; 3]) -> i32 {
        self.animated(Dict::default(), 0, &[(0, rot, t)], &[(0, model)])
    }

    /// Sets a camera (`rCAM`).
    pub fn camera(mut self, id: i32, pairs: &[(&str, &str)]) -> Self {
        self.file.cameras.insert(id, dict_of(pairs));
        self
    }

    /// Adds a render setting (`rOBJ`).
    pub fn render(mut self, pairs: &[(&str, &str)]) -> Self {
        self.file.render.push(dict_of(pairs));
        self
    }

    /// The finished file.
    pub fn build(mut self) -> VoxFile {
        self.file.nodes.insert(
            0,
            Node {
                attrs: Dict::default(),
                kind: NodeKind::Transform { child: 1, layer: -1, frames: vec![Dict::default()] },
            },
        );
        self.file.nodes.insert(1, Node { attrs: Dict::default(), kind: NodeKind::Group { children: self.children } });
        self.file
    }
}
