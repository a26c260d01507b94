//! BENCHMARKS.md, written by the bench commands part by part: `peers` writes the comparison
//! with the peers (the top of the file), `load` the part opening with [`LOAD_HEADING`] and,
//! comparing the container image's binary, [`IMAGE_HEADING`]; each keeps the others' parts.

use std::path::Path;

/// The heading that opens the load command's part.
#[allow(dead_code)] // the load bench's (this file is in both benches)
pub const LOAD_HEADING: &str = "## Load";
/// The heading of the container image's binary beside the host's release build.
#[allow(dead_code)] // the load bench's
pub const IMAGE_HEADING: &str = "## Container image";

/// The machine, as the reports name it: `2 cores (CPU model)`.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores ({cpu})")
}

/// Splits BENCHMARKS.md into its parts: the top (the peers'), then each part opening with a
/// `## ` heading, as (heading, text) pairs.
fn split(text: &str) -> Vec<(String, String)> {
    let mut parts = vec![(String::new(), String::new())];
    for line in text.lines() {
        if line.starts_with("## ") {
            parts.push((line.to_string(), String::new()));
        }
        let part = &mut parts.last_mut().expect("a part").1;
        part.push_str(line);
        part.push('\n');
    }
    parts
}

/// Writes BENCHMARKS.md under `root` with `text` as the part opening with `heading` (the top
/// for `None`), keeping every other part as it was; a new part goes last.
pub fn write(root: &Path, heading: Option<&str>, text: &str) {
    let path = root.join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let mut parts = split(&old);
    let heading = heading.unwrap_or("").to_string();
    match parts.iter_mut().find(|(h, _)| *h == heading) {
        Some(part) => part.1 = format!("{}\n", text.trim_end()),
        None => parts.push((heading, format!("{}\n", text.trim_end()))),
    }
    let text: Vec<String> = parts
        .into_iter()
        .map(|(_, t)| t.trim_end().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    std::fs::write(&path, format!("{}\n", text.join("\n\n"))).expect("BENCHMARKS.md");
    println!("wrote {}", path.display());
}
