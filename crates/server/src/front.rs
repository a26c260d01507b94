//! The service in front of the router: inventory `list` over gRPC, the busiest call, goes
//! straight to its route ([`crate::encoded_list`]) after the same head check the router's
//! middleware makes; every other request goes through the axum router. The router would
//! give the same answer (its generated route writes the same bytes, [`crate::raw_info`]);
//! this spares the busiest call its path lookup, tonic's decoder and the boxed futures and
//! service clones of four middleware layers.
//!
//! A hand-made layer, kept because it pays: the load bench run on this build and on one
//! whose lists go through the router (`LOAD_COMPARE`, medians of 3 rounds, twice,
//! 2026-12-08) answered 1.09-1.23x the lists a second (means 1.15x and 1.12x over the six
//! rows of 1, 16 and 64 clients, tonic's and h2load's) at 1.16-1.32x less server CPU a
//! list (every row over 15%). A middleware added
//! to the gRPC routes must be added here too (`Front::call`) for inventory lists.

use crate::encoded_list::{ListRoute, PATH};
use crate::rest::head_refusal;
use axum::body::Body;
use axum::response::Response;
use axum::Router;
use std::convert::Infallible;
use std::task::{Context, Poll};
use tonic::codegen::{http, BoxFuture, Service};
use tower::ServiceExt;

/// The router, and the list route it would reach for [`PATH`] (inventory only).
#[derive(Clone)]
pub struct Front {
    list: Option<ListRoute>,
    router: Router,
    max_header_bytes: usize,
}

impl Front {
    /// In front of `router`, which answers everything, `list` taking [`PATH`] itself; request
    /// heads over `max_header_bytes` are refused as the router's middleware refuses them.
    pub fn new(list: Option<ListRoute>, router: Router, max_header_bytes: usize) -> Self {
        Front {
            list,
            router,
            max_header_bytes,
        }
    }
}

impl Service<http::Request<hyper::body::Incoming>> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        let request = request.map(Body::new);
        match &self.list {
            Some(list) if request.uri().path() == PATH => {
                if let Some(refusal) = head_refusal(&request, self.max_header_bytes) {
                    return Box::pin(std::future::ready(Ok(refusal)));
                }
                let mut list = list.clone();
                Box::pin(async move {
                    let response = list.call(request).await?;
                    Ok(response.map(Body::new))
                })
            }
            _ => Box::pin(self.router.clone().oneshot(request)),
        }
    }
}
