//! Netlink framing and attributes, as plain functions over bytes. Encoding builds messages
//! into a buffer (several back to back for a pipelined write); decoding splits a received
//! buffer into messages and attributes and rejects every truncation or bad length with an
//! error rather than trusting the length fields.

use thiserror::Error;

pub const NLMSG_HDRLEN: usize = 16;
pub const GENL_HDRLEN: usize = 4;
pub const NLA_HDRLEN: usize = 4;

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;

const NLA_F_NESTED: u16 = 0x8000;
const NLA_F_NET_BYTEORDER: u16 = 0x4000;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("netlink message truncated: {need} bytes needed at offset {at}, {have} left")]
    Truncated { at: usize, need: usize, have: usize },
    #[error("netlink length {len} at offset {at} is invalid")]
    BadLength { at: usize, len: usize },
    #[error("attribute {kind} has {len} bytes, expected {expected}")]
    AttrSize {
        kind: u16,
        len: usize,
        expected: &'static str,
    },
    #[error("attribute {kind} is not a NUL-terminated UTF-8 string")]
    BadString { kind: u16 },
    #[error("required attribute {0} is missing")]
    Missing(&'static str),
    #[error("{0}")]
    Invalid(String),
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Builds attributes into a buffer; nests are opened and closed around their content.
#[derive(Debug, Default, Clone)]
pub struct AttrWriter {
    buf: Vec<u8>,
    open: Vec<usize>,
}

impl AttrWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn bytes(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let len = NLA_HDRLEN + payload.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    pub fn u8(&mut self, kind: u16, v: u8) -> &mut Self {
        self.bytes(kind, &[v])
    }

    pub fn u16(&mut self, kind: u16, v: u16) -> &mut Self {
        self.bytes(kind, &v.to_ne_bytes())
    }

    /// A 16-bit value the kernel keeps in network byte order (ports).
    pub fn be16(&mut self, kind: u16, v: u16) -> &mut Self {
        self.bytes(kind, &v.to_be_bytes())
    }

    pub fn u32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.bytes(kind, &v.to_ne_bytes())
    }

    /// A NUL-terminated string.
    pub fn string(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.bytes(kind, &v)
    }

    pub fn begin_nest(&mut self, kind: u16) -> &mut Self {
        self.open.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    pub fn end_nest(&mut self) -> &mut Self {
        if let Some(start) = self.open.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Appends one netlink message with any payload (rtnetlink's fixed headers and attributes).
pub fn push_message(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, payload: &[u8]) {
    let len = NLMSG_HDRLEN + payload.len();
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + (align4(len) - len), 0);
}

/// Appends one generic netlink message (header, genl header, attributes) to `out`.
pub fn push_genl_message(
    out: &mut Vec<u8>,
    family: u16,
    flags: u16,
    seq: u32,
    cmd: u8,
    version: u8,
    attrs: &[u8],
) {
    let len = NLMSG_HDRLEN + GENL_HDRLEN + attrs.len();
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&family.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&[cmd, version, 0, 0]);
    out.extend_from_slice(attrs);
    out.resize(out.len() + (align4(len) - len), 0);
}

/// One netlink message as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    pub payload: &'a [u8],
}

/// Walks length-prefixed records aligned to 4 bytes (netlink messages and attributes alike):
/// yields each record's bytes (header included, padding not), and stops at the first header
/// that is cut short or whose length does not fit.
fn records(
    buf: &[u8],
    header: usize,
    length_of: fn(&[u8]) -> usize,
) -> impl Iterator<Item = Result<&[u8], WireError>> {
    let mut at = 0;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || at >= buf.len() {
            return None;
        }
        let rest = &buf[at..];
        if rest.len() < header {
            failed = true;
            return Some(Err(WireError::Truncated {
                at,
                need: header,
                have: rest.len(),
            }));
        }
        let len = length_of(rest);
        if len < header || len > rest.len() {
            failed = true;
            return Some(Err(WireError::BadLength { at, len }));
        }
        at += align4(len).min(rest.len());
        Some(Ok(&rest[..len]))
    })
}

