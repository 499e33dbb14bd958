//! The blocking client: one connection, requests written on the caller's
//! thread, replies read in order.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Instant;

use crate::error::Error;
use crate::event::MAX_EVENT_BYTES;
use crate::events::Event;
use crate::json::Json;
use crate::options::{backoff, Options};
use crate::protocol::{self, Hello, Receipt, Reply, MAX_LINE};

/// A blocking client on one connection to the sealer.
///
/// Each simple call (`emit_durable`, `flush`, …) writes one request and
/// waits for its reply. For throughput, requests can be pipelined: the
/// `send_*` methods only buffer a request line and return its id, and
/// [`Client::receive`] returns the replies in the order of the requests
/// (PROTOCOL.md: replies come in order). [`Client::emit_durable_batch`]
/// does both with a bounded window.
///
/// When the connection breaks, every request awaiting a reply gets
/// [`Error::ConnectionLost`] from `receive` (it may or may not have been
/// recorded; nothing is sent again), and the next request reconnects,
/// with backoff, for up to [`Options::reconnect_timeout`].
///
/// A `Client` is for one thread at a time (`&mut self`); for an emitter
/// that many threads share and that never blocks, see
/// [`Emitter`](crate::Emitter).
pub struct Client {
    path: PathBuf,
    opts: Options,
    conn: Option<Conn>,
    next_id: u64,
    pending: VecDeque<Pending>,
    line: String,
}

struct Conn {
    w: BufWriter<UnixStream>,
    r: BufReader<UnixStream>,
}

