//! Alerts by mail, as keepalived sends them: one message per event to every recipient, over
//! plain SMTP. Each send is its own task with the connect timeout bounding every step, so a
//! slow or dead mail server never holds up the daemon; a failure is logged and counted, and
//! the alert is not retried (a retry queue would grow without bound while the server is down).

pub mod message;

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tracing::{info, warn};

use crate::config::model::Email;
pub use message::{Alert, VrrpState};

/// Told of every send's outcome: true when the server took the message.
pub type Outcome = Arc<dyn Fn(bool) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("bad address {address:?}: {source}")]
    Address {
        address: String,
        source: lettre::address::AddressError,
    },
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("no answer from the mail server within {0:?}")]
    Timeout(Duration),
}

#[derive(Clone)]
pub struct Mailer {
    config: Email,
    router_id: String,
    outcome: Outcome,
}

impl Mailer {
    pub fn new(config: Email, router_id: String, outcome: Outcome) -> Mailer {
        Mailer {
            config,
            router_id,
            outcome,
        }
    }

    pub fn router_id(&self) -> &str {
        &self.router_id
    }

    /// Sends in the background; returns at once.
    pub fn send(&self, alert: Alert) {
        let this = self.clone();
        tokio::spawn(async move {
            let subject = alert.subject.clone();
            let result = this.deliver(alert).await;
            (this.outcome)(result.is_ok());
            match result {
                Ok(()) => info!(%subject, "alert mailed"),
                Err(e) => warn!(%subject, error = %e, "cannot mail the alert"),
            }
        });
    }

    /// One attempt to hand the message to the server.
    pub async fn deliver(&self, alert: Alert) -> Result<(), SendError> {
        let message = compose(&self.config, &alert)?;
        let (host, port) = host_port(&self.config.smtp_server);
        let timeout = self.config.smtp_connect_timeout;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .hello_name(ClientId::Domain(self.config.smtp_helo_name.clone()))
            .timeout(Some(timeout))
            .build();
        // The transport's timeout bounds each read and write; this bounds the whole dialogue.
        match tokio::time::timeout(timeout * 4, transport.send(message)).await {
            Ok(r) => r.map(|_| ()).map_err(SendError::from),
            Err(_) => Err(SendError::Timeout(timeout * 4)),
        }
    }
}

/// The message as keepalived writes it: From, To (every recipient), Subject, X-Mailer, and
/// the body in plain text.
pub fn compose(config: &Email, alert: &Alert) -> Result<Message, SendError> {
    let mailbox = |a: &str| {
        a.parse::<lettre::Address>()
            .map(|addr| lettre::message::Mailbox::new(None, addr))
            .map_err(|source| SendError::Address {
                address: a.to_string(),
                source,
            })
    };
    let mut b = Message::builder()
        .from(mailbox(&config.from)?)
        .subject(alert.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .header(XMailer);
    for to in &config.to {
        b = b.to(mailbox(to)?);
    }
    Ok(b.body(format!("{}\r\n", alert.body))?)
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

/// `X-Mailer: haldir`, where keepalived writes `X-Mailer: Keepalived`.
#[derive(Clone)]
struct XMailer;

impl Header for XMailer {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Mailer")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(XMailer)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "haldir".to_string())
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
        let text = String::from_utf8(compose(&config(), &alert).unwrap().formatted()).unwrap();
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
