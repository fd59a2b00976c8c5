//! Where events come from: the Okta System Log API (polled, and pushed by
//! event hooks), or an NDJSON replay.
pub mod hooks;
pub mod okta;
pub mod replay;