impl Conn {
    /// Whether the sealer still holds the connection, checked without
    /// waiting when no reply is due: a read that would block means open, an
    /// end of stream (or a stray byte) means the connection is over.
    fn alive(&mut self) -> bool {
        if !self.r.buffer().is_empty() {
            return false; // a line that answers no request
        }
        let s = self.r.get_mut();
        if s.set_nonblocking(true).is_err() {
            return false;
        }
        let mut b = [0u8; 1];
        let res = s.read(&mut b);
        let restored = s.set_nonblocking(false).is_ok();
        restored && matches!(res, Err(ref e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

struct Pending {
    id: u64,
    /// The connection it was written on broke: its reply will not come.
    lost: Option<String>,
}

impl Client {
    /// Connects to the sealer at `path` with the default options.
    pub fn connect(path: impl AsRef<Path>) -> Result<Client, Error> {
        Client::with_options(path, Options::default())
    }

    /// Connects to the sealer at `path`. It tries once: a sealer that is
    /// down or a socket that refuses this user is reported at once
    /// ([`Error::Connect`]); later calls reconnect with backoff.
    pub fn with_options(path: impl AsRef<Path>, opts: Options) -> Result<Client, Error> {
        let mut c = Client {
            path: path.as_ref().to_path_buf(),
            opts,
            conn: None,
            next_id: 0,
            pending: VecDeque::new(),
            line: String::with_capacity(1024),
        };
        c.conn = Some(c.dial()?);
        Ok(c)
    }

    fn dial(&self) -> Result<Conn, Error> {
        let connect_err = |source| Error::Connect { path: self.path.display().to_string(), source };
        let s = UnixStream::connect(&self.path).map_err(connect_err)?;
        s.set_read_timeout(Some(self.opts.reply_timeout)).map_err(Error::Io)?;
        s.set_write_timeout(Some(self.opts.reply_timeout)).map_err(Error::Io)?;
        let r = s.try_clone().map_err(Error::Io)?;
        Ok(Conn { w: BufWriter::with_capacity(64 << 10, s), r: BufReader::with_capacity(64 << 10, r) })
    }

    /// Makes sure there is a connection, reconnecting with backoff while
    /// the sealer is down (not when the socket refuses this user).
    fn ensure_conn(&mut self) -> Result<&mut Conn, Error> {
        if self.pending.is_empty() && !self.conn.as_mut().map_or(false, Conn::alive) {
            // A connection the sealer closed (it restarted, or closed an
            // idle connection) is replaced before a request is written
            // into it, rather than failing that request.
            self.conn = None;
        }
        if self.conn.is_none() {
            let deadline = Instant::now() + self.opts.reconnect_timeout;
            let mut attempt = 0;
            loop {
                match self.dial() {
                    Ok(c) => {
                        self.conn = Some(c);
                        break;
                    }
                    Err(e) => {
                        let transient = matches!(&e, Error::Connect { source, .. }
                            if matches!(source.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused));
                        let wait = backoff(self.opts.backoff_min, self.opts.backoff_max, attempt);
                        if !transient || Instant::now() + wait > deadline {
                            return Err(e);
                        }
                        thread::sleep(wait);
                        attempt += 1;
                    }
                }
            }
        }
        Ok(self.conn.as_mut().expect("connected"))
    }

    /// Drops the connection: every request awaiting a reply is lost.
    fn break_conn(&mut self, cause: &str) {
        self.conn = None;
        for p in self.pending.iter_mut() {
            if p.lost.is_none() {
                p.lost = Some(cause.to_string());
            }
        }
    }

    /// Buffers one request line built by `build` (given the request id).
    fn send_line(&mut self, build: impl FnOnce(&mut String, u64)) -> Result<u64, Error> {
        self.next_id += 1;
        let id = self.next_id;
        self.line.clear();
        build(&mut self.line, id);
        if self.line.len() > MAX_LINE {
            return Err(Error::InvalidInput(format!(
                "request line of {} bytes exceeds {} bytes",
                self.line.len(),
                MAX_LINE
            )));
        }
        let line = std::mem::take(&mut self.line);
        let res = self.ensure_conn().and_then(|c| c.w.write_all(line.as_bytes()).map_err(Error::Io));
        self.line = line;
        match res {
            Ok(()) => {
                self.pending.push_back(Pending { id, lost: None });
                Ok(id)
            }
            Err(Error::Io(e)) => {
                // Part of the line may be in the buffer: the connection
                // cannot be used any more.
                self.break_conn(&e.to_string());
                Err(Error::Io(e))
            }
            Err(e) => Err(e),
        }
    }

    /// Buffers an emit request for `event` (durable or not) without waiting,
    /// and returns its request id. Its reply comes from [`Client::receive`].
    pub fn send_emit(&mut self, event: &Event, durable: bool) -> Result<u64, Error> {
        let mut ev = String::with_capacity(512);
        event.write_json(&mut ev);
        if ev.len() > MAX_EVENT_BYTES {
            return Err(Error::InvalidInput(format!("event of {} bytes exceeds {} bytes", ev.len(), MAX_EVENT_BYTES)));
        }
        let service = self.opts.service.clone();
        self.send_line(|out, id| protocol::emit_line(out, id, service.as_deref(), durable, &ev))
    }

    /// Buffers a flush request and returns its id.
    pub fn send_flush(&mut self) -> Result<u64, Error> {
        self.send_line(|out, id| protocol::op_line(out, "flush", id))
    }

    /// Buffers a request for an op without arguments (`hello`, `ping`,
    /// `status`, `flush`) and returns its id.
    pub fn send_op(&mut self, op: &str) -> Result<u64, Error> {
        if !matches!(op, "hello" | "ping" | "status" | "flush") {
            return Err(Error::InvalidInput(format!("op {:?} takes arguments or is unknown", op)));
        }
        self.send_line(|out, id| protocol::op_line(out, op, id))
    }

    /// The number of requests sent whose reply has not been received.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Writes out buffered requests and returns the reply to the oldest
    /// request awaiting one (an error reply is an `Ok(Reply)` whose
    /// `error` is set). [`Error::ConnectionLost`] means the connection
    /// broke before that reply came.
    pub fn receive(&mut self) -> Result<Reply, Error> {
        let front = match self.pending.front() {
            Some(p) => p,
            None => return Err(Error::InvalidInput("receive: no request awaiting a reply".into())),
        };
        if let Some(cause) = &front.lost {
            let cause = cause.clone();
            self.pending.pop_front();
            return Err(Error::ConnectionLost(cause));
        }
        let id = front.id;
        match self.read_reply() {
            Ok(r) => {
                if let Some(rid) = &r.id {
                    if *rid != id.to_string() {
                        let msg = format!("reply id {:?} does not match request {}", rid, id);
                        self.break_conn(&msg);
                        self.pending.pop_front();
                        return Err(Error::Protocol(msg));
                    }
                }
                self.pending.pop_front();
                Ok(r)
            }
            Err(e) => {
                let cause = e.to_string();
                self.break_conn(&cause);
                self.pending.pop_front();
                match e {
                    Error::Protocol(_) => Err(e),
                    Error::Io(io) if matches!(io.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                        Err(Error::TimedOut)
                    }
                    _ => Err(Error::ConnectionLost(cause)),
                }
            }
        }
    }

    fn read_reply(&mut self) -> Result<Reply, Error> {
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => return Err(Error::ConnectionLost("not connected".into())),
        };
        // Requests are written out only when a reply must be waited for:
        // while replies are already buffered, new requests accumulate and
        // go out together (fewer, larger writes for both sides).
        loop {
            if !conn.r.buffer().contains(&b'\n') {
                conn.w.flush().map_err(Error::Io)?;
            }
            self.line.clear();
            let n = conn.r.read_line(&mut self.line).map_err(Error::Io)?;
            if n == 0 {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the sealer closed the connection",
                )));
            }
            if self.line.trim().is_empty() {
                continue;
            }
            return Reply::parse(self.line.trim_end_matches('\n'));
        }
    }

