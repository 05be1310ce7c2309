//! The `.vox` container: chunks read into plain data, with every length checked before it is used.
//!
//! A file is `"VOX "`, a version (150 and 200 are MagicaVoxel's), and one `MAIN` chunk whose children are
//! the scene's chunks. Each chunk is a four-letter id, its content length, its children's length, the content
//! and the children. This reader knows `PACK`, `SIZE`/`XYZI` (models), `RGBA` (palette), `MATL` (materials),
//! `nTRN`/`nGRP`/`nSHP` (scene graph), `LAYR` (layers), `rCAM` (cameras) and `rOBJ` (render settings); `IMAP`
//! and `NOTE` only serve the editor and are skipped; compressed chunks that other tools write (Teardown's
//! `TDCZ`) are refused; any other chunk is skipped with a warning. Nothing here interprets the scene: that is
//! [`super::scene`]'s work.

use std::collections::BTreeMap;

use super::VoxError;

/// MagicaVoxel's own limit on a model's edge, voxels.
pub const MAX_MODEL_EDGE: u32 = 256;

/// Most chunks a file may hold (a guard against files that are all headers).
const MAX_CHUNKS: usize = 4_000_000;

/// A chunk's key-value attributes, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dict(pub Vec<(String, String)>);

impl Dict {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// True when `key` is `"1"` (MagicaVoxel's flags).
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.trim() == "1")
    }
}

/// One model: its size (MagicaVoxel's x, y, z; z up) and its voxels `[x, y, z, colour index]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawModel {
    /// Edge lengths, voxels.
    pub size: [u32; 3],
    /// Solid voxels; colour index 1..=255 (0 never occurs: such voxels are dropped with a warning).
    pub voxels: Vec<[u8; 4]>,
}

/// What a scene-graph node is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// `nTRN`: one child under a transform that may change per animation frame.
    Transform {
        /// The child node.
        child: i32,
        /// Layer id, or -1.
        layer: i32,
        /// Keyframes: `_f` (frame), `_r` (rotation byte), `_t` (translation "x y z").
        frames: Vec<Dict>,
    },
    /// `nGRP`: children, each a transform node.
    Group {
        /// Child node ids.
        children: Vec<i32>,
    },
    /// `nSHP`: the model drawn here, per animation frame (`_f` in each model's dict).
    Shape {
        /// `(model id, attributes)`.
        models: Vec<(i32, Dict)>,
    },
}

impl NodeKind {
    /// The chunk id that holds this kind.
    pub fn chunk(&self) -> &'static str {
        match self {
            NodeKind::Transform { .. } => "nTRN",
            NodeKind::Group { .. } => "nGRP",
            NodeKind::Shape { .. } => "nSHP",
        }
    }
}

/// A scene-graph node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Attributes (`_name`, `_hidden`).
    pub attrs: Dict,
    /// Kind and links.
    pub kind: NodeKind,
}

/// A file's chunks, read but not interpreted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VoxFile {
    /// The version in the header.
    pub version: u32,
    /// Models in file order (their index is the model id nodes refer to).
    pub models: Vec<RawModel>,
    /// The palette, RGBA per colour index 0..=255 (index 0 is never drawn); MagicaVoxel's default palette
    /// when the file has none.
    pub palette: Vec<[u8; 4]>,
    /// `MATL` attributes by colour index.
    pub materials: BTreeMap<i32, Dict>,
    /// Scene-graph nodes by id.
    pub nodes: BTreeMap<i32, Node>,
    /// `LAYR` attributes by layer id.
    pub layers: BTreeMap<i32, Dict>,
    /// `rCAM` attributes by camera id.
    pub cameras: BTreeMap<i32, Dict>,
    /// `rOBJ` dictionaries in file order.
    pub render: Vec<Dict>,
    /// Things read and left out, one line each.
    pub warnings: Vec<String>,
}

