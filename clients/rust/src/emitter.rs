//! The emitter: a client whose `emit` never blocks on the sealer, for code
//! paths that must not wait (a GPU worker's VRAM operations). A background
//! thread owns the connection.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorCode};
use crate::event::MAX_EVENT_BYTES;
use crate::events::Event;
use crate::options::{backoff, Options};
use crate::protocol::{self, Receipt, Reply};
use crate::slot::Slot;

/// How many connections may break while a fire-and-forget event is the
/// oldest awaiting a reply before it is dropped (reason `connection_lost`),
/// so that an event the sealer cannot take does not block the rest.
const MAX_SEND_ATTEMPTS: u8 = 3;

/// How many items the writer takes per turn of its loop.
const MAX_BATCH: usize = 256;

/// The drop reasons reported with `report_dropped`.
const REASONS: [&str; 2] = ["buffer_full", "connection_lost"];
const BUFFER_FULL: usize = 0;
const CONNECTION_LOST: usize = 1;

/// A snapshot of an emitter's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events accepted by `emit` and `emit_durable` into the buffer.
    pub emitted: u64,
    /// Events dropped: buffer full, or given up after repeated connection
    /// losses, or lost at close.
    pub dropped: u64,
    /// Drops not yet acknowledged by the sealer's `report_dropped` reply.
    pub drops_unreported: u64,
    /// Drops the sealer acknowledged (recorded as `audit.client_dropped`).
    pub drops_reported: u64,
    /// Event lines written to the socket (a resend counts again).
    pub sent: u64,
    /// Events the sealer acknowledged (accepted or durable).
    pub acknowledged: u64,
    /// Fire-and-forget events the sealer refused (for example `shed` or
    /// `invalid_event`); the warning function is told why.
    pub rejected: u64,
    /// Connections made after the first.
    pub reconnects: u64,
    /// Events held now (buffered or awaiting a reply).
    pub buffered: usize,
    /// Their encoded bytes.
    pub buffered_bytes: usize,
    /// Whether a connection is open.
    pub connected: bool,
}

enum Kind {
    /// Fire and forget; critical events are followed by a flush.
    Emit { critical: bool },
    /// The caller waits for the receipt.
    Durable(Arc<Slot<Receipt>>),
    /// The caller waits for the checkpoint size.
    Flush(Arc<Slot<u64>>),
}

struct Item {
    kind: Kind,
    data: Arc<str>, // the event's JSON ("" for a flush)
    attempts: u8,
}

enum Inflight {
    Event(Item),
    Flush(Option<Item>), // None: the flush sent after a critical event
    Report { reason: usize, count: u64 },
}

/// A request line the writer is about to write.
enum Line {
    Emit { id: u64, durable: bool, data: Arc<str> },
    Flush { id: u64 },
    Report { id: u64, reason: usize, count: u64 },
}

/// A slot to fill once the state's lock is released.
type Resolve<T> = Option<(Arc<Slot<T>>, Result<T, Error>)>;

struct State {
    queue: VecDeque<Item>,
    inflight: VecDeque<(u64, Inflight)>,
    buffered: usize,
    buffered_bytes: usize,
    drops: [u64; 2],
    reporting: [bool; 2],
    report_failed: bool,
    /// Events accepted (not yet durable) on this connection since the last
    /// flush reply; a loss then makes the next flush report it.
    accepted_since_flush: u64,
    lost_unconfirmed: bool,
    /// An event was queued after the last flush request.
    unflushed: bool,
    broken: bool,
    got_reply: bool,
    stream: Option<UnixStream>,
    closing: bool,
    stop: bool,
    done: bool,
    lost_at_close: u64,
    stats: Stats,
}

struct Shared {
    path: PathBuf,
    opts: Options,
    state: Mutex<State>,
    /// Wakes the writer: work queued, a reply freed the connection, the
    /// connection broke, close.
    work: Condvar,
    /// Tells close that the background thread ended.
    finished: Condvar,
    warned: Mutex<Vec<(String, Instant)>>,
}

