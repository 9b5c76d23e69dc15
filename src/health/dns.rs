//! The dns probe (keepalived's DNS_CHECK): one query over UDP, again over TCP when the reply
//! is truncated. A reply with another id, or a query instead of a reply, is not ours and is
//! ignored (as keepalived does); ours must carry the question asked, RCODE NOERROR and, with
//! `require_answer`, at least one answer. The wire format is hickory-proto's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::outcome::{Outcome, Reason};
use super::target::Target;
use crate::config::model::DnsCheck;
use crate::config::types::DnsType;

pub(super) async fn probe(target: &Target, q: &DnsCheck) -> Outcome {
    let peer = SocketAddr::new(target.addr, target.port);
    let id: u16 = rand::random();
    let query = match encode(q, id) {
        Ok(b) => b,
        Err(e) => return Outcome::Down(Reason::Spawn(e)),
    };
    match udp(peer, target.check.source, &query, q, id).await {
        Ok(Verdict::Done(o)) => o,
        Ok(Verdict::Truncated) => match tcp(peer, target.check.source, &query, q, id).await {
            Ok(Verdict::Done(o)) => o,
            Ok(_) => Outcome::Down(Reason::Reply("truncated over TCP too".into())),
            Err(r) => Outcome::Down(r),
        },
        Ok(Verdict::NotOurs) => Outcome::Down(Reason::Timeout),
        Err(r) => Outcome::Down(r),
    }
}

fn record_type(t: DnsType) -> RecordType {
    match t {
        DnsType::A => RecordType::A,
        DnsType::Ns => RecordType::NS,
        DnsType::Cname => RecordType::CNAME,
        DnsType::Soa => RecordType::SOA,
        DnsType::Ptr => RecordType::PTR,
        DnsType::Mx => RecordType::MX,
        DnsType::Txt => RecordType::TXT,
        DnsType::Aaaa => RecordType::AAAA,
        DnsType::Rrsig => RecordType::RRSIG,
        DnsType::Dnskey => RecordType::DNSKEY,
    }
}

fn name(q: &DnsCheck) -> Result<Name, String> {
    let mut n = Name::from_ascii(&q.query_name).map_err(|e| e.to_string())?;
    n.set_fqdn(true);
    Ok(n)
}

/// The query: one question, recursion desired (as keepalived asks), no EDNS.
pub fn encode(q: &DnsCheck, id: u16) -> Result<Vec<u8>, String> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(q)?, record_type(q.query_type)));
    m.to_vec().map_err(|e| e.to_string())
}

/// What one datagram says.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Another id or not a reply: keep waiting.
    NotOurs,
    /// Our reply, cut short: ask again over TCP.
    Truncated,
    Done(Outcome),
}

/// The short name of a response code, as DNS tools print it.
fn rcode_name(c: ResponseCode) -> String {
    match c {
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => u16::from(other).to_string(),
    }
}

/// Judges one datagram against the query sent. Never panics, whatever the bytes.
pub fn judge(reply: &[u8], q: &DnsCheck, id: u16, over_tcp: bool) -> Verdict {
    // The id is the first two bytes: a datagram that is not ours is ignored before parsing.
    if reply.len() < 12 || u16::from_be_bytes([reply[0], reply[1]]) != id || reply[2] & 0x80 == 0 {
        return Verdict::NotOurs;
    }
    let m = match Message::from_vec(reply) {
        Ok(m) => m,
        // A truncated reply may be cut mid-record; its header is enough to ask over TCP.
        Err(_) if reply[2] & 0x02 != 0 && !over_tcp => return Verdict::Truncated,
        Err(e) => return Verdict::Done(Outcome::Down(Reason::Reply(format!("malformed: {e}")))),
    };
    if m.metadata.truncation && !over_tcp {
        return Verdict::Truncated;
    }
    let asked = name(q).ok();
    let same_question = m.queries.len() == 1
        && Some(m.queries[0].name()) == asked.as_ref()
        && m.queries[0].query_type() == record_type(q.query_type);
    if !same_question {
        return Verdict::Done(Outcome::Down(Reason::Reply(
            "the question is not the one asked".into(),
        )));
    }
    if m.metadata.response_code != ResponseCode::NoError {
        return Verdict::Done(Outcome::Down(Reason::Rcode(rcode_name(
            m.metadata.response_code,
        ))));
    }
    if q.require_answer && m.answers.is_empty() {
        return Verdict::Done(Outcome::Down(Reason::Reply("no answer".into())));
    }
    Verdict::Done(Outcome::Up)
}

