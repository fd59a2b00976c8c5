//! How the poller's requests are authorized: an SSWS API token ([`ssws`]),
//! or OAuth 2.0 access tokens for a service app ([`oauth`]: the token client,
//! client assertions with the app's key, DPoP proofs).

pub mod oauth;
pub(crate) mod ssws;

use oauth::OAuth;
use ssws::Token;

/// How requests are authorized.
#[derive(Debug)]
pub(crate) enum Auth {
    Ssws(Token),
    OAuth(Box<OAuth>),
}

