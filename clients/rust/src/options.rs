//! Options shared by [`Client`](crate::Client) and
//! [`Emitter`](crate::Emitter), and the reconnection backoff.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the sealer listens unless configured otherwise.
pub const DEFAULT_SOCKET_PATH: &str = "/run/audit-sealer/audit.sock";

/// A function that receives the emitter's warnings (connection lost, an
/// event refused, a drop report that failed). Called from the emitter's
/// background threads, never from `emit`, at most once a second per kind.
pub type WarnFn = Arc<dyn Fn(&str) + Send + Sync>;

/// How a client connects and how much an emitter may hold. The default is
/// what most services want.
#[derive(Clone)]
pub struct Options {
    /// The service identity to request for each event (`service` on the
    /// wire); `None` lets the sealer use the peer's first allowed identity.
    pub service: Option<String>,
    /// Emitter: at most this many events are held (buffered or awaiting a
    /// reply); past it `emit` drops. Default 10,000.
    pub buffer_events: usize,
    /// Emitter: at most this many bytes of encoded events are held.
    /// Default 16 MiB.
    pub buffer_bytes: usize,
    /// How long to wait for a reply (and for a write to the socket) before
    /// taking the connection for broken. Default 30 s.
    pub reply_timeout: Duration,
    /// Client: how long a call may spend reconnecting (with backoff) to a
    /// sealer that is down before it fails with [`Error::Connect`](crate::Error::Connect).
    /// Default 10 s.
    pub reconnect_timeout: Duration,
    /// The first reconnection delay; it doubles (with jitter) up to
    /// `backoff_max`. Default 50 ms.
    pub backoff_min: Duration,
    /// The longest reconnection delay. Default 5 s.
    pub backoff_max: Duration,
    /// Client: how many requests `emit_durable_batch` keeps in flight on
    /// the connection. Default 256.
    pub window: usize,
    /// Emitter: where warnings go (default: nowhere).
    pub warn: Option<WarnFn>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            service: None,
            buffer_events: 10_000,
            buffer_bytes: 16 << 20,
            reply_timeout: Duration::from_secs(30),
            reconnect_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            window: 256,
            warn: None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("service", &self.service)
            .field("buffer_events", &self.buffer_events)
            .field("buffer_bytes", &self.buffer_bytes)
            .field("reply_timeout", &self.reply_timeout)
            .field("reconnect_timeout", &self.reconnect_timeout)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("window", &self.window)
            .field("warn", &self.warn.is_some())
            .finish()
    }
}

/// The delay before reconnection attempt `n` (from 0): `min` doubling up
/// to `max`, jittered to [d/2, d].
pub(crate) fn backoff(min: Duration, max: Duration, n: u32) -> Duration {
    let d = if n >= 31 { max } else { min.saturating_mul(1 << n).min(max) };
    let half = d / 2;
    let nanos = half.as_nanos() as u64;
    let jitter = if nanos == 0 { 0 } else { random() % (nanos + 1) };
    half + Duration::from_nanos(jitter)
}

/// A little randomness for the jitter, without a dependency.
fn random() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
            x = t ^ (u64::from(std::process::id()) << 32) | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_max_with_jitter() {
        let (min, max) = (Duration::from_millis(50), Duration::from_secs(5));
        for n in 0..40 {
            let full = if n >= 31 { max } else { (min * 2u32.saturating_pow(n.min(20))).min(max) };
            let d = backoff(min, max, n);
            assert!(d >= full / 2 && d <= full, "attempt {}: {:?} not in [{:?}, {:?}]", n, d, full / 2, full);
        }
    }
}
