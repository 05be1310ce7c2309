//! The scene graph of a `.vox` file, resolved into instances: which model is drawn where, per animation frame.
//!
//! MagicaVoxel's graph alternates transform nodes (`nTRN`: a rotation byte and an integer translation per
//! keyframe, a layer) with groups (`nGRP`) and shapes (`nSHP`: the model per keyframe). Walking it from node 0
//! gives one instance per path to a shape. A pose maps a model's voxel corner coordinates, taken relative to
//! the model's pivot `floor(size / 2)`, to scene voxel coordinates: `scene = rot * local + t`, MagicaVoxel's
//! frame (Z up); every pose is an exact signed permutation plus an integer offset, so voxels land on whole cells.
//! Animation holds each keyframe until the next one (MagicaVoxel's step keys). Hidden nodes and hidden layers
//! are left out and counted. A file without a graph is one instance of model 0 (its other models are animation
//! frames). Errors name the node and the reason: a missing child, a cycle, a bad rotation byte.

use std::collections::{BTreeMap, BTreeSet};

use super::parse::{Dict, NodeKind, VoxFile};
use super::VoxError;

/// Deepest path through the graph accepted.
const MAX_DEPTH: usize = 1024;
/// Most instances a file may expand to.
const MAX_INSTANCES: usize = 1_000_000;
/// Most node visits while walking the graph (shared subgraphs are walked once per path to them).
const MAX_VISITS: usize = 4_000_000;
/// Most instance states (instances times keyframes) a scene may resolve to.
const MAX_STATES: usize = 16_000_000;
/// Most distinct animation keyframes read.
pub const MAX_KEYFRAMES: usize = 1024;
/// The frame of a keyframe after the first that has no `_f`: never in effect unless it is the only one.
const UNKEYED: u32 = u32::MAX;

/// A signed permutation matrix, row-major: `out[r] = m[r][c] * in[c]`.
pub type Rot = [[i32; 3]; 3];

/// The identity rotation.
pub const IDENTITY: Rot = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];

/// Decodes MagicaVoxel's rotation byte: bits 0-1 and 2-3 give the column of the first and second rows' non-zero
/// entry (the third row takes the column left), bits 4, 5 and 6 make rows 1, 2 and 3 negative.
pub fn decode_rotation(byte: u8) -> Result<Rot, String> {
    let c0 = usize::from(byte & 3);
    let c1 = usize::from((byte >> 2) & 3);
    if c0 == 3 || c1 == 3 {
        return Err(format!("rotation byte {byte} names column 3; only 0, 1 and 2 exist"));
    }
    if c0 == c1 {
        return Err(format!("rotation byte {byte} puts two rows on axis {}", ["x", "y", "z"][c0]));
    }
    let c2 = 3 - c0 - c1;
    let mut m = [[0i32; 3]; 3];
    for (r, c) in [c0, c1, c2].into_iter().enumerate() {
        m[r][c] = if byte >> (4 + r) & 1 == 1 { -1 } else { 1 };
    }
    Ok(m)
}

/// `a * b`.
pub fn mul(a: &Rot, b: &Rot) -> Rot {
    let mut m = [[0i32; 3]; 3];
    for (r, row) in m.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[r][k] * b[k][c]).sum();
        }
    }
    m
}

/// `m * v`.
pub fn apply(m: &Rot, v: [i32; 3]) -> [i32; 3] {
    [0, 1, 2].map(|r| (0..3).map(|c| m[r][c] * v[c]).sum())
}

/// Where an instance sits: `scene = rot * local + t`, voxel units, MagicaVoxel's frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pose {
    /// Rotation (possibly with a reflection).
    pub rot: Rot,
    /// Translation, voxels.
    pub t: [i32; 3],
}

impl Pose {
    /// No rotation, no offset.
    pub const IDENTITY: Pose = Pose { rot: IDENTITY, t: [0, 0, 0] };

    /// This pose applied after `inner`: `self * inner`.
    pub fn then(&self, inner: &Pose) -> Pose {
        let t = apply(&self.rot, inner.t);
        Pose { rot: mul(&self.rot, &inner.rot), t: [t[0] + self.t[0], t[1] + self.t[1], t[2] + self.t[2]] }
    }
}

