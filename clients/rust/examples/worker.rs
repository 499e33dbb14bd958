//! A GPU worker's use of the emitter (the example of README.md): emits on
//! the VRAM path never wait, a critical event is flushed at once, and
//! shutdown flushes and reports drops.
//!
//!     cargo run --example worker -- /run/audit-sealer/audit.sock

use std::time::Duration;

use audit_sealer_client::events::{SealVerificationFailed, Severity, VramSealed};
use audit_sealer_client::{Emitter, Error, Event, Options, Timestamp, DEFAULT_SOCKET_PATH};

fn main() -> Result<(), Error> {
    let path = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_SOCKET_PATH.to_string());
    let audit = Emitter::new(path, Options::default());
    // On the VRAM path: never waits, never panics.
    match audit.emit(&Event::from(VramSealed {
        timestamp: Timestamp::now(),
        shard_id: "shard-abc123".into(),
        gpu_device: 0,
        vram_bytes: 8 << 30,
        digest: "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb".into(),
        worker_id: "worker-gpu-0".into(),
    })) {
        Ok(()) | Err(Error::Dropped) => {} // a drop is counted and reported to the sealer
        Err(e) => eprintln!("audit: {}", e),
    }
    // Critical: written and flushed at once, sealed by the sealer before its reply.
    let _ = audit.emit(&Event::from(SealVerificationFailed {
        timestamp: Timestamp::now(),
        shard_id: "shard-abc123".into(),
        reason: "digest mismatch".into(),
        expected_digest: "aa".repeat(32),
        actual_digest: "bb".repeat(32),
        worker_id: "worker-gpu-0".into(),
        severity: Severity::Critical,
    }));
    // At shutdown: everything durable and sealed, drops reported.
    audit.close(Duration::from_secs(5))?;
    println!("{:?}", audit.stats());
    Ok(())
}
