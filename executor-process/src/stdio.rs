//! Feeding an action's standard input and keeping the tails of its output.

use std::io::ErrorKind;

use alert_core::Tail;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How much is read from a pipe at a time.
const CHUNK: usize = 16 * 1024;

/// Writes `input` to the child's stdin, then closes it.
///
/// A child may exit or close its stdin without reading it all: the broken pipe that
/// follows is not an error of the run, and neither is any other write failure (the child's
/// exit status says how it went).
pub(crate) async fn write_input<W: AsyncWrite + Unpin>(stdin: Option<W>, input: &[u8]) {
    let Some(mut stdin) = stdin else { return };
    match stdin.write_all(input).await {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            tracing::debug!("action closed its stdin before reading all input");
        }
        Err(e) => tracing::debug!(error = %e, "cannot write the action's stdin"),
    }
    // Dropping `stdin` closes the pipe: the child reads end of file.
}

/// Reads `pipe` to its end, keeping its last `limit` bytes in `tail`.
///
/// Memory stays bounded by `limit` plus one chunk, however much the child writes.
pub(crate) async fn read_tail<R: AsyncRead + Unpin>(
    pipe: Option<R>,
    tail: &mut Tail,
    limit: usize,
) {
    let Some(mut pipe) = pipe else { return };
    let mut buf = vec![0; CHUNK];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => tail.push(&buf[..n], limit),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the action's output");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tail_keeps_the_last_bytes_of_a_long_stream() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut tail = Tail::default();
        read_tail(Some(&data[..]), &mut tail, 1000).await;
        assert_eq!(tail.bytes, &data[data.len() - 1000..]);
        assert_eq!(tail.dropped, 99_000);
    }

    #[tokio::test]
    async fn no_pipe_leaves_the_tail_empty() {
        let mut tail = Tail::default();
        read_tail(None::<&[u8]>, &mut tail, 10).await;
        assert_eq!(tail, Tail::default());
    }

    #[tokio::test]
    async fn a_closed_reader_is_not_an_error() {
        let (writer, reader) = tokio::io::duplex(64);
        drop(reader);
        write_input(Some(writer), &[7; 4096]).await;
    }
}
