//! Mail through an SMTP relay (lettre): `smtp://user:pass@host:port` requires STARTTLS,
//! `smtps://…` uses implicit TLS, and `smtp://host:port?tls=none` (loopback relays only) sends
//! in the clear. Messages are plain text.

use anyhow::{Context, bail};
use hearth_core::auth::{Mail, Mailer};
use hearth_domain::Timestamp;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{Message, SmtpTransport, Transport};

pub struct SmtpMailer {
    transport: SmtpTransport,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let from: Mailbox = from
            .parse()
            .with_context(|| format!("HEARTH_MAIL_FROM {from:?} is not an address"))?;
        let parsed = url::Url::parse(url).context("HEARTH_SMTP_URL is not a URL")?;
        let clear = parsed.query_pairs().any(|(k, v)| k == "tls" && v == "none");
        let transport = if clear {
            let host = parsed.host_str().unwrap_or_default();
            if !matches!(host, "127.0.0.1" | "localhost" | "::1" | "[::1]") {
                bail!("tls=none is allowed only for a relay on this machine");
            }
            SmtpTransport::builder_dangerous(host)
                .port(parsed.port().unwrap_or(25))
                .build()
        } else {
            SmtpTransport::from_url(url)
                .context("HEARTH_SMTP_URL is not a usable SMTP URL")?
                .build()
        };
        Ok(SmtpMailer { transport, from })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: &Mail, _at: Timestamp) -> Result<(), String> {
        let to: Mailbox = mail.to.parse().map_err(|e| format!("bad recipient: {e}"))?;
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| format!("cannot build the message: {e}"))?;
        self.transport
            .send(&msg)
            .map_err(|e| format!("the SMTP relay refused: {e}"))?;
        tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent through the relay");
        Ok(())
    }
}