fn unspecified(peer: SocketAddr) -> IpAddr {
    match peer {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

async fn udp(
    peer: SocketAddr,
    source: Option<IpAddr>,
    query: &[u8],
    q: &DnsCheck,
    id: u16,
) -> Result<Verdict, Reason> {
    let local = SocketAddr::new(source.unwrap_or_else(|| unspecified(peer)), 0);
    let s = tokio::net::UdpSocket::bind(local)
        .await
        .map_err(|e| Reason::Spawn(e.to_string()))?;
    s.connect(peer)
        .await
        .map_err(|e| super::outcome::datagram_reason(&e))?;
    s.send(query)
        .await
        .map_err(|e| super::outcome::datagram_reason(&e))?;
    let mut buf = vec![0u8; 65535];
    // The probe's timeout bounds this loop: datagrams that are not ours are skipped.
    loop {
        let n = s
            .recv(&mut buf)
            .await
            .map_err(|e| super::outcome::datagram_reason(&e))?;
        match judge(&buf[..n], q, id, false) {
            Verdict::NotOurs => continue,
            v => return Ok(v),
        }
    }
}

async fn tcp(
    peer: SocketAddr,
    source: Option<IpAddr>,
    query: &[u8],
    q: &DnsCheck,
    id: u16,
) -> Result<Verdict, Reason> {
    let socket =
        super::target::tcp_socket(peer, source).map_err(|e| Reason::Spawn(e.to_string()))?;
    let mut stream = socket
        .connect(peer)
        .await
        .map_err(|e| super::outcome::datagram_reason(&e))?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| super::outcome::datagram_reason(&e))?;
    let mut len = [0u8; 2];
    stream
        .read_exact(&mut len)
        .await
        .map_err(|e| Reason::Protocol(e.to_string()))?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream
        .read_exact(&mut reply)
        .await
        .map_err(|e| Reason::Protocol(e.to_string()))?;
    match judge(&reply, q, id, true) {
        Verdict::NotOurs => Ok(Verdict::Done(Outcome::Down(Reason::Reply(
            "another id over TCP".into(),
        )))),
        v => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::{RData, Record, rdata::A};

    fn check(require_answer: bool) -> DnsCheck {
        DnsCheck {
            query_name: "www.example.test".into(),
            query_type: DnsType::A,
            require_answer,
        }
    }

    fn reply(id: u16, rcode: ResponseCode, answers: usize, tc: bool, qname: &str) -> Vec<u8> {
        let mut m = Message::new(id, MessageType::Response, OpCode::Query);
        m.metadata.response_code = rcode;
        m.metadata.truncation = tc;
        let mut n = Name::from_ascii(qname).unwrap();
        n.set_fqdn(true);
        m.add_query(Query::query(n.clone(), RecordType::A));
        for i in 0..answers {
            m.answers.push(Record::from_rdata(
                n.clone(),
                60,
                RData::A(A::new(10, 0, 0, i as u8)),
            ));
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn replies_are_judged_by_id_question_rcode_and_answers() {
        let q = check(true);
        let ok = reply(7, ResponseCode::NoError, 1, false, "WWW.example.test");
        assert_eq!(judge(&ok, &q, 7, false), Verdict::Done(Outcome::Up));
        assert_eq!(judge(&ok, &q, 8, false), Verdict::NotOurs, "another id");
        assert_eq!(
            judge(&encode(&q, 7).unwrap(), &q, 7, false),
            Verdict::NotOurs,
            "a query"
        );
        let sf = reply(7, ResponseCode::ServFail, 0, false, "www.example.test");
        assert_eq!(
            judge(&sf, &q, 7, false),
            Verdict::Done(Outcome::Down(Reason::Rcode("SERVFAIL".into())))
        );
        let empty = reply(7, ResponseCode::NoError, 0, false, "www.example.test");
        assert!(matches!(
            judge(&empty, &q, 7, false),
            Verdict::Done(Outcome::Down(Reason::Reply(_)))
        ));
        assert_eq!(
            judge(&empty, &check(false), 7, false),
            Verdict::Done(Outcome::Up)
        );
        let other = reply(7, ResponseCode::NoError, 1, false, "mail.example.test");
        assert!(matches!(
            judge(&other, &q, 7, false),
            Verdict::Done(Outcome::Down(Reason::Reply(_)))
        ));
        let tc = reply(7, ResponseCode::NoError, 0, true, "www.example.test");
        assert_eq!(judge(&tc, &q, 7, false), Verdict::Truncated);
    }

    #[test]
    fn any_bytes_are_judged_without_panic() {
        // A cheap fuzz: mutations of a valid reply and random bytes behind a matching header.
        let q = check(true);
        let base = reply(7, ResponseCode::NoError, 2, false, "www.example.test");
        let mut rng = crate::health::Xorshift(0x2545_f491);
        let mut next = || rng.next();
        for _ in 0..20_000 {
            let mut b = base.clone();
            for _ in 0..(next() % 6) {
                let i = next() as usize % b.len();
                b[i] = next() as u8;
            }
            b.truncate(next() as usize % (base.len() + 1));
            let _ = judge(&b, &q, 7, next() % 2 == 0);
        }
    }
}
