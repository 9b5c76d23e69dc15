//! The result of one probe, with the reason a person needs when a server goes down.

use std::fmt;

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
        }
    }
}

/// One probe's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Up,
    /// Up, with the weight a dynamic misc check asked for.
    UpWeight(u32),
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
            Outcome::Down(r) => r.fmt(f),
        }
    }
}
