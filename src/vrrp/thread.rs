//! VRRP's own execution context: a thread of its own with a current-thread runtime, on which
//! every instance runs — its sockets, timers, gratuitous ARPs, addresses and notify commands —
//! and nothing else does. The daemon's loop (reload parsing, reconcile, netlink dumps for
//! `status`, nft, state files, health checks) can be as busy as it likes: an advert never
//! waits for it. The two sides talk only through the instances' channels (commands in,
//! reports and status out).
//!
//! A thread rather than a process of its own (keepalived's way): the instances' channels stay
//! typed and in memory, a crash of either side takes both down (systemd restarts the whole,
//! which adopts what is in the kernel), and the cost is one small stack.

use std::io;
use std::thread::JoinHandle;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

pub struct VrrpThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl VrrpThread {
    /// Starts the thread and its runtime; returns once the runtime is up.
    pub fn start() -> io::Result<VrrpThread> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("haldir-vrrp".into())
            .spawn(move || {
                // I/O (with signals and child processes) but no time driver: the instances
                // wake on their own timerfds, and the driver's turn at every park was a tenth
                // of an idle advert's instructions. tokio::time panics here; waits use
                // vrrp::timer's `sleep` and `within`.
                let rt = match Builder::new_current_thread().enable_io().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(rt.handle().clone()));
                // Drives every task spawned on the handle until the daemon says stop.
                rt.block_on(async {
                    let _ = stop_rx.await;
                });
            })?;
        let handle = ready_rx
            .recv()
            .map_err(|_| io::Error::other("the VRRP thread ended before its runtime started"))??;
        Ok(VrrpThread {
            handle,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The runtime instances are spawned on (enter it to open their sockets there).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for VrrpThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_on_the_thread_while_the_caller_is_busy() {
        let t = VrrpThread::start().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        t.handle().spawn(async move {
            // Waits on the VRRP thread go through vrrp::timer (no time driver there).
            for _ in 0..5 {
                crate::vrrp::timer::sleep(std::time::Duration::from_millis(10)).await;
            }
            let within =
                crate::vrrp::timer::within(std::time::Duration::from_millis(20), async { 7 }).await;
            let late = crate::vrrp::timer::within(
                std::time::Duration::from_millis(20),
                std::future::pending::<()>(),
            )
            .await;
            let _ = tx.send((
                std::thread::current().name().map(str::to_string),
                within,
                late,
            ));
        });
        // The caller blocks; the thread goes on.
        let (name, within, late) = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the task ran while this thread waited");
        assert_eq!(name.as_deref(), Some("haldir-vrrp"));
        assert_eq!((within, late), (Some(7), None));
    }
}
