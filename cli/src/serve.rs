//! The local API server.

use std::net::SocketAddr;

use tm_shared::AppState;
use tm_shared::config::PublicBaseUrl;
use tokio::net::TcpListener;

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
