//! The CLI's standard output and error, which a closed pipe does not turn into a panic.
//!
//! `print!` panics when its write fails, as it does once the reader of a pipe has gone
//! (`alertrun check --print | head -1`). The CLI writes through [`out!`] and [`err!`]
//! instead: a closed stdout ends the command's output quietly (the command still finishes,
//! and its exit status stays what it would have been), and a failed write to stderr is
//! dropped, since there is nowhere left to report it. It is not a logger: `serve` logs go
//! through tracing, which drops failed writes itself.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout is closed: nothing more is written to it.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout, like `print!`; a closed pipe ends the output instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::stdout(format_args!($($arg)*)) };
}

/// Writes a line to stdout, like `println!` (see [`out!`]).
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::output::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Writes a line to stderr, like `eprintln!`, dropping it when stderr is closed.
macro_rules! err {
    ($($arg:tt)*) => { $crate::cli::output::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {err, out, outln};

pub(crate) fn stdout(args: std::fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            stderr(format_args!(
                "error: cannot write to standard output: {e}\n"
            ));
        }
    }
}

pub(crate) fn stderr(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}
