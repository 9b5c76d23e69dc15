//! The result of one probe, with the reason a person needs when a server goes down.

use std::fmt;
use std::io;

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Timeout,
    Refused,
    /// Another connection error (unreachable, reset, …), as the system words it.
    Connect(String),
    Status(u16),
    BodyMismatch,
    /// The server closed or broke the exchange before a complete reply.
    Protocol(String),
    Tls(String),
    Exit(i32),
    Signal(i32),
    /// The check could not be started at all (script missing, user unknown, …).
    Spawn(String),
    /// An ICMP destination unreachable (port, host or network) answered the probe.
    Unreachable,
    /// A DNS reply with an error code: "SERVFAIL", "NXDOMAIN", "REFUSED", …
    Rcode(String),
    /// The body's MD5 is not the configured digest.
    Digest(String),
    /// A reply arrived but is not the one expected (UDP reply, DNS question, SMTP code).
    Reply(String),
    /// A file check's file holds a value that takes the server down.
    File(i64),
}

impl Reason {
    /// A short fixed name for the kind of failure (a metrics label).
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Timeout => "timeout",
            Reason::Refused => "refused",
            Reason::Connect(_) => "connect",
            Reason::Status(_) => "status",
            Reason::BodyMismatch => "body",
            Reason::Protocol(_) => "protocol",
            Reason::Tls(_) => "tls",
            Reason::Exit(_) => "exit",
            Reason::Signal(_) => "signal",
            Reason::Spawn(_) => "spawn",
            Reason::Unreachable => "unreachable",
            Reason::Rcode(_) => "rcode",
            Reason::Digest(_) => "digest",
            Reason::Reply(_) => "reply",
            Reason::File(_) => "file",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Timeout => f.write_str("timeout"),
            Reason::Refused => f.write_str("connection refused"),
            Reason::Connect(e) => write!(f, "connect: {e}"),
            Reason::Status(s) => write!(f, "status {s}"),
            Reason::BodyMismatch => f.write_str("body does not match body_regex"),
            Reason::Protocol(e) => write!(f, "bad reply: {e}"),
            Reason::Tls(e) => write!(f, "TLS: {e}"),
            Reason::Exit(c) => write!(f, "exit {c}"),
            Reason::Signal(s) => write!(f, "killed by signal {s}"),
            Reason::Spawn(e) => write!(f, "cannot run: {e}"),
            Reason::Unreachable => f.write_str("icmp unreachable"),
            Reason::Rcode(c) => write!(f, "rcode {c}"),
            Reason::Digest(got) => write!(f, "digest mismatch (body {got})"),
            Reason::Reply(e) => write!(f, "unexpected reply: {e}"),
            Reason::File(v) => write!(f, "file says {v}"),
        }
    }
}

/// One probe's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Up,
    /// Up, with the weight a dynamic misc check asked for.
    UpWeight(u32),
    /// Up, with this added to the server's configured weight (a file check's value × weight).
    UpOffset(i32),
    Down(Reason),
}

impl Outcome {
    pub fn is_up(&self) -> bool {
        !matches!(self, Outcome::Down(_))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Up => f.write_str("ok"),
            Outcome::UpWeight(w) => write!(f, "ok, weight {w}"),
            Outcome::UpOffset(o) => write!(f, "ok, weight {o:+}"),
            Outcome::Down(r) => r.fmt(f),
        }
    }
}

/// An error on a connected datagram socket (udp, dns, ping) is the ICMP error the kernel
/// received for it.
pub(crate) fn datagram_reason(e: &io::Error) -> Reason {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH) => Reason::Unreachable,
        _ => connect_reason(e),
    }
}

pub(crate) fn connect_reason(e: &io::Error) -> Reason {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Reason::Refused,
        io::ErrorKind::TimedOut => Reason::Timeout,
        _ => Reason::Connect(e.to_string()),
    }
}
