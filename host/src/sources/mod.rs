//! Where events come from: the Okta System Log API (polled with an API token
//! or an OAuth service app, and pushed by event hooks), or an NDJSON replay.
pub mod hooks;
pub mod oauth;
pub mod okta;
pub mod replay;
