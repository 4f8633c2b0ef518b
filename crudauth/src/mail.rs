//! Outgoing mail: the [`EmailSender`] trait, its two built-ins
//! ([`LogSender`], [`SmtpSender`]), and the queue that sends off the
//! request path, so that mail latency or an SMTP failure never changes a
//! response or its timing.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use crate::error::ConfigError;

/// What a mail is for; recipients' mail filters and the log tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EmailKind {
    /// A link that verifies the address (`/verify-email`).
    VerifyEmail,
    /// A link that sets a new password (`/reset-password`).
    ResetPassword,
    /// A link, sent to the new address, that confirms an email change
    /// (`/confirm-email`).
    ChangeEmail,
    /// A notice to the old address that the account's email changed.
    EmailChanged,
    /// A notice that someone tried to register an address that already has
    /// an account.
    ExistingAccount,
}

impl EmailKind {
    /// The kind's name: `verify_email`, `reset_password`, `change_email`,
    /// `email_changed`, `existing_account`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::ChangeEmail => "change_email",
            Self::EmailChanged => "email_changed",
            Self::ExistingAccount => "existing_account",
        }
    }
}

impl fmt::Display for EmailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One mail crudauth sends. Only `to` comes from a client (and is checked
/// to be a single plain address); the subject and bodies are crudauth's
/// own text, so no client input can reach a header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Email {
    /// The recipient address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML body, if any.
    pub html: Option<String>,
    /// What the mail is for.
    pub kind: EmailKind,
    /// The one-time link the mail carries, if any.
    pub link: Option<String>,
    /// How long the link stays valid.
    pub expires_in: Option<Duration>,
}

impl Email {
    /// A mail carrying a one-time link.
    pub(crate) fn with_link(to: String, kind: EmailKind, link: String, ttl: Duration) -> Self {
        let hours = ttl.as_secs().div_ceil(3600);
        let (subject, what) = match kind {
            EmailKind::VerifyEmail => ("Verify your email address", "verify your email address"),
            EmailKind::ResetPassword => ("Reset your password", "choose a new password"),
            _ => (
                "Confirm your new email address",
                "confirm your new email address",
            ),
        };
        let text = format!(
            "Open this link to {what}:\n\n{link}\n\nIt works once and expires in {hours} \
             hour(s). If you did not ask for it, ignore this mail.\n"
        );
        Self {
            to,
            subject: subject.to_owned(),
            text,
            html: None,
            kind,
            link: Some(link),
            expires_in: Some(ttl),
        }
    }

    /// A notice without a link.
    pub(crate) fn notice(to: String, kind: EmailKind) -> Self {
        let (subject, text) = match kind {
            EmailKind::EmailChanged => (
                "Your email address was changed",
                "The email address of your account was changed to another address. If you did \
                 not do this, reset your password and contact support.\n",
            ),
            _ => (
                "You already have an account",
                "Someone (hopefully you) tried to register with this address, which already \
                 has an account. Sign in, or reset your password if you forgot it.\n",
            ),
        };
        Self {
            to,
            subject: subject.to_owned(),
            text: text.to_owned(),
            html: None,
            kind,
            link: None,
            expires_in: None,
        }
    }
}

/// Why a mail could not be sent (retried, then logged).
pub type MailError = Box<dyn std::error::Error + Send + Sync>;

/// The future an [`EmailSender`] returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

/// Delivers crudauth's mail. crudauth calls it from a background task,
/// never on a request, retrying a failed send a few times.
///
/// # Examples
///
/// ```
/// use crudauth::{Email, EmailSender, SendFuture};
///
/// /// Hands every mail to the application's own queue.
/// struct Outbox(tokio::sync::mpsc::UnboundedSender<Email>);
///
/// impl EmailSender for Outbox {
///     fn send(&self, email: Email) -> SendFuture<'_> {
///         Box::pin(async move { Ok(self.0.send(email)?) })
///     }
/// }
/// ```
pub trait EmailSender: Send + Sync + 'static {
    /// Sends one mail.
    fn send(&self, email: Email) -> SendFuture<'_>;
}

/// The embedded default: one log line per mail (at `INFO`, link included),
/// so that a development server works without a mail server. The link is a
/// live credential: never use it where the log is read by others.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSender;

impl EmailSender for LogSender {
    fn send(&self, email: Email) -> SendFuture<'_> {
        tracing::info!(
            kind = %email.kind,
            to = %crate::audit::escaped(&masked(&email.to)),
            link = %crate::audit::escaped(email.link.as_deref().unwrap_or("")),
            "crudauth: mail \"{}\"",
            crate::audit::escaped(&email.subject)
        );
        Box::pin(async { Ok(()) })
    }
}

