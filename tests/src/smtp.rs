//! A real SMTP server on a loopback socket, speaking enough of RFC 5321
//! (EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) for
//! lettre to deliver to it, keeping every message it accepts. It can also
//! refuse every message (a failing relay) or never answer (a hung one).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// How the server treats a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// Accepts and keeps every message.
    Accept,
    /// Answers `451` to every `MAIL FROM`.
    Fail,
    /// Accepts the connection and never says a word, holding it open until
    /// the client gives up.
    Hang,
}

/// One message as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The raw message (headers, blank line, body), dot-unstuffed.
    pub data: String,
}

impl Received {
    /// A header's value (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut lines = head.split("\r\n").peekable();
        while let Some(line) = lines.next() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.eq_ignore_ascii_case(name) {
                let mut value = value.trim().to_owned();
                while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                }
                return Some(value);
            }
        }
        None
    }

    /// The body, with quoted-printable soft breaks and `=3D` decoded.
    pub fn body(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        body.replace("=\r\n", "").replace("=3D", "=")
    }

    /// The one-time token of the link in the body, if any.
    pub fn token(&self) -> Option<String> {
        let body = self.body();
        let start = body.find("?token=")? + "?token=".len();
        Some(
            body[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect(),
        )
    }

    /// The link in the body, if any.
    pub fn link(&self) -> Option<String> {
        let body = self.body();
        let start = body.find("http")?;
        Some(
            body[start..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect(),
        )
    }
}

/// The running server; it stops when dropped.
#[derive(Debug)]
pub struct SmtpServer {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
    /// Connections open now, and a wake-up when one opens or closes.
    open: Arc<(AtomicUsize, Notify)>,
    task: tokio::task::JoinHandle<()>,
}

/// Counts a connection as open for as long as it lives.
struct Open(Arc<(AtomicUsize, Notify)>);

impl Open {
    fn new(open: &Arc<(AtomicUsize, Notify)>) -> Self {
        open.0.fetch_add(1, Ordering::SeqCst);
        open.1.notify_waiters();
        Self(open.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
        self.0.1.notify_waiters();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    pub async fn start(mode: SmtpMode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let addr = listener.local_addr().expect("smtp addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let open = Arc::new((AtomicUsize::new(0), Notify::new()));
        let (store, notify, count) = (received.clone(), arrived.clone(), open.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (store, notify) = (store.clone(), notify.clone());
                let held = Open::new(&count);
                tokio::spawn(async move {
                    let _ = session(socket, mode, store, notify).await;
                    drop(held);
                });
            }
        });
        Self {
            addr,
            received,
            arrived,
            open,
            task,
        }
    }

    /// The URL crudauth's `SmtpSender` delivers to.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until `count` messages have arrived; all of them.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.arrived.notified();
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "expected {count} mail(s), received {}: {messages:#?}",
                    messages.len()
                );
            }
        }
    }

    /// Connections a client holds open now.
    pub fn open_connections(&self) -> usize {
        self.open.0.load(Ordering::SeqCst)
    }

    /// Waits (up to 10 s) until a client holds a connection open.
    pub async fn wait_for_connection(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.open.1.notified();
            if self.open_connections() > 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("no client connected");
            }
        }
    }

    /// The messages to `to`, after waiting for the `count`-th overall.
    pub async fn to(&self, count: usize, to: &str) -> Vec<Received> {
        self.wait_for(count)
            .await
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect()
    }
}

fn angle(arg: &str) -> String {
    let arg = arg.trim();
    let start = arg.find('<').map_or(0, |i| i + 1);
    let end = arg.rfind('>').unwrap_or(arg.len());
    arg[start..end.max(start)].to_owned()
}

async fn session(
    socket: tokio::net::TcpStream,
    mode: SmtpMode,
    store: Arc<Mutex<Vec<Received>>>,
    notify: Arc<Notify>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    if mode == SmtpMode::Hang {
        // Not a word, until the client closes its end.
        let mut read = read;
        let mut sink = [0u8; 512];
        while tokio::io::AsyncReadExt::read(&mut read, &mut sink).await? > 0 {}
        return Ok(());
    }
    let mut lines = BufReader::new(read);
    write.write_all(b"220 crudauth-test ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-crudauth-test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 ok\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            if mode == SmtpMode::Fail {
                b"451 try again later\r\n"
            } else {
                from = angle(&command[10..]);
                to.clear();
                b"250 ok\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            to.push(angle(&command[8..]));
            b"250 ok\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            store.lock().unwrap().push(Received {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            notify.notify_waiters();
            b"250 queued\r\n"
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            b"250 ok\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}
