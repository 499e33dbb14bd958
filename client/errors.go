package client

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/wire"
)

// Sentinel errors. Test for them with errors.Is: the errors the client
// returns wrap them with context.
var (
	// ErrDropped is returned by Emit when the client's buffer (events or
	// bytes) is full. The event is lost. The client counts it and reports
	// the count to the sealer with report_dropped, so that the drop is
	// recorded in the chain as audit.client_dropped.
	ErrDropped = errors.New("client: event dropped")

	// ErrClosed is returned by every method once Close has been called.
	ErrClosed = errors.New("client: closed")

	// ErrConnectionLost means the connection to the sealer broke while a
	// request was outstanding. From EmitDurable: the event was written to
	// the socket but no reply came, so it may or may not have been recorded
	// (it is not sent again). From Flush: events that the sealer had
	// accepted (queued) on the lost connection may not have been made
	// durable, for example if the sealer crashed.
	ErrConnectionLost = errors.New("client: connection to the sealer lost")

	// ErrShed is the sealer's "shed" error: its queue was full and the
	// non-critical event was dropped. The sealer counts and records the
	// drop itself (audit.events_shed). Retry later or count it.
	ErrShed = errors.New("client: sealer shed the event (queue full)")

	// ErrNotAuthorized is the sealer's "not_authorized" error: the peer may
	// not use the requested service identity (Options.Service). Fix the
	// sealer's policy or the client's options.
	ErrNotAuthorized = errors.New("client: not authorized for the service identity")

	// ErrUnavailable is the sealer's "unavailable" error: it is stopping or
	// cannot write its log. Retry later.
	ErrUnavailable = errors.New("client: sealer unavailable")

	// ErrTimeout is the sealer's "timeout" error: a critical event waited
	// for queue space longer than the sealer's deadline and was not
	// accepted. Retry. (A context ending on the client side is reported
	// with the context's own error, not ErrTimeout.)
	ErrTimeout = errors.New("client: sealer timed out waiting for queue space")

	// ErrNotSealed is the sealer's "not_sealed" error: the record is
	// durable and has a sequence number, but no signed checkpoint covers
	// it yet (for example the HSM is unavailable); it will be sealed when
	// signing works again. EmitDurable returns the Receipt together with an
	// error wrapping ErrNotSealed. Treat the event as durable.
	ErrNotSealed = errors.New("client: record durable but not sealed yet")
)

// DialError says why the client could not connect to the sealer: an
// event or flush that ends (its context done, or Close giving up) before
// any connection could be made carries it, so that the cause is not
// hidden behind a deadline. It unwraps to the dial error, so
// errors.Is(err, fs.ErrPermission) tells a uid the socket refuses (a
// permanent condition until the policy or the groups change) from a
// sealer that is down (fs.ErrNotExist, syscall.ECONNREFUSED).
type DialError struct {
	Path string
	Err  error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("client: cannot connect to the sealer at %s: %v", e.Path, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// InvalidEventError is the sealer's "invalid_event" error: the event breaks
// a rule of EVENTS.md. Field and Rule name the offending field and rule
// (event.Rule* codes); the value is never echoed. It wraps event.ErrInvalid,
// as local validation errors do. Do not retry: fix the emitter.
//
// The client validates every event before sending it, so this error means
// the client's event package and the sealer disagree (version skew).
type InvalidEventError struct {
	Field   string // JSON path, for example "actor.user_id"; "" for the whole event
	Rule    string // for example "too_long"
	Message string // the sealer's message
}

// Error returns the sealer's message with the client prefix.
func (e *InvalidEventError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "field " + strconv.Quote(e.Field) + ": " + e.Rule
	}
	return "client: sealer refused the event: " + msg
}

// Unwrap returns event.ErrInvalid.
func (e *InvalidEventError) Unwrap() error { return event.ErrInvalid }

// ServerError is any other error the sealer reported, with its stable code
// from PROTOCOL.md ("shed", "not_authorized", "timeout", "unavailable",
// "not_sealed", "bad_json", "bad_request", "frame_too_large", "internal",
// or a code added later). For the codes that have a sentinel (ErrShed,
// ErrNotAuthorized, ErrTimeout, ErrUnavailable, ErrNotSealed) it unwraps to
// that sentinel, so errors.Is works; errors.As gives the code and message.
type ServerError struct {
	Code    string
	Message string
}

// Error returns the code and the sealer's message with the client prefix.
func (e *ServerError) Error() string {
	if e.Message == "" {
		return "client: sealer error " + e.Code
	}
	return "client: sealer error " + e.Code + ": " + e.Message
}

// Unwrap returns the sentinel for the code, or nil when there is none.
func (e *ServerError) Unwrap() error {
	switch e.Code {
	case wire.CodeShed:
		return ErrShed
	case wire.CodeNotAuthorized:
		return ErrNotAuthorized
	case wire.CodeTimeout:
		return ErrTimeout
	case wire.CodeUnavailable:
		return ErrUnavailable
	case wire.CodeNotSealed:
		return ErrNotSealed
	}
	return nil
}

// replyError maps a failed reply to the error returned to callers.
func replyError(e *wire.Error) error {
	if e == nil {
		return &ServerError{Code: wire.CodeInternal, Message: "reply with ok false and no error"}
	}
	if e.Code == wire.CodeInvalidEvent {
		return &InvalidEventError{Field: e.Field, Rule: e.Rule, Message: e.Message}
	}
	return &ServerError{Code: e.Code, Message: e.Message}
}
