//! The oktawatch binary, built by this package (same library, same code) so
//! that `cargo run -p oktawatch-bench` has it next to the other programs.

fn main() -> std::process::ExitCode {
    oktawatch::main()
}
