//! `cargo run -p spacejobs-layout`: checks that the workspace keeps the shape
//! docs/architecture.md gives it, so a change that breaks the shape fails the test command.
//!
//! - The crate graph: the workspace crates' normal dependencies on each other, read from
//!   `cargo metadata`, must be the block between `<!-- crate-graph: begin -->` and
//!   `<!-- crate-graph: end -->` of docs/architecture.md.
//! - No import cycles between the modules of a crate: a file that uses another file's items
//!   (directly or through a chain) may not be used back by it ([`modules`]).
//!
//! Prints each finding and `layout: N passed, M failed` (the test command adds it to its
//! totals); exits 1 when a check fails.

mod crate_graph;
mod modules;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let mut passed = 0;
    let mut failed = 0;
    let mut report = |name: &str, findings: Vec<String>| {
        if findings.is_empty() {
            println!("layout check passed: {name}");
            passed += 1;
        } else {
            println!("layout check FAILED: {name}");
            for finding in findings {
                println!("  {finding}");
            }
            failed += 1;
        }
    };
    report(
        "the crate graph is docs/architecture.md's",
        crate_graph::check(&root),
    );
    for (name, src) in crate_sources(&root) {
        let findings = match modules::cycles(&src) {
            Err(errors) => errors,
            Ok(cycles) => cycles
                .into_iter()
                .map(|cycle| format!("a cycle: {}\n{}", cycle.files.join(", "), cycle.evidence))
                .collect(),
        };
        report(&format!("no module cycles in {name}"), findings);
    }
    println!("layout: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Every workspace crate's `src` directory, by the crate's directory name.
fn crate_sources(root: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for parent in ["crates", "bins"] {
        let Ok(entries) = std::fs::read_dir(root.join(parent)) else {
            continue;
        };
        for entry in entries.flatten() {
            let src = entry.path().join("src");
            if src.is_dir() {
                let name = format!("{parent}/{}", entry.file_name().to_string_lossy());
                found.push((name, src));
            }
        }
    }
    found.sort();
    found
}
