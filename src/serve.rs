//! The HTTP accept loop: hyper's HTTP/1 server over warden's listeners (plain TCP or
//! TLS), with what `axum::serve` does not offer — a deadline for a request's headers,
//! so a client that opens connections and never finishes a request (slowloris) cannot
//! pile them up — and a graceful shutdown that lets answers in flight finish.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::http::Peer;

/// Serves `router` on `listener` until `stop` is cancelled, then waits up to `drain`
/// for connections to finish their answers. A request whose headers have not arrived
/// `header_timeout` after the connection (or the previous answer) opened is closed.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    header_timeout: Duration,
    stop: CancellationToken,
    drain: Duration,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.cancelled() => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(Peer(peer)));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = http.serve_connection(TokioIo::new(io), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::debug!("HTTP connections still open after the drain: closing them");
    }
}
