//! The crate graph: `cargo metadata`'s view of the workspace beside the one
//! docs/architecture.md draws.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const BEGIN: &str = "<!-- crate-graph: begin -->";
const END: &str = "<!-- crate-graph: end -->";

/// The differences between the two, one line each (none when they agree).
pub fn check(root: &Path) -> Vec<String> {
    let actual = match from_metadata(root) {
        Ok(graph) => graph,
        Err(e) => return vec![format!("cargo metadata: {e}")],
    };
    let doc_path = root.join("docs/architecture.md");
    let documented = match std::fs::read_to_string(&doc_path) {
        Ok(text) => from_document(&text),
        Err(e) => return vec![format!("{}: {e}", doc_path.display())],
    };
    let Some(documented) = documented else {
        return vec![format!("docs/architecture.md has no {BEGIN} … {END} block")];
    };
    let mut findings = Vec::new();
    for line in actual.difference(&documented) {
        findings.push(format!("in the workspace, not in the document: {line}"));
    }
    for line in documented.difference(&actual) {
        findings.push(format!("in the document, not in the workspace: {line}"));
    }
    if !findings.is_empty() {
        findings.push("the block the workspace gives:".into());
        findings.extend(actual.iter().cloned());
    }
    findings
}

/// `crate -> dependency, dependency` lines (a crate with none: its name alone), sorted.
fn render(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    graph
        .iter()
        .map(|(name, deps)| {
            if deps.is_empty() {
                name.clone()
            } else {
                let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
                format!("{name} -> {}", deps.join(", "))
            }
        })
        .collect()
}

fn from_metadata(root: &Path) -> Result<BTreeSet<String>, String> {
    let output = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let names: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    let mut graph = BTreeMap::new();
    for package in &packages {
        let Some(name) = package["name"].as_str() else {
            continue;
        };
        // Normal dependencies only: `kind` is null (dev and build dependencies are not the
        // architecture), and this tool itself is not part of it.
        let deps: BTreeSet<String> = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .filter(|d| names.contains(*d))
            .map(str::to_string)
            .collect();
        if name != env!("CARGO_PKG_NAME") {
            graph.insert(name.to_string(), deps);
        }
    }
    Ok(render(&graph))
}

/// The lines of the document's block, or `None` without one.
fn from_document(text: &str) -> Option<BTreeSet<String>> {
    let start = text.find(BEGIN)? + BEGIN.len();
    let end = start + text[start..].find(END)?;
    Some(
        text[start..end]
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("```"))
            .map(str::to_string)
            .collect(),
    )
}
