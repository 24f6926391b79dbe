//! The local API server. Its own accept loop rather than `axum::serve`,
//! which has neither of the two limits a server reachable by others needs:
//! a client must send its request head within a time (slowloris: many
//! connections trickling headers), and only so many connections are open
//! at once; past that, new ones wait in the kernel's backlog. See
//! [`Limits::default`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tm_shared::AppState;
use tm_shared::config::PublicBaseUrl;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client has to send a whole request head.
    pub header_read_timeout: Duration,
    /// Open connections at most; each holds a task and buffers, not a
    /// database connection (the pool has its own cap).
    pub max_connections: usize,
}

impl Default for Limits {
    /// 10 s for a request head, 512 connections.
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 512,
        }
    }
}

/// How long requests in flight get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves [`crate::app`] on `bind` until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, bind: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(bind).await?;
    let local = listener.local_addr()?;
    eprintln!("API listening on http://{local}");
    // Page links name this server unless PUBLIC_BASE_URL says otherwise;
    // never the Host a client sent.
    let state = if state.http.public_base_url.is_none() {
        let mut http = (*state.http).clone();
        http.public_base_url = PublicBaseUrl::parse(&format!("http://{local}")).ok();
        state.with_http(http)
    } else {
        state
    };
    serve_on(
        listener,
        crate::app(state),
        Limits::default(),
        shutdown_signal(),
    )
    .await;
    Ok(())
}

/// Accepts on `listener` until `shutdown`, then lets open requests finish.
pub async fn serve_on(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        // The peer's address is the client's for the sign-in throttle.
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.oneshot(req).await.unwrap_or_else(|e| match e {})) }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that went away or timed out is no error of the server's.
            let _ = connection.await;
            drop(slot);
        });
    }
    eprintln!("shutting down");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("requests still open after {SHUTDOWN_GRACE:?}; stopping anyway");
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