/// A client for code that must never wait on the sealer: [`Emitter::emit`]
/// puts the event in a bounded in-memory buffer and returns at once, and a
/// background thread sends buffered events in order on one pipelined
/// connection, reconnecting with backoff (50 ms doubling to 5 s, with
/// jitter) whenever the sealer goes away.
///
/// - When the buffer (events or bytes, [`Options::buffer_events`],
///   [`Options::buffer_bytes`]) is full, `emit` drops the event and returns
///   [`Error::Dropped`]. Drops are counted and reported to the sealer with
///   `report_dropped` (reason `buffer_full`) as soon as it can be reached;
///   it records them in the chain as `audit.client_dropped`.
/// - A critical event (EVENTS.md) is written at once, followed by a flush
///   request, so that it and everything before it is sealed without
///   waiting for the sealer's seal interval.
/// - An event stays buffered until the sealer acknowledged it; one whose
///   reply was lost with the connection is sent again (at least once
///   delivery, PROTOCOL.md "Delivery guarantees"), and dropped (reason
///   `connection_lost`) once 3 connections broke while it was the oldest
///   awaiting a reply.
/// - [`Emitter::flush`] and [`Emitter::emit_durable`] wait; call them off the
///   path that must not block. [`Emitter::close`] (or dropping the emitter)
///   flushes what is buffered and reports drops.
///
/// `emit` only takes a mutex that the background thread holds for
/// microseconds (to move events between queues, never across I/O), and
/// an audit failure never panics: everything is a returned error.
pub struct Emitter {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Emitter {
    /// Starts an emitter for the sealer at `path`. It does not wait for the
    /// sealer: the background thread connects, and until then events wait
    /// in the buffer.
    pub fn new(path: impl AsRef<Path>, opts: Options) -> Emitter {
        let shared = Arc::new(Shared {
            path: path.as_ref().to_path_buf(),
            opts,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                inflight: VecDeque::new(),
                buffered: 0,
                buffered_bytes: 0,
                drops: [0; 2],
                reporting: [false; 2],
                report_failed: false,
                accepted_since_flush: 0,
                lost_unconfirmed: false,
                unflushed: false,
                broken: false,
                got_reply: false,
                stream: None,
                closing: false,
                stop: false,
                done: false,
                lost_at_close: 0,
                stats: Stats::default(),
            }),
            work: Condvar::new(),
            finished: Condvar::new(),
            warned: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("audit-sealer-emitter".into())
            .spawn(move || {
                s.run();
                let mut st = lock(&s.state);
                st.done = true;
                s.finished.notify_all();
            })
            .expect("audit-sealer-client: cannot start the emitter thread");
        Emitter { shared, thread: Mutex::new(Some(thread)) }
    }

    fn encode(event: &Event) -> Result<Arc<str>, Error> {
        let mut data = String::with_capacity(512);
        event.write_json(&mut data);
        if data.len() > MAX_EVENT_BYTES {
            return Err(Error::InvalidInput(format!(
                "event of {} bytes exceeds {} bytes",
                data.len(),
                MAX_EVENT_BYTES
            )));
        }
        Ok(Arc::from(data))
    }

    /// Queues `event` and returns at once; it never waits for the sealer or
    /// the network. Errors: [`Error::Dropped`] when the buffer is full (the
    /// event is lost, counted and reported), [`Error::Closed`] after close,
    /// [`Error::InvalidInput`] for an event over 64 KiB. `Ok` is not a
    /// promise of durability: see [`Emitter::flush`]. A refusal by the
    /// sealer cannot be returned (the caller is gone): it is counted in
    /// [`Stats::rejected`] and passed to [`Options::warn`].
    pub fn emit(&self, event: &Event) -> Result<(), Error> {
        let data = Emitter::encode(event)?;
        let critical = event.is_critical();
        self.shared.enqueue(Item { kind: Kind::Emit { critical }, data, attempts: 0 }, true)
    }

    /// Sends `event` with `durable: true` and waits (at most `timeout`)
    /// for its receipt. It waits in the buffer, in order with earlier
    /// emits, while the sealer is away; it is never dropped for a full
    /// buffer, but counts against it. [`Error::TimedOut`] means the event
    /// may still be sent and recorded; [`Error::ConnectionLost`] that it
    /// was written and the connection broke (it is not sent again).
    pub fn emit_durable(&self, event: &Event, timeout: Duration) -> Result<Receipt, Error> {
        self.start_durable(event)?.wait(timeout)
    }

