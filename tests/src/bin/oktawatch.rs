//! The oktawatch program, built inside the test package so that the tests
//! can start it as a process (same code as `host/src/main.rs`).

fn main() -> std::process::ExitCode {
    oktawatch::main()
}
