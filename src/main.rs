fn main() -> std::process::ExitCode {
    haldir::cli::main()
}
