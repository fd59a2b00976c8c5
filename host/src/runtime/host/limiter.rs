//! The Store's resource limiter: linear memory and table elements summed
//! over all of a detection's memories and tables, and bounds on the core
//! instances, tables and memories one Store may create.

/// Core instances one Store may create. A Rust or C detection makes a few;
/// componentize-py 0.25 makes 38 (CPython and its libraries linked
/// dynamically, the preview1 adapter, shims: 14 modules), componentize-js
/// 0.23 fewer; twice that leaves room for a Python with more libraries.
pub const MAX_INSTANCES: usize = 80;
/// Tables and memories one Store may create: both componentize-py and
/// componentize-js define 2 tables and 1 memory.
pub const MAX_TABLES: usize = 16;
pub const MAX_MEMORIES: usize = 8;

/// Table elements one Store may hold, summed over its tables.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Memory and table bounds for one Store (one detection), summed over all
/// of its linear memories and tables: a component made of several core
/// modules gets no more than one made of one. wasmtime asks before a memory
/// or table is created (from 0) and before each growth, so the sums are
/// exact. Remembers which bound was hit.
pub struct Limiter {
    pub max_memory: usize,
    /// Bytes of linear memory, all memories together.
    pub memory: usize,
    pub peak_memory: usize,
    table_elements: usize,
    pub hit: Option<String>,
}

impl Limiter {
    pub fn new(max_memory: usize) -> Limiter {
        Limiter { max_memory, memory: 0, peak_memory: 0, table_elements: 0, hit: None }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory.saturating_sub(current).saturating_add(desired);
        if total > self.max_memory {
            let msg = format!(
                "memory limit: wanted {} MiB in all of its memories, at most {} MiB",
                total >> 20,
                self.max_memory >> 20
            );
            self.hit = Some(msg.clone());
            return Err(wasmtime::format_err!(msg));
        }
        self.memory = total;
        self.peak_memory = self.peak_memory.max(total);
        Ok(true)
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.table_elements.saturating_sub(current).saturating_add(desired);
        if total > MAX_TABLE_ELEMENTS {
            self.hit = Some(format!("table limit: wanted {total} elements in all of its tables"));
            return Err(wasmtime::format_err!("table limit exceeded"));
        }
        self.table_elements = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }
    fn tables(&self) -> usize {
        MAX_TABLES
    }
    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn memory_is_summed_over_memories() {
        let mut l = Limiter::new(32 << 20);
        // Two memories created, each 12 MiB: 24 MiB in all.
        assert!(l.memory_growing(0, 12 << 20, None).unwrap());
        assert!(l.memory_growing(0, 12 << 20, None).unwrap());
        assert_eq!(l.memory, 24 << 20);
        // The first grows to 16 MiB (28 in all): fine; the second to 20 (36 in all): refused,
        // although each alone is well under 32 MiB.
        assert!(l.memory_growing(12 << 20, 16 << 20, None).unwrap());
        assert!(l.memory_growing(12 << 20, 20 << 20, None).is_err());
        assert!(l.hit.as_deref().unwrap().contains("memory limit: wanted 36 MiB"), "{:?}", l.hit);
        assert_eq!(l.peak_memory, 28 << 20);
    }

    #[test]
    fn tables_are_summed() {
        let mut l = Limiter::new(1 << 20);
        assert!(l.table_growing(0, 60_000, None).unwrap());
        assert!(l.table_growing(0, 50_000, None).is_err());
    }
}
