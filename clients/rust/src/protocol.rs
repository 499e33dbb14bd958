//! The lines of PROTOCOL.md: the request lines the clients write and the
//! replies they read.

use crate::error::{Error, ErrorCode, SealerError};
use crate::json::{self, Json};

/// The protocol version this crate speaks (PROTOCOL.md).
pub const PROTOCOL_VERSION: u64 = 1;

/// The longest line the sealer reads, newline included.
pub const MAX_LINE: usize = 128 << 10;

/// Where a durable record is: the reply to a durable emit or a
/// `report_dropped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The record's sequence number in the chain.
    pub seq: u64,
    /// The record's stable identifier (`<log id>-<seq>`).
    pub audit_id: String,
    /// Whether a signed checkpoint already covers it (critical events).
    pub sealed: bool,
}

/// What the sealer says of itself in reply to `hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The protocol version it speaks.
    pub protocol: u64,
    /// Its build.
    pub version: String,
    /// The ops it accepts.
    pub ops: Vec<String>,
    /// The event types it accepts.
    pub types: Vec<String>,
    /// Those of the types it seals before replying.
    pub critical_types: Vec<String>,
    /// The service identities this connection's peer may emit as.
    pub services: Vec<String>,
}

/// One reply line.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The echoed request id (absent in the reply to a line the sealer
    /// could not parse).
    pub id: Option<String>,
    /// Whether the request succeeded.
    pub ok: bool,
    /// The error, when `ok` is false.
    pub error: Option<SealerError>,
    /// The whole reply, for members this type does not name (`status`,
    /// `matches`, members added later).
    pub json: Json,
}

impl Reply {
    /// Parses a reply line.
    pub fn parse(line: &str) -> Result<Reply, Error> {
        let v = Json::parse(line).map_err(|e| Error::Protocol(e.to_string()))?;
        let ok = match v.get("ok").and_then(Json::as_bool) {
            Some(ok) => ok,
            None => return Err(Error::Protocol("reply without a boolean \"ok\"".into())),
        };
        let id = v.get("id").and_then(Json::as_str).map(str::to_string);
        let mut error = None;
        if !ok {
            let e = v.get("error");
            let s = |k: &str| e.and_then(|e| e.get(k)).and_then(Json::as_str).map(str::to_string);
            let code = match s("code") {
                Some(c) => ErrorCode::from_wire(&c),
                None => ErrorCode::Internal,
            };
            error = Some(SealerError {
                code,
                message: s("message").unwrap_or_else(|| "reply with ok false and no error".into()),
                field: s("field"),
                rule: s("rule"),
                reason: s("reason"),
                receipt: None,
            });
        }
        let mut r = Reply { id, ok, error, json: v };
        if let Some(e) = r.error.as_mut() {
            if e.code == ErrorCode::NotSealed {
                e.receipt = receipt_of(&r.json);
            }
        }
        Ok(r)
    }

    /// The error as an [`Error`], or `Ok(())`.
    pub fn check(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(Error::Sealer(Box::new(e.clone()))),
            None => Ok(()),
        }
    }

    /// The receipt of a durable emit or `report_dropped`. A `not_sealed`
    /// error is returned as an error whose [`SealerError::receipt`] is set.
    pub fn receipt(&self) -> Result<Receipt, Error> {
        self.check()?;
        receipt_of(&self.json).ok_or_else(|| Error::Protocol("durable reply without seq and audit_id".into()))
    }

    /// Whether an emit was acknowledged (accepted, or durable).
    pub fn accepted(&self) -> Result<(), Error> {
        self.check()?;
        if self.json.get("accepted").and_then(Json::as_bool) == Some(true) || self.json.get("seq").is_some() {
            Ok(())
        } else {
            Err(Error::Protocol("emit reply neither accepted nor durable".into()))
        }
    }

    /// The `checkpoint_size` of a flush reply.
    pub fn checkpoint_size(&self) -> Result<u64, Error> {
        self.check()?;
        self.json
            .get("checkpoint_size")
            .and_then(Json::as_u64)
            .ok_or_else(|| Error::Protocol("flush reply without checkpoint_size".into()))
    }

    /// The `hello` member of a hello reply.
    pub fn hello(&self) -> Result<Hello, Error> {
        self.check()?;
        let h = self.json.get("hello").ok_or_else(|| Error::Protocol("hello reply without hello".into()))?;
        let list = |k: &str| -> Vec<String> {
            h.get(k)
                .and_then(Json::as_array)
                .map(|a| a.iter().filter_map(Json::as_str).map(str::to_string).collect())
                .unwrap_or_default()
        };
        Ok(Hello {
            protocol: h.get("protocol").and_then(Json::as_u64).unwrap_or(0),
            version: h.get("version").and_then(Json::as_str).unwrap_or("").to_string(),
            ops: list("ops"),
            types: list("types"),
            critical_types: list("critical_types"),
            services: list("services"),
        })
    }
}

