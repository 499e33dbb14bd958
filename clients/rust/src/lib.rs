//! A client for [audit-sealer](../../README.md): sends audit events to the
//! sealer over its Unix socket, speaking PROTOCOL.md (newline-delimited
//! JSON, pipelined requests, replies in order). No dependency outside
//! `std`.
//!
//! - [`events`]: one struct per event type, generated from the schema
//!   (`schema/events.schema.json`), gathered in [`Event`].
//! - [`Client`]: blocking, on the caller's thread; durable emits return
//!   the record's sequence number and `audit_id`; requests can be
//!   pipelined ([`Client::send_emit`], [`Client::receive`],
//!   [`Client::emit_durable_batch`]).
//! - [`Emitter`]: for code that must never wait on the sealer (a GPU
//!   worker's VRAM operations): a bounded buffer, drops counted and
//!   reported with `report_dropped`, critical events flushed at once,
//!   reconnection with backoff on a background thread.
//! - `AsyncClient` (feature `async`): the emitter with futures.
//!
//! Errors are one type, [`Error`], whose [`Error::is_retryable`] says
//! whether sending again may help; the sealer's refusals carry its
//! [`ErrorCode`] and, for `invalid_event`, the field and the rule.
//!
//! ```no_run
//! use audit_sealer_client::{events::VramSealed, Client, Event, Timestamp};
//!
//! let mut c = Client::connect("/run/audit-sealer/audit.sock")?;
//! let r = c.emit_durable(&Event::from(VramSealed {
//!     timestamp: Timestamp::now(),
//!     shard_id: "shard-1".into(),
//!     gpu_device: 0,
//!     vram_bytes: 1 << 30,
//!     digest: "ab".repeat(32),
//!     worker_id: "worker-gpu-0".into(),
//! }))?;
//! println!("record {} ({})", r.seq, r.audit_id);
//! # Ok::<(), audit_sealer_client::Error>(())
//! ```
#![warn(missing_docs)]

#[cfg(feature = "async")]
mod asynch;
mod client;
mod emitter;
mod error;
mod event;
#[rustfmt::skip]
pub mod events;
pub mod json;
mod options;
mod protocol;
mod slot;

#[cfg(feature = "async")]
pub use asynch::{AsyncClient, Completion};
pub use client::Client;
pub use emitter::{Emitter, Stats};
pub use error::{Error, ErrorCode, SealerError};
pub use event::{JsonObject, Outcome, RawEvent, Timestamp, MAX_EVENT_BYTES};
pub use events::{is_critical_type, Actor, Event, Resource};
pub use json::Json;
pub use options::{Options, WarnFn, DEFAULT_SOCKET_PATH};
pub use protocol::{Hello, Receipt, Reply, MAX_LINE, PROTOCOL_VERSION};
