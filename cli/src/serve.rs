//! The local API server.

use std::net::SocketAddr;

use tm_shared::AppState;
use tokio::net::TcpListener;

/// Serves [`crate::app`] on `bind` until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, bind: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(bind).await?;
    eprintln!("API listening on http://{}", listener.local_addr()?);
    // The peer's address is the client's for the sign-in throttle.
    let app = crate::app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
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
    eprintln!("shutting down");
}