/// An instance's state from one frame on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    /// First animation frame of this state.
    pub frame: u32,
    /// Model index.
    pub model: usize,
    /// Pose.
    pub pose: Pose,
}

/// One drawn path through the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Stable id: the transform node ids along the path, `t1/t5`.
    pub id: String,
    /// `_name` of the nearest named transform node, if any.
    pub name: Option<String>,
    /// Name of the layer of the transform above the shape, if it has one.
    pub layer: Option<String>,
    /// States in frame order; the first is at frame 0, later ones only where the state changes.
    pub states: Vec<State>,
}

/// The resolved scene.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scene {
    /// Visible instances in graph order.
    pub instances: Vec<Instance>,
    /// Instances left out because a node on their path is hidden.
    pub hidden_instances: usize,
    /// Instances left out because their layer is hidden.
    pub hidden_layer_instances: usize,
    /// Layer names (visible and hidden), by id.
    pub layers: BTreeMap<i32, (String, bool)>,
    /// Keyframes of the animation (frame 0 first); one entry for a still scene.
    pub keyframes: Vec<u32>,
    /// Notes about what was read differently from the file.
    pub warnings: Vec<String>,
}

struct Path {
    transforms: Vec<i32>,
    shape: i32,
}

/// Resolves the graph of `file`.
pub fn resolve(file: &VoxFile) -> Result<Scene, VoxError> {
    let mut scene = Scene::default();
    for (id, d) in &file.layers {
        let name =
            d.get("_name").filter(|n| !n.trim().is_empty()).map_or_else(|| format!("layer-{id}"), str::to_string);
        scene.layers.insert(*id, (name, d.flag("_hidden")));
    }
    if file.nodes.is_empty() {
        if file.models.len() > 1 {
            scene.warnings.push(format!(
                "{} models and no scene graph: read as animation frames; frame 0 (model 0) is drawn",
                file.models.len()
            ));
        }
        scene.keyframes = vec![0];
        scene.instances.push(Instance {
            id: "model-0".into(),
            name: None,
            layer: None,
            states: vec![State { frame: 0, model: 0, pose: Pose::IDENTITY }],
        });
        return Ok(scene);
    }
    let paths = walk(file)?;
    // Keyframes of every node on a drawn path.
    let mut keys: BTreeSet<u32> = BTreeSet::from([0]);
    for p in &paths {
        for t in &p.transforms {
            if let Some(NodeKind::Transform { frames, .. }) = file.nodes.get(t).map(|n| &n.kind) {
                for (i, f) in frames.iter().enumerate() {
                    keys.insert(frame_of(f, i, *t, "nTRN")?);
                }
                keys.remove(&UNKEYED);
            }
        }
        if let Some(NodeKind::Shape { models }) = file.nodes.get(&p.shape).map(|n| &n.kind) {
            for (i, (_, d)) in models.iter().enumerate() {
                keys.insert(frame_of(d, i, p.shape, "nSHP")?);
            }
            keys.remove(&UNKEYED);
        }
    }
    if keys.len() > MAX_KEYFRAMES {
        scene.warnings.push(format!("{} animation keyframes; the first {MAX_KEYFRAMES} are played", keys.len()));
    }
    scene.keyframes = keys.into_iter().take(MAX_KEYFRAMES).collect();
    if paths.len().saturating_mul(scene.keyframes.len()) > MAX_STATES {
        return Err(VoxError::new(
            "scene graph",
            format!(
                "{} instances with {} animation keyframes is more than {MAX_STATES} instance states",
                paths.len(),
                scene.keyframes.len()
            ),
        ));
    }
    for p in paths {
        let mut hidden = false;
        let mut name = None;
        let mut layer = None;
        for t in &p.transforms {
            let node = &file.nodes[t];
            hidden |= node.attrs.flag("_hidden");
            if let Some(n) = node.attrs.get("_name").filter(|n| !n.trim().is_empty()) {
                name = Some(n.to_string());
            }
            if let NodeKind::Transform { layer: l, .. } = node.kind {
                if l >= 0 {
                    layer = Some(l);
                }
            }
        }
        hidden |= file.nodes[&p.shape].attrs.flag("_hidden");
        if hidden {
            scene.hidden_instances += 1;
            continue;
        }
        let layer_entry = layer.and_then(|l| scene.layers.get(&l));
        if layer_entry.is_some_and(|(_, h)| *h) {
            scene.hidden_layer_instances += 1;
            continue;
        }
        let mut states: Vec<State> = Vec::new();
        for &k in &scene.keyframes {
            let s = state_at(file, &p, k)?;
            if states.last().is_none_or(|last| last.model != s.model || last.pose != s.pose) {
                states.push(s);
            }
        }
        let id = p.transforms.iter().map(|t| format!("t{t}")).collect::<Vec<_>>().join("/");
        scene.instances.push(Instance { id, name, layer: layer_entry.map(|(n, _)| n.clone()), states });
    }
    Ok(scene)
}

