//! The real servers of the health-check benchmark: COUNT TCP listeners on 127.0.0.1 from port
//! FIRST, every SKIP-th port left closed (so a checker must also see servers down). Every
//! accepted connection is counted and closed; the total is written to FILE every second.
//!
//!   check_listeners FIRST COUNT SKIP FILE

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .take(3)
        .map(|a| a.parse().expect("number"))
        .collect();
    let file = std::env::args()
        .nth(4)
        .expect("usage: check_listeners FIRST COUNT SKIP FILE");
    let (first, count, skip) = (args[0], args[1], args[2]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let accepted = Arc::new(AtomicU64::new(0));
        for i in 0..count {
            if skip > 0 && i % skip == skip - 1 {
                continue;
            }
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", (first + i) as u16))
                .await
                .expect("bind");
            let accepted = accepted.clone();
            tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    drop(sock);
                }
            });
        }
        loop {
            let _ = std::fs::write(&file, accepted.load(Ordering::Relaxed).to_string());
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}
