//! A connection's writes gathered into fewer system calls.
//!
//! HTTP/2 (h2) writes a response in pieces and flushes in between: a data frame larger than a
//! few hundred bytes is written on its own, flushed, and the `grpc-status` trailers follow in
//! a second write. On loopback each write costs the sender the receiver's TCP work too, and
//! wakes the client twice; a list answer's two writes were a fifth of the server's time.
//!
//! [`CoalescedWrites`] keeps what is written in a buffer and lets every other flush pass
//! without writing: the first flush after a write only asks for the connection's task to be
//! polled again (waking it), and the bytes go out at the next flush, read or shutdown, which
//! that poll is sure to make. A response's frames and trailers then leave in one write. No
//! byte waits longer than one more poll of the task; writes past [`LIMIT`] go out at once.
//! The buffer stays with the connection, as large as its largest gathered write (at most
//! [`LIMIT`], 64 KiB; mostly a list page's 16 KiB).
//!
//! Only HTTP/2 connections (known by the preface their first bytes read open with) defer
//! flushes: HTTP/1 writes a response at once and flushes once, and an upgraded HTTP/1
//! connection may flush and then wait on something else than the stream.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most bytes kept back; a write that would pass it sends what is kept first, and one
/// this large on its own is not copied.
pub const LIMIT: usize = 64 * 1024;

/// A stream whose writes are gathered (see the module's documentation).
#[derive(Debug)]
pub struct CoalescedWrites<S> {
    stream: S,
    /// Bytes written but not yet sent, from `sent` on.
    kept: Vec<u8>,
    sent: usize,
    /// A flush has been let pass since the bytes were kept (and the task woken).
    flush_deferred: bool,
    /// Whether flushes may be deferred: unknown (`None`) until the first bytes are read.
    defers: Option<bool>,
}

/// What an HTTP/2 connection's first bytes are.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

impl<S> CoalescedWrites<S> {
    /// Gathers the writes to `stream`.
    pub fn new(stream: S) -> Self {
        CoalescedWrites {
            stream,
            kept: Vec::new(),
            sent: 0,
            flush_deferred: false,
            defers: None,
        }
    }

    /// Bytes written but not yet sent.
    pub fn kept(&self) -> usize {
        self.kept.len() - self.sent
    }
}

