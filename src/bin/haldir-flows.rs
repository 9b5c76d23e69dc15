//! haldir-flows: long-lived TCP flows through a VIP, to see what a failure does to them.
//!
//! ```text
//! haldir-flows serve PORT NAME
//!     A real server: answers every line with NAME (an HTTP GET with NAME as its body).
//! haldir-flows hold ADDR:PORT --flows N --first-port P [--every MS] [--seconds S]
//!                  [--timeout S] [--ready FILE]
//!     Holds N connections from source ports P..P+N, exchanges a line on each every MS ms
//!     for S seconds, then reports per flow: survived, reset, timed out or refused, its
//!     longest stall, and whether the answering real server changed. FILE is written once
//!     every flow has had its first answer.
//! haldir-flows probe ADDR:PORT --first-port P --count N
//!     One short connection from each source port P..P+N (closed with a reset, so that no
//!     TIME_WAIT keeps the tuple): "PORT NAME" per port, "PORT -" when none answered.
//! ```
//!
//! The flows are threads on blocking sockets: a few hundred of them is what the lab needs,
//! and a thread per flow keeps each flow's timing independent of the others.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

const USAGE: &str = "usage: haldir-flows serve PORT NAME
       haldir-flows hold ADDR:PORT --flows N --first-port P [--every MS] [--seconds S] [--timeout S] [--ready FILE]
       haldir-flows probe ADDR:PORT --first-port P --count N";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("hold") => Hold::parse(&args[1..]).and_then(|h| h.run()),
        Some("probe") => probe(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("haldir-flows: {e}");
            ExitCode::from(2)
        }
    }
}

/// `--name VALUE` options after the positional arguments.
struct Options<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Options<'a> {
    fn parse(args: &'a [String]) -> Result<Self, String> {
        let mut pairs = Vec::new();
        let mut it = args.iter();
        while let Some(name) = it.next() {
            let value = it.next().ok_or(format!("{name} needs a value"))?;
            pairs.push((name.as_str(), value.as_str()));
        }
        Ok(Options { pairs })
    }

    fn text(&self, name: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn get<T: std::str::FromStr>(&self, name: &str, default: Option<T>) -> Result<T, String> {
        match self.pairs.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => v.parse().map_err(|_| format!("{name}: bad value {v:?}")),
            None => default.ok_or(format!("{name} is required\n{USAGE}")),
        }
    }
}

fn target(args: &[String]) -> Result<SocketAddr, String> {
    let a = args.first().ok_or(USAGE.to_string())?;
    a.parse().map_err(|_| format!("{a:?} is not ADDR:PORT"))
}

// ---- the real server's side ----

fn serve(args: &[String]) -> Result<(), String> {
    let (port, name) = match args {
        [p, n] => (p.parse::<u16>().map_err(|_| format!("bad port {p:?}"))?, n),
        _ => return Err(USAGE.to_string()),
    };
    // One dual-stack socket answers IPv4 and IPv6 (a VIP on lo of either family).
    let socket =
        Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP)).map_err(|e| e.to_string())?;
    socket.set_only_v6(false).map_err(|e| e.to_string())?;
    socket.set_reuse_address(true).map_err(|e| e.to_string())?;
    let any = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    socket
        .bind(&any.into())
        .map_err(|e| format!("bind {any}: {e}"))?;
    socket.listen(1024).map_err(|e| e.to_string())?;
    let listener: TcpListener = socket.into();
    let answer = Arc::new(format!("{name}\n"));
    for conn in listener.incoming().flatten() {
        let answer = Arc::clone(&answer);
        let _ = thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || answer_lines(conn, &answer));
    }
    Ok(())
}

fn answer_lines(conn: TcpStream, answer: &str) {
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut lines = BufReader::new(conn);
    let mut line = String::new();
    while matches!(lines.read_line(&mut line), Ok(n) if n > 0) {
        if line.starts_with("GET ") {
            let http = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = out.write_all(http.as_bytes());
            return;
        }
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
        line.clear();
    }
}

// ---- the client's side ----

/// How a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Survived,
    Reset,
    TimedOut,
    Refused,
}

impl End {
    fn as_str(self) -> &'static str {
        match self {
            End::Survived => "survived",
            End::Reset => "reset",
            End::TimedOut => "timed-out",
            End::Refused => "refused",
        }
    }
}

/// One flow's record.
struct Flow {
    port: u16,
    end: End,
    first: Option<String>,
    last: Option<String>,
    longest_stall: Duration,
}

struct Hold {
    to: SocketAddr,
    flows: u16,
    first_port: u16,
    every: Duration,
    run_for: Duration,
    timeout: Duration,
    ready: Option<String>,
}

impl Hold {
    fn parse(args: &[String]) -> Result<Self, String> {
        let to = target(args)?;
        let o = Options::parse(&args[1..])?;
        Ok(Hold {
            to,
            flows: o.get("--flows", None)?,
            first_port: o.get("--first-port", None)?,
            every: Duration::from_millis(o.get("--every", Some(300))?),
            run_for: Duration::from_secs(o.get("--seconds", Some(30))?),
            timeout: Duration::from_secs(o.get("--timeout", Some(15))?),
            ready: o.text("--ready").map(str::to_string),
        })
    }

