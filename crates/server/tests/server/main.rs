//! Server tests: `run` on real ports (embedded in-memory store), the whole conformance corpus
//! through gRPC clients and through REST, and bad input over the wire.

mod auth;
mod bad_input;
mod explain;
mod export;
mod grpc;
mod limits;
mod metrics;
mod probes;
mod rest;
mod support;