/// Splits a buffer into netlink messages.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Result<Message<'_>, WireError>> {
    records(buf, NLMSG_HDRLEN, |r| {
        u32::from_ne_bytes([r[0], r[1], r[2], r[3]]) as usize
    })
    .map(|rec| {
        rec.map(|r| Message {
            kind: u16::from_ne_bytes([r[4], r[5]]),
            flags: u16::from_ne_bytes([r[6], r[7]]),
            seq: u32::from_ne_bytes([r[8], r[9], r[10], r[11]]),
            pid: u32::from_ne_bytes([r[12], r[13], r[14], r[15]]),
            payload: &r[NLMSG_HDRLEN..],
        })
    })
}

/// The errno of an NLMSG_ERROR payload (0 for an ACK) and the sequence number of the request
/// it answers.
pub fn error_payload(payload: &[u8]) -> Result<(i32, u32), WireError> {
    if payload.len() < 4 + NLMSG_HDRLEN {
        return Err(WireError::Truncated {
            at: 0,
            need: 4 + NLMSG_HDRLEN,
            have: payload.len(),
        });
    }
    let err = i32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]]);
    let seq = u32::from_ne_bytes([payload[12], payload[13], payload[14], payload[15]]);
    // The kernel sends -errno; a value it never sends (i32::MIN) must not overflow.
    Ok((err.checked_neg().unwrap_or(i32::MAX), seq))
}

/// The genl command and the attribute bytes of a generic netlink payload.
pub fn genl_payload(payload: &[u8]) -> Result<(u8, &[u8]), WireError> {
    if payload.len() < GENL_HDRLEN {
        return Err(WireError::Truncated {
            at: 0,
            need: GENL_HDRLEN,
            have: payload.len(),
        });
    }
    Ok((payload[0], &payload[GENL_HDRLEN..]))
}

/// One attribute: its type (flags removed) and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    pub kind: u16,
    pub payload: &'a [u8],
}

/// Splits attribute bytes into attributes.
pub fn attrs(buf: &[u8]) -> impl Iterator<Item = Result<Attr<'_>, WireError>> {
    records(buf, NLA_HDRLEN, |r| {
        u16::from_ne_bytes([r[0], r[1]]) as usize
    })
    .map(|rec| {
        rec.map(|r| Attr {
            kind: u16::from_ne_bytes([r[2], r[3]]) & NLA_TYPE_MASK,
            payload: &r[NLA_HDRLEN..],
        })
    })
}

impl<'a> Attr<'a> {
    fn exact<const N: usize>(&self, expected: &'static str) -> Result<[u8; N], WireError> {
        self.payload.try_into().map_err(|_| WireError::AttrSize {
            kind: self.kind,
            len: self.payload.len(),
            expected,
        })
    }

    pub fn u8(&self) -> Result<u8, WireError> {
        Ok(self.exact::<1>("1")?[0])
    }

    pub fn u16(&self) -> Result<u16, WireError> {
        Ok(u16::from_ne_bytes(self.exact::<2>("2")?))
    }