impl<S: AsyncWrite + Unpin> CoalescedWrites<S> {
    /// Sends the kept bytes; `Pending` (the task woken when the stream takes more) while the
    /// stream cannot take them all.
    fn poll_send_kept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.kept.len() {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &self.kept[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.kept.clear();
        self.sent = 0;
        self.flush_deferred = false;
        if self.kept.capacity() > LIMIT {
            self.kept.shrink_to(LIMIT);
        }
        Poll::Ready(Ok(()))
    }

    /// Makes room for `len` more bytes: `false` when they should go straight to the stream.
    fn poll_room(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<bool>> {
        if self.kept() + len > LIMIT {
            ready!(self.poll_send_kept(cx))?;
        }
        Poll::Ready(Ok(len < LIMIT))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for CoalescedWrites<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // What was kept goes out before the next read: the peer may be waiting for it. A
        // stream that cannot take it now wakes the task when it can; reading goes on.
        if self.kept() > 0 {
            if let Poll::Ready(Err(e)) = self.poll_send_kept(cx) {
                return Poll::Ready(Err(e));
            }
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if self.defers.is_none() && buf.filled().len() > before {
            let first = &buf.filled()[before..];
            let first = &first[..first.len().min(HTTP2_PREFACE.len())];
            self.defers = Some(HTTP2_PREFACE.starts_with(first));
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CoalescedWrites<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if !ready!(self.poll_room(cx, buf.len()))? {
            return Pin::new(&mut self.stream).poll_write(cx, buf);
        }
        self.kept.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        if !ready!(self.poll_room(cx, len))? {
            return Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        }
        for buf in bufs {
            self.kept.extend_from_slice(buf);
        }
        Poll::Ready(Ok(len))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kept() > 0 {
            if !self.flush_deferred && self.defers == Some(true) {
                // Let this flush pass: the task is polled again, and whatever it writes
                // before its next flush, read or shutdown goes out with these bytes.
                self.flush_deferred = true;
                cx.waker().wake_by_ref();
                return Poll::Ready(Ok(()));
            }
            ready!(self.poll_send_kept(cx))?;
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_send_kept(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// Counts its wake-ups.
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A connection whose peer opened with `first` (read by ours).
    async fn pair(first: &[u8]) -> (CoalescedWrites<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr"));
        let (client, accepted) = tokio::join!(client, listener.accept());
        let (mut ours, mut peer) = (
            CoalescedWrites::new(client.expect("connect")),
            accepted.expect("accept").0,
        );
        peer.write_all(first).await.expect("peer write");
        let mut opening = vec![0; first.len()];
        ours.read_exact(&mut opening).await.expect("read");
        (ours, peer)
    }

    /// An HTTP/2 connection (its preface read).
    async fn http2_pair() -> (CoalescedWrites<TcpStream>, TcpStream) {
        pair(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await
    }

    /// Reads exactly `n` bytes.
    async fn receive(peer: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut bytes = vec![0; n];
        peer.read_exact(&mut bytes).await.expect("read");
        bytes
    }

    #[tokio::test]
    async fn a_flush_waits_one_poll_and_the_next_write_goes_with_it() {
        let (mut ours, mut peer) = http2_pair().await;
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut ours = Pin::new(&mut ours);
        let data = io::IoSlice::new(b"frame ");
        let written = ours.as_mut().poll_write_vectored(&mut cx, &[data]);
        assert!(matches!(written, Poll::Ready(Ok(6))));
        assert!(ours.as_mut().poll_flush(&mut cx).is_ready());
        assert_eq!(ours.kept(), 6, "the first flush lets the bytes wait");
        assert_eq!(counter.0.load(Ordering::Relaxed), 1, "and wakes the task");
        assert!(ours.as_mut().poll_write(&mut cx, b"trailers").is_ready());
        assert!(matches!(
            ours.as_mut().poll_flush(&mut cx),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(ours.kept(), 0, "the second flush sends both");
        assert_eq!(receive(&mut peer, 14).await, b"frame trailers");
    }

    #[tokio::test]
    async fn reading_or_shutting_down_sends_what_was_kept() {
        let (mut ours, mut peer) = http2_pair().await;
        ours.write_all(b"ping").await.expect("write");
        ours.flush().await.expect("flush");
        assert_eq!(ours.kept(), 4);
        peer.write_all(b"?").await.expect("peer write");
        let mut byte = [0u8; 1];
        ours.read_exact(&mut byte).await.expect("read");
        assert_eq!(ours.kept(), 0, "a read sends first");
        assert_eq!(receive(&mut peer, 4).await, b"ping");
        ours.write_all(b"bye").await.expect("write");
        ours.shutdown().await.expect("shutdown");
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).await.expect("read to end");
        assert_eq!(rest, b"bye");
    }

    #[tokio::test]
    async fn writes_past_the_limit_go_out_at_once() {
        let (mut ours, mut peer) = http2_pair().await;
        ours.write_all(b"small").await.expect("write");
        let large = vec![7u8; LIMIT + 1];
        let reader = tokio::spawn(async move { receive(&mut peer, 5 + LIMIT + 1).await });
        let n = poll_fn(|cx| Pin::new(&mut ours).poll_write(cx, &large))
            .await
            .expect("write");
        assert!(n > 0);
        assert_eq!(
            ours.kept(),
            0,
            "the kept bytes went first, the large write straight on"
        );
        ours.write_all(&large[n..]).await.expect("write the rest");
        ours.shutdown().await.expect("shutdown");
        let received = reader.await.expect("reader");
        assert_eq!(&received[..5], b"small");
        assert!(received[5..].iter().all(|&b| b == 7));
    }

    #[tokio::test]
    async fn on_http1_every_flush_sends() {
        let (mut ours, mut peer) = pair(b"GET / HTTP/1.1\r\n\r\n").await;
        ours.write_all(b"HTTP/1.1 200 OK\r\n\r\n")
            .await
            .expect("write");
        assert_eq!(ours.kept(), 19, "kept until the flush");
        ours.flush().await.expect("flush");
        assert_eq!(ours.kept(), 0, "the first flush sends");
        assert_eq!(receive(&mut peer, 19).await, b"HTTP/1.1 200 OK\r\n\r\n");
    }
}
