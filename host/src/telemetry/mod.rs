//! What the service tells about itself: per-org counters ([`stats`]) and
//! the Prometheus metrics and health endpoint built from them ([`metrics`]).

pub mod stats;
pub(crate) mod metrics;
