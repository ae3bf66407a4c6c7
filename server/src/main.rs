//! The `alertrun` command.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}

/// mimalloc instead of glibc malloc: less CPU per request on the intake path.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
