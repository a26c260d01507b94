//! Who is calling, and what they may see: the [`Authenticator`] trait every transport asks
//! before a request reaches the store, and the request mutation of SpaceONE's handlers.
//!
//! An authenticator turns a call's token into a [`Caller`] (or refuses it with
//! `ERROR_AUTHENTICATE_FAILURE` / `ERROR_PERMISSION_DENIED`). [`Caller::scope_list`] and
//! [`Caller::scope_stat`] then rewrite the request as spaceone-core does: for the DOMAIN,
//! PROJECT and USER roles the request's `domain_id` is replaced by the token's, and for
//! PROJECT and USER the results are limited to the caller's projects (plus documents without a
//! project). [`NoAuth`] leaves requests as sent; the bins choose an authenticator from flags,
//! an embedding service can plug in its own.

use crate::error::Result;
use crate::model::Service;
use crate::request::{ListRequest, StatRequest};
use async_trait::async_trait;
use serde_json::Value;
use spacejobs_query::model::Condition;

/// The caller's role, as SpaceONE's identity service answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleType {
    /// Sees every domain.
    System,
    /// Sees its own domain.
    Domain,
    /// Sees its domain's documents of its projects.
    Project,
    /// Like PROJECT, for a user's own projects.
    User,
}

impl RoleType {
    /// The role named `name` (`SYSTEM`, `DOMAIN`, `PROJECT`, `USER`); unknown names get the
    /// narrowest, USER.
    pub fn parse(name: &str) -> Self {
        match name {
            "SYSTEM" => RoleType::System,
            "DOMAIN" => RoleType::Domain,
            "PROJECT" => RoleType::Project,
            _ => RoleType::User,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The token's domain (`did`).
    pub domain_id: String,
    /// The caller's role.
    pub role: RoleType,
    /// For PROJECT and USER: the projects the caller may see.
    pub projects: Vec<String>,
}

/// What an authenticator is asked about one call.
#[derive(Debug, Clone, Copy)]
pub struct CallInfo<'a> {
    /// The service called.
    pub service: Service,
    /// `list` or `stat`.
    pub verb: &'a str,
    /// The caller's token (gRPC metadata `token`, REST `Authorization: Bearer`), if any.
    pub token: Option<&'a str>,
    /// The `domain_id` the request names.
    pub domain_id: &'a str,
    /// The `project_id` the request names, if any.
    pub project_id: Option<&'a str>,
}

/// Establishes who is calling.
#[async_trait]
pub trait Authenticator: Send + Sync + std::fmt::Debug + 'static {
    /// The caller of `call`, `None` when requests go as sent (no authentication), or an
    /// `Unauthenticated`, `PermissionDenied` or `Unavailable` error.
    async fn authenticate(&self, call: &CallInfo<'_>) -> Result<Option<Caller>>;
}

/// No authentication: every request goes as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

#[async_trait]
impl Authenticator for NoAuth {
    async fn authenticate(&self, _call: &CallInfo<'_>) -> Result<Option<Caller>> {
        Ok(None)
    }
}

impl Caller {
    fn bound_to_domain(&self) -> bool {
        self.role != RoleType::System
    }

    /// `project_id in [projects…, null]` for PROJECT and USER roles.
    fn project_condition(&self) -> Option<Condition> {
        if !matches!(self.role, RoleType::Project | RoleType::User) {
            return None;
        }
        let mut projects: Vec<Value> = self
            .projects
            .iter()
            .map(|p| Value::String(p.clone()))
            .collect();
        projects.push(Value::Null);
        Some(Condition::new("project_id", "in", Value::Array(projects)))
    }

    /// Rewrites a `list` request to what this caller may see.
    pub fn scope_list(&self, request: &mut ListRequest) {
        if self.bound_to_domain() {
            request
                .fields
                .insert("domain_id".into(), self.domain_id.clone());
        }
        if let Some(condition) = self.project_condition() {
            request
                .query
                .get_or_insert_with(Default::default)
                .filter
                .push(condition);
        }
    }

    /// Rewrites a `stat` request to what this caller may see.
    pub fn scope_stat(&self, request: &mut StatRequest) {
        if self.bound_to_domain() {
            request.domain_id = self.domain_id.clone();
        }
        if let (Some(condition), Some(query)) = (self.project_condition(), request.query.as_mut()) {
            query.filter.push(condition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_callers_are_bound_to_their_domain_and_projects() {
        let caller = Caller {
            domain_id: "domain-a".into(),
            role: RoleType::Project,
            projects: vec!["project-1".into()],
        };
        let mut request = ListRequest::default();
        request.fields.insert("domain_id".into(), "domain-b".into());
        caller.scope_list(&mut request);
        assert_eq!(request.fields["domain_id"], "domain-a");
        let filter = &request.query.expect("query").filter;
        assert_eq!(
            filter[0],
            Condition::new("project_id", "in", serde_json::json!(["project-1", null]))
        );
        let system = Caller {
            role: RoleType::System,
            ..caller
        };
        let mut request = StatRequest {
            domain_id: "domain-b".into(),
            ..Default::default()
        };
        system.scope_stat(&mut request);
        assert_eq!(
            request.domain_id, "domain-b",
            "SYSTEM keeps the domain it names"
        );
    }
}
