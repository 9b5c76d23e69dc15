//! The smtp probe (keepalived's SMTP_CHECK): connect, a 220 greeting, `HELO helo_name`
//! answered by 250, then `QUIT` — on the target and on each of the check's extra `hosts`,
//! all of which must pass. Replies may span several lines (`250-…`), as RFC 5321 allows.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::outcome::{Outcome, Reason};
use super::target::Target;
use crate::config::model::SmtpCheck;

/// The longest reply line read (RFC 5321 allows 512 bytes).
const LINE_LIMIT: usize = 1024;

pub(super) async fn probe(target: &Target, s: &SmtpCheck) -> Outcome {
    let helo = s.helo_name.clone().unwrap_or_else(host_name);
    let first = (target.addr, target.port, target.check.source);
    let extra = s.hosts.iter().map(|h| {
        (
            h.address,
            h.port.unwrap_or(target.port),
            h.source.or(target.check.source),
        )
    });
    for (addr, port, source) in std::iter::once(first).chain(extra) {
        let peer = SocketAddr::new(addr, port);
        if let Err(r) = converse(peer, source, &helo, target.check.timeout).await {
            return Outcome::Down(r);
        }
    }
    Outcome::Up
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(n) if rc == 0 && !n.is_empty() => n.to_string(),
        _ => "localhost".into(),
    }
}

async fn converse(
    peer: SocketAddr,
    source: Option<IpAddr>,
    helo: &str,
    timeout: std::time::Duration,
) -> Result<(), Reason> {
    let exchange = async {
        let socket =
            super::target::tcp_socket(peer, source).map_err(|e| Reason::Spawn(e.to_string()))?;
        let stream = socket
            .connect(peer)
            .await
            .map_err(|e| super::outcome::connect_reason(&e))?;
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        expect(&mut r, 220, "greeting").await?;
        w.write_all(format!("HELO {helo}\r\n").as_bytes())
            .await
            .map_err(|e| Reason::Protocol(e.to_string()))?;
        expect(&mut r, 250, "HELO").await?;
        w.write_all(b"QUIT\r\n")
            .await
            .map_err(|e| Reason::Protocol(e.to_string()))?;
        // Any answer to QUIT will do, as for keepalived; a server that closes is fine too.
        let _ = read_reply(&mut r).await;
        Ok(())
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(Reason::Timeout))
}

async fn expect<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    code: u16,
    after: &str,
) -> Result<(), Reason> {
    match read_reply(r).await? {
        c if c == code => Ok(()),
        c => Err(Reason::Reply(format!("{c} to {after}, expected {code}"))),
    }
}

/// Reads one reply, all its lines, and returns its code.
async fn read_reply<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<u16, Reason> {
    loop {
        let mut line = Vec::new();
        let n = (&mut *r)
            .take(LINE_LIMIT as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| Reason::Protocol(e.to_string()))?;
        if n == 0 {
            return Err(Reason::Protocol("closed before a reply".into()));
        }
        match parse_line(&line) {
            Some((code, true)) => return Ok(code),
            Some((_, false)) => continue,
            None => {
                return Err(Reason::Reply(format!(
                    "not an SMTP reply: {:?}",
                    String::from_utf8_lossy(&line).trim_end()
                )));
            }
        }
    }
}

/// One reply line: its code, and whether it is the last line (`250 ` or `250`, not `250-`).
pub(crate) fn parse_line(line: &[u8]) -> Option<(u16, bool)> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    match line.get(3) {
        Some(b'-') => Some((code, false)),
        Some(b' ' | b'\r' | b'\n') | None => Some((code, true)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_line;

    #[test]
    fn reply_lines_give_their_code_and_whether_more_follow() {
        assert_eq!(parse_line(b"220 mx ESMTP\r\n"), Some((220, true)));
        assert_eq!(parse_line(b"250-mx greets you\r\n"), Some((250, false)));
        assert_eq!(parse_line(b"250\r\n"), Some((250, true)));
        assert_eq!(parse_line(b"25"), None);
        assert_eq!(parse_line(b"abc def"), None);
        assert_eq!(parse_line(b"2500 x"), None);
    }
}
