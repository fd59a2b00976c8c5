//! Where events come from: the Okta System Log API (polled with an API token
//! or an OAuth service app, and pushed by event hooks), or an NDJSON replay.
pub(crate) mod hooks;
pub mod okta;
pub(crate) mod replay;