    pub(crate) fn start_durable(&self, event: &Event) -> Result<Arc<Slot<Receipt>>, Error> {
        let data = Emitter::encode(event)?;
        let slot = Arc::new(Slot::new());
        self.shared.enqueue(Item { kind: Kind::Durable(Arc::clone(&slot)), data, attempts: 0 }, false)?;
        Ok(slot)
    }

    /// Waits (at most `timeout`) until every event emitted before the call
    /// was written and the sealer answered a flush sent after them: they
    /// are durable and covered by a signed checkpoint, whose size it
    /// returns. Dropped or refused events are not waited for (see
    /// [`Emitter::stats`]). If a connection broke after the sealer had
    /// accepted events that no flush confirmed, it returns
    /// [`Error::ConnectionLost`] once its own flush is answered: those
    /// events may be lost if the sealer crashed.
    pub fn flush(&self, timeout: Duration) -> Result<u64, Error> {
        self.start_flush()?.wait(timeout)
    }

    pub(crate) fn start_flush(&self) -> Result<Arc<Slot<u64>>, Error> {
        let slot = Arc::new(Slot::new());
        self.shared.enqueue(Item { kind: Kind::Flush(Arc::clone(&slot)), data: Arc::from(""), attempts: 0 }, false)?;
        Ok(slot)
    }

    /// A snapshot of the counters; it never waits on the network.
    pub fn stats(&self) -> Stats {
        let st = lock(&self.shared.state);
        let mut s = st.stats.clone();
        s.drops_unreported = st.drops[0] + st.drops[1];
        s.buffered = st.buffered;
        s.buffered_bytes = st.buffered_bytes;
        s
    }

