//! SpaceONE's gRPC API as Rust types: the `spaceone.api.core.v1` queries and the three
//! services this project serves, the identity calls it makes to authenticate callers, generated from `proto/` (field numbers exactly SpaceONE's),
//! plus the encoded descriptor set for gRPC reflection. [`v2`] is the same for Cloudforet
//! 2.x (`proto/v2/`, written from spaceone-api 2.0.435's published descriptors).

#![allow(missing_docs, clippy::all, clippy::pedantic)]

pub mod codec;

/// Every .proto file of `proto/` (and the Google types they import), encoded, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/spaceone_descriptor.bin"));

/// `spaceone.api.*`
pub mod spaceone {
    /// `spaceone.api.*`
    pub mod api {
        /// `spaceone.api.core.*`
        pub mod core {
            /// `spaceone.api.core.v1`: Query and StatisticsQuery.
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/spaceone.api.core.v1.rs"));
            }
        }
        /// `spaceone.api.identity.*`
        pub mod identity {
            /// `spaceone.api.identity.v1`: the Domain and Authorization calls that
            /// authenticate and authorize a caller.
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/spaceone.api.identity.v1.rs"));
            }
        }
        /// `spaceone.api.inventory.*`
        pub mod inventory {
            /// `spaceone.api.inventory.v1`: the JobTask service.
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/spaceone.api.inventory.v1.rs"));
            }
        }
        /// `spaceone.api.spot_automation.*`
        pub mod spot_automation {
            /// `spaceone.api.spot_automation.v1`: the Job service.
            pub mod v1 {
                include!(concat!(
                    env!("OUT_DIR"),
                    "/spaceone.api.spot_automation.v1.rs"
                ));
            }
        }
        /// `spaceone.api.power_scheduler.*`
        pub mod power_scheduler {
            /// `spaceone.api.power_scheduler.v1`: the Job service.
            pub mod v1 {
                include!(concat!(
                    env!("OUT_DIR"),
                    "/spaceone.api.power_scheduler.v1.rs"
                ));
            }
        }
    }
}

/// Cloudforet 2.x (spaceone-api 2.0.435): its inventory package keeps the 1.9 name
/// `spaceone.api.inventory.v1` with other messages and numbers, so it lives apart.
pub mod v2 {
    /// Every .proto file of `proto/v2/` (and the Google types they import), encoded, for
    /// reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/v2/descriptor.bin"));

    /// `spaceone.api.*` of 2.x
    pub mod spaceone {
        /// `spaceone.api.*` of 2.x
        pub mod api {
            /// `spaceone.api.core.*` of 2.x
            pub mod core {
                /// `spaceone.api.core.v2`: Query (sort as repeated `Sort`), StatisticsQuery,
                /// AnalyzeQuery.
                pub mod v2 {
                    include!(concat!(env!("OUT_DIR"), "/v2/spaceone.api.core.v2.rs"));
                }
            }
            /// `spaceone.api.inventory.*` of 2.x
            pub mod inventory {
                /// `spaceone.api.inventory.v1` of 2.x: the JobTask and Job services.
                pub mod v1 {
                    include!(concat!(env!("OUT_DIR"), "/v2/spaceone.api.inventory.v1.rs"));
                }
            }
        }
    }

    pub use spaceone::api::core::v2 as core;
    pub use spaceone::api::inventory::v1 as inventory;
}

pub use spaceone::api::core::v1 as core;
pub use spaceone::api::identity::v1 as identity;
pub use spaceone::api::inventory::v1 as inventory;
pub use spaceone::api::power_scheduler::v1 as power_scheduler;
pub use spaceone::api::spot_automation::v1 as spot_automation;
