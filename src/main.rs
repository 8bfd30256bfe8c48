//! The `backupsim` binary: everything, from argument parsing on, is in `backupsim::app`.

fn main() -> std::process::ExitCode {
    backupsim::app::cli::main()
}