/// Every path from node 0 to a shape, checked: children exist, kinds alternate, no cycle.
fn walk(file: &VoxFile) -> Result<Vec<Path>, VoxError> {
    let node_err = |id: i32, reason: String| {
        let kind = file.nodes.get(&id).map_or("node", |n| n.kind.chunk());
        VoxError::new(format!("{kind} node {id}"), reason)
    };
    if !file.nodes.contains_key(&0) {
        return Err(VoxError::new("scene graph", "the file has scene nodes but no root node 0"));
    }
    let mut out = Vec::new();
    // (node, transforms so far, every node on the path)
    let mut stack: Vec<(i32, Vec<i32>, Vec<i32>)> = vec![(0, Vec::new(), Vec::new())];
    let mut visits = 0usize;
    while let Some((id, transforms, mut path)) = stack.pop() {
        visits += 1;
        if visits > MAX_VISITS {
            return Err(node_err(id, format!("walking the scene graph takes more than {MAX_VISITS} node visits")));
        }
        if path.contains(&id) {
            let cycle: Vec<String> = path.iter().chain([&id]).map(i32::to_string).collect();
            return Err(node_err(id, format!("the scene graph has a cycle: {}", cycle.join(" -> "))));
        }
        if path.len() >= MAX_DEPTH {
            return Err(node_err(id, format!("the scene graph is deeper than {MAX_DEPTH} nodes")));
        }
        let parent = path.last().copied();
        path.push(id);
        let Some(node) = file.nodes.get(&id) else {
            let p = parent.unwrap_or(0);
            return Err(node_err(p, format!("names child {id}, which does not exist")));
        };
        let parent_is_transform = parent.is_some_and(|p| matches!(file.nodes[&p].kind, NodeKind::Transform { .. }));
        match &node.kind {
            NodeKind::Transform { child, .. } => {
                if parent_is_transform {
                    return Err(node_err(id, "a transform node under a transform node".into()));
                }
                let mut t = transforms.clone();
                t.push(id);
                stack.push((*child, t, path));
            }
            NodeKind::Group { children } => {
                if parent.is_some() && !parent_is_transform {
                    return Err(node_err(id, "a group must hang under a transform node".into()));
                }
                for c in children.iter().rev() {
                    if !matches!(file.nodes.get(c).map(|n| &n.kind), Some(NodeKind::Transform { .. }) | None) {
                        return Err(node_err(id, format!("child {c} is not a transform node")));
                    }
                    stack.push((*c, transforms.clone(), path.clone()));
                }
            }
            NodeKind::Shape { models } => {
                if !parent_is_transform {
                    return Err(node_err(id, "a shape must hang under a transform node".into()));
                }
                if models.is_empty() {
                    return Err(node_err(id, "the shape names no model".into()));
                }
                for (m, _) in models {
                    if *m < 0 || *m as usize >= file.models.len() {
                        return Err(node_err(id, format!("names model {m}, but the file holds {}", file.models.len())));
                    }
                }
                out.push(Path { transforms, shape: id });
                if out.len() > MAX_INSTANCES {
                    return Err(node_err(id, format!("the scene expands to more than {MAX_INSTANCES} instances")));
                }
            }
        }
    }
    Ok(out)
}