/// Reads a `.vox` file's bytes.
pub fn parse(bytes: &[u8]) -> Result<VoxFile, VoxError> {
    let mut r = Reader { bytes, pos: 0, chunk: "header".into() };
    let magic = r.take(4)?;
    if magic != b"VOX " {
        return Err(VoxError::new(
            "header",
            format!("the file starts with {:?}, not \"VOX \": not a MagicaVoxel file", String::from_utf8_lossy(magic)),
        ));
    }
    let version = r.u32()?;
    let mut file = VoxFile { version, palette: default_palette(), ..VoxFile::default() };
    if version > 200 {
        file.warnings.push(format!("file version {version} is newer than 200; read as version 200"));
    }
    let main = r.chunk_header()?;
    if main.id != *b"MAIN" {
        return Err(VoxError::new(
            format!("chunk {} at byte 8", show_id(&main.id)),
            "the first chunk must be MAIN".to_string(),
        ));
    }
    // MAIN's own content is empty; its children are the scene.
    r.skip(main.content)?;
    let end = r.pos.checked_add(main.children).filter(|e| *e <= bytes.len()).ok_or_else(|| {
        VoxError::new(
            "chunk MAIN at byte 8",
            format!("truncated: it says {} bytes of children, but {} remain", main.children, bytes.len() - r.pos),
        )
    })?;
    let mut pending_size: Option<([u32; 3], usize)> = None;
    let mut count = 0usize;
    let mut has_palette = false;
    let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
    let mut matt = 0usize;
    while r.pos < end {
        count += 1;
        if count > MAX_CHUNKS {
            return Err(VoxError::new("MAIN", format!("more than {MAX_CHUNKS} chunks")));
        }
        let at = r.pos;
        if end - at < 12 {
            return Err(VoxError::new(
                format!("chunk header at byte {at}"),
                format!("truncated: a chunk header takes 12 bytes, but MAIN's children end after {}", end - at),
            ));
        }
        let h = r.chunk_header()?;
        let name = format!("chunk {} at byte {at}", show_id(&h.id));
        let body_end = r.pos.checked_add(h.content).filter(|e| *e <= end);
        let Some(body_end) = body_end else {
            return Err(VoxError::new(
                name,
                format!("truncated: it says {} bytes of content, but {} remain", h.content, end.saturating_sub(r.pos)),
            ));
        };
        let mut c = Reader { bytes: &bytes[..body_end], pos: r.pos, chunk: name.clone() };
        match &h.id {
            b"PACK" => {}
            b"SIZE" => {
                let size = [c.u32()?, c.u32()?, c.u32()?];
                if let Some((_, prev)) = pending_size {
                    return Err(VoxError::new(
                        name,
                        format!("follows the SIZE chunk at byte {prev} with no XYZI between"),
                    ));
                }
                if size.contains(&0) {
                    return Err(VoxError::new(
                        name,
                        format!("model size {}x{}x{} is empty", size[0], size[1], size[2]),
                    ));
                }
                if size.iter().any(|s| *s > MAX_MODEL_EDGE) {
                    return Err(VoxError::new(
                        name,
                        format!(
                            "model {} is {}x{}x{}: more than {MAX_MODEL_EDGE} voxels on an axis",
                            file.models.len(),
                            size[0],
                            size[1],
                            size[2]
                        ),
                    ));
                }
                pending_size = Some((size, at));
            }
            b"XYZI" => {
                let Some((size, _)) = pending_size.take() else {
                    return Err(VoxError::new(name, "an XYZI chunk without a SIZE chunk before it"));
                };
                let n = c.u32()? as usize;
                let bytes_needed = n.checked_mul(4).filter(|b| *b <= body_end - c.pos).ok_or_else(|| {
                    VoxError::new(
                        name.clone(),
                        format!(
                            "truncated: {n} voxels need {} bytes, but the chunk holds {}",
                            n.saturating_mul(4),
                            body_end - c.pos
                        ),
                    )
                })?;
                let raw = c.take(bytes_needed)?;
                let index = file.models.len();
                let mut voxels = Vec::with_capacity(n);
                let mut zero = 0usize;
                for v in raw.chunks_exact(4) {
                    let (x, y, z) = (u32::from(v[0]), u32::from(v[1]), u32::from(v[2]));
                    if x >= size[0] || y >= size[1] || z >= size[2] {
                        return Err(VoxError::new(
                            name,
                            format!(
                                "model {index}: voxel ({x}, {y}, {z}) lies outside its size {}x{}x{}",
                                size[0], size[1], size[2]
                            ),
                        ));
                    }
                    if v[3] == 0 {
                        zero += 1;
                    } else {
                        voxels.push([v[0], v[1], v[2], v[3]]);
                    }
                }
                if zero > 0 {
                    file.warnings.push(format!("model {index}: {zero} voxels with colour index 0 (empty) left out"));
                }
                file.models.push(RawModel { size, voxels });
            }
            b"RGBA" => {
                let raw = c.take(256 * 4)?;
                // Entry i of the chunk is the colour of index i + 1; index 0 stays unused.
                let mut palette = vec![[0u8; 4]; 256];
                for (i, e) in raw.chunks_exact(4).take(255).enumerate() {
                    palette[i + 1] = [e[0], e[1], e[2], e[3]];
                }
                file.palette = palette;
                has_palette = true;
            }
            b"MATL" => {
                let id = c.i32()?;
                let d = c.dict()?;
                file.materials.insert(id, d);
            }
            b"nTRN" => {
                let id = c.i32()?;
                let attrs = c.dict()?;
                let child = c.i32()?;
                let _reserved = c.i32()?;
                let layer = c.i32()?;
                let frames = c.count("frames")?;
                let mut fs = Vec::with_capacity(frames.min(1024));
                for _ in 0..frames {
                    fs.push(c.dict()?);
                }
                file.insert_node(id, Node { attrs, kind: NodeKind::Transform { child, layer, frames: fs } }, &name)?;
            }
            b"nGRP" => {
                let id = c.i32()?;
                let attrs = c.dict()?;
                let n = c.count("children")?;
                let mut children = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    children.push(c.i32()?);
                }
                file.insert_node(id, Node { attrs, kind: NodeKind::Group { children } }, &name)?;
            }
            b"nSHP" => {
                let id = c.i32()?;
                let attrs = c.dict()?;
                let n = c.count("models")?;
                let mut models = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let m = c.i32()?;
                    models.push((m, c.dict()?));
                }
                file.insert_node(id, Node { attrs, kind: NodeKind::Shape { models } }, &name)?;
            }
            b"LAYR" => {
                let id = c.i32()?;
                let d = c.dict()?;
                file.layers.insert(id, d);
            }
            b"rCAM" => {
                let id = c.i32()?;
                let d = c.dict()?;
                file.cameras.insert(id, d);
            }
            b"rOBJ" => {
                let d = c.dict()?;
                file.render.push(d);
            }
            b"IMAP" | b"NOTE" => {}
            b"MATT" => matt += 1,
            b"TDCZ" => {
                return Err(VoxError::new(
                    name,
                    "a zlib-compressed chunk (Teardown writes these): lumon reads MagicaVoxel's uncompressed chunks; \
                     open the file in MagicaVoxel and save it again",
                ))
            }
            other => *unknown.entry(show_id(other)).or_default() += 1,
        }
        // Children of chunks other than MAIN are not part of MagicaVoxel's format; skip them.
        r.pos = body_end;
        if h.children > end - body_end {
            return Err(VoxError::new(
                name,
                format!("truncated: it says {} bytes of children, but {} remain", h.children, end - body_end),
            ));
        }
        r.skip(h.children)?;
    }
    if let Some((_, at)) = pending_size {
        return Err(VoxError::new(format!("chunk SIZE at byte {at}"), "the file ends before its XYZI chunk"));
    }
    if file.models.is_empty() {
        return Err(VoxError::new("MAIN", "the file holds no model"));
    }
    if !has_palette {
        file.warnings.push("no RGBA chunk: MagicaVoxel's default palette is used".into());
    }
    if matt > 0 {
        file.warnings.push(format!("{matt} MATT chunk(s) (MagicaVoxel's old materials) skipped: drawn as diffuse"));
    }
    for (id, n) in unknown {
        file.warnings.push(format!("{n} chunk(s) {id} not known to lumon, skipped"));
    }
    Ok(file)
}

