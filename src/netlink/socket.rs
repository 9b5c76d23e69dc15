//! The one netlink socket type: a connected socket of one protocol with its sequence
//! numbers and a receive buffer, used by the IPVS client (generic netlink, pipelined
//! requests) and by rtnetlink (one acknowledged request at a time).

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

use super::wire;

/// Which netlink protocol a socket speaks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Protocol {
    Route,
    Generic,
}

pub(crate) struct Socket {
    sock: NlSocket,
    seq: u32,
    rbuf: Vec<u8>,
}

impl Socket {
    /// A socket of `protocol` subscribed to the multicast `groups` (a bitmask, 0 for none),
    /// receiving into a buffer of `rbuf` bytes.
    pub(crate) fn open(protocol: Protocol, groups: u32, rbuf: usize) -> io::Result<Self> {
        let family = match protocol {
            Protocol::Route => NlFamily::Route,
            Protocol::Generic => NlFamily::Generic,
        };
        let groups = if groups == 0 {
            Groups::empty()
        } else {
            Groups::new_bitmask(groups)
        };
        Ok(Socket {
            sock: NlSocket::connect(family, None, groups)?,
            seq: 0,
            rbuf: vec![0; rbuf],
        })
    }

    /// Asks for a larger receive buffer (for the ACKs of a pipelined write); root may exceed
    /// the system maximum (SO_RCVBUFFORCE). A failure only costs speed: writes are sized for
    /// the default buffer as well.
    pub(crate) fn set_rcvbuf(&self, bytes: i32) {
        for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            // SAFETY: the descriptor is open for the socket's life; the value is a live i32.
            let rc = unsafe {
                libc::setsockopt(
                    self.sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&bytes as *const i32).cast(),
                    std::mem::size_of::<i32>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                return;
            }
        }
    }

    pub(crate) fn nonblock(&self) -> io::Result<()> {
        self.sock.nonblock()
    }

    /// The next sequence number.
    pub(crate) fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// The sequence number the next [`Socket::next_seq`] returns.
    pub(crate) fn peek_seq(&self) -> u32 {
        self.seq.wrapping_add(1)
    }

    pub(crate) fn send(&self, buf: &[u8]) -> io::Result<()> {
        self.sock.send(buf, Msg::empty()).map(|_| ())
    }

    /// One datagram from the kernel (it may hold several messages).
    pub(crate) fn recv(&mut self) -> io::Result<&[u8]> {
        let (n, _) = self.sock.recv(&mut self.rbuf[..], Msg::empty())?;
        Ok(&self.rbuf[..n])
    }

    /// Sends one request already framed with sequence number `seq` and waits for its
    /// acknowledgement: Ok, or the errno the kernel answered.
    pub(crate) fn acknowledged(&mut self, request: &[u8], seq: u32) -> io::Result<()> {
        self.send(request)?;
        loop {
            for msg in wire::messages(self.recv()?) {
                let msg = msg.map_err(io::Error::other)?;
                if msg.kind != wire::NLMSG_ERROR {
                    continue;
                }
                let (errno, answered) =
                    wire::error_payload(msg.payload).map_err(io::Error::other)?;
                if answered == seq {
                    return match errno {
                        0 => Ok(()),
                        e => Err(io::Error::from_raw_os_error(e)),
                    };
                }
            }
        }
    }
}

impl Socket {
    /// Sends one dump request framed with sequence number `seq` and collects the messages
    /// of its answer, up to NLMSG_DONE: each as (type, payload).
    pub(crate) fn dump(&mut self, request: &[u8], seq: u32) -> io::Result<Vec<(u16, Vec<u8>)>> {
        self.send(request)?;
        let mut out = Vec::new();
        loop {
            for msg in wire::messages(self.recv()?) {
                let msg = msg.map_err(io::Error::other)?;
                if msg.seq != seq {
                    continue;
                }
                match msg.kind {
                    wire::NLMSG_DONE => return Ok(out),
                    wire::NLMSG_ERROR => {
                        let (errno, _) =
                            wire::error_payload(msg.payload).map_err(io::Error::other)?;
                        return Err(io::Error::from_raw_os_error(errno));
                    }
                    kind => out.push((kind, msg.payload.to_vec())),
                }
            }
        }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}