fn receipt_of(v: &Json) -> Option<Receipt> {
    let seq = v.get("seq").and_then(Json::as_u64)?;
    let audit_id = v.get("audit_id").and_then(Json::as_str)?.to_string();
    Some(Receipt { seq, audit_id, sealed: v.get("sealed").and_then(Json::as_bool) == Some(true) })
}

/// Appends `,"id":"<id>"`.
fn push_id(out: &mut String, id: u64) {
    out.push_str(",\"id\":\"");
    out.push_str(&id.to_string());
    out.push('"');
}

/// Appends an emit request line whose event is `event` (one JSON object on
/// one line), newline included.
pub(crate) fn emit_line(out: &mut String, id: u64, service: Option<&str>, durable: bool, event: &str) {
    out.push_str("{\"op\":\"emit\"");
    push_id(out, id);
    if let Some(s) = service {
        out.push_str(",\"service\":");
        json::write_str(out, s);
    }
    if durable {
        out.push_str(",\"durable\":true");
    }
    out.push_str(",\"event\":");
    out.push_str(event);
    out.push_str("}\n");
}

/// Appends a request line for an op without arguments (hello, flush,
/// status, ping).
pub(crate) fn op_line(out: &mut String, op: &str, id: u64) {
    out.push_str("{\"op\":\"");
    out.push_str(op);
    out.push('"');
    push_id(out, id);
    out.push_str("}\n");
}

/// Appends a report_dropped request line.
pub(crate) fn report_dropped_line(out: &mut String, id: u64, service: Option<&str>, count: u64, reason: &str) {
    out.push_str("{\"op\":\"report_dropped\"");
    push_id(out, id);
    if let Some(s) = service {
        out.push_str(",\"service\":");
        json::write_str(out, s);
    }
    out.push_str(",\"count\":");
    out.push_str(&count.to_string());
    out.push_str(",\"reason\":");
    json::write_str(out, reason);
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_replies() {
        let r = Reply::parse(r#"{"id":"7","ok":true,"seq":1234,"audit_id":"3f9a-1234","durable":true}"#).unwrap();
        assert_eq!(r.receipt().unwrap(), Receipt { seq: 1234, audit_id: "3f9a-1234".into(), sealed: false });
        let r = Reply::parse(r#"{"id":"7","ok":false,"error":{"code":"invalid_event","message":"m","field":"actor.user_id","rule":"too_long"}}"#).unwrap();
        let e = r.receipt().unwrap_err();
        let se = e.sealer_error().unwrap();
        assert_eq!(
            (se.code.clone(), se.field.as_deref(), se.rule.as_deref()),
            (ErrorCode::InvalidEvent, Some("actor.user_id"), Some("too_long"))
        );
        assert!(!e.is_retryable());
        let r = Reply::parse(r#"{"id":"9","ok":false,"seq":1240,"audit_id":"a-1240","durable":true,"error":{"code":"not_sealed","message":"m"}}"#).unwrap();
        let e = r.receipt().unwrap_err();
        assert_eq!(e.sealer_error().unwrap().receipt.as_ref().unwrap().seq, 1240);
        assert!(Reply::parse(r#"{"id":"1"}"#).is_err());
        assert_eq!(
            Reply::parse(r#"{"id":"f","ok":true,"checkpoint_size":1300}"#).unwrap().checkpoint_size().unwrap(),
            1300
        );
    }

    #[test]
    fn request_lines() {
        let mut s = String::new();
        emit_line(&mut s, 8, Some("svc-\"a\""), true, r#"{"type":"x"}"#);
        op_line(&mut s, "flush", 9);
        report_dropped_line(&mut s, 10, None, 17, "buffer_full");
        assert_eq!(
            s,
            "{\"op\":\"emit\",\"id\":\"8\",\"service\":\"svc-\\\"a\\\"\",\"durable\":true,\"event\":{\"type\":\"x\"}}\n\
             {\"op\":\"flush\",\"id\":\"9\"}\n\
             {\"op\":\"report_dropped\",\"id\":\"10\",\"count\":17,\"reason\":\"buffer_full\"}\n"
        );
    }
}
