//! Durable emits per second on one connection, pipelined, against a
//! running sealer: the Rust client's figure in BENCHMARKS.md, beside the Go
//! client's (cmd/audit-sealer-bench/clientbench), which sends the same
//! events the same way.
//!
//!     cargo run --release --example bench -- --socket PATH [--events 100000] [--window 256]
//!
//! It keeps up to --window durable emits in flight on one connection
//! ([`Client::send_emit`] and [`Client::receive`]); each event is a
//! vram.sealed of 230-odd bytes whose timestamp is its send time.

use std::process::exit;
use std::time::Instant;

use audit_sealer_client::events::VramSealed;
use audit_sealer_client::{Client, Event, Timestamp, DEFAULT_SOCKET_PATH};

fn event(i: usize, digest: &str) -> Event {
    Event::from(VramSealed {
        timestamp: Timestamp::now(),
        shard_id: format!("shard-{}", i),
        gpu_device: 1,
        vram_bytes: 8 << 30,
        digest: digest.to_string(),
        worker_id: "worker-bench".into(),
    })
}

fn main() {
    let mut socket = DEFAULT_SOCKET_PATH.to_string();
    let mut events = 100_000usize;
    let mut window = 256usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| usage(&format!("{} needs a value", a)));
        match a.as_str() {
            "--socket" => socket = v,
            "--events" => events = v.parse().unwrap_or_else(|_| usage("--events is a number")),
            "--window" => window = v.parse().unwrap_or_else(|_| usage("--window is a number")),
            _ => usage(&format!("unknown argument {}", a)),
        }
    }
    if events == 0 || window == 0 {
        usage("--events and --window must be at least 1");
    }
    let mut c = Client::connect(&socket).unwrap_or_else(|e| fail(&e.to_string()));
    let digest = "0123456789abcdef".repeat(4);
    c.emit_durable(&event(0, &"ab".repeat(32))).unwrap_or_else(|e| fail(&format!("warm-up: {}", e)));
    let start = Instant::now();
    let (mut sent, mut done, mut last_seq) = (0usize, 0usize, 0u64);
    while done < events {
        while sent < events && c.pending() < window {
            sent += 1;
            c.send_emit(&event(sent, &digest), true).unwrap_or_else(|e| fail(&e.to_string()));
        }
        let r = c.receive().and_then(|r| r.receipt()).unwrap_or_else(|e| fail(&e.to_string()));
        if r.seq <= last_seq {
            fail(&format!("seq {} after {}: replies out of order", r.seq, last_seq));
        }
        last_seq = r.seq;
        done += 1;
    }
    let took = start.elapsed().as_secs_f64();
    println!(
        "rust client: {} durable emits in {:.3} s: {:.0}/s (one connection, window {}, last seq {})",
        events,
        took,
        events as f64 / took,
        window,
        last_seq
    );
}

fn usage(msg: &str) -> ! {
    eprintln!("bench: {}\nusage: bench --socket PATH [--events N] [--window N]", msg);
    exit(2)
}

fn fail(msg: &str) -> ! {
    eprintln!("bench: {}", msg);
    exit(1)
}
