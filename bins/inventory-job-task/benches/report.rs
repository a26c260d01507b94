//! BENCHMARKS.md, written by two bench commands: `peers` writes the comparison with the
//! peers, `load` the part opening with [`LOAD_HEADING`]; each keeps the other's part.

use std::path::Path;

/// The heading that opens the load command's part.
pub const LOAD_HEADING: &str = "## Load";

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

/// Splits BENCHMARKS.md into the peers' part and the load part (empty when absent).
fn split(text: &str) -> (&str, &str) {
    match text.find(&format!("\n{LOAD_HEADING}")) {
        Some(at) => (&text[..at + 1], &text[at + 1..]),
        None => (text, ""),
    }
}

/// Writes BENCHMARKS.md under `root` with `peers` (when given) and `load` (when given) as
/// its parts, keeping the part not given from the file as it was.
pub fn write(root: &Path, peers: Option<&str>, load: Option<&str>) {
    let path = root.join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let (old_peers, old_load) = split(&old);
    let peers = peers.unwrap_or(old_peers).trim_end();
    let load = load.unwrap_or(old_load).trim_end();
    let text = if load.is_empty() {
        format!("{peers}\n")
    } else {
        format!("{peers}\n\n{load}\n")
    };
    std::fs::write(&path, text).expect("BENCHMARKS.md");
    println!("wrote {}", path.display());
}