    /// Sends one request and waits for its reply. Replies to earlier
    /// pipelined requests must have been received first.
    fn call(&mut self, send: impl FnOnce(&mut Client) -> Result<u64, Error>) -> Result<Reply, Error> {
        if !self.pending.is_empty() {
            return Err(Error::InvalidInput(format!("{} pipelined replies not received yet", self.pending.len())));
        }
        send(self)?;
        self.receive()
    }

    /// Asks the sealer what it accepts (`hello`).
    pub fn hello(&mut self) -> Result<Hello, Error> {
        self.call(|c| c.send_op("hello"))?.hello()
    }

    /// Pings the sealer; returns its time.
    pub fn ping(&mut self) -> Result<String, Error> {
        let r = self.call(|c| c.send_op("ping"))?;
        r.check()?;
        Ok(r.json.get("time").and_then(Json::as_str).unwrap_or("").to_string())
    }

    /// The sealer's status object.
    pub fn status(&mut self) -> Result<Json, Error> {
        let r = self.call(|c| c.send_op("status"))?;
        r.check()?;
        r.json.get("status").cloned().ok_or_else(|| Error::Protocol("status reply without status".into()))
    }

    /// Emits `event` and waits until the sealer accepted it into its queue
    /// (not yet durable: see [`Client::emit_durable`]).
    pub fn emit(&mut self, event: &Event) -> Result<(), Error> {
        self.call(|c| c.send_emit(event, false))?.accepted()
    }

    /// Emits `event` durably: returns once the record is written and
    /// fsynced (and, for a critical event, sealed), with its sequence
    /// number and `audit_id`.
    pub fn emit_durable(&mut self, event: &Event) -> Result<Receipt, Error> {
        self.call(|c| c.send_emit(event, true))?.receipt()
    }

    /// Emits `events` durably, pipelined on this connection with at most
    /// [`Options::window`] requests in flight, and returns one result per
    /// event, in order.
    pub fn emit_durable_batch(&mut self, events: &[Event]) -> Vec<Result<Receipt, Error>> {
        let window = self.opts.window.max(1);
        let mut out = Vec::with_capacity(events.len());
        let mut sent: VecDeque<Result<(), Error>> = VecDeque::new();
        let mut next = 0;
        while out.len() < events.len() {
            while next < events.len() && self.pending.len() < window {
                sent.push_back(self.send_emit(&events[next], true).map(|_| ()));
                next += 1;
            }
            match sent.pop_front() {
                Some(Ok(())) => out.push(self.receive().and_then(|r| r.receipt())),
                Some(Err(e)) => out.push(Err(e)),
                None => break,
            }
        }
        out
    }

    /// Waits until everything sent on this connection is durable and
    /// covered by a signed checkpoint; returns the checkpoint's size.
    pub fn flush(&mut self) -> Result<u64, Error> {
        self.call(|c| c.send_flush())?.checkpoint_size()
    }

    /// Reports `count` events this process dropped before they reached the
    /// sealer (`reason`, for example `buffer_full`); the sealer records an
    /// `audit.client_dropped` event and returns its receipt.
    pub fn report_dropped(&mut self, count: u64, reason: &str) -> Result<Receipt, Error> {
        let service = self.opts.service.clone();
        let reason = reason.to_string();
        self.call(|c| {
            c.send_line(|out, id| protocol::report_dropped_line(out, id, service.as_deref(), count, &reason))
        })?
        .receipt()
    }
}
