//! The one error type of the query crate: why a query is refused, with SpaceONE's `ERROR_*`
//! names. Services report them through their own error type, which converts from this one
//! keeping the name and the text.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a `Query` or `StatisticsQuery` cannot be answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A required part of the query is missing (a stage's key, `aggregate`, `only`).
    #[error("Required parameter. (key = {key})")]
    RequiredParameter {
        /// Dotted name of the missing parameter.
        key: String,
    },
    /// A list was given to an operator that takes a scalar.
    #[error(
        "Invalid operator value type: a list is not allowed. (key = {key}, operator = {operator})"
    )]
    OperatorValueType {
        /// The condition's key.
        key: String,
        /// The condition's operator.
        operator: String,
    },
    /// A scalar was given to an operator that takes a list.
    #[error(
        "Invalid operator value type: a list is required. (key = {key}, operator = {operator})"
    )]
    OperatorListValueType {
        /// The condition's key.
        key: String,
        /// The condition's operator.
        operator: String,
    },
    /// A non-object was given to `match`.
    #[error(
        "Invalid operator value type: an object is required. (key = {key}, operator = {operator})"
    )]
    OperatorDictValueType {
        /// The condition's key.
        key: String,
        /// The condition's operator.
        operator: String,
    },
    /// A non-boolean was given to `exists`.
    #[error(
        "Invalid operator value type: a boolean is required. (key = {key}, operator = {operator})"
    )]
    OperatorBooleanType {
        /// The condition's key.
        key: String,
        /// The condition's operator.
        operator: String,
    },
    /// Any other bad query: unknown operator, bad regex or date, bad stage content.
    #[error("Query is invalid. (reason = {0})")]
    DbQuery(String),
    /// Validation ran out of time or its caller went away (patterns are compiled under the
    /// request's deadline).
    #[error(transparent)]
    Stopped(#[from] spacejobs_exec::Error),
}

impl Error {
    /// Shorthand for [`Error::RequiredParameter`].
    pub fn required(key: impl Into<String>) -> Self {
        Error::RequiredParameter { key: key.into() }
    }

    /// Shorthand for [`Error::DbQuery`].
    pub fn query(reason: impl Into<String>) -> Self {
        Error::DbQuery(reason.into())
    }

    /// SpaceONE's error name, e.g. `ERROR_REQUIRED_PARAMETER`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::RequiredParameter { .. } => "ERROR_REQUIRED_PARAMETER",
            Error::OperatorValueType { .. } => "ERROR_OPERATOR_VALUE_TYPE",
            Error::OperatorListValueType { .. } => "ERROR_OPERATOR_LIST_VALUE_TYPE",
            Error::OperatorDictValueType { .. } => "ERROR_OPERATOR_DICT_VALUE_TYPE",
            Error::OperatorBooleanType { .. } => "ERROR_OPERATOR_BOOLEAN_TYPE",
            Error::DbQuery(_) => "ERROR_DB_QUERY",
            Error::Stopped(spacejobs_exec::Error::DeadlineExceeded { .. }) => {
                "ERROR_REQUEST_TIMEOUT"
            }
            Error::Stopped(spacejobs_exec::Error::Cancelled) => "ERROR_CANCELLED",
            Error::Stopped(spacejobs_exec::Error::Internal(_)) => "ERROR_UNKNOWN",
        }
    }
}
