//! Outgoing email. The services hand a [`Mail`] to a [`Mailer`]: an SMTP relay when one is
//! configured (the binary provides it), otherwise [`OutboxMailer`], which writes each message as
//! an RFC 5322 `.eml` file in the data directory's outbox so a self-hoster can still complete
//! sign-up. Logs name the recipient and subject, never the body (links in it are secrets).

use std::io::Write;
use std::path::PathBuf;

use hearth_domain::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// Plain text.
    pub body: String,
}

pub trait Mailer: Send + Sync {
    /// Sends or stores the message; the error says why (for logs, not for people).
    fn send(&self, mail: &Mail, at: Timestamp) -> Result<(), String>;
}

/// Writes messages to files in a directory.
pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
}

impl OutboxMailer {
    pub fn new(dir: PathBuf, from: String) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(OutboxMailer { dir, from })
    }
}

/// The message as RFC 5322 text (headers, blank line, body with CRLF line ends).
pub fn render_rfc5322(mail: &Mail, from: &str, at: Timestamp) -> String {
    let date = at
        .to_datetime()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let mut s = String::new();
    s.push_str(&format!("From: {from}\r\n"));
    s.push_str(&format!("To: {}\r\n", mail.to));
    s.push_str(&format!("Subject: {}\r\n", mail.subject));
    s.push_str(&format!("Date: {date}\r\n"));
    s.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    for line in mail.body.lines() {
        s.push_str(line);
        s.push_str("\r\n");
    }
    s
}

impl Mailer for OutboxMailer {
    fn send(&self, mail: &Mail, at: Timestamp) -> Result<(), String> {
        let name = format!("{}-{}.eml", at.0, &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let path = self.dir.join(name);
        let tmp = path.with_extension("tmp");
        let text = render_rfc5322(mail, &self.from, at);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| format!("could not write {}: {e}", path.display()))?;
        tracing::info!(to = %mail.to, subject = %mail.subject, file = %path.display(), "mail written to the outbox");
        Ok(())
    }
}

/// For services that never send mail (the importer, command-line tools): sending is an error.
pub struct NoMailer;

impl Mailer for NoMailer {
    fn send(&self, _mail: &Mail, _at: Timestamp) -> Result<(), String> {
        Err("no mailer is configured for this process".into())
    }
}
