//! The SpaceONE power-scheduler Job service: `serve` (the default), `import`, `demo-data`. See `--help`.

fn main() -> std::process::ExitCode {
    spacejobs_cli::main(spacejobs_core::Service::PowerScheduler)
}
