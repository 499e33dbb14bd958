//! The layer against a real sealer (the core crate's harness: it skips
//! without AUDIT_SEALER_BIN, and fails without it under CI=true).

#[path = "../../tests/common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit_sealer_client::{Emitter, Json, Options};
use audit_sealer_tracing::AuditLayer;
use common::{ev, Sealer};
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn audit_target_events_reach_the_log() {
    let s = match Sealer::start(&[]) {
        Some(s) => s,
        None => return,
    };
    let em = Arc::new(Emitter::new(s.path(), Options::default()));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let errs = Arc::clone(&errors);
    let layer = AuditLayer::new(Arc::clone(&em)).on_error(Arc::new(move |e| errs.lock().unwrap().push(e.to_string())));
    let digest = "ab".repeat(32);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(target: "audit", event_type = "vram.sealed", shard_id = "shard-t-1", gpu_device = 0u64,
            vram_bytes = 1u64 << 30, digest = %digest, worker_id = "worker-t");
        tracing::warn!(target: "audit", event_type = "auth.success", actor.user_id = "admin",
            actor.auth_method = "mtls", method = "mtls", path = "/v2/pools", service_id = "queen-rbee");
        tracing::info!(target: "app", event_type = "vram.sealed", shard_id = "not-audit", gpu_device = 0u64,
            vram_bytes = 1u64, digest = %digest, worker_id = "worker-t");
        tracing::info!(target: "audit", "an audit event without a type");
    });
    em.flush(Duration::from_secs(10)).unwrap();
    em.close(Duration::from_secs(10)).unwrap();

    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "{:?}", errors);
    assert!(errors[0].contains("without event_type"), "{:?}", errors);
    let vram = s.query(&["--type", "vram.sealed"]);
    assert_eq!(vram.len(), 1, "{:?}", vram);
    assert_eq!(ev(&vram[0], "shard_id").and_then(Json::as_str), Some("shard-t-1"));
    assert_eq!(ev(&vram[0], "vram_bytes").and_then(Json::as_u64), Some(1 << 30));
    let auth = s.query(&["--type", "auth.success"]);
    assert_eq!(auth.len(), 1, "{:?}", auth);
    assert_eq!(ev(&auth[0], "actor").and_then(|a| a.get("user_id")).and_then(Json::as_str), Some("admin"));
    assert_eq!(em.stats().rejected, 0);
}
