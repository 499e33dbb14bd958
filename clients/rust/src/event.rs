//! What the generated event types are built from: timestamps, the outcome
//! of an operation, free-form objects, events given as JSON, and the
//! writer of an event's JSON object.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;
use crate::json::{self, Json};

/// The largest event the sealer accepts, encoded (EVENTS.md).
pub const MAX_EVENT_BYTES: usize = 64 << 10;

/// An event's time, RFC 3339 in UTC. [`Timestamp::default`] is unset: the
/// event is then written with the time it is encoded at (when it is
/// emitted), as the Go client does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timestamp(Option<String>);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }

    /// `t`, with nanoseconds. Times before 1970 are written as the epoch
    /// (the sealer refuses anything before 2000 anyway).
    pub fn from_system_time(t: SystemTime) -> Timestamp {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Timestamp(Some(format_rfc3339(d)))
    }

    /// A timestamp given as text, for example `"2026-11-27T10:00:00Z"`. It
    /// is sent as it is: the sealer checks it (`invalid_timestamp`,
    /// `timestamp_in_future`, `timestamp_too_old`).
    pub fn from_rfc3339(s: impl Into<String>) -> Timestamp {
        Timestamp(Some(s.into()))
    }

    /// The text, or `None` when unset.
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// Formats a time since the epoch as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
fn format_rfc3339(d: Duration) -> String {
    let secs = d.as_secs();
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// The outcome of an operation (the schema's `result`): exactly one of
/// three forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `{"status":"success"}`
    Success,
    /// `{"status":"failure","reason":…}`
    Failure {
        /// Why it failed (free text, at most 1024 bytes).
        reason: String,
    },
    /// `{"status":"partial_success","details":…}`
    PartialSuccess {
        /// What succeeded and what did not (free text, line feeds allowed).
        details: String,
    },
}

/// A free-form JSON object (the schema's `free_object`, for example
/// `pool.modified`'s `changes`): at most 4 levels deep and 4 KiB once
/// canonical; keys and strings are free text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonObject(pub Vec<(String, Json)>);

impl JsonObject {
    /// An empty object.
    pub fn new() -> JsonObject {
        JsonObject(Vec::new())
    }

    /// Adds a member and returns the object, for chaining.
    pub fn with(mut self, key: impl Into<String>, value: Json) -> JsonObject {
        self.0.push((key.into(), value));
        self
    }
}

/// An event given as one JSON object with a string `type`: for a type or
/// field newer than this crate, or an event serialized with serde
/// (`RawEvent::from_json(&serde_json::to_string(&e)?)`). The sealer
/// validates it like any other.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    json: String,
    event_type: String,
}

impl RawEvent {
    /// Checks that `text` is one JSON object with a string `type` and keeps
    /// it written compactly on one line.
    pub fn from_json(text: &str) -> Result<RawEvent, Error> {
        let v = Json::parse(text).map_err(|e| Error::InvalidInput(format!("raw event: {}", e)))?;
        RawEvent::from_value(&v)
    }

    /// The same, from a parsed value.
    pub fn from_value(v: &Json) -> Result<RawEvent, Error> {
        if v.as_object().is_none() {
            return Err(Error::InvalidInput("raw event: not a JSON object".into()));
        }
        let t = match v.get("type").and_then(Json::as_str) {
            Some(t) => t.to_string(),
            None => return Err(Error::InvalidInput("raw event: no string \"type\"".into())),
        };
        Ok(RawEvent { json: v.to_string(), event_type: t })
    }

    /// The event's type.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The event's JSON, on one line.
    pub fn json(&self) -> &str {
        &self.json
    }
}

/// A value that writes itself as JSON.
pub(crate) trait WireValue {
    fn write_json(&self, out: &mut String);
}

impl WireValue for String {
    fn write_json(&self, out: &mut String) {
        json::write_str(out, self);
    }
}

impl WireValue for &str {
    fn write_json(&self, out: &mut String) {
        json::write_str(out, self);
    }
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl WireValue for $t {
            fn write_json(&self, out: &mut String) {
                out.push_str(&self.to_string());
            }
        }
    )*};
}
wire_int!(u8, u32, u64);

impl<T: WireValue> WireValue for Vec<T> {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            v.write_json(out);
        }
        out.push(']');
    }
}

impl WireValue for Timestamp {
    fn write_json(&self, out: &mut String) {
        match &self.0 {
            Some(s) => json::write_str(out, s),
            None => json::write_str(out, Timestamp::now().as_str().unwrap_or_default()),
        }
    }
}

impl WireValue for JsonObject {
    fn write_json(&self, out: &mut String) {
        Json::Object(self.0.clone()).write(out);
    }
}

impl WireValue for Outcome {
    fn write_json(&self, out: &mut String) {
        let mut w = ObjectWriter::new(out);
        match self {
            Outcome::Success => w.field("status", &"success"),
            Outcome::Failure { reason } => {
                w.field("status", &"failure");
                w.field("reason", reason);
            }
            Outcome::PartialSuccess { details } => {
                w.field("status", &"partial_success");
                w.field("details", details);
            }
        }
        w.end();
    }
}

/// Writes one JSON object, member by member.
pub(crate) struct ObjectWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    pub(crate) fn new(out: &'a mut String) -> ObjectWriter<'a> {
        out.push('{');
        ObjectWriter { out, first: true }
    }

    pub(crate) fn field<T: WireValue>(&mut self, key: &str, v: &T) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        json::write_str(self.out, key);
        self.out.push(':');
        v.write_json(self.out);
    }

    /// Writes the member unless it is `None`.
    pub(crate) fn opt_field<T: WireValue>(&mut self, key: &str, v: &Option<T>) {
        if let Some(v) = v {
            self.field(key, v);
        }
    }

    pub(crate) fn end(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(format_rfc3339(Duration::new(0, 0)), "1970-01-01T00:00:00.000000000Z");
        // 2026-11-27T10:00:00Z, and a leap day.
        assert_eq!(format_rfc3339(Duration::new(1_795_773_600, 5)), "2026-11-27T10:00:00.000000005Z");
        assert_eq!(format_rfc3339(Duration::new(951_782_400, 0)), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn raw_event_needs_an_object_with_a_type() {
        let r = RawEvent::from_json("{\n \"type\": \"x.y\", \"a\": 1 }").unwrap();
        assert_eq!(r.event_type(), "x.y");
        assert_eq!(r.json(), r#"{"type":"x.y","a":1}"#);
        assert!(RawEvent::from_json("[1]").is_err());
        assert!(RawEvent::from_json(r#"{"type":1}"#).is_err());
        assert!(RawEvent::from_json("{").is_err());
    }
}
