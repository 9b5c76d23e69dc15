//! The metrics endpoint: a minimal HTTP/1.1 server on `metrics_listen` that answers
//! `GET /metrics` with the daemon's metrics in the Prometheus/OpenMetrics text format. One
//! request per connection; anything else gets 404 or 405.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use super::Query;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub(super) async fn bind(
    addr: SocketAddr,
    queries: mpsc::UnboundedSender<Query>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let queries = queries.clone();
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(10), answer(stream, queries)).await;
            });
        }
    }))
}

/// The request line of a request whose head has arrived, if it has.
fn request_line(head: &[u8]) -> Option<&str> {
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&head[..end]).ok()?;
    head.lines().next()
}

async fn answer(
    mut stream: TcpStream,
    queries: mpsc::UnboundedSender<Query>,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let line = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(l) = request_line(&head) {
            break l.to_string();
        }
        if head.len() > 16 * 1024 {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "",
            )
            .await;
        }
    };
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => {
            let (tx, rx) = oneshot::channel();
            if queries.send(Query::Metrics(tx)).is_err() {
                return respond(
                    &mut stream,
                    "503 Service Unavailable",
                    "text/plain",
                    "stopping\n",
                )
                .await;
            }
            let body = rx.await.unwrap_or_default();
            respond(&mut stream, "200 OK", CONTENT_TYPE, &body).await
        }
        ("GET", "/") => {
            respond(
                &mut stream,
                "200 OK",
                "text/plain",
                "haldir: metrics at /metrics\n",
            )
            .await
        }
        ("GET", _) => respond(&mut stream, "404 Not Found", "text/plain", "not found\n").await,
        _ => {
            respond(
                &mut stream,
                "405 Method Not Allowed",
                "text/plain",
                "GET only\n",
            )
            .await
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    kind: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_line_is_read_once_the_head_is_complete() {
        assert_eq!(request_line(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(
            request_line(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some("GET /metrics HTTP/1.1")
        );
    }
}
