//! The service in front of the router: inventory `list` over gRPC, the busiest call, goes
//! straight to its route ([`crate::encoded_list`]) after the same head check the router's
//! middleware makes; every other request goes through the axum router. The router would
//! give the same answer; this spares the busiest call its path lookup and the boxed
//! futures and service clones of two middleware layers.

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
