//! The detections in force ([`DetectionSet`]), indexed by event type (exact
//! types in a map; `prefix.*` patterns and catch-alls checked one by one)
//! and, beside it, by their prefilters. The set is swapped whole between
//! pages ([`Runtime::install`](super::Runtime::install)).

use super::{Loaded, prefilter};
use std::collections::HashMap;
use std::sync::Arc;

/// The detections in force, indexed by event type.
#[derive(Default)]
pub struct DetectionSet {
    pub detections: Vec<Arc<Loaded>>,
    pub(super) exact: HashMap<String, Vec<usize>>,
    /// `prefix.*` patterns and catch-alls.
    pub(super) wide: Vec<usize>,
    /// Every detection's prefilters, beside the event-type index.
    pub(super) prefilters: prefilter::Index,
}

impl DetectionSet {
    pub fn new(mut detections: Vec<Arc<Loaded>>) -> Self {
        detections.sort_by(|a, b| a.info.id.cmp(&b.info.id));
        let mut exact: HashMap<String, Vec<usize>> = HashMap::new();
        let mut wide = Vec::new();
        // A disabled detection is in the set (listed, counted) but reached by no event.
        for (i, d) in detections.iter().enumerate().filter(|(_, d)| d.host.enabled) {
            if d.info.event_types.is_empty() || d.info.event_types.iter().any(|t| t.ends_with('*')) {
                wide.push(i);
            }
            for t in d.info.event_types.iter().filter(|t| !t.ends_with('*')) {
                exact.entry(t.clone()).or_default().push(i);
            }
        }
        let prefilters = prefilter::Index::new(detections.iter().map(|d| d.info.prefilters.as_slice()));
        DetectionSet { detections, exact, wide, prefilters }
    }

    /// Indexes of the detections that asked for this event type.
    pub(super) fn matching(&self, event_type: &str, out: &mut Vec<usize>) {
        out.clear();
        if let Some(v) = self.exact.get(event_type) {
            out.extend_from_slice(v);
        }
        for &i in &self.wide {
            if self.detections[i].subscribes(event_type) && !out.contains(&i) {
                out.push(i);
            }
        }
    }
}

impl Loaded {
    /// Whether it asked for this event type (exactly, by a `prefix.*`
    /// pattern, or by asking for none, which is every type).
    pub(super) fn subscribes(&self, event_type: &str) -> bool {
        self.info.event_types.is_empty()
            || self.info.event_types.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => event_type.starts_with(prefix),
                None => p == event_type,
            })
    }
}
