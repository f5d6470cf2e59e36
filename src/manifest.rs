//! The manifest in each state directory: what was cloned, from which
//! package and version, with the database's digests, and why.

use crate::clone::Stats;
use crate::plan::Plan;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub plan: Plan,
    pub stats: Stats,
    /// Where the label is enforced, or why not.
    pub label_note: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloned_from: Option<String>,
}

impl Manifest {
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }

    pub fn load(path: &Path) -> Result<Self> {
        // The state directory is …/NAME/manifest.json.
        let name =
            path.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let repair = format!(
            "the sandbox's plan is lost: delete it (sandbox-service delete --force {name}) and create it again"
        );
        let text =
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}; {repair}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is damaged ({e}); {repair}", path.display()))
    }
}
