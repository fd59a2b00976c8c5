//! Where events come from: the Okta System Log API, or an NDJSON replay.
pub mod oauth;
pub mod okta;
pub mod replay;
