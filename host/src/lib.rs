//! oktawatch: Okta System Log → detections in a wasm sandbox → Wazuh.
pub mod app;
pub mod checkpoint;
pub mod cli;
pub mod demo_feed;
pub mod config;
pub mod dedup;
pub mod envelope;
pub mod event;
pub mod journal;
pub mod runtime;
pub mod sinks;
pub mod stats;
pub mod testing;
pub mod emulator;
pub mod pack;
pub mod pipeline;
pub mod sources;

