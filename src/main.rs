//! The `warden` binary: parse the command line, hand over to the library, map the
//! outcome to an exit code. Everything else lives in `warden::app`.

fn main() -> std::process::ExitCode {
    warden::app::main()
}
