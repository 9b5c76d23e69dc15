//! What a probe is aimed at: a check, an address and a port. Every check kind takes it, and
//! the scheduler and the verdicts key on it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::config::Config;
use crate::config::model::{Check, RsAddr};

/// What is probed: a check and the address and port it is aimed at. Equal by value (a reload
/// keeps a check running when its target is the same); its hash is computed once, since every
/// probe's verdict looks its target up, and hashing the whole check each time was a good part
/// of a probe's cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    hash: u64,
    /// Shared with the configuration: ten thousand servers of one service hold one check.
    pub check: Arc<Check>,
    pub addr: IpAddr,
    pub port: u16,
}

impl Target {
    pub fn new(check: Arc<Check>, addr: IpAddr, port: u16) -> Target {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&*check, addr, port).hash(&mut h);
        Target {
            hash: h.finish(),
            check,
            addr,
            port,
        }
    }
}

impl std::hash::Hash for Target {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.check.kind.check_type(),
            SocketAddr::new(self.addr, self.port)
        )
    }
}

/// A TCP socket for a probe to `peer`, bound to the check's `source` address if it has one.
pub(crate) fn tcp_socket(
    peer: SocketAddr,
    source: Option<IpAddr>,
) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = match peer {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }?;
    if let Some(src) = source {
        socket.bind(SocketAddr::new(src, 0))?;
    }
    Ok(socket)
}

/// Who is fed by each target: (virtual server name, real server address) pairs. A service's
/// name is shared by its servers; a target is shared with the check that runs it.
pub type Consumers = HashMap<Arc<Target>, Vec<(Arc<str>, RsAddr)>>;

pub fn targets(config: &Config) -> Consumers {
    // Sized once: ten thousand targets grown by doubling leave the heap in holes.
    let checked = config
        .virtual_servers
        .iter()
        .flat_map(|vs| &vs.real_servers)
        .filter(|rs| rs.check.is_some())
        .count();
    let mut out: Consumers = HashMap::with_capacity(checked);
    for vs in &config.virtual_servers {
        let name: Arc<str> = vs.name.as_str().into();
        for rs in &vs.real_servers {
            let Some(check) = &rs.check else { continue };
            let target = Target::new(
                check.clone(),
                check.address.unwrap_or(rs.address.ip),
                check.port.or(rs.address.port).unwrap_or(0),
            );
            // Most targets feed one server: no room kept for more.
            let user = (name.clone(), rs.address);
            match out.get_mut(&target) {
                Some(users) => users.push(user),
                None => {
                    out.insert(Arc::new(target), vec![user]);
                }
            }
        }
    }
    out
}
