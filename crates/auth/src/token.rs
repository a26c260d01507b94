//! Reading and verifying the JWTs callers present: the unverified claims (to learn the
//! domain before its key is known), and verification of signature and expiry against a public
//! JWK. Only asymmetric algorithms are accepted (RS256/384/512, ES256/384), never `none` or a
//! shared secret; `exp` and `nbf` are checked when present, as python-jose does for
//! spaceone-core (SpaceONE's API keys have no expiry); the error messages are SpaceONE's.

use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use spacejobs_core::Error;

/// The claims of a SpaceONE token that matter here.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Claims {
    /// Domain id.
    #[serde(default)]
    pub did: Option<String>,
    /// `USER`, `DOMAIN_OWNER`, … (SpaceONE's user type).
    #[serde(default)]
    pub user_type: Option<String>,
    /// Projects the caller may see (tokens of the `jwks` mode).
    #[serde(default)]
    pub projects: Option<Vec<String>>,
}

/// The algorithms accepted: asymmetric only.
const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// `Empty token provided.` when there is no token.
pub fn required(token: Option<&str>) -> Result<&str, Error> {
    token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Unauthenticated("Empty token provided.".into()))
}

/// The token's claims, without verifying anything (to find the domain whose key verifies it).
pub fn unverified(token: &str) -> Result<Claims, Error> {
    let undecodable = || Error::Unauthenticated("Cannot decode token.".into());
    let payload = token.split('.').nth(1).ok_or_else(undecodable)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| undecodable())?;
    serde_json::from_slice(&bytes).map_err(|_| undecodable())
}

/// Verifies `token`'s signature with `jwk`, and its expiry and start when it has them; its
/// claims.
pub fn verify(token: &str, jwk: &Jwk) -> Result<Claims, Error> {
    let invalid = || Error::Unauthenticated("Token is invalid or expired.".into());
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(invalid());
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid())?;
    let mut validation = Validation::new(header.alg);
    validation.validate_aud = false;
    validation.leeway = 0;
    // As python-jose checks them for spaceone-core: `exp` and `nbf` when present, none
    // required (identity's API keys carry no `exp`).
    validation.required_spec_claims.clear();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|_| invalid())
}
