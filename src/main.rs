//! The `yubin` command.
fn main() -> std::process::ExitCode {
    yubin::cli::main()
}
