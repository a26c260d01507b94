//! The names the services go by on the wire.

use spacejobs_core::Service;

/// The fully-qualified gRPC name of a service (`spaceone.api.inventory.v1.JobTask`).
pub fn grpc_name(service: Service) -> &'static str {
    match service {
        Service::Inventory => "spaceone.api.inventory.v1.JobTask",
        Service::SpotAutomation => "spaceone.api.spot_automation.v1.Job",
        Service::PowerScheduler => "spaceone.api.power_scheduler.v1.Job",
    }
}