    /// Stops the emitter: from now on `emit` returns [`Error::Closed`]. It
    /// flushes what is buffered, reports drops, and closes the connection,
    /// waiting at most `timeout`. It does not wait for a sealer it cannot
    /// reach: if its connection attempt fails, what is buffered is lost.
    /// `Ok` only when everything emitted was flushed and every drop
    /// reported; otherwise [`Error::Incomplete`] says what was lost (or
    /// the flush's error).
    pub fn close(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let flush = {
            let mut st = lock(&self.shared.state);
            if st.closing {
                return Err(Error::Closed);
            }
            st.closing = true;
            let f = if st.unflushed || st.lost_unconfirmed {
                let slot = Arc::new(Slot::new());
                st.queue.push_back(Item { kind: Kind::Flush(Arc::clone(&slot)), data: Arc::from(""), attempts: 0 });
                st.unflushed = false;
                Some(slot)
            } else {
                None
            };
            self.shared.work.notify_all();
            f
        };
        let mut first_err = None;
        if let Some(f) = flush {
            if let Err(e) = f.wait(deadline.saturating_duration_since(Instant::now())) {
                if !matches!(e, Error::Closed | Error::TimedOut) {
                    first_err = Some(e);
                }
            }
        }
        {
            let mut st = lock(&self.shared.state);
            while !st.done {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    st.stop = true;
                    if let Some(s) = &st.stream {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                    self.shared.work.notify_all();
                    while !st.done {
                        st = self.shared.finished.wait(st).unwrap_or_else(|e| e.into_inner());
                    }
                    break;
                }
                st = self.shared.finished.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
            }
        }
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
        let st = lock(&self.shared.state);
        let unreported = st.drops[0] + st.drops[1];
        if st.lost_at_close > 0 || unreported > 0 {
            return Err(Error::Incomplete { undelivered: st.lost_at_close, unreported_drops: unreported });
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Emitter {
    /// Closes the emitter (waiting at most 5 s) unless it was closed.
    fn drop(&mut self) {
        if !lock(&self.shared.state).closing {
            let _ = self.close(Duration::from_secs(5));
        }
    }
}

impl Shared {
    fn enqueue(&self, it: Item, may_drop: bool) -> Result<(), Error> {
        let mut st = lock(&self.state);
        if st.closing {
            return Err(Error::Closed);
        }
        let is_event = !matches!(it.kind, Kind::Flush(_));
        if is_event {
            if may_drop
                && (st.buffered >= self.opts.buffer_events
                    || st.buffered_bytes + it.data.len() > self.opts.buffer_bytes)
            {
                st.drops[BUFFER_FULL] += 1;
                st.stats.dropped += 1;
                drop(st);
                self.work.notify_all();
                return Err(Error::Dropped);
            }
            st.buffered += 1;
            st.buffered_bytes += it.data.len();
            st.stats.emitted += 1;
            st.unflushed = true;
        } else {
            st.unflushed = false;
        }
        st.queue.push_back(it);
        drop(st);
        self.work.notify_all();
        Ok(())
    }

    fn warn(&self, key: &str, msg: String) {
        let f = match &self.opts.warn {
            Some(f) => f,
            None => return,
        };
        {
            let mut w = lock(&self.warned);
            let now = Instant::now();
            if let Some(e) = w.iter_mut().find(|(k, _)| k == key) {
                if now.duration_since(e.1) < Duration::from_secs(1) {
                    return;
                }
                e.1 = now;
            } else {
                w.push((key.to_string(), now));
            }
        }
        f(&format!("audit-sealer-client: {}", msg));
    }

    /// Whether the writer has something to do: items to write, a drop
    /// count to report, a broken connection or a stop to act on, or
    /// close's last check to make.
    fn writer_has_work(st: &State) -> bool {
        !st.queue.is_empty() || st.broken || st.stop || (st.closing && st.inflight.is_empty()) || Shared::report_due(st)
    }

    /// Whether a drop count is waiting to be reported on this connection.
    fn report_due(st: &State) -> bool {
        !st.report_failed && (0..2).any(|r| st.drops[r] > 0 && !st.reporting[r])
    }

    /// Whether close was called and nothing is left to do.
    fn idle_at_close(st: &State) -> bool {
        st.closing && st.queue.is_empty() && st.drops == [0, 0]
    }

    /// The background thread: connect, serve, reconnect with backoff.
    fn run(self: &Arc<Self>) {
        let mut attempt = 0u32;
        let mut connected_before = false;
        loop {
            {
                let st = lock(&self.state);
                if st.stop || Shared::idle_at_close(&st) {
                    break;
                }
            }
            let stream = match UnixStream::connect(&self.path) {
                Ok(s) => s,
                Err(e) => {
                    let closing = lock(&self.state).closing;
                    if closing {
                        break; // close does not wait for a sealer it cannot reach
                    }
                    let (n, d) = {
                        let st = lock(&self.state);
                        (st.buffered, st.stats.dropped)
                    };
                    self.warn(
                        "dial",
                        format!(
                            "cannot connect to the sealer at {} ({} events buffered, {} dropped): {}",
                            self.path.display(),
                            n,
                            d,
                            e
                        ),
                    );
                    if !self.sleep(backoff(self.opts.backoff_min, self.opts.backoff_max, attempt)) {
                        break;
                    }
                    attempt = attempt.saturating_add(1);
                    continue;
                }
            };
            let _ = stream.set_write_timeout(Some(self.opts.reply_timeout));
            let _ = stream.set_read_timeout(Some(self.opts.reply_timeout));
            let reader_stream = match stream.try_clone() {
                Ok(r) => r,
                Err(e) => {
                    self.warn("dial", format!("cannot use the connection: {}", e));
                    if !self.sleep(backoff(self.opts.backoff_min, self.opts.backoff_max, attempt)) {
                        break;
                    }
                    attempt = attempt.saturating_add(1);
                    continue;
                }
            };
            {
                let mut st = lock(&self.state);
                st.broken = false;
                st.got_reply = false;
                st.report_failed = false;
                st.accepted_since_flush = 0;
                st.stream = stream.try_clone().ok();
                st.stats.connected = true;
                if connected_before {
                    st.stats.reconnects += 1;
                }
            }
            connected_before = true;
            let started = Instant::now();
            let s = Arc::clone(self);
            let reader =
                thread::Builder::new().name("audit-sealer-reader".into()).spawn(move || s.read_loop(reader_stream));
            let done = match reader {
                Ok(_) => self.serve(&stream),
                Err(_) => false,
            };
            let _ = stream.shutdown(Shutdown::Both);
            if let Ok(r) = reader {
                let _ = r.join();
            }
            let (healthy, cause) = self.conn_lost(started);
            if done {
                break;
            }
            if lock(&self.state).stop {
                break;
            }
            if let Some(c) = cause {
                self.warn("conn", format!("connection to the sealer lost: {}", c));
            }
            if healthy {
                attempt = 0;
                if !self.wait_for_work() {
                    break;
                }
            } else {
                if !self.sleep(backoff(self.opts.backoff_min, self.opts.backoff_max, attempt)) {
                    break;
                }
                attempt = attempt.saturating_add(1);
            }
        }
        self.abandon();
    }

    /// Sleeps `d`; false to stop (stop requested). Close cuts the sleep
    /// short: one more attempt is made at once.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut st = lock(&self.state);
        loop {
            if st.stop {
                return false;
            }
            if st.closing {
                return !Shared::idle_at_close(&st);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            st = self.work.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Waits until there is something to send; false to stop.
    fn wait_for_work(&self) -> bool {
        let mut st = lock(&self.state);
        loop {
            if st.stop {
                return false;
            }
            if !st.queue.is_empty() || st.drops != [0, 0] {
                return true;
            }
            if st.closing {
                return false;
            }
            st = self.work.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Writes queued items until the connection breaks, stop, or (true)
    /// close's work is done.
    fn serve(&self, stream: &UnixStream) -> bool {
        let mut w = BufWriter::with_capacity(64 << 10, stream);
        let mut next_id = 0u64;
        let service = self.opts.service.as_deref();
        let mut line = String::with_capacity(1024);
        let mut batch: Vec<Line> = Vec::with_capacity(MAX_BATCH + 2);
        loop {
            batch.clear();
            let mut critical = false;
            {
                let mut st = lock(&self.state);
                if st.broken || st.stop {
                    return false;
                }
                // Drop reports go first; a count is cleared only once the
                // sealer acknowledged it.
                if !st.report_failed {
                    for r in 0..2 {
                        if st.drops[r] > 0 && !st.reporting[r] {
                            st.reporting[r] = true;
                            next_id += 1;
                            let count = st.drops[r];
                            st.inflight.push_back((next_id, Inflight::Report { reason: r, count }));
                            batch.push(Line::Report { id: next_id, reason: r, count });
                        }
                    }
                }
                while batch.len() < MAX_BATCH {
                    let it = match st.queue.pop_front() {
                        Some(it) => it,
                        None => break,
                    };
                    next_id += 1;
                    match it.kind {
                        Kind::Flush(_) => {
                            batch.push(Line::Flush { id: next_id });
                            st.inflight.push_back((next_id, Inflight::Flush(Some(it))));
                        }
                        Kind::Emit { critical: c } => {
                            batch.push(Line::Emit { id: next_id, durable: false, data: Arc::clone(&it.data) });
                            st.inflight.push_back((next_id, Inflight::Event(it)));
                            if c {
                                critical = true;
                                next_id += 1;
                                batch.push(Line::Flush { id: next_id });
                                st.inflight.push_back((next_id, Inflight::Flush(None)));
                            }
                        }
                        Kind::Durable(_) => {
                            batch.push(Line::Emit { id: next_id, durable: true, data: Arc::clone(&it.data) });
                            st.inflight.push_back((next_id, Inflight::Event(it)));
                        }
                    }
                }
                if batch.is_empty() {
                    let finished = st.closing && st.inflight.is_empty() && (st.report_failed || st.drops == [0, 0]);
                    drop(st);
                    if let Err(e) = w.flush() {
                        self.mark_broken(&e.to_string());
                        return false;
                    }
                    if finished {
                        return true;
                    }
                    let mut st = lock(&self.state);
                    while !Shared::writer_has_work(&st) {
                        st = self.work.wait(st).unwrap_or_else(|e| e.into_inner());
                    }
                    continue;
                }
            }
            let mut events = 0u64;
            let mut res = Ok(());
            for l in &batch {
                line.clear();
                match l {
                    Line::Emit { id, durable, data } => {
                        protocol::emit_line(&mut line, *id, service, *durable, data);
                        events += 1;
                    }
                    Line::Flush { id } => protocol::op_line(&mut line, "flush", *id),
                    Line::Report { id, reason, count } => {
                        protocol::report_dropped_line(&mut line, *id, service, *count, REASONS[*reason])
                    }
                }
                res = w.write_all(line.as_bytes());
                if res.is_err() {
                    break;
                }
            }
            if res.is_ok() && critical {
                // The worker's rule: a critical event goes out at once.
                res = w.flush();
            }
            lock(&self.state).stats.sent += events;
            if let Err(e) = res {
                self.mark_broken(&e.to_string());
                return false;
            }
        }
    }

    fn mark_broken(&self, cause: &str) {
        let mut st = lock(&self.state);
        if !st.broken {
            st.broken = true;
            st.stats.connected = false;
            if let Some(s) = &st.stream {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        drop(st);
        self.work.notify_all();
        let _ = cause;
    }

    /// Reads replies and matches them, in order, to what is in flight.
    fn read_loop(&self, stream: UnixStream) {
        let mut r = BufReader::with_capacity(64 << 10, stream);
        let mut line = String::with_capacity(256);
        let cause = loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) => break "the sealer closed the connection".to_string(),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    let st = lock(&self.state);
                    if st.inflight.is_empty() && !st.broken && !st.stop {
                        continue; // idle, not late
                    }
                    break "no reply in time".to_string();
                }
                Err(e) => break e.to_string(),
            }
            if line.trim().is_empty() {
                continue;
            }
            let reply = match Reply::parse(line.trim_end_matches('\n')) {
                Ok(r) => r,
                Err(e) => break e.to_string(),
            };
            if let Err(e) = self.handle_reply(reply) {
                break e;
            }
        };
        let mut st = lock(&self.state);
        st.broken = true;
        st.stats.connected = false;
        drop(st);
        self.work.notify_all();
        let _ = cause;
    }

    fn handle_reply(&self, reply: Reply) -> Result<(), String> {
        let mut warn: Option<(&str, String)> = None;
        let mut resolve_receipt: Resolve<Receipt> = None;
        let mut resolve_flush: Resolve<u64> = None;
        let wake;
        {
            let mut st = lock(&self.state);
            let (id, inf) = match st.inflight.pop_front() {
                Some(x) => x,
                None => return Err("a reply from the sealer without a request".into()),
            };
            if let Some(rid) = &reply.id {
                if *rid != id.to_string() {
                    st.inflight.push_front((id, inf));
                    return Err(format!("reply id {:?} does not match request {}", rid, id));
                }
            }
            st.got_reply = true;
            let not_sealed = matches!(&reply.error, Some(e) if e.code == ErrorCode::NotSealed);
            let is_report = matches!(inf, Inflight::Report { .. });
            match inf {
                Inflight::Event(it) => {
                    st.buffered -= 1;
                    st.buffered_bytes -= it.data.len();
                    if reply.ok || not_sealed {
                        st.stats.acknowledged += 1;
                    }
                    match it.kind {
                        Kind::Emit { .. } => {
                            if reply.ok && reply.json.get("seq").is_none() {
                                st.accepted_since_flush += 1;
                            }
                            if let Some(e) = &reply.error {
                                if !not_sealed {
                                    st.stats.rejected += 1;
                                    warn = Some(("reject", format!("the sealer refused an event: {}", e)));
                                }
                            }
                        }
                        Kind::Durable(slot) => resolve_receipt = Some((slot, reply.receipt())),
                        Kind::Flush(_) => {}
                    }
                }
                Inflight::Flush(f) => {
                    if reply.ok || not_sealed {
                        st.accepted_since_flush = 0;
                    }
                    match f {
                        None => {
                            if let Some(e) = &reply.error {
                                warn = Some(("flush", format!("flush after a critical event failed: {}", e)));
                            }
                        }
                        Some(Item { kind: Kind::Flush(slot), .. }) => {
                            let mut res = reply.checkpoint_size();
                            if res.is_ok() && st.lost_unconfirmed {
                                st.lost_unconfirmed = false;
                                res = Err(Error::ConnectionLost(
                                    "events the sealer had accepted on an earlier connection may not be durable".into(),
                                ));
                            }
                            resolve_flush = Some((slot, res));
                        }
                        Some(_) => {}
                    }
                }
                Inflight::Report { reason, count } => {
                    st.reporting[reason] = false;
                    if reply.ok {
                        st.drops[reason] -= count;
                        st.stats.drops_reported += count;
                    } else {
                        st.report_failed = true;
                        warn = Some((
                            "report",
                            format!(
                                "cannot report {} dropped events ({}): {}",
                                count,
                                REASONS[reason],
                                reply.check().unwrap_err()
                            ),
                        ));
                    }
                }
            }
            wake = st.inflight.is_empty() || is_report;
        }
        if let Some((s, r)) = resolve_receipt {
            s.set(r);
        }
        if let Some((s, r)) = resolve_flush {
            s.set(r);
        }
        if let Some((k, m)) = warn {
            self.warn(k, m);
        }
        if wake {
            self.work.notify_all();
        }
        Ok(())
    }

    /// Settles what was in flight on a closed connection: events are queued
    /// again in front (dropped after MAX_SEND_ATTEMPTS), durable emits fail
    /// with ConnectionLost, flushes are sent again. Returns whether the
    /// connection was healthy (a reply came, or it lasted a second) and
    /// why it ended.
    fn conn_lost(&self, started: Instant) -> (bool, Option<String>) {
        let mut failed = Vec::new();
        let healthy;
        let had_inflight;
        {
            let mut st = lock(&self.state);
            st.stream = None;
            st.stats.connected = false;
            healthy = st.got_reply || started.elapsed() >= Duration::from_secs(1);
            had_inflight = !st.inflight.is_empty();
            let mut requeue = Vec::new();
            let mut oldest = true;
            while let Some((_, inf)) = st.inflight.pop_front() {
                match inf {
                    Inflight::Event(mut it) => match it.kind {
                        Kind::Durable(ref slot) => {
                            st.buffered -= 1;
                            st.buffered_bytes -= it.data.len();
                            failed.push(Arc::clone(slot));
                        }
                        _ => {
                            if oldest {
                                it.attempts += 1;
                            }
                            if it.attempts >= MAX_SEND_ATTEMPTS {
                                st.buffered -= 1;
                                st.buffered_bytes -= it.data.len();
                                st.drops[CONNECTION_LOST] += 1;
                                st.stats.dropped += 1;
                            } else {
                                requeue.push(it);
                            }
                        }
                    },
                    Inflight::Flush(Some(it)) => requeue.push(it),
                    Inflight::Flush(None) => {}
                    Inflight::Report { reason, .. } => st.reporting[reason] = false,
                }
                oldest = false;
            }
            if st.accepted_since_flush > 0 {
                st.lost_unconfirmed = true;
                st.accepted_since_flush = 0;
            }
            for it in requeue.into_iter().rev() {
                st.queue.push_front(it);
            }
        }
        for s in failed {
            s.set(Err(Error::ConnectionLost("the connection broke before the reply".into())));
        }
        (healthy, if had_inflight { Some("with requests awaiting replies".into()) } else { None })
    }

    /// Settles everything still queued when the thread stops.
    fn abandon(&self) {
        let mut slots_r = Vec::new();
        let mut slots_f = Vec::new();
        {
            let mut st = lock(&self.state);
            st.stats.connected = false;
            while let Some(it) = st.queue.pop_front() {
                match it.kind {
                    Kind::Emit { .. } => {
                        st.buffered -= 1;
                        st.buffered_bytes -= it.data.len();
                        st.stats.dropped += 1;
                        st.lost_at_close += 1;
                    }
                    Kind::Durable(s) => {
                        st.buffered -= 1;
                        st.buffered_bytes -= it.data.len();
                        st.lost_at_close += 1;
                        slots_r.push(s);
                    }
                    Kind::Flush(s) => slots_f.push(s),
                }
            }
        }
        for s in slots_r {
            s.set(Err(Error::Closed));
        }
        for s in slots_f {
            s.set(Err(Error::Closed));
        }
    }
}
