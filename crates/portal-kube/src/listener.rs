//! Serving HTTP on a port so that slow, idle or too many clients cannot hold it: a cap on open
//! connections, a TLS handshake timeout, an HTTP/1.1 header timeout, HTTP/2 stream and header
//! limits, and an idle timeout on the connection itself. The webhook's port and the health port
//! both serve through it. (The body timeout and the early `413` are in the webhook's handler,
//! which knows its limit.)

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// How long clients may take, and how many may be connected.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections open at once; one more is closed as it arrives.
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    /// HTTP/1.1: the longest a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// The longest a client may take to send a request's body (applied by the handler).
    pub body_timeout: Duration,
    /// A connection that carries nothing for this long is closed.
    pub idle_timeout: Duration,
}

impl From<&portal_config::ConnectionLimits> for ConnectionLimits {
    fn from(configured: &portal_config::ConnectionLimits) -> Self {
        ConnectionLimits {
            max_connections: usize::try_from(configured.max).unwrap_or(usize::MAX),
            handshake_timeout: configured.handshake_timeout.as_std(),
            header_timeout: configured.header_timeout.as_std(),
            body_timeout: configured.body_timeout.as_std(),
            idle_timeout: configured.idle_timeout.as_std(),
        }
    }
}

/// The defaults of `admission.connections`.
impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits::from(&portal_config::ConnectionLimits::default())
    }
}

/// HTTP/2 streams a client may have open on one connection: the API server sends reviews
/// concurrently, but far fewer than this per connection.
const MAX_CONCURRENT_STREAMS: u32 = 64;
/// The largest header list accepted, HTTP/1.1 buffer and HTTP/2 alike: reviews carry their
/// content in the body.
const MAX_HEADER_BYTES: u32 = 64 * 1024;

/// How connections are spoken to.
#[derive(Clone)]
pub(crate) enum Transport {
    /// TLS with this acceptor (the webhook).
    Tls(tokio_rustls::TlsAcceptor),
    /// Plain HTTP (the health port).
    Plain,
}

/// Accepts connections until the task is aborted, or until `stop` says so: then it accepts no
/// more, asks every connection to finish the requests it is serving and close, and returns once
/// they have (whoever stops it bounds the wait). Connections live in a set owned by this loop, so
/// aborting it also ends the kept-alive connections.
pub(crate) async fn serve(
    listener: TcpListener,
    transport: Transport,
    app: Router,
    limits: ConnectionLimits,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!("accepting a connection failed: {error}");
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            tracing::warn!(
                %peer,
                max = limits.max_connections,
                "connection refused: admission.connections.max connections are open already"
            );
            drop(stream);
            continue;
        };
        // Reviews are small request/response pairs: Nagle's algorithm would hold each answer
        // back waiting for a delayed ACK (tens of milliseconds).
        let _ = stream.set_nodelay(true);
        let transport = transport.clone();
        let app = app.clone();
        let limits = limits.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let acceptor = match transport {
                Transport::Tls(acceptor) => acceptor,
                Transport::Plain => return serve_connection(stream, app, &limits, peer, stop).await,
            };
            match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => serve_connection(tls, app, &limits, peer, stop).await,
                Ok(Err(error)) => tracing::debug!(%peer, "TLS handshake failed: {error}"),
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake not finished within admission.connections.handshakeTimeout")
                }
            }
        });
    }
    // Stopping: no new connection is accepted; those open finish what they are serving.
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Serves HTTP/1.1 or HTTP/2 on one connection until it ends or idles out; once `stop` says so,
/// it answers the requests in progress, takes no new ones (HTTP/2 GOAWAY, HTTP/1.1 close) and ends.
async fn serve_connection<I>(
    io: I,
    app: Router,
    limits: &ConnectionLimits,
    peer: std::net::SocketAddr,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES as usize * 2);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEADER_BYTES);
    let io = TokioIo::new(IdleTimeout::new(io, limits.idle_timeout));
    let connection = builder.serve_connection(io, TowerToHyperService::new(app));
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%peer, "connection ended: {error}");
    }
}

/// Completes once `stop` says to stop (or its sender is gone: nobody will say it any more, and
/// the task is aborted when dropped).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    if stop.wait_for(|stopping| *stopping).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A stream that fails once nothing has been read or written for `timeout`, which ends the
/// connection serving it.
struct IdleTimeout<T> {
    inner: T,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<T> IdleTimeout<T> {
    fn new(inner: T, timeout: Duration) -> IdleTimeout<T> {
        IdleTimeout { inner, timeout, deadline: Box::pin(tokio::time::sleep(timeout)) }
    }

    fn touched(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.timeout);
    }

    /// After the inner stream returned `Pending`: the error once the deadline has passed.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.deadline
            .as_mut()
            .poll(cx)
            .is_ready()
            .then(|| io::Error::new(io::ErrorKind::TimedOut, "idle for admission.connections.idleTimeout"))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.touched();
                Poll::Ready(result)
            }
            Poll::Pending => this.expired(cx).map_or(Poll::Pending, |error| Poll::Ready(Err(error))),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                this.touched();
                Poll::Ready(result)
            }
            Poll::Pending => this.expired(cx).map_or(Poll::Pending, |error| Poll::Ready(Err(error))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                this.touched();
                Poll::Ready(result)
            }
            Poll::Pending => this.expired(cx).map_or(Poll::Pending, |error| Poll::Ready(Err(error))),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
