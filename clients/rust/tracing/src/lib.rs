//! A [`tracing_subscriber`] layer that sends the events of target `"audit"`
//! to audit-sealer through an [`Emitter`], so that a service already
//! instrumented with `tracing` can write audit events the same way:
//!
//! ```no_run
//! # let digest = "ab".repeat(32);
//! tracing::info!(target: "audit", event_type = "vram.sealed", shard_id = "shard-1",
//!     gpu_device = 0u64, vram_bytes = 8u64 << 30, digest = %digest, worker_id = "worker-gpu-0");
//! tracing::info!(target: "audit", event_type = "auth.success", actor.user_id = "admin",
//!     actor.auth_method = "mtls", method = "mtls", path = "/v2/pools", service_id = "queen-rbee");
//! ```
//!
//! The event's fields become the audit event's members: `event_type` is
//! its `type` (`type` is a Rust keyword), a dotted name (`actor.user_id`)
//! a member of a nested object, and `timestamp`, when absent, the time of
//! the event. `message` is ignored. Strings, integers and booleans keep
//! their JSON types; a `%value` or `?value` is written as its text. The
//! sealer validates the result like any other event (EVENTS.md); a refusal
//! is counted in the emitter's [`Stats`](audit_sealer_client::Stats) and
//! passed to its warning function.
//!
//! Sending never blocks: it is [`Emitter::emit`] (a bounded buffer; drops
//! are counted and reported to the sealer; critical events are flushed at
//! once). Events of other targets are left alone.

use std::fmt;
use std::sync::Arc;

use audit_sealer_client::{Emitter, Error, Event, Json, RawEvent, Timestamp};
use tracing_core::field::{Field, Visit};
use tracing_core::Subscriber;
use tracing_subscriber::layer::{Context, Layer};

/// The target whose events the layer sends.
pub const TARGET: &str = "audit";

/// A function told of an event the layer could not send (no `event_type`,
/// or the emitter refused it: buffer full, closed).
pub type OnError = Arc<dyn Fn(&Error) + Send + Sync>;

/// The layer: see the crate's documentation.
pub struct AuditLayer {
    emitter: Arc<Emitter>,
    on_error: Option<OnError>,
}

impl AuditLayer {
    /// A layer that sends through `emitter`.
    pub fn new(emitter: Arc<Emitter>) -> AuditLayer {
        AuditLayer { emitter, on_error: None }
    }

    /// Calls `f` for each event that could not be sent.
    pub fn on_error(mut self, f: OnError) -> AuditLayer {
        self.on_error = Some(f);
        self
    }

    fn failed(&self, e: &Error) {
        if let Some(f) = &self.on_error {
            f(e);
        }
    }
}

impl<S: Subscriber> Layer<S> for AuditLayer {
    fn on_event(&self, event: &tracing_core::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut fields = Fields { members: Vec::new() };
        event.record(&mut fields);
        match fields.into_event() {
            Ok(e) => {
                if let Err(err) = self.emitter.emit(&e) {
                    self.failed(&err);
                }
            }
            Err(err) => self.failed(&err),
        }
    }
}

/// The event's fields, as JSON members.
struct Fields {
    members: Vec<(String, Json)>,
}

impl Fields {
    fn put(&mut self, name: &str, value: Json) {
        if name == "message" {
            return;
        }
        let name = if name == "event_type" { "type" } else { name };
        let mut members = &mut self.members;
        let mut parts = name.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                match members.iter_mut().find(|(k, _)| k == part) {
                    Some(m) => m.1 = value,
                    None => members.push((part.to_string(), value)),
                }
                return;
            }
            let i = match members.iter().position(|(k, v)| k == part && matches!(v, Json::Object(_))) {
                Some(i) => i,
                None => {
                    members.retain(|(k, _)| k != part);
                    members.push((part.to_string(), Json::Object(Vec::new())));
                    members.len() - 1
                }
            };
            members = match &mut members[i].1 {
                Json::Object(m) => m,
                _ => unreachable!("just made an object"),
            };
        }
    }

    /// The audit event: `type` first, then `timestamp` (now, if absent),
    /// then the other members in the order given.
    fn into_event(self) -> Result<Event, Error> {
        let mut members = self.members;
        let t = match members.iter().position(|(k, v)| k == "type" && matches!(v, Json::String(_))) {
            Some(i) => members.remove(i),
            None => return Err(Error::InvalidInput("tracing event of target \"audit\" without event_type".into())),
        };
        let ts = match members.iter().position(|(k, _)| k == "timestamp") {
            Some(i) => members.remove(i),
            None => ("timestamp".to_string(), Json::String(Timestamp::now().as_str().unwrap_or_default().to_string())),
        };
        let mut all = vec![t, ts];
        all.extend(members);
        Ok(Event::Raw(RawEvent::from_value(&Json::Object(all))?))
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field.name(), Json::String(value.to_string()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field.name(), Json::Number(value.to_string()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field.name(), Json::Number(value.to_string()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field.name(), Json::Bool(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field.name(), Json::String(format!("{:?}", value)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_nest_on_dots_and_type_comes_first() {
        let mut f = Fields { members: Vec::new() };
        f.put("path", Json::String("/v2".into()));
        f.put("actor.user_id", Json::String("admin".into()));
        f.put("message", Json::String("ignored".into()));
        f.put("actor.auth_method", Json::String("mtls".into()));
        f.put("event_type", Json::String("auth.success".into()));
        f.put("timestamp", Json::String("2026-11-27T10:00:00Z".into()));
        let e = f.into_event().unwrap();
        let mut out = String::new();
        e.write_json(&mut out);
        assert_eq!(
            out,
            r#"{"type":"auth.success","timestamp":"2026-11-27T10:00:00Z","path":"/v2","actor":{"user_id":"admin","auth_method":"mtls"}}"#
        );
        let f = Fields { members: vec![("shard_id".into(), Json::String("s".into()))] };
        assert!(f.into_event().is_err());
    }
}
