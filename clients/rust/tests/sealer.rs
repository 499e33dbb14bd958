//! The client against a real sealer (`audit-sealer serve --dev`, see
//! tests/common). Skipped without AUDIT_SEALER_BIN, failed without it under
//! CI=true.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_sealer_client::events::*;
use audit_sealer_client::{
    Actor, Client, Emitter, Error, ErrorCode, Event, Json, JsonObject, Options, Outcome, RawEvent, Timestamp,
};
use common::{ev, Sealer};

fn vram_sealed(shard: &str, worker: &str) -> Event {
    Event::from(VramSealed {
        timestamp: Timestamp::now(),
        shard_id: shard.into(),
        gpu_device: 1,
        vram_bytes: 8 << 30,
        digest: "0123456789abcdef".repeat(4),
        worker_id: worker.into(),
    })
}

fn seal_verified(shard: &str, worker: &str) -> Event {
    Event::from(SealVerified {
        timestamp: Timestamp::default(), // written as the emit time
        shard_id: shard.into(),
        worker_id: worker.into(),
        result: Some(Outcome::Success),
    })
}

fn actor(user: &str) -> Actor {
    Actor { user_id: user.into(), auth_method: AuthMethod::BearerToken, ip: Some("10.0.0.7".into()), session_id: None }
}

