//! `cargo run -p spacejobs-layout`: checks that the workspace keeps the shape
//! docs/architecture.md gives it, so a change that breaks the shape fails the test command.
//!
//! - The crate graph: the workspace crates' normal dependencies on each other, read from
//!   `cargo metadata`, must be the block between `<!-- crate-graph: begin -->` and
//!   `<!-- crate-graph: end -->` of docs/architecture.md.
//! - No import cycles between the modules of a crate: a file that uses another file's items
//!   (directly or through a chain) may not be used back by it ([`modules`]). The cycles that
//!   predate this check are listed in `crates/layout/known-cycles.txt`, to be taken apart:
//!   a cycle not on that list fails, as does a listed one that is gone (strike it off).
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
    let known = known_cycles(&root);
    let mut seen = Vec::new();
    for (name, src) in crate_sources(&root) {
        let findings = match modules::cycles(&src) {
            Err(errors) => errors,
            Ok(cycles) => cycles
                .into_iter()
                .filter_map(|cycle| {
                    let line = format!("{name}: {}", cycle.files.join(", "));
                    let listed = known.contains(&line);
                    seen.push(line.clone());
                    (!listed).then(|| format!("a new cycle: {line}\n{}", cycle.evidence))
                })
                .collect(),
        };
        report(&format!("no new module cycles in {name}"), findings);
    }
    let gone: Vec<String> = known
        .iter()
        .filter(|line| !seen.contains(line))
        .map(|line| format!("gone, strike it off known-cycles.txt: {line}"))
        .collect();
    report("every listed cycle is still there", gone);
    println!("layout: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The lines of known-cycles.txt (`crate: file, file …`), comments and blank lines left out.
fn known_cycles(root: &Path) -> Vec<String> {
    let path = root.join("crates/layout/known-cycles.txt");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
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
