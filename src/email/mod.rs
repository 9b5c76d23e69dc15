//! Alerts by mail, as keepalived sends them: one message per event to every recipient, over
//! plain SMTP. Each send is its own task with the connect timeout bounding every step, so a
//! slow or dead mail server never holds up the daemon; a failure is logged and counted, and
//! the alert is not retried (a retry queue would grow without bound while the server is down).
//!
//! The envelope and headers are written as keepalived writes them (core/smtp.c): the
//! addresses go out as configured, so a bare local name ("root") reaches the mail server,
//! which completes it with its own domain as it does for keepalived.

pub(crate) mod message;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::Data;
use lettre::transport::smtp::extension::ClientId;
use tracing::{info, warn};

use crate::config::model::Email;
pub(crate) use message::{Alert, VrrpState};

/// Told of every send's outcome: true when the server took the message.
pub(crate) type Outcome = Arc<dyn Fn(bool) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("no answer from the mail server within {0:?}")]
    Timeout(Duration),
}

#[derive(Clone)]
pub(crate) struct Mailer {
    config: Email,
    router_id: String,
    outcome: Outcome,
}

impl Mailer {
    pub(crate) fn new(config: Email, router_id: String, outcome: Outcome) -> Mailer {
        Mailer {
            config,
            router_id,
            outcome,
        }
    }

    pub(crate) fn router_id(&self) -> &str {
        &self.router_id
    }

    /// Sends in the background; returns at once, with the task for whoever must wait for it
    /// (a stop's own alerts).
    pub(crate) fn send(&self, alert: Alert) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let subject = alert.subject.clone();
            let result = this.deliver(alert).await;
            (this.outcome)(result.is_ok());
            match result {
                Ok(()) => info!(%subject, "alert mailed"),
                Err(e) => warn!(%subject, error = %e, "cannot mail the alert"),
            }
        })
    }

    /// One attempt to hand the message to the server.
    pub(crate) async fn deliver(&self, alert: Alert) -> Result<(), SendError> {
        let timeout = self.config.smtp_connect_timeout;
        // The connection's timeout bounds each read and write; this bounds the whole dialogue.
        match tokio::time::timeout(timeout * 4, self.dialogue(&alert)).await {
            Ok(r) => r,
            Err(_) => Err(SendError::Timeout(timeout * 4)),
        }
    }

    /// HELO/EHLO, MAIL FROM, one RCPT TO per recipient, DATA, QUIT.
    async fn dialogue(&self, alert: &Alert) -> Result<(), SendError> {
        let c = &self.config;
        let (host, port) = host_port(&c.smtp_server);
        let hello = ClientId::Domain(c.smtp_helo_name.clone());
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (host.as_str(), port),
            Some(c.smtp_connect_timeout),
            &hello,
            None,
            None,
        )
        .await?;
        conn.command(Line(format!("MAIL FROM:<{}>", c.from)))
            .await?;
        for to in &c.to {
            conn.command(Line(format!("RCPT TO:<{to}>"))).await?;
        }
        conn.command(Data).await?;
        conn.message(compose(c, alert, SystemTime::now()).as_bytes())
            .await?;
        // The message is taken: a failed QUIT changes nothing.
        let _ = conn.quit().await;
        Ok(())
    }
}

/// One SMTP command line; the address checks are the configuration's.
struct Line(String);

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\r\n", self.0)
    }
}

/// The message as keepalived writes it: Date, From, Subject, X-Mailer, To (every
/// recipient), and the body in plain text. `X-Mailer: haldir` where keepalived writes
/// `X-Mailer: Keepalived`.
pub(crate) fn compose(config: &Email, alert: &Alert, now: SystemTime) -> String {
    // RFC 5322 takes "GMT" only as an obsolete zone: write the numeric one.
    let date = httpdate::fmt_http_date(now).replace(" GMT", " +0000");
    format!(
        "Date: {date}\r\nFrom: {}\r\nSubject: {}\r\nX-Mailer: haldir\r\nTo: {}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        config.from,
        one_line(&alert.subject),
        config.to.join(", "),
        alert.body.replace("\r\n", "\n").replace('\n', "\r\n"),
    )
}

/// A header value cannot break the header block.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// "host:port" or "[v6]:port" as the configuration keeps it.
fn host_port(server: &str) -> (String, u16) {
    match server.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse().unwrap_or(25),
        ),
        None => (server.to_string(), 25),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Email {
        Email {
            to: vec!["ops@example.com".into(), "oncall@example.com".into()],
            from: "haldir@lb1.example.com".into(),
            smtp_server: "[::1]:2525".into(),
            smtp_helo_name: "lb1".into(),
            smtp_connect_timeout: Duration::from_secs(3),
            vrrp: true,
            checker: true,
            quorum: false,
        }
    }

    #[test]
    fn message_headers_and_body() {
        let alert = message::instance("lb1", "VI_1", VrrpState::Master);
        let text = compose(&config(), &alert, SystemTime::UNIX_EPOCH);
        assert!(
            text.starts_with("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"),
            "{text}"
        );
        assert!(text.contains("From: haldir@lb1.example.com\r\n"), "{text}");
        assert!(
            text.contains("To: ops@example.com, oncall@example.com\r\n"),
            "{text}"
        );
        assert!(text.contains("Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state\r\n"));
        assert!(text.contains("X-Mailer: haldir\r\n"));
        assert!(text.ends_with("\r\n\r\n=> VRRP Instance is now owning VRRP VIPs <=\r\n"));
    }

    #[test]
    fn server_forms() {
        assert_eq!(host_port("[::1]:2525"), ("::1".to_string(), 2525));
        assert_eq!(
            host_port("mail.example.com:25"),
            ("mail.example.com".to_string(), 25)
        );
    }
}
