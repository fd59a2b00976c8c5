//! The `oktawatch` binary (all of it lives in [`oktawatch::main`]).

fn main() -> std::process::ExitCode {
    oktawatch::main()
}
