//! The accept loop: HTTP/1 and HTTP/2 (hyper) on one port with connection hygiene. At most
//! [`ServerConfig::max_connections`] connections are served (more are closed at accept, and
//! logged); an HTTP/1 request head must arrive within the header-read timeout; HTTP/2
//! connections are pinged; a connection with no request in flight and no bytes moving for the
//! idle timeout is closed; accept errors (such as running out of file descriptors) are logged
//! and retried after a pause instead of spinning. With [`ServerConfig::tls`], every connection
//! is TLS (HTTP/2 and HTTP/1.1 by ALPN) and a plaintext client is refused. A connection's
//! writes are gathered ([`CoalescedWrites`]): a response leaves in one system call.

use crate::coalesce::CoalescedWrites;
use crate::config::ServerConfig;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// When a connection last moved bytes, and how many of its requests are in flight.
#[derive(Debug)]
struct Activity {
    origin: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(last)
    }

    fn is_idle(&self, timeout: Duration) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0 && self.idle_for() >= timeout
    }
}

/// A stream that records its activity.
struct Tracked<S> {
    stream: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    // Forwarded so that HTTP/2 hands a frame's header and payload over in one call (the
    // stream below gathers them with the rest of the response).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// Logs at most one warning a second for a repeated condition.
struct RateLimited(AtomicU64, Instant);

impl RateLimited {
    fn new() -> Self {
        RateLimited(AtomicU64::new(0), Instant::now())
    }

    fn allow(&self) -> bool {
        let now = self.1.elapsed().as_secs() + 1;
        self.0.swap(now, Ordering::Relaxed) != now
    }
}

fn builder(config: &ServerConfig) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_header_bytes.max(8192) * 4)
        .max_headers(256);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(config.keepalive_interval)
        .keep_alive_timeout(config.keepalive_timeout)
        .max_concurrent_streams(config.max_concurrent_streams)
        .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

/// What a connection's requests are answered by: the axum router, or a service in front of
/// it.
pub trait App:
    tower::Service<
        axum::http::Request<hyper::body::Incoming>,
        Response = Response,
        Error = Infallible,
        Future: Send,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> App for S where
    S: tower::Service<
            axum::http::Request<hyper::body::Incoming>,
            Response = Response,
            Error = Infallible,
            Future: Send,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// One accepted connection and what serving it needs.
struct Connection<A> {
    builder: Arc<Builder<TokioExecutor>>,
    app: A,
    stop: watch::Receiver<bool>,
    idle: Duration,
    peer: SocketAddr,
}

impl<A: App> Connection<A> {
    /// Serves HTTP/1 or HTTP/2 on `stream` until the peer closes it, it stays idle past the
    /// idle timeout, or the server stops (then gracefully).
    async fn serve<S>(mut self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (peer, idle, app) = (self.peer, self.idle, self.app);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Tracked {
            stream: CoalescedWrites::new(stream),
            activity: activity.clone(),
        });
        let per_request = activity.clone();
        let service = hyper::service::service_fn(move |request| {
            let counted = InFlight::new(&per_request);
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                drop(counted);
                response
            }
        });
        let connection = self.builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(connection);
        let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        let mut stopping = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    break;
                }
                () = tokio::time::sleep(tick) => {
                    if activity.is_idle(idle) {
                        tracing::debug!(%peer, "closing an idle connection");
                        break;
                    }
                }
                changed = self.stop.changed(), if !stopping => {
                    stopping = true;
                    if changed.is_ok() {
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets calls in flight finish
/// (for at most the shutdown grace) and returns.
pub async fn serve(
    listener: TcpListener,
    app: impl App,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let builder = Arc::new(builder(config));
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let tls = config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let refused_log = RateLimited::new();
    let error_log = RateLimited::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if error_log.allow() {
                        tracing::warn!(error = %e, "accept failed; pausing before the next accept");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if refused_log.allow() {
                tracing::warn!(%peer, limit = config.max_connections, "connection refused: at the connection cap");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            builder: builder.clone(),
            app: app.clone(),
            stop: stop_rx.clone(),
            idle: config.idle_timeout,
            peer,
        };
        let tls = tls.clone();
        let handshake_timeout = config.header_read_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => connection.serve(stream).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection.serve(stream).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(config.shutdown_grace, slots.acquire_many(all)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_tracked_stream_writes_many_buffers_in_one_call() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let activity = Arc::new(Activity::new());
        let mut tracked = Tracked {
            stream: client,
            activity: activity.clone(),
        };
        assert!(tracked.is_write_vectored());
        let bufs = [io::IoSlice::new(b"head "), io::IoSlice::new(b"body")];
        let written = tracked.write_vectored(&bufs).await.unwrap();
        assert_eq!(written, 9, "both buffers in one write");
        tracked.shutdown().await.unwrap();
        let mut received = Vec::new();
        server.read_to_end(&mut received).await.unwrap();
        assert_eq!(received, b"head body");
    }
}
