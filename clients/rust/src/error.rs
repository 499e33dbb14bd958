//! The crate's errors: the sealer's error codes as a type, and what can go
//! wrong on the client's side.

use std::fmt;
use std::io;

use crate::protocol::Receipt;

/// A stable error code of PROTOCOL.md "Errors".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `bad_json`: the line is not a JSON object. Fix the client.
    BadJson,
    /// `bad_request`: a field is missing, unknown or of the wrong type, or
    /// the op is unknown. Fix the client.
    BadRequest,
    /// `frame_too_large`: the line exceeds 128 KiB. Fix the client.
    FrameTooLarge,
    /// `invalid_event`: the event breaks a rule of EVENTS.md; `field` and
    /// `rule` name it. Fix the emitter; do not retry.
    InvalidEvent,
    /// `not_authorized`: the peer may not use the service identity (or may
    /// not query). Fix the policy or the client.
    NotAuthorized,
    /// `shed`: the sealer's queue was full and the event was dropped (and
    /// recorded as shed). Retry later or count it.
    Shed,
    /// `timeout`: a critical event waited for queue space too long. Retry.
    Timeout,
    /// `unavailable`: the sealer cannot accept events now. Retry later.
    Unavailable,
    /// `not_sealed`: the record is durable (the error carries its receipt)
    /// but not sealed yet. Treat it as durable.
    NotSealed,
    /// `tampered`: a query found the log changed; `reason` names how.
    Tampered,
    /// `internal`: a bug in the sealer.
    Internal,
    /// A code this crate does not know (added by a later protocol version).
    Other(String),
}

impl ErrorCode {
    /// The code as the wire spells it.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::InvalidEvent => "invalid_event",
            ErrorCode::NotAuthorized => "not_authorized",
            ErrorCode::Shed => "shed",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::NotSealed => "not_sealed",
            ErrorCode::Tampered => "tampered",
            ErrorCode::Internal => "internal",
            ErrorCode::Other(s) => s,
        }
    }

    /// The code for its wire spelling.
    pub fn from_wire(s: &str) -> ErrorCode {
        match s {
            "bad_json" => ErrorCode::BadJson,
            "bad_request" => ErrorCode::BadRequest,
            "frame_too_large" => ErrorCode::FrameTooLarge,
            "invalid_event" => ErrorCode::InvalidEvent,
            "not_authorized" => ErrorCode::NotAuthorized,
            "shed" => ErrorCode::Shed,
            "timeout" => ErrorCode::Timeout,
            "unavailable" => ErrorCode::Unavailable,
            "not_sealed" => ErrorCode::NotSealed,
            "tampered" => ErrorCode::Tampered,
            "internal" => ErrorCode::Internal,
            other => ErrorCode::Other(other.to_string()),
        }
    }

    /// Whether sending the same request again later may succeed: `shed`,
    /// `timeout` and `unavailable`.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ErrorCode::Shed | ErrorCode::Timeout | ErrorCode::Unavailable)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error reply from the sealer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealerError {
    /// The stable code.
    pub code: ErrorCode,
    /// The sealer's message (never echoes an event's value).
    pub message: String,
    /// `invalid_event`: the JSON path of the offending field, for example
    /// `actor.user_id` (`None` for the whole event).
    pub field: Option<String>,
    /// `invalid_event`: the rule it breaks, for example `too_long`.
    pub rule: Option<String>,
    /// `tampered`: the verifier's reason code.
    pub reason: Option<String>,
    /// `not_sealed`: the durable record's place in the log.
    pub receipt: Option<Receipt>,
}

