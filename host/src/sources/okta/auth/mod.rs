//! How the poller's requests are authorized: an SSWS API token ([`ssws`]),
//! or OAuth 2.0 access tokens for a service app ([`oauth`], the token
//! client), got with client assertions signed by the app's key ([`keys`])
//! and bound with DPoP proofs ([`dpop`]).

pub mod dpop;
pub mod keys;
pub mod oauth;
pub(crate) mod ssws;

use oauth::OAuth;
use rand::RngExt;
use ssws::Token;

/// How requests are authorized.
#[derive(Debug)]
pub(crate) enum Auth {
    Ssws(Token),
    OAuth(Box<OAuth>),
}

/// A fresh `jti`: 16 random bytes in hex.
fn random_id() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}