fn frame_of(d: &Dict, index: usize, node: i32, kind: &str) -> Result<u32, VoxError> {
    match d.get("_f") {
        None => Ok(if index == 0 { 0 } else { UNKEYED }),
        Some(v) => v.trim().parse::<u32>().map_err(|_| {
            VoxError::new(
                format!("{kind} node {node}"),
                format!("keyframe {index}: frame \"{v}\" is not a whole number"),
            )
        }),
    }
}

/// The keyframe in effect at frame `k`: the last one at or before it, else the first.
fn pick<'a, T>(items: &'a [T], frame: impl Fn(usize, &T) -> Result<u32, VoxError>, k: u32) -> Result<&'a T, VoxError> {
    let mut best: Option<(u32, &T)> = None;
    let mut first: Option<(u32, &T)> = None;
    for (i, it) in items.iter().enumerate() {
        let f = frame(i, it)?;
        if f <= k && best.is_none_or(|(bf, _)| f > bf) {
            best = Some((f, it));
        }
        if first.is_none_or(|(ff, _)| f < ff) {
            first = Some((f, it));
        }
    }
    best.or(first).map(|(_, it)| it).ok_or_else(|| VoxError::new("scene graph", "a node with no keyframe"))
}

fn state_at(file: &VoxFile, p: &Path, k: u32) -> Result<State, VoxError> {
    let mut pose = Pose::IDENTITY;
    for t in &p.transforms {
        let NodeKind::Transform { frames, .. } = &file.nodes[t].kind else { continue };
        if frames.is_empty() {
            continue;
        }
        let f = pick(frames, |i, d| frame_of(d, i, *t, "nTRN"), k)?;
        pose = pose.then(&local_pose(f, *t)?);
    }
    let NodeKind::Shape { models } = &file.nodes[&p.shape].kind else {
        return Err(VoxError::new(format!("node {}", p.shape), "expected a shape node"));
    };
    let (m, _) = pick(models, |i, (_, d)| frame_of(d, i, p.shape, "nSHP"), k)?;
    Ok(State { frame: k, model: *m as usize, pose })
}

fn local_pose(d: &Dict, node: i32) -> Result<Pose, VoxError> {
    let place = || format!("nTRN node {node}");
    let rot = match d.get("_r") {
        None => IDENTITY,
        Some(v) => {
            let byte: u8 = v
                .trim()
                .parse()
                .map_err(|_| VoxError::new(place(), format!("rotation \"{v}\" is not a byte (0..=255)")))?;
            decode_rotation(byte).map_err(|reason| VoxError::new(place(), reason))?
        }
    };
    let t = match d.get("_t") {
        None => [0, 0, 0],
        Some(v) => {
            let parts: Vec<Option<i32>> = v.split_whitespace().map(|s| s.parse().ok()).collect();
            match parts.as_slice() {
                [Some(x), Some(y), Some(z)] if [x, y, z].iter().all(|c| c.unsigned_abs() <= 1 << 20) => [*x, *y, *z],
                _ => {
                    return Err(VoxError::new(
                        place(),
                        format!("translation \"{v}\" is not three whole numbers within +-1048576"),
                    ))
                }
            }
        }
    };
    Ok(Pose { rot, t })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(m: &Rot) -> i32 {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    }

    #[test]
    fn the_48_valid_bytes_give_48_distinct_signed_permutations() {
        let mut seen = BTreeSet::new();
        for b in 0..128u8 {
            if let Ok(m) = decode_rotation(b) {
                assert_eq!(det(&m).abs(), 1);
                seen.insert(m);
            }
        }
        assert_eq!(seen.len(), 48);
        assert_eq!(decode_rotation(4), Ok(IDENTITY));
        assert!(decode_rotation(0).unwrap_err().contains("two rows on axis x"));
        assert!(decode_rotation(3).unwrap_err().contains("column 3"));
    }
}
