//! Compiles `proto/` with protox (a pure-Rust protobuf compiler: no protoc needed) and
//! generates the prost messages and tonic services; also writes the encoded descriptor set
//! that the servers register for gRPC reflection. Services and clients use `codec::Codec`.

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let fds = protox::compile(FILES, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("spaceone_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::Codec")
        .compile_fds(fds)?;
    Ok(())
}
