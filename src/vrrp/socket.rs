//! Raw IP sockets for VRRP (protocol 112), IPv4: adverts leave with TTL 255 to 224.0.0.18 (or
//! each unicast peer) and arrive with their IP header, whose TTL and addresses are read here.
//! One socket receives (unbound, so multicast reaches it); one bound to the primary address
//! sends, so adverts leave from it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::packet::PROTO_VRRP;

pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// A received IPv4 packet's addresses, TTL and VRRP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub payload: &'a [u8],
}

/// Splits an IPv4 packet as a raw socket delivers it. `None` for anything that is not a
/// whole IPv4 VRRP packet.
pub fn parse_ipv4(pkt: &[u8]) -> Option<Received<'_>> {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    if ihl < 20 || pkt.len() < ihl || pkt[9] != PROTO_VRRP {
        return None;
    }
    let end = total.clamp(ihl, pkt.len());
    Some(Received {
        src: IpAddr::from([pkt[12], pkt[13], pkt[14], pkt[15]]),
        dst: IpAddr::from([pkt[16], pkt[17], pkt[18], pkt[19]]),
        ttl: pkt[8],
        payload: &pkt[ihl..end],
    })
}

pub struct VrrpSocket {
    rx: AsyncFd<Socket>,
    tx: Socket,
}

fn raw_v4() -> io::Result<Socket> {
    Socket::new(
        Domain::IPV4,
        Type::RAW,
        Some(Protocol::from(i32::from(PROTO_VRRP))),
    )
}

impl VrrpSocket {
    /// `multicast` joins 224.0.0.18 on the interface; with unicast peers it stays out.
    pub fn open_v4(
        ifname: &str,
        ifindex: u32,
        primary: Ipv4Addr,
        multicast: bool,
    ) -> io::Result<Self> {
        let rx = raw_v4()?;
        rx.bind_device(Some(ifname.as_bytes()))?;
        if multicast {
            rx.join_multicast_v4_n(&GROUP_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
        }
        rx.set_nonblocking(true)?;
        let tx = raw_v4()?;
        tx.bind_device(Some(ifname.as_bytes()))?;
        tx.bind(&SocketAddr::new(IpAddr::V4(primary), 0).into())?;
        tx.set_ttl_v4(255)?;
        tx.set_multicast_ttl_v4(255)?;
        tx.set_multicast_loop_v4(false)?;
        tx.set_multicast_if_v4(&primary)?;
        // The receiving socket must never be read by the sender's buffer filling up.
        tx.set_recv_buffer_size(1024).ok();
        // SAFETY: the socket owns its descriptor and the AsyncFd owns the socket, so the
        // descriptor stays open exactly as long as it is registered.
        let rx = unsafe { AsyncFd::register(rx) }.map_err(|e| e.into_parts().1)?;
        Ok(VrrpSocket { rx, tx })
    }

    pub fn send(&self, payload: &[u8], dst: IpAddr) -> io::Result<()> {
        self.tx
            .send_to(payload, &SocketAddr::new(dst, 0).into())
            .map(|_| ())
    }

    /// Waits for at least one packet; calls `each` for every packet queued.
    pub async fn recv_each(&self, buf: &mut [u8], mut each: impl FnMut(&[u8])) -> io::Result<()> {
        let mut guard = self.rx.readable().await?;
        loop {
            // SAFETY: socket2 wants MaybeUninit; the bytes it reports are initialised by the kernel.
            let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) };
            match guard.get_inner().recv(uninit) {
                Ok(n) => each(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    guard.clear_ready();
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_headers() {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18,
        ];
        p.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let r = parse_ipv4(&p).unwrap();
        assert_eq!(
            (r.ttl, r.src, r.dst),
            (
                255,
                "10.0.0.1".parse().unwrap(),
                "224.0.0.18".parse().unwrap()
            )
        );
        assert_eq!(r.payload, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(parse_ipv4(&p[..19]).is_none());
        let mut other = p.clone();
        other[9] = 6;
        assert!(parse_ipv4(&other).is_none(), "not VRRP");
    }
}