impl VoxFile {
    fn insert_node(&mut self, id: i32, node: Node, place: &str) -> Result<(), VoxError> {
        if id < 0 {
            return Err(VoxError::new(place, format!("node id {id} is negative")));
        }
        if let Some(old) = self.nodes.get(&id) {
            return Err(VoxError::new(
                place,
                format!("node {id} is defined twice (first as {}, again as {})", old.kind.chunk(), node.kind.chunk()),
            ));
        }
        self.nodes.insert(id, node);
        Ok(())
    }
}

struct ChunkHeader {
    id: [u8; 4],
    content: usize,
    children: usize,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    chunk: String,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], VoxError> {
        let left = self.bytes.len().saturating_sub(self.pos);
        if n > left {
            return Err(VoxError::new(
                self.chunk.clone(),
                format!("truncated: needs {n} more bytes at byte {}, but {left} remain", self.pos),
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn skip(&mut self, n: usize) -> Result<(), VoxError> {
        self.take(n).map(|_| ())
    }

    fn u32(&mut self) -> Result<u32, VoxError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i32(&mut self) -> Result<i32, VoxError> {
        self.u32().map(|v| v as i32)
    }

    /// A count that must be non-negative and cannot exceed what the rest of the chunk could hold (each
    /// element takes at least four bytes).
    fn count(&mut self, what: &str) -> Result<usize, VoxError> {
        let n = self.i32()?;
        let left = self.bytes.len().saturating_sub(self.pos);
        if n < 0 || n as usize > left / 4 {
            return Err(VoxError::new(
                self.chunk.clone(),
                format!("{n} {what} cannot fit in the {left} bytes left in the chunk"),
            ));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<String, VoxError> {
        let n = self.i32()?;
        if n < 0 {
            return Err(VoxError::new(self.chunk.clone(), format!("a string of length {n}")));
        }
        Ok(String::from_utf8_lossy(self.take(n as usize)?).into_owned())
    }

    fn dict(&mut self) -> Result<Dict, VoxError> {
        let n = self.count("dictionary entries")?;
        let mut d = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            let k = self.string()?;
            let v = self.string()?;
            d.push((k, v));
        }
        Ok(Dict(d))
    }

    fn chunk_header(&mut self) -> Result<ChunkHeader, VoxError> {
        let at = self.pos;
        let saved = std::mem::replace(&mut self.chunk, format!("chunk header at byte {at}"));
        let id = self.take(4)?;
        let id = [id[0], id[1], id[2], id[3]];
        let content = self.u32()? as usize;
        let children = self.u32()? as usize;
        self.chunk = saved;
        Ok(ChunkHeader { id, content, children })
    }
}

fn show_id(id: &[u8]) -> String {
    id.iter().map(|b| if b.is_ascii_graphic() { char::from(*b) } else { '?' }).collect()
}

/// MagicaVoxel's default palette, used by files without an `RGBA` chunk (index 0 unused).
fn default_palette() -> Vec<[u8; 4]> {
    let mut p = vec![[0u8; 4]; 256];
    // dot_vox's entry k is the colour of index k + 1, as in the file's RGBA chunk.
    for (i, c) in dot_vox::DEFAULT_PALETTE.iter().take(255).enumerate() {
        p[i + 1] = [c.r, c.g, c.b, c.a];
    }
    p
}
