//! The async client (feature `async`) against a real sealer, driven by a
//! minimal executor: the futures need no runtime.
#![cfg(feature = "async")]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use audit_sealer_client::events::VramSealed;
use audit_sealer_client::{AsyncClient, Error, ErrorCode, Event, Options, Timestamp};
use common::Sealer;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `f` to completion on this thread.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = Box::pin(f);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match Pin::as_mut(&mut f).poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => thread::park_timeout(Duration::from_secs(1)),
        }
    }
}

fn event(shard: &str) -> Event {
    Event::from(VramSealed {
        timestamp: Timestamp::now(),
        shard_id: shard.into(),
        gpu_device: 0,
        vram_bytes: 1 << 20,
        digest: "ab".repeat(32),
        worker_id: "worker-async".into(),
    })
}

#[test]
fn async_durable_emit_and_flush() {
    let s = match Sealer::start(&[]) {
        Some(s) => s,
        None => return,
    };
    let c = AsyncClient::new(s.path(), Options::default());
    c.emit(&event("shard-a-0")).unwrap();
    let r = block_on(c.emit_durable(&event("shard-a-1"))).unwrap();
    assert!(r.seq > 0 && r.audit_id.ends_with(&format!("-{}", r.seq)));
    let err = block_on(c.emit_durable(&event("bad/shard"))).unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::InvalidEvent));
    let size = block_on(c.flush()).unwrap();
    assert!(size > r.seq);
    block_on(c.close(Duration::from_secs(10))).unwrap();
    assert!(matches!(c.emit(&event("late")), Err(Error::Closed)));
    assert_eq!(s.query(&["--type", "vram.sealed"]).len(), 2);
}
