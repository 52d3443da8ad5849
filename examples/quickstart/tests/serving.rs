//! Serving like production: the connection cap, the header-read and idle timeouts, and
//! `/health` answering while many connections sit idle, under a small file-descriptor limit.
//!
//! The timeouts are set to one second here; each test waits only as long as they need.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use quickstart::{Config, app, serve};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// How long a test waits for an event before it gives up: a guard against a hang.
const HANG_GUARD: Duration = Duration::from_secs(30);

async fn start(configure: impl FnOnce(&mut Config)) -> String {
    let mut config = Config {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    configure(&mut config);
    let app = app(&config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve(listener, app, std::future::pending()));
    addr
}

/// Waits until the server closes `stream`: a read that ends (or fails) rather than blocks.
async fn closed_by_server(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(HANG_GUARD, stream.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open"),
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

/// `GET /health` on a new connection: the status line.
async fn health(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(HANG_GUARD, stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_connection_beyond_the_cap_is_closed_at_once_and_idle_ones_after_the_timeout() {
    let addr = start(|c| {
        c.max_connections = 3;
        c.header_read_timeout = Duration::from_secs(60);
        c.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Give the server time to accept the three, then one more is over the cap.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let refused = closed_by_server(&mut extra).await;
    assert!(refused < Duration::from_millis(900), "{refused:?}");
    // The idle ones, which never sent a request, go after the idle timeout.
    for stream in &mut idle {
        closed_by_server(stream).await;
    }
    assert_eq!(health(&addr).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn a_connection_that_never_sends_its_headers_is_closed_after_the_header_timeout() {
    let addr = start(|c| {
        c.header_read_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let took = closed_by_server(&mut slow).await;
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert_eq!(health(&addr).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn a_kept_alive_connection_is_closed_once_idle() {
    let addr = start(|c| {
        c.idle_timeout = Duration::from_secs(1);
        c.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    // Still open for a second request right away…
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    // …then closed once it has been idle for the timeout.
    let took = closed_by_server(&mut stream).await;
    assert!(took >= Duration::from_millis(900), "{took:?}");
}

/// The server binary, started by a shell that first limits its open files.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_within_15_s_with_256_open_files_and_300_idle_connections() {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\"")
        .arg(env!("CARGO_BIN_EXE_quickstart"))
        .env("ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();

    let mut idle = Vec::new();
    for _ in 0..300 {
        // Past the server's descriptors the kernel still completes the handshake (backlog).
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(15), health(&addr))
        .await
        .expect("/health did not answer within 15 s");
    assert_eq!(status, "HTTP/1.1 200 OK");
    eprintln!("/health answered after {:?}", started.elapsed());
    drop(idle);
}