    fn run(self) -> Result<(), String> {
        let started = Instant::now();
        let until = started + self.run_for;
        let (tx, rx) = mpsc::channel();
        // Every flow connects and has its first answer before the clock of the run starts.
        let connected = Arc::new(Barrier::new(usize::from(self.flows) + 1));
        for i in 0..self.flows {
            let port = self
                .first_port
                .checked_add(i)
                .ok_or("port range overflows")?;
            let (tx, connected) = (tx.clone(), Arc::clone(&connected));
            let (to, every, timeout) = (self.to, self.every, self.timeout);
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let flow = hold_one(to, port, every, timeout, until, &connected);
                    let _ = tx.send(flow);
                })
                .map_err(|e| e.to_string())?;
        }
        drop(tx);
        connected.wait();
        if let Some(file) = &self.ready {
            std::fs::write(file, format!("{}\n", self.flows)).map_err(|e| e.to_string())?;
        }
        let mut flows: Vec<Flow> = rx.iter().collect();
        flows.sort_by_key(|f| f.port);
        report(&flows);
        Ok(())
    }
}

/// Holds one flow until `until`; waits at `connected` once it has its first answer (or
/// could not get one), so that every flow is established before the run's action starts.
fn hold_one(
    to: SocketAddr,
    port: u16,
    every: Duration,
    timeout: Duration,
    until: Instant,
    connected: &Barrier,
) -> Flow {
    let mut flow = Flow {
        port,
        end: End::Refused,
        first: None,
        last: None,
        longest_stall: Duration::ZERO,
    };
    let conn = connect_from(to, port, timeout).and_then(|s| {
        s.set_read_timeout(Some(timeout))?;
        Ok(s)
    });
    let Ok(conn) = conn else {
        connected.wait();
        return flow;
    };
    let mut lines = match conn.try_clone() {
        Ok(c) => BufReader::new(c),
        Err(_) => {
            connected.wait();
            return flow;
        }
    };
    let mut out = conn;
    let mut waited = false;
    let mut answered = Instant::now();
    loop {
        let outcome = exchange(&mut out, &mut lines);
        let now = Instant::now();
        match outcome {
            Ok(name) => {
                flow.longest_stall = flow.longest_stall.max(now - answered);
                answered = now;
                flow.first.get_or_insert_with(|| name.clone());
                flow.last = Some(name);
                flow.end = End::Survived;
            }
            Err(end) => {
                flow.end = if flow.first.is_some() {
                    end
                } else {
                    End::Refused
                };
                break;
            }
        }
        if !waited {
            waited = true;
            flow.longest_stall = Duration::ZERO;
            connected.wait();
            answered = Instant::now();
        }
        if Instant::now() >= until {
            break;
        }
        thread::sleep(every);
    }
    if !waited {
        connected.wait();
    }
    flow
}

/// One line out, one line back: the answering real server's name.
fn exchange(out: &mut TcpStream, lines: &mut BufReader<TcpStream>) -> Result<String, End> {
    let failed = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => End::TimedOut,
        _ => End::Reset,
    };
    out.write_all(b"?\n").map_err(failed)?;
    let mut line = String::new();
    match lines.read_line(&mut line) {
        Ok(0) => Err(End::Reset),
        Ok(_) => Ok(line.trim_end().to_string()),
        Err(e) => Err(failed(e)),
    }
}

fn connect_from(to: SocketAddr, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    let local: SocketAddr = match to {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, port).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, port).into(),
    };
    socket.bind(&local.into())?;
    socket.connect_timeout(&to.into(), timeout)?;
    Ok(socket.into())
}

fn report(flows: &[Flow]) {
    let mut servers: std::collections::BTreeMap<&str, usize> = Default::default();
    for f in flows {
        let first = f.first.as_deref().unwrap_or("-");
        let last = f.last.as_deref().unwrap_or("-");
        let changed = if first != last { " changed" } else { "" };
        println!(
            "flow {} {} server {first}{} stall_ms {}{changed}",
            f.port,
            f.end.as_str(),
            if first != last {
                format!("->{last}")
            } else {
                String::new()
            },
            f.longest_stall.as_millis()
        );
        *servers.entry(first).or_default() += 1;
    }
    let count = |e: End| flows.iter().filter(|f| f.end == e).count();
    let changed = flows.iter().filter(|f| f.first != f.last).count();
    let stall = flows
        .iter()
        .map(|f| f.longest_stall)
        .max()
        .unwrap_or_default();
    let spread: Vec<String> = servers.iter().map(|(s, n)| format!("{s}={n}")).collect();
    println!(
        "flows {} survived {} reset {} timed_out {} refused {} changed {} longest_stall_ms {} servers {}",
        flows.len(),
        count(End::Survived),
        count(End::Reset),
        count(End::TimedOut),
        count(End::Refused),
        changed,
        stall.as_millis(),
        spread.join(",")
    );
}

// ---- fixed probe tuples ----

fn probe(args: &[String]) -> Result<(), String> {
    let to = target(args)?;
    let o = Options::parse(&args[1..])?;
    let first: u16 = o.get("--first-port", None)?;
    let count: u16 = o.get("--count", None)?;
    let timeout = Duration::from_secs(3);
    for i in 0..count {
        let port = first.checked_add(i).ok_or("port range overflows")?;
        let name = probe_one(to, port, timeout).unwrap_or_else(|| "-".to_string());
        println!("{port} {name}");
    }
    Ok(())
}

fn probe_one(to: SocketAddr, port: u16, timeout: Duration) -> Option<String> {
    let conn = connect_from(to, port, timeout).ok()?;
    conn.set_read_timeout(Some(timeout)).ok()?;
    let mut lines = BufReader::new(conn.try_clone().ok()?);
    let mut out = conn;
    let name = exchange(&mut out, &mut lines).ok();
    // A reset, not a FIN: the same tuple can be probed again at once.
    let _ = Socket::from(out).set_linger(Some(Duration::ZERO));
    name
}
