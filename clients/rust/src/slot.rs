//! A one-shot result that one thread sets and another waits for, blocking
//! or as a future.

use std::sync::{Condvar, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::error::Error;

pub(crate) struct Slot<T> {
    inner: Mutex<Inner<T>>,
    cv: Condvar,
}

struct Inner<T> {
    value: Option<Result<T, Error>>,
    waker: Option<Waker>,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Slot<T> {
        Slot { inner: Mutex::new(Inner { value: None, waker: None }), cv: Condvar::new() }
    }

    /// Sets the result (the first one wins) and wakes the waiter.
    pub(crate) fn set(&self, v: Result<T, Error>) {
        let waker = {
            let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if g.value.is_some() {
                return;
            }
            g.value = Some(v);
            g.waker.take()
        };
        self.cv.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Waits at most `timeout` for the result.
    pub(crate) fn wait(&self, timeout: Duration) -> Result<T, Error> {
        let deadline = Instant::now() + timeout;
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(v) = g.value.take() {
                return v;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::TimedOut);
            }
            g = self.cv.wait_timeout(g, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Takes the result if it is there, else keeps `waker` to wake.
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub(crate) fn poll(&self, waker: &Waker) -> Option<Result<T, Error>> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match g.value.take() {
            Some(v) => Some(v),
            None => {
                g.waker = Some(waker.clone());
                None
            }
        }
    }
}
