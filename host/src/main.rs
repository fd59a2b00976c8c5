//! The `oktawatch` binary (all of it lives in [`oktawatch::main`]).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    oktawatch::main()
}