/// An address as the log shows it: the first character of the local part
/// and the domain (`a***@example.com`), enough to tell mails apart without
/// writing a mailbox into the log.
fn masked(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// Delivers over SMTP with [lettre](https://docs.rs/lettre), reusing
/// connections from a pool.
///
/// URL schemes: `smtp://host[:port]` tries STARTTLS when the server offers
/// it and otherwise sends in plain text (`?tls=required` insists on it);
/// `smtps://host[:port]` speaks TLS from the start. Credentials are the
/// URL's user and password (percent-encoded).
#[derive(Clone)]
pub struct SmtpSender {
    builder: lettre::transport::smtp::AsyncSmtpTransportBuilder,
    /// Built at the first send: lettre's connection pool starts a task,
    /// which needs the runtime that sends, while a sender may be made
    /// before any runtime exists.
    transport: Arc<OnceLock<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>>,
    from: lettre::message::Mailbox,
}

impl fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSender")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// A sender for `url`, with `from` as the sender (`name <address>` or an
    /// address).
    ///
    /// # Examples
    ///
    /// ```
    /// let sender = crudauth::SmtpSender::new("smtp://127.0.0.1:2525", "app <no-reply@example.com>")?;
    /// # Ok::<(), crudauth::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming `smtp_url` or `mail_from` when one
    /// cannot be used.
    pub fn new(url: &str, from: &str) -> Result<Self, ConfigError> {
        let bad_url = |reason| ConfigError::Invalid {
            setting: "smtp_url",
            reason,
        };
        let mut url = url.trim().to_owned();
        if url.starts_with("smtp://") && !url.contains("tls=") {
            url.push_str(if url.contains('?') { "&" } else { "?" });
            url.push_str("tls=opportunistic");
        }
        let builder = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url)
            .map_err(|_| {
                bad_url(
                    "expected smtp://[user:pass@]host[:port] or smtps://[user:pass@]host[:port]",
                )
            })?;
        let builder = builder.timeout(Some(Duration::from_secs(20)));
        let from = from.trim().parse().map_err(|_| ConfigError::Invalid {
            setting: "mail_from",
            reason: "expected `name <address>` or an address",
        })?;
        Ok(Self {
            builder,
            transport: Arc::new(OnceLock::new()),
            from,
        })
    }
}

impl EmailSender for SmtpSender {
    fn send(&self, email: Email) -> SendFuture<'_> {
        Box::pin(async move {
            use lettre::AsyncTransport;
            use lettre::message::{MultiPart, SinglePart};
            let builder = lettre::Message::builder()
                .from(self.from.clone())
                .to(email.to.parse()?)
                .subject(email.subject);
            let message = match email.html {
                Some(html) => {
                    builder.multipart(MultiPart::alternative_plain_html(email.text, html))
                }
                None => builder.singlepart(SinglePart::plain(email.text)),
            }?;
            let transport = self.transport.get_or_init(|| self.builder.clone().build());
            transport.send(message).await?;
            Ok(())
        })
    }
}

/// How many sends run at once, how many tries each gets, how long one try
/// may take, and how many mails may wait.
const CONCURRENT: usize = 4;
const TRIES: u32 = 3;
const TRY_TIMEOUT: Duration = Duration::from_secs(30);
const QUEUE: usize = 1024;

/// The sender and its queue, drained by a background task started at the
/// first mail (always inside the runtime serving requests).
pub(crate) struct Mailer {
    sender: Arc<dyn EmailSender>,
    /// Whether the application chose a sender (`.email_sender(..)`), rather
    /// than running on the [`LogSender`] default.
    pub configured: bool,
    queue: OnceLock<mpsc::Sender<Email>>,
}

impl Mailer {
    pub(crate) fn new(sender: Option<Arc<dyn EmailSender>>) -> Self {
        Self {
            configured: sender.is_some(),
            sender: sender.unwrap_or_else(|| Arc::new(LogSender)),
            queue: OnceLock::new(),
        }
    }

    /// Queues `email`; never waits. A full queue drops it, with a log line.
    pub(crate) fn enqueue(&self, email: Email) {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(drain(self.sender.clone(), rx));
            tx
        });
        if let Err(err) = queue.try_send(email) {
            let email = match err {
                mpsc::error::TrySendError::Full(e) | mpsc::error::TrySendError::Closed(e) => e,
            };
            tracing::error!(kind = %email.kind, to = %crate::audit::escaped(&masked(&email.to)), "crudauth: mail queue full; mail dropped");
        }
    }
}

async fn drain(sender: Arc<dyn EmailSender>, mut rx: mpsc::Receiver<Email>) {
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    while let Some(email) = rx.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let sender = sender.clone();
        tokio::spawn(async move {
            deliver(&*sender, email).await;
            drop(slot);
        });
    }
}

async fn deliver(sender: &dyn EmailSender, email: Email) {
    let mut last = String::new();
    for attempt in 1..=TRIES {
        match tokio::time::timeout(TRY_TIMEOUT, sender.send(email.clone())).await {
            Ok(Ok(())) => return,
            Ok(Err(err)) => last = err.to_string(),
            Err(_) => last = format!("no answer within {}s", TRY_TIMEOUT.as_secs()),
        }
        if attempt < TRIES {
            tokio::time::sleep(Duration::from_millis(500) * 4u32.pow(attempt - 1)).await;
        }
    }
    tracing::error!(
        kind = %email.kind,
        to = %crate::audit::escaped(&masked(&email.to)),
        error = %crate::audit::escaped(&last),
        "crudauth: mail not sent after {TRIES} tries"
    );
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn a_logged_address_keeps_its_first_letter_and_domain() {
        assert_eq!(masked("alice@example.com"), "a***@example.com");
        assert_eq!(masked("é@x.org"), "é***@x.org");
        assert_eq!(masked("no-at-sign"), "***");
    }
}
