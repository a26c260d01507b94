//! The SpaceONE power-scheduler Job service: `serve` (the default), `import`, `demo-data`. See `--help`.

/// mimalloc rather than the system allocator: more writes a second and shorter read stalls
/// under them (BENCHMARKS.md, "Writes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    spacejobs_cli::main(spacejobs_core::Service::PowerScheduler)
}
