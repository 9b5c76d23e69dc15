//! BIRD's view of the announcements, for `haldir status`: over BIRD's control socket (the
//! one `birdc` talks to), the BGP sessions that are up and the prefixes BIRD exports to
//! each (`show route export NAME`). Nothing depends on it: without BIRD, or with its socket
//! elsewhere, the "exported" column is empty and everything else goes on.
//!
//! The protocol is lines of text: a four-digit code, then '-' when more lines of the same
//! reply follow or ' ' on its last line; a line that starts with a space continues the
//! previous code. Code 0000 ends a reply, 8xxx and 9xxx are errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// For each prefix BIRD exports, the BGP sessions (up) it exports it to.
pub(crate) type Exports = BTreeMap<IpNet, BTreeSet<String>>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BirdError {
    #[error("BIRD's socket {path}: {source}")]
    Socket {
        path: String,
        source: std::io::Error,
    },
    #[error("BIRD did not answer within {0:?}")]
    Timeout(Duration),
    #[error("BIRD answered {0}")]
    Refused(String),
}

/// One reply: its lines' text, or the error BIRD gave.
fn reply_done(line: &str) -> Option<Result<(), String>> {
    let code = line.get(..4)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) || line.as_bytes().get(4) != Some(&b' ') {
        return None;
    }
    match code.as_bytes()[0] {
        b'8' | b'9' => Some(Err(line.to_string())),
        _ => Some(Ok(())),
    }
}

/// The text of a reply line, without its code (or the one space of a continuation).
fn text(line: &str) -> &str {
    match line.get(..5) {
        Some(head) if head[..4].bytes().all(|b| b.is_ascii_digit()) => &line[5..],
        _ => line.strip_prefix(' ').unwrap_or(line),
    }
}

/// The BGP sessions that are up, from `show protocols`: "NAME BGP TABLE STATE SINCE INFO".
pub(crate) fn bgp_up(reply: &[String]) -> Vec<String> {
    reply
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = text(l).split_whitespace().collect();
            match f.as_slice() {
                [name, "BGP", _, "up", ..] => Some(name.to_string()),
                _ => None,
            }
        })
        .collect()
}

/// The prefixes of a `show route` reply: each route's first word, where it is one.
pub(crate) fn prefixes(reply: &[String]) -> Vec<IpNet> {
    // A route's line starts with its prefix; its next hops, and the other routes to the same
    // prefix, are indented.
    reply
        .iter()
        .map(|l| text(l))
        .filter(|t| !t.starts_with(char::is_whitespace))
        .filter_map(|t| t.split_whitespace().next()?.parse().ok())
        .collect()
}

struct Session {
    lines: BufReader<UnixStream>,
}

impl Session {
    async fn open(path: &Path) -> Result<Self, BirdError> {
        let socket_error = |source| BirdError::Socket {
            path: path.display().to_string(),
            source,
        };
        let stream = UnixStream::connect(path).await.map_err(socket_error)?;
        let mut s = Session {
            lines: BufReader::new(stream),
        };
        s.reply().await?; // the greeting: "0001 BIRD 2.0.12 ready."
        Ok(s)
    }

    async fn reply(&mut self) -> Result<Vec<String>, BirdError> {
        let mut out = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .lines
                .read_line(&mut line)
                .await
                .map_err(|source| BirdError::Socket {
                    path: "(connected)".into(),
                    source,
                })?;
            if n == 0 {
                return Err(BirdError::Refused("nothing: it closed the socket".into()));
            }
            let line = line.trim_end_matches('\n').to_string();
            match reply_done(&line) {
                Some(Ok(())) => {
                    out.push(line);
                    return Ok(out);
                }
                Some(Err(e)) => return Err(BirdError::Refused(e)),
                None => out.push(line),
            }
        }
    }

    async fn ask(&mut self, command: &str) -> Result<Vec<String>, BirdError> {
        let stream = self.lines.get_mut();
        stream
            .write_all(format!("{command}\n").as_bytes())
            .await
            .map_err(|source| BirdError::Socket {
                path: "(connected)".into(),
                source,
            })?;
        self.reply().await
    }
}

/// What BIRD at `path` exports over its BGP sessions that are up, asked within `limit`.
pub(crate) async fn exports(path: &Path, limit: Duration) -> Result<Exports, BirdError> {
    let ask = async {
        let mut s = Session::open(path).await?;
        let sessions = bgp_up(&s.ask("show protocols").await?);
        let mut out = Exports::new();
        for name in sessions {
            for p in prefixes(&s.ask(&format!("show route export {name}")).await?) {
                out.entry(p).or_default().insert(name.clone());
            }
        }
        Ok(out)
    };
    tokio::time::timeout(limit, ask)
        .await
        .map_err(|_| BirdError::Timeout(limit))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    /// As BIRD 2.0.12 (Debian 12) answers on its socket: lines captured on a director whose
    /// kernel protocol learns table 200 and whose BGP session `uplink` is established, with a
    /// session that is down, an IPv6 route and a second route to one prefix added.
    #[test]
    fn the_sessions_up_and_the_prefixes_exported() {
        let protocols = lines(
            "2002-Name       Proto      Table      State  Since         Info\n\
             1002-device1    Device     ---        up     04:00:33.270  \n \
             kernel1    Kernel     master4    up     04:00:33.270  \n \
             uplink     BGP        ---        up     04:00:37.397  Established   \n \
             spare      BGP        ---        down   04:00:27.129  Error: Invalid next hop\n\
             0000 ",
        );
        assert_eq!(bgp_up(&protocols), ["uplink"]);
        let routes = lines(
            "1007-Table master4:\n \
             192.0.2.10/32        unicast [kernel1 04:00:33.278] * (10)\n \
             \tdev lo\n \
             2001:db8::10/128     unicast [kernel1 04:00:33.278] * (10)\n \
             \x20                    unicast [kernel2 04:00:33.278] (10)\n\
             0000 ",
        );
        assert_eq!(
            prefixes(&routes),
            [
                "192.0.2.10/32".parse::<IpNet>().unwrap(),
                "2001:db8::10/128".parse().unwrap()
            ]
        );
    }

    #[test]
    fn errors_end_a_reply() {
        assert_eq!(
            reply_done("8001 Protocol not found"),
            Some(Err("8001 Protocol not found".into()))
        );
        assert_eq!(reply_done("0000 "), Some(Ok(())));
        assert_eq!(reply_done("1007-192.0.2.10/32 unicast"), None);
        assert_eq!(reply_done(" 192.0.2.10/32 unicast"), None);
    }
}
