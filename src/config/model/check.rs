//! The model of a health check: its timing, rise and fall, and what each kind probes.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::config::types::*;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Check {
    #[serde(flatten)]
    pub kind: CheckKind,
    #[serde(serialize_with = "serialize_duration")]
    pub interval: Duration,
    #[serde(serialize_with = "serialize_duration")]
    pub timeout: Duration,
    pub fall: u32,
    pub rise: u32,
    #[serde(serialize_with = "serialize_duration")]
    pub retry_delay: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<IpAddr>,
    /// The server starts down, not up, until its check rises.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub alpha: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CheckKind {
    Tcp {
        /// A SYN answered by a SYN-ACK, never a connection (see `health::halfopen`).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        half_open: bool,
    },
    Http(HttpCheck),
    Https {
        #[serde(flatten)]
        http: HttpCheck,
        tls_verify: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        sni: Option<String>,
    },
    Misc {
        command: Vec<String>,
        dynamic_weight: bool,
    },
    Udp(UdpCheck),
    Dns(DnsCheck),
    Ping,
    Smtp(SmtpCheck),
    File(FileCheck),
}

impl CheckKind {
    pub fn check_type(&self) -> CheckType {
        match self {
            CheckKind::Tcp { .. } => CheckType::Tcp,
            CheckKind::Http(_) => CheckType::Http,
            CheckKind::Https { .. } => CheckType::Https,
            CheckKind::Misc { .. } => CheckType::Misc,
            CheckKind::Udp(_) => CheckType::Udp,
            CheckKind::Dns(_) => CheckType::Dns,
            CheckKind::Ping => CheckType::Ping,
            CheckKind::Smtp(_) => CheckType::Smtp,
            CheckKind::File(_) => CheckType::File,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpCheck {
    /// Fetched in order on each probe; all must pass.
    pub urls: Vec<HttpUrl>,
    pub host: Option<String>,
    pub http_protocol: HttpProtocol,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct HttpUrl {
    pub path: String,
    pub status: StatusSet,
    /// MD5 of the body, lower-case hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_regex: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpCheck {
    pub payload: Vec<u8>,
    pub require_reply: bool,
    /// A prefix the reply must start with: (byte, mask of the bits that must match).
    pub reply_prefix: Vec<(u8, u8)>,
    pub reply_regex: Option<String>,
    pub min_reply_length: u16,
    pub max_reply_length: Option<u16>,
}

/// Written back as the file has it: one URL as `path`, `status`, … keys, several as `url`.
impl Serialize for HttpCheck {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        match self.urls.as_slice() {
            [u] => {
                m.serialize_entry("path", &u.path)?;
                m.serialize_entry("status", &u.status)?;
                if let Some(d) = &u.digest {
                    m.serialize_entry("digest", d)?;
                }
                if let Some(r) = &u.body_regex {
                    m.serialize_entry("body_regex", r)?;
                }
            }
            urls => m.serialize_entry("url", urls)?,
        }
        if let Some(h) = &self.host {
            m.serialize_entry("host", h)?;
        }
        m.serialize_entry("http_protocol", &self.http_protocol)?;
        m.end()
    }
}

/// Bytes as hex, "x" for a nibble that need not match.
fn masked_hex(bytes: &[(u8, u8)]) -> String {
    let nibble = |v: u8, mask: u8| {
        if mask == 0 {
            'x'
        } else {
            char::from_digit(u32::from(v), 16).unwrap_or('0')
        }
    };
    bytes
        .iter()
        .flat_map(|(b, m)| [nibble(b >> 4, m >> 4), nibble(b & 0xf, m & 0xf)])
        .collect()
}

impl Serialize for UdpCheck {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        if !self.payload.is_empty() {
            let all: Vec<(u8, u8)> = self.payload.iter().map(|b| (*b, 0xff)).collect();
            m.serialize_entry("payload_hex", &masked_hex(&all))?;
        }
        m.serialize_entry("require_reply", &self.require_reply)?;
        if !self.reply_prefix.is_empty() {
            m.serialize_entry("reply_hex", &masked_hex(&self.reply_prefix))?;
        }
        if let Some(r) = &self.reply_regex {
            m.serialize_entry("reply_regex", r)?;
        }
        if self.min_reply_length > 0 {
            m.serialize_entry("min_reply_length", &self.min_reply_length)?;
        }
        if let Some(max) = self.max_reply_length {
            m.serialize_entry("max_reply_length", &max)?;
        }
        m.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DnsCheck {
    pub query_name: String,
    pub query_type: DnsType,
    pub require_answer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SmtpCheck {
    /// None: the host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo_name: Option<String>,
    /// More servers to talk to besides the target: (address, port, source).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<SmtpHost>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SmtpHost {
    pub address: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FileCheck {
    pub file: PathBuf,
    pub weight: i32,
}