    pub fn be16(&self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.exact::<2>("2")?))
    }

    pub fn u32(&self) -> Result<u32, WireError> {
        Ok(u32::from_ne_bytes(self.exact::<4>("4")?))
    }

    pub fn u64(&self) -> Result<u64, WireError> {
        Ok(u64::from_ne_bytes(self.exact::<8>("8")?))
    }

    /// A NUL-terminated string (the NUL and anything after it dropped).
    pub fn string(&self) -> Result<String, WireError> {
        let end = self
            .payload
            .iter()
            .position(|b| *b == 0)
            .ok_or(WireError::BadString { kind: self.kind })?;
        std::str::from_utf8(&self.payload[..end])
            .map(str::to_string)
            .map_err(|_| WireError::BadString { kind: self.kind })
    }

    pub fn nested(&self) -> impl Iterator<Item = Result<Attr<'a>, WireError>> {
        attrs(self.payload)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_code_the_kernel_never_sends_does_not_overflow() {
        // Found by fuzzing: -i32::MIN overflows.
        let mut payload = vec![0u8; 4 + NLMSG_HDRLEN];
        payload[..4].copy_from_slice(&i32::MIN.to_ne_bytes());
        assert_eq!(error_payload(&payload), Ok((i32::MAX, 0)));
    }

    use super::*;

    #[test]
    fn attributes_round_trip_with_nesting_and_padding() {
        let mut w = AttrWriter::new();
        w.u16(1, 2)
            .begin_nest(2)
            .string(6, "wlc")
            .be16(4, 80)
            .end_nest()
            .u8(3, 7);
        let buf = w.finish();
        assert_eq!(buf.len() % 4, 0);
        let top: Vec<Attr> = attrs(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(top.len(), 3);
        assert_eq!(top[0].u16(), Ok(2));
        let inner: Vec<Attr> = top[1].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!(inner[0].string().as_deref(), Ok("wlc"));
        assert_eq!(inner[1].be16(), Ok(80));
        assert_eq!(inner[1].payload, &[0, 80]);
        assert_eq!(top[2].u8(), Ok(7));
    }

    #[test]
    fn messages_back_to_back() {
        let mut buf = Vec::new();
        push_genl_message(&mut buf, 30, NLM_F_REQUEST | NLM_F_ACK, 1, 1, 1, &[]);
        push_genl_message(
            &mut buf,
            30,
            NLM_F_REQUEST | NLM_F_ACK,
            2,
            3,
            1,
            &[1, 2, 3, 4],
        );
        let msgs: Vec<Message> = messages(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!((msgs[1].seq, msgs[1].kind), (2, 30));
        assert_eq!(genl_payload(msgs[1].payload), Ok((3, &[1, 2, 3, 4][..])));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut buf = Vec::new();
        let mut w = AttrWriter::new();
        w.begin_nest(1).u32(2, 5).end_nest();
        push_genl_message(&mut buf, 30, 0, 1, 1, 1, &w.finish());
        for cut in 0..buf.len() {
            let short = &buf[..cut];
            let outcome: Result<Vec<Message>, WireError> = messages(short).collect();
            if cut == 0 {
                assert_eq!(outcome, Ok(vec![]));
            } else {
                assert!(outcome.is_err(), "cut at {cut} accepted");
            }
        }
        // A length field larger than the buffer.
        let mut bad = buf.clone();
        bad[0] = 200;
        assert!(matches!(
            messages(&bad).next(),
            Some(Err(WireError::BadLength { .. }))
        ));
        // Attributes cut inside the nest.
        let attrs_bytes = &buf[NLMSG_HDRLEN + GENL_HDRLEN..];
        for cut in 1..attrs_bytes.len() {
            let all: Result<Vec<Attr>, _> = attrs(&attrs_bytes[..cut]).collect();
            assert!(all.is_err(), "attribute cut at {cut} accepted");
        }
    }

    #[test]
    fn sizes_are_checked() {
        let a = Attr {
            kind: 4,
            payload: &[1, 2, 3],
        };
        assert!(a.u32().is_err() && a.u16().is_err() && a.string().is_err());
    }

    #[test]
    fn error_messages() {
        let mut payload = (-17i32).to_ne_bytes().to_vec();
        payload.extend_from_slice(&[0u8; 8]);
        payload.extend_from_slice(&9u32.to_ne_bytes());
        payload.extend_from_slice(&[0u8; 4]);
        assert_eq!(error_payload(&payload), Ok((17, 9)));
        assert!(error_payload(&payload[..10]).is_err());
    }
}
