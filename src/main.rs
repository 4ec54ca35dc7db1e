//! The `vnx` binary: hands over to [`vnx_cli::run`].

fn main() -> std::process::ExitCode {
    vnx_cli::run()
}
