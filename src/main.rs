fn main() -> std::process::ExitCode {
    virlife::cli::run()
}
