//! The plain-HTTP health and metrics endpoint: `/healthz` (alive), `/readyz` (what `ready`
//! says: `portal run` makes it rules loaded and, with admission, a certificate not about to
//! expire) and `/metrics`. Separate from the webhook so that
//! probes and scrapes need no TLS.

use std::net::SocketAddr;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::listener::{self, ConnectionLimits, Transport};

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("listening on {address}")]
pub struct Error {
    address: SocketAddr,
    #[source]
    source: std::io::Error,
}

/// `/healthz` (alive), `/readyz` (rules loaded and a certificate in use), `/metrics`.
/// Served with the same connection limits as the webhook.
pub async fn start(
    listen: SocketAddr,
    metrics: portal_metrics::Metrics,
    ready: watch::Receiver<bool>,
    limits: ConnectionLimits,
) -> Result<(SocketAddr, JoinHandle<()>), Error> {
    let listener = TcpListener::bind(listen).await.map_err(|source| Error { address: listen, source })?;
    let local_addr = listener.local_addr().map_err(|source| Error { address: listen, source })?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = *ready.borrow();
                async move {
                    if ready { (StatusCode::OK, "ok\n") } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready\n") }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let text = metrics.encode();
                async move { ([(header::CONTENT_TYPE, portal_metrics::CONTENT_TYPE)], text) }
            }),
        );
    // The health port serves until the process ends (nothing ever says stop): probes must be
    // answered while the webhook drains.
    let (_, never) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(listener::serve(listener, Transport::Plain, app, limits, never));
    Ok((local_addr, task))
}
