//! The wasmtime set-up every detection shares: one [`Engine`] (epoch
//! interruption, stack, memory reservations that spare bounds checks,
//! optionally the pooling allocator), one [`Linker`] with both contract
//! worlds and the deny-all WASI, the epoch thread that ticks every
//! [`TICK`], and the Store of one detection: its limiter, hostcall fuel and
//! CPU-time deadline.

use super::bindings::Detection;
use super::host::{self, HostCtx};
use super::state::DetectionState;
use super::{Limits, Runtime, v01, wasi};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config as WasmConfig, Engine, Store};

/// How often the epoch thread ticks: the unit of every time budget.
pub(super) const TICK: Duration = Duration::from_millis(1);

/// The engine every detection is compiled for and runs on.
pub(super) fn engine(limits: &Limits) -> anyhow::Result<Engine> {
    let mut cfg = WasmConfig::new();
    cfg.epoch_interruption(true)
        .max_wasm_stack(512 << 10)
        .parallel_compilation(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .concurrency_support(false)
        // A 4 GiB reservation (address space only) with a guard region:
        // the compiled code needs no bounds check on loads and stores.
        .memory_reservation(4 << 30)
        .memory_guard_size(32 << 20)
        .memory_reservation_for_growth(0);
    if let Some(n) = limits.pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_component_instances(n)
            .total_core_instances(n * 4)
            .total_memories(n * 2)
            .total_tables(n * 4)
            .max_memory_size(limits.memory_bytes)
            // As many as the Store limiter allows (componentize-py's output needs 38 instances).
            .max_memories_per_component(host::MAX_MEMORIES as u32)
            .max_tables_per_component(host::MAX_TABLES as u32)
            .max_core_instances_per_component(host::MAX_INSTANCES as u32);
        cfg.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&cfg).map_err(anyhow::Error::from)
}

/// The linker: the 0.2 and 0.1 worlds, answered by the same host functions,
/// and the deny-all WASI 0.2.
pub(super) fn linker(engine: &Engine) -> anyhow::Result<Linker<HostCtx>> {
    let mut linker = Linker::new(&engine);
    Detection::add_to_linker::<HostCtx, HasSelf<HostCtx>>(&mut linker, |c| c).map_err(anyhow::Error::from)?;
    v01::Detection::add_to_linker::<HostCtx, HasSelf<HostCtx>>(&mut linker, |c| c).map_err(anyhow::Error::from)?;
    wasi::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// Starts the epoch thread; it stops once the returned flag is set.
pub(super) fn start_epoch(engine: &Engine) -> std::io::Result<Arc<AtomicBool>> {
    let ticker_stop = Arc::new(AtomicBool::new(false));
    {
        let engine = engine.clone();
        let stop = ticker_stop.clone();
        std::thread::Builder::new().name("epoch".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                engine.increment_epoch();
            }
        })?;
    }
    Ok(ticker_stop)
}

impl Runtime {
    /// Gives the next call a budget of `cpu` (see [`host::Budget`]).
    pub(super) fn arm(&self, store: &mut Store<HostCtx>, cpu: Duration) {
        let budget = host::Budget::start(cpu);
        store.set_epoch_deadline(budget.ticks(TICK));
        store.data_mut().budget = budget;
        store.data_mut().wasi.begin_call();
    }

    pub(super) fn new_store(&self, id: Arc<str>, state: Arc<Mutex<DetectionState>>) -> Store<HostCtx> {
        let mut store = Store::new(&self.engine, HostCtx::new(id, state, self.limits.memory_bytes));
        store.limiter(|c| &mut c.limiter);
        store.set_hostcall_fuel(host::HOSTCALL_FUEL);
        // Time limits count CPU time, not wall time: a call descheduled on a
        // busy machine is given more ticks, one that computes is stopped.
        store.epoch_deadline_callback(|mut ctx| Ok(ctx.data_mut().budget.on_deadline(TICK)));
        store
    }
}
