//! The kernel's IPVS table as `status` and `/metrics` show it: dumped on a thread of the
//! blocking pool through a netlink connection of its own (never on the daemon's loop), at most
//! once a second however often they are asked — a scrape every second and an operator's
//! `watch haldir status` share one dump. The figures are at most that old.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ipvs::client::{Client, TableEntry};

/// How old a dump may be before it is taken again.
pub(super) const MAX_AGE: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(super) struct TableDump {
    client: Arc<Mutex<Option<Client>>>,
    last: Option<(Instant, Arc<Vec<TableEntry>>)>,
}

impl TableDump {
    /// The table, dumped again if the last dump is older than [`MAX_AGE`].
    pub(super) async fn get(&mut self) -> Arc<Vec<TableEntry>> {
        if let Some((at, table)) = &self.last
            && at.elapsed() < MAX_AGE
        {
            return table.clone();
        }
        let client = self.client.clone();
        let dumped = tokio::task::spawn_blocking(move || dump(&client)).await;
        let table = match dumped {
            Ok(Ok(t)) => Arc::new(t),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the IPVS table for status");
                Arc::new(Vec::new())
            }
            Err(e) => {
                tracing::warn!(error = %e, "the IPVS dump did not finish");
                Arc::new(Vec::new())
            }
        };
        self.last = Some((Instant::now(), table.clone()));
        table
    }

    /// Forgets the last dump: the next question sees what haldir just changed.
    pub(super) fn stale(&mut self) {
        self.last = None;
    }
}

fn dump(client: &Mutex<Option<Client>>) -> Result<Vec<TableEntry>, crate::ipvs::client::IpvsError> {
    // A dump that panicked left nothing half-done worth refusing over.
    let mut guard = client.lock().unwrap_or_else(|p| p.into_inner());
    let c = match guard.as_mut() {
        Some(c) => c,
        None => guard.insert(Client::connect()?),
    };
    c.table()
}
