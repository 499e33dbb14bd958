//! The async client (feature `async`): the [`Emitter`]'s background thread
//! with futures for what waits. It needs no runtime: the futures are woken
//! by the emitter's thread, so they work under tokio, async-std, smol or a
//! hand-written executor alike.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::emitter::{Emitter, Stats};
use crate::error::Error;
use crate::events::Event;
use crate::options::Options;
use crate::protocol::Receipt;
use crate::slot::Slot;

/// An async client: [`AsyncClient::emit`] never waits (as
/// [`Emitter::emit`]); [`AsyncClient::emit_durable`] and
/// [`AsyncClient::flush`] return futures that complete when the sealer
/// replies. Everything else (buffering, drops and their reports, critical
/// events flushed at once, reconnection) is the [`Emitter`]'s.
pub struct AsyncClient {
    emitter: Arc<Emitter>,
}

/// A future that completes with the sealer's answer. Dropping it does not
/// cancel the request.
pub struct Completion<T> {
    slot: Result<Arc<Slot<T>>, Option<Error>>,
}

impl<T> Future for Completion<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &mut this.slot {
            Ok(s) => match s.poll(cx.waker()) {
                Some(v) => Poll::Ready(v),
                None => Poll::Pending,
            },
            Err(e) => Poll::Ready(Err(e.take().unwrap_or(Error::Closed))),
        }
    }
}

impl AsyncClient {
    /// Starts a client for the sealer at `path` (see [`Emitter::new`]).
    pub fn new(path: impl AsRef<Path>, opts: Options) -> AsyncClient {
        AsyncClient { emitter: Arc::new(Emitter::new(path, opts)) }
    }

    /// Queues `event` and returns at once (see [`Emitter::emit`]).
    pub fn emit(&self, event: &Event) -> Result<(), Error> {
        self.emitter.emit(event)
    }

    /// Sends `event` durably; the future completes with its receipt.
    pub fn emit_durable(&self, event: &Event) -> Completion<Receipt> {
        Completion { slot: self.emitter.start_durable(event).map_err(Some) }
    }

    /// Flushes; the future completes with the checkpoint size (see
    /// [`Emitter::flush`]).
    pub fn flush(&self) -> Completion<u64> {
        Completion { slot: self.emitter.start_flush().map_err(Some) }
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.emitter.stats()
    }

    /// Closes the client (see [`Emitter::close`]) on a helper thread; the
    /// future completes when it is done.
    pub fn close(&self, timeout: Duration) -> Completion<()> {
        let slot = Arc::new(Slot::new());
        let s = Arc::clone(&slot);
        let e = Arc::clone(&self.emitter);
        match std::thread::Builder::new().name("audit-sealer-close".into()).spawn(move || s.set(e.close(timeout))) {
            Ok(_) => Completion { slot: Ok(slot) },
            Err(e) => Completion { slot: Err(Some(Error::Io(e))) },
        }
    }
}
