//! The Prometheus endpoint: `GET /metrics` on `[metrics] listen`, serving
//! [`Service::metrics`] in the text exposition format. A tiny HTTP/1.1 server of its own (one request
//! per connection, a bounded number at once), so that scraping needs no
//! web framework and cannot hold the server up.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::service::Service;

/// Scrapes answered at once; more wait for a slot.
const CONNECTIONS: usize = 8;
/// A client that has not sent its request by then is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest request head read.
const MAX_REQUEST: usize = 8 * 1024;

/// Serves `GET /metrics` until `shutdown`.
pub async fn serve(listener: TcpListener, service: Arc<Service>, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    debug!(%error, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let service = service.clone();
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(error) =
                tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &service)).await
            {
                debug!(%peer, %error, "metrics request timed out");
            }
        });
    }
}

async fn answer(mut stream: TcpStream, service: &Service) {
    let mut head = Vec::with_capacity(512);
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => ("200 OK", service.metrics().await),
        ("GET" | "HEAD", _) => ("404 Not Found", "hedge serves /metrics here\n".into()),
        _ => ("405 Method Not Allowed", "only GET /metrics\n".into()),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
    }
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
