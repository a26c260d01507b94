//! Compiles `proto/` (SpaceONE 1.9) and `proto/v2/` (Cloudforet 2.x, whose inventory package
//! has the same name, so it gets a module and a descriptor set of its own) with protox (a
//! pure-Rust protobuf compiler: no protoc needed) and generates the prost messages and tonic
//! services; also writes the encoded descriptor sets that the servers register for gRPC
//! reflection. Services and clients use `codec::Codec`.

use prost::Message;
use std::path::PathBuf;

const FILES: [&str; 8] = [
    "spaceone/api/inventory/v1/collector.proto",
    "spaceone/api/core/v1/handler.proto",
    "spaceone/api/identity/v1/domain.proto",
    "spaceone/api/identity/v1/authorization.proto",
    "spaceone/api/core/v1/query.proto",
    "spaceone/api/inventory/v1/job_task.proto",
    "spaceone/api/spot_automation/v1/job.proto",
    "spaceone/api/power_scheduler/v1/job.proto",
];

/// The 2.x files (`proto/v2/`, written by `scripts/protos-2x.py` from the published wheel).
const FILES_2X: [&str; 3] = [
    "spaceone/api/core/v2/query.proto",
    "spaceone/api/inventory/v1/job_task.proto",
    "spaceone/api/inventory/v1/job.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    compile(&FILES, &root, &out, "spaceone_descriptor.bin")?;
    let out_2x = out.join("v2");
    std::fs::create_dir_all(&out_2x)?;
    compile(&FILES_2X, &root.join("v2"), &out_2x, "descriptor.bin")?;
    Ok(())
}

/// Compiles `files` under `root` into `out`: the Rust modules and the descriptor set.
fn compile(
    files: &[&str],
    root: &PathBuf,
    out: &PathBuf,
    descriptor: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(files, [root])?;
    std::fs::write(out.join(descriptor), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::Codec")
        .out_dir(out)
        .compile_fds(fds)?;
    Ok(())
}