#[test]
fn durable_emit_returns_seq_and_audit_id_and_the_record_is_in_the_log() {
    let s = match Sealer::start(&[]) {
        Some(s) => s,
        None => return,
    };
    let mut c = Client::connect(s.path()).unwrap();

    // The sealer accepts exactly the types this crate was generated for,
    // and calls the same ones critical.
    let h = c.hello().unwrap();
    assert_eq!(h.protocol, audit_sealer_client::PROTOCOL_VERSION);
    let ours: Vec<&str> = EVENT_TYPES.iter().map(|t| t.name).collect();
    assert_eq!(h.types, ours);
    let ours_critical: BTreeSet<&str> = EVENT_TYPES.iter().filter(|t| t.critical).map(|t| t.name).collect();
    let theirs_critical: BTreeSet<&str> = h.critical_types.iter().map(String::as_str).collect();
    assert_eq!(theirs_critical, ours_critical);
    assert!(!h.services.is_empty(), "this uid may emit as no service: {:?}", h);

    let r = c.emit_durable(&vram_sealed("shard-rs-1", "worker-gpu-0")).unwrap();
    assert!(r.audit_id.ends_with(&format!("-{}", r.seq)), "{:?}", r);
    assert!(!r.sealed, "a non-critical durable emit is not sealed before its reply");

    // One event of each shape the generator writes: actor and enum,
    // vector and optional timestamp, free object, outcome, small integer,
    // and a critical one (sealed before its reply).
    let more: Vec<Event> = vec![
        AuthSuccess {
            timestamp: Timestamp::now(),
            actor: actor("admin@example.com"),
            method: AuthMethod::ApiKey,
            path: "/v2/tasks".into(),
            service_id: "queen-rbee".into(),
        }
        .into(),
        TokenCreated {
            timestamp: Timestamp::now(),
            actor: actor("admin@example.com"),
            token_fingerprint: "token:0123abcd".into(),
            scope: vec!["pools:read".into(), "tasks:write".into()],
            expires_at: Some(Timestamp::from_rfc3339("2030-01-01T00:00:00Z")),
        }
        .into(),
        PoolModified {
            timestamp: Timestamp::now(),
            actor: actor("admin@example.com"),
            pool_id: "pool-7".into(),
            changes: JsonObject::new()
                .with("replicas", Json::Number("4".into()))
                .with("model", Json::String("llama-3-8b".into())),
        }
        .into(),
        TaskCompleted {
            timestamp: Timestamp::now(),
            task_id: "task-9".into(),
            worker_id: "worker-gpu-0".into(),
            tokens_generated: 512,
            duration_ms: 1234,
            result: Outcome::PartialSuccess { details: "truncated\nat max_tokens".into() },
        }
        .into(),
        SecuritySuspiciousActivity {
            timestamp: Timestamp::now(),
            actor: actor("mallory"),
            activity_type: "enumeration".into(),
            details: "many 404s".into(),
            risk_score: 90,
        }
        .into(),
        Event::Raw(RawEvent::from_json(r#"{"type":"seal.verified","timestamp":"2026-11-27T10:00:00Z","shard_id":"shard-raw","worker_id":"w-1"}"#).unwrap()),
    ];
    let mut last = r.seq;
    for e in &more {
        let got = c.emit_durable(e).unwrap_or_else(|err| panic!("{}: {}", e.event_type(), err));
        assert!(got.seq > last, "{}: seq {} after {}", e.event_type(), got.seq, last);
        assert_eq!(got.sealed, e.is_critical(), "{}: sealed", e.event_type());
        last = got.seq;
    }
    let size = c.flush().unwrap();
    assert!(size > last, "checkpoint size {} does not cover seq {}", size, last);

    let found = s.query(&["--type", "vram.sealed"]);
    assert_eq!(found.len(), 1, "{:?}", found);
    let m = &found[0];
    assert_eq!(m.get("seq").and_then(Json::as_u64), Some(r.seq));
    assert_eq!(m.get("audit_id").and_then(Json::as_str), Some(r.audit_id.as_str()));
    assert_eq!(ev(m, "shard_id").and_then(Json::as_str), Some("shard-rs-1"));
    assert_eq!(ev(m, "vram_bytes").and_then(Json::as_u64), Some(8 << 30));
    let pm = s.query(&["--type", "pool.modified"]);
    assert_eq!(
        ev(&pm[0], "changes").map(|c| c.canonical()),
        Some(r#"{"model":"llama-3-8b","replicas":4}"#.to_string())
    );
    let tc = s.query(&["--type", "task.completed"]);
    assert_eq!(ev(&tc[0], "result").and_then(|r| r.get("status")).and_then(Json::as_str), Some("partial_success"));
}

#[test]
fn invalid_event_carries_field_and_rule() {
    let s = match Sealer::start(&[]) {
        Some(s) => s,
        None => return,
    };
    let mut c = Client::connect(s.path()).unwrap();
    let err = c.emit_durable(&vram_sealed("shard/1", "worker-gpu-0")).unwrap_err();
    let se = err.sealer_error().unwrap_or_else(|| panic!("not a sealer error: {}", err));
    assert_eq!(se.code, ErrorCode::InvalidEvent);
    assert_eq!(se.field.as_deref(), Some("shard_id"));
    assert_eq!(se.rule.as_deref(), Some("path_separator"));
    assert!(!err.is_retryable());

    let long = AuthSuccess {
        timestamp: Timestamp::now(),
        actor: actor(&"u".repeat(300)),
        method: AuthMethod::Mtls,
        path: "/".into(),
        service_id: "queen-rbee".into(),
    };
    let err = c.emit_durable(&long.into()).unwrap_err();
    let se = err.sealer_error().unwrap();
    assert_eq!((se.field.as_deref(), se.rule.as_deref()), (Some("actor.user_id"), Some("too_long")));
    assert!(!se.message.contains("uuuu"), "the message echoes the value: {}", se.message);

    // A refused event leaves the connection usable.
    c.emit_durable(&vram_sealed("shard-ok", "worker-gpu-0")).unwrap();
    // And so does an unknown service identity, refused as not_authorized.
    let mut other =
        Client::with_options(s.path(), Options { service: Some("not-mine".into()), ..Options::default() }).unwrap();
    let err = other.emit_durable(&vram_sealed("shard-2", "w")).unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::NotAuthorized), "{}", err);
}

#[test]
fn pipelining_many_events_on_one_connection() {
    let s = match Sealer::start(&[]) {
        Some(s) => s,
        None => return,
    };
    let mut c = Client::with_options(s.path(), Options { window: 128, ..Options::default() }).unwrap();
    let events: Vec<Event> = (0..3000).map(|i| seal_verified(&format!("shard-p-{}", i), "worker-pipe")).collect();
    let start = Instant::now();
    let results = c.emit_durable_batch(&events);
    let took = start.elapsed();
    assert_eq!(results.len(), events.len());
    let mut prev = 0;
    for (i, r) in results.iter().enumerate() {
        let r = r.as_ref().unwrap_or_else(|e| panic!("event {}: {}", i, e));
        assert!(r.seq > prev, "event {}: seq {} after {}: replies out of order", i, r.seq, prev);
        prev = r.seq;
    }
    eprintln!("3000 durable emits pipelined in {:?}", took);

    // By hand: a mix of requests, replies in the order of the requests.
    let a = c.send_emit(&seal_verified("shard-m-1", "worker-pipe"), false).unwrap();
    let b = c.send_flush().unwrap();
    let d = c.send_emit(&vram_sealed("bad/shard", "worker-pipe"), true).unwrap();
    let e = c.send_op("ping").unwrap();
    assert!(a < b && b < d && d < e);
    assert_eq!(c.pending(), 4);
    c.receive().unwrap().accepted().unwrap();
    assert!(c.receive().unwrap().checkpoint_size().unwrap() > prev);
    assert_eq!(c.receive().unwrap().receipt().unwrap_err().code(), Some(&ErrorCode::InvalidEvent));
    assert!(c.receive().unwrap().json.get("time").is_some());
    c.flush().unwrap();

    let found = s.query(&["--type", "seal.verified", "--limit", "0"]);
    assert_eq!(found.len(), 3001);
}

#[test]
fn reconnects_after_the_sealer_restarts() {
    let mut s = match Sealer::start(&[]) {
        Some(s) => s,
        None => return,
    };
    let warnings = Arc::new(Mutex::new(Vec::<String>::new()));
    let w = Arc::clone(&warnings);
    let opts =
        Options { warn: Some(Arc::new(move |m: &str| w.lock().unwrap().push(m.to_string()))), ..Options::default() };
    let mut c = Client::with_options(s.path(), opts.clone()).unwrap();
    let em = Emitter::new(s.path(), opts);
    let first = c.emit_durable(&vram_sealed("shard-r-1", "worker-r")).unwrap();
    em.emit(&seal_verified("shard-e-1", "worker-r")).unwrap();
    em.flush(Duration::from_secs(10)).unwrap();

    s.stop();
    // While the sealer is down the emitter buffers, and the blocking
    // client's call fails with a retryable error once its reconnection
    // time is up.
    em.emit(&seal_verified("shard-e-2", "worker-r")).unwrap();
    let err = match Client::with_options(s.path(), Options::default()) {
        Ok(_) => panic!("connected to a stopped sealer"),
        Err(e) => e,
    };
    assert!(matches!(err, Error::Connect { .. }) && err.is_retryable(), "{}", err);
    let restarter = {
        let started = Instant::now();
        s.spawn();
        started.elapsed()
    };
    eprintln!("sealer restarted in {:?}", restarter);

    let second = c.emit_durable(&vram_sealed("shard-r-2", "worker-r")).unwrap();
    assert!(second.seq > first.seq);
    em.emit(&seal_verified("shard-e-3", "worker-r")).unwrap();
    em.flush(Duration::from_secs(20)).unwrap();
    let st = em.stats();
    assert!(st.reconnects >= 1, "{:?}", st);
    assert_eq!(st.dropped, 0, "{:?}", st);
    em.close(Duration::from_secs(10)).unwrap();

    let shards: Vec<String> = s
        .query(&["--type", "seal.verified"])
        .iter()
        .filter_map(|m| ev(m, "shard_id").and_then(Json::as_str).map(str::to_string))
        .collect();
    for want in ["shard-e-1", "shard-e-2", "shard-e-3"] {
        assert!(shards.iter().any(|s| s == want), "{} not in the log: {:?}", want, shards);
    }
    assert!(
        warnings.lock().unwrap().iter().any(|w| w.contains("connect") || w.contains("lost")),
        "{:?}",
        warnings.lock().unwrap()
    );
}

#[test]
fn the_emitter_drops_when_full_and_reports_the_count() {
    let mut s = match Sealer::prepare(&[]) {
        Some(s) => s,
        None => return,
    };
    // No sealer yet: the emitter buffers 5 events and drops the rest, and
    // emit never waits.
    let em = Emitter::new(s.path(), Options { buffer_events: 5, ..Options::default() });
    let start = Instant::now();
    let mut dropped = 0;
    for i in 0..8 {
        match em.emit(&vram_sealed(&format!("shard-d-{}", i), "worker-d")) {
            Ok(()) => assert!(i < 5, "event {} was buffered past the bound", i),
            Err(Error::Dropped) => dropped += 1,
            Err(e) => panic!("event {}: {}", i, e),
        }
    }
    assert!(start.elapsed() < Duration::from_millis(500), "emit waited: {:?}", start.elapsed());
    assert_eq!(dropped, 3);
    let st = em.stats();
    assert_eq!((st.dropped, st.drops_unreported, st.buffered), (3, 3, 5), "{:?}", st);

    s.spawn();
    em.flush(Duration::from_secs(20)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while em.stats().drops_reported < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = em.stats();
    assert_eq!((st.drops_reported, st.drops_unreported, st.buffered), (3, 0, 0), "{:?}", st);
    em.close(Duration::from_secs(10)).unwrap();

    let reports = s.query(&["--sealer", "--type", "audit.client_dropped"]);
    assert_eq!(reports.len(), 1, "{:?}", reports);
    assert_eq!(ev(&reports[0], "count").and_then(Json::as_u64), Some(3));
    assert_eq!(ev(&reports[0], "reason").and_then(Json::as_str), Some("buffer_full"));
    assert_eq!(s.query(&["--type", "vram.sealed"]).len(), 5);
}

#[test]
fn critical_events_are_flushed_at_once() {
    // Seal only on request: no interval, no record count, no heartbeat.
    let s = match Sealer::start(&["--seal-interval", "1h", "--seal-records", "1000000", "--heartbeat", "1h"]) {
        Some(s) => s,
        None => return,
    };
    let em = Emitter::new(s.path(), Options::default());
    em.emit(&seal_verified("shard-c-1", "worker-c")).unwrap();
    // A non-critical event is accepted but not sealed on its own.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(s.query(&["--type", "seal.verified"]).is_empty(), "sealed without a flush");

    let failed = SealVerificationFailed {
        timestamp: Timestamp::now(),
        shard_id: "shard-c-1".into(),
        reason: "digest mismatch".into(),
        expected_digest: "aa".repeat(32),
        actual_digest: "bb".repeat(32),
        worker_id: "worker-c".into(),
        severity: Severity::Critical,
    };
    let start = Instant::now();
    em.emit(&failed.into()).unwrap(); // no flush call: the emitter flushes a critical event itself
    let found = s.query_until(&["--type", "seal.*"], Duration::from_secs(5), |r| r.len() == 2);
    assert_eq!(found.len(), 2, "the critical event and the one before it are not sealed: {:?}", found);
    eprintln!("critical event sealed and found within {:?}", start.elapsed());
    assert_eq!(found[1].get("critical").and_then(Json::as_bool), Some(true));
    em.close(Duration::from_secs(10)).unwrap();
}
