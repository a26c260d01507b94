//! Server tests: `run` on real ports (embedded in-memory store), the whole conformance corpus
//! through gRPC clients and through REST, and bad input over the wire.

mod grpc;
mod rest;
mod support;
