//! Runnable examples of the spacejobs crates; see the `[[example]]` targets of this package:
//!
//! - `embed_engine`: the core engine on your own documents (list and stat, no server).
//! - `mount_service`: the JobTask service mounted in your own tonic server.
//! - `grpc_client`: a Rust gRPC client calling `list` and `stat`.
//! - `record_jobs`: a collector recording a job and its tasks through the lifecycle API,
//!   then listing and stat-ing them.