/// Everything that can go wrong.
#[derive(Debug)]
pub enum Error {
    /// The sealer refused the request (an error reply).
    Sealer(Box<SealerError>),
    /// No connection could be made to the socket at `path`. The
    /// `io::Error` says why: `PermissionDenied` when the socket's mode or
    /// group refuses this user (permanent until the policy or groups
    /// change), `NotFound` or `ConnectionRefused` when the sealer is down.
    Connect {
        /// The socket path.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// The connection broke after the request was written and before its
    /// reply came: it may or may not have been recorded.
    ConnectionLost(String),
    /// No reply within the client's own deadline (not the sealer's
    /// `timeout` code, which is [`Error::Sealer`]). The request may still
    /// be recorded.
    TimedOut,
    /// The emitter's buffer was full: the event was dropped, counted, and
    /// will be reported to the sealer (`report_dropped`).
    Dropped,
    /// The client was closed.
    Closed,
    /// The sealer sent something that is not a reply of PROTOCOL.md.
    Protocol(String),
    /// The caller gave something that cannot be sent (for example a raw
    /// event that is not a JSON object, or an event over 64 KiB).
    InvalidInput(String),
    /// Close could not deliver everything: `undelivered` events were still
    /// buffered and `unreported_drops` drops were never reported.
    Incomplete {
        /// Events lost at close.
        undelivered: u64,
        /// Drops the sealer was never told about.
        unreported_drops: u64,
    },
    /// Another I/O error on the socket.
    Io(io::Error),
}

impl Error {
    /// Whether the same request may succeed if sent again later: the
    /// sealer's `shed`, `timeout` and `unavailable`; a connection that
    /// could not be made for a reason other than permission, or broke;
    /// the client's own deadline. Not: an invalid event or request, a
    /// refused identity, a drop (already counted and reported), a closed
    /// client, `not_sealed` (the record is durable: do not send it again).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Sealer(e) => e.code.is_retryable(),
            Error::Connect { source, .. } => source.kind() != io::ErrorKind::PermissionDenied,
            Error::ConnectionLost(_) | Error::TimedOut | Error::Io(_) => true,
            Error::Dropped | Error::Closed | Error::Protocol(_) | Error::InvalidInput(_) | Error::Incomplete { .. } => {
                false
            }
        }
    }

    /// The sealer's error code, for an error reply.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Sealer(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The sealer's error reply, if this is one.
    pub fn sealer_error(&self) -> Option<&SealerError> {
        match self {
            Error::Sealer(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl fmt::Display for SealerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sealer error {}", self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        } else if let (Some(field), Some(rule)) = (&self.field, &self.rule) {
            write!(f, ": field {:?}: {}", field, rule)?;
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sealer(e) => write!(f, "audit-sealer-client: {}", e),
            Error::Connect { path, source } => {
                write!(f, "audit-sealer-client: cannot connect to the sealer at {}: {}", path, source)
            }
            Error::ConnectionLost(cause) => write!(
                f,
                "audit-sealer-client: connection to the sealer lost before the reply ({}); the request may or may not be recorded",
                cause
            ),
            Error::TimedOut => f.write_str("audit-sealer-client: no reply in time; the request may or may not be recorded"),
            Error::Dropped => f.write_str("audit-sealer-client: buffer full, event dropped (counted and reported)"),
            Error::Closed => f.write_str("audit-sealer-client: closed"),
            Error::Protocol(m) => write!(f, "audit-sealer-client: bad reply from the sealer: {}", m),
            Error::InvalidInput(m) => write!(f, "audit-sealer-client: {}", m),
            Error::Incomplete { undelivered, unreported_drops } => write!(
                f,
                "audit-sealer-client: close: {} buffered events not delivered, {} drops not reported",
                undelivered, unreported_drops
            ),
            Error::Io(e) => write!(f, "audit-sealer-client: {}", e),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect { source, .. } => Some(source),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl std::error::Error for SealerError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_codes() {
        for (code, retry) in [
            ("shed", true),
            ("timeout", true),
            ("unavailable", true),
            ("invalid_event", false),
            ("not_authorized", false),
            ("not_sealed", false),
            ("bad_request", false),
            ("something_new", false),
        ] {
            let c = ErrorCode::from_wire(code);
            assert_eq!(c.as_str(), code);
            let e = Error::Sealer(Box::new(SealerError {
                code: c,
                message: String::new(),
                field: None,
                rule: None,
                reason: None,
                receipt: None,
            }));
            assert_eq!(e.is_retryable(), retry, "{}", code);
        }
        let denied = Error::Connect { path: "/s".into(), source: io::Error::from(io::ErrorKind::PermissionDenied) };
        assert!(!denied.is_retryable());
        assert!(denied.to_string().contains("ermission denied"), "{}", denied);
        let down = Error::Connect { path: "/s".into(), source: io::Error::from(io::ErrorKind::NotFound) };
        assert!(down.is_retryable());
    }
}
