//! The oktawatch program, built inside the test package so that the tests
//! can start it as a process (same code as `host/src/main.rs`).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    oktawatch::main()
}
