//! `tmctl serve`'s limits, over real TCP on loopback: a client must send
//! its request head in time, and connections past the cap wait.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tmctl::serve::{Limits, serve_on};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::TestApp;

const PROMPT: &[u8] = b"GET /api/nowhere/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

struct Server {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(app: &TestApp, limits: Limits) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve_on(listener, app.router.clone(), limits, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("the server stops")
            .unwrap();
    }
}

/// Reads until the server closes the connection (or 5 s pass).
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection")
        .ok();
    answer
}

#[sqlx::test(migrations = "../migrations")]
async fn a_client_slow_with_its_request_head_is_cut_off(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let limits = Limits {
        header_read_timeout: Duration::from_millis(300),
        max_connections: 8,
    };
    let server = Server::start(&app, limits).await;

    let started = Instant::now();
    let mut trickling = TcpStream::connect(server.addr).await.unwrap();
    trickling
        .write_all(b"GET /api/alerts/ HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    until_closed(&mut trickling).await;
    until_closed(&mut silent).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );

    // A client that sends its request at once is answered.
    let mut prompt = TcpStream::connect(server.addr).await.unwrap();
    prompt.write_all(PROMPT).await.unwrap();
    let answer = until_closed(&mut prompt).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    server.stop().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn connections_past_the_cap_wait_for_a_free_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let limits = Limits {
        header_read_timeout: Duration::from_millis(400),
        max_connections: 1,
    };
    let server = Server::start(&app, limits).await;

    // The only slot, held by a client that sends nothing.
    let _holder = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let mut waiting = TcpStream::connect(server.addr).await.unwrap();
    waiting.write_all(PROMPT).await.unwrap();
    let answer = until_closed(&mut waiting).await;
    let elapsed = started.elapsed();
    assert!(
        answer.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // Served only once the holder's time ran out and its slot came free.
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    server.stop().await;
}
