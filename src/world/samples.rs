//! The sample worlds shipped in `assets/worlds/`, and resolving a `--world` argument (a sample's name or a
//! path). The assets folder is `$LUMON_ASSETS` when set, else the crate's `assets/` folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::WorldError;

/// The world `lumon` opens without arguments.
pub const DEFAULT_WORLD: &str = "valley";

/// Names of the sample worlds, in the order `lumon worlds` lists them.
pub const SAMPLE_NAMES: [&str; 5] = ["valley", "cornell", "village-night", "leak-test", "city-stress"];

/// A sample world's listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleWorld {
    /// Name (the file stem).
    pub name: String,
    /// One-line purpose from the file.
    pub purpose: String,
    /// Path of the file.
    pub path: PathBuf,
}

/// The assets folder.
pub fn assets_dir() -> PathBuf {
    std::env::var_os("LUMON_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("assets"))
}

/// Path of a sample world's file.
pub fn sample_path(name: &str) -> PathBuf {
    assets_dir().join("worlds").join(format!("{name}.json"))
}

/// Lists the sample worlds with their purpose (reads only each file's header fields).
pub fn sample_worlds() -> Result<Vec<SampleWorld>, WorldError> {
    #[derive(Deserialize)]
    struct Header {
        name: String,
        purpose: String,
    }
    SAMPLE_NAMES
        .iter()
        .map(|name| {
            let path = sample_path(name);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| WorldError::Io { file: path.clone(), reason: e.to_string() })?;
            let h: Header = serde_json::from_str(&text).map_err(|e| WorldError::Parse {
                file: path.clone(),
                line: e.line(),
                column: e.column(),
                path: ".".into(),
                reason: e.to_string(),
            })?;
            Ok(SampleWorld { name: h.name, purpose: h.purpose, path })
        })
        .collect()
}

/// Turns a `--world` argument into a file path: a sample's name, or an existing path.
pub fn resolve_world(arg: &str) -> Result<PathBuf, WorldError> {
    if SAMPLE_NAMES.contains(&arg) {
        return Ok(sample_path(arg));
    }
    let p = PathBuf::from(arg);
    if p.is_file() {
        return Ok(p);
    }
    Err(WorldError::UnknownWorld { name: arg.to_string(), known: SAMPLE_NAMES.join(", ") })
}
