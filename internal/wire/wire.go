// Package wire is the Go rendering of the sealer's socket protocol
// (PROTOCOL.md): the request and reply types, the ops and error codes, the
// fast appenders of the common lines, and the parser that splits a request
// line. The sealer, the client package, the audit-sealer commands, the
// benchmark's load generator and the client's test fake all speak the
// protocol through it, so that its lines are defined in one place.
//
// PROTOCOL.md is normative; where this package and it disagree, this package
// is wrong.
package wire

import (
	"encoding/json"
	"time"
)

// MaxLine is the longest request line, newline included.
const MaxLine = 128 << 10

// MaxID is the longest request id, in bytes; the sealer refuses a longer one
// (bad_request) and does not echo it.
const MaxID = 64

// ProtocolVersion is the version of the protocol PROTOCOL.md describes,
// which the hello reply names (PROTOCOL.md "Evolution").
const ProtocolVersion = 1

// The ops of PROTOCOL.md "Requests".
const (
	OpHello         = "hello"
	OpEmit          = "emit"
	OpFlush         = "flush"
	OpStatus        = "status"
	OpPing          = "ping"
	OpReportDropped = "report_dropped"
	OpQuery         = "query"
	OpRotateKey     = "rotate_key"
	OpExport        = "export"
	OpReport        = "report"
)

// The error codes of PROTOCOL.md "Errors", in its table's order. A test
// checks that the table and these constants agree.
const (
	CodeBadJSON       = "bad_json"
	CodeBadRequest    = "bad_request"
	CodeFrameTooLarge = "frame_too_large"
	CodeInvalidEvent  = "invalid_event"
	CodeNotAuthorized = "not_authorized"
	CodeShed          = "shed"
	CodeTimeout       = "timeout"
	CodeUnavailable   = "unavailable"
	CodeNotSealed     = "not_sealed"
	CodeTampered      = "tampered"
	CodeInternal      = "internal"
)

// Codes lists every error code of the protocol, in PROTOCOL.md's table's
// order (the sealer's metrics count refusals by these codes from the
// start).
func Codes() []string {
	return []string{CodeBadJSON, CodeBadRequest, CodeFrameTooLarge, CodeInvalidEvent, CodeNotAuthorized, CodeShed,
		CodeTimeout, CodeUnavailable, CodeNotSealed, CodeTampered, CodeInternal}
}

// IsClientFault reports whether code refuses a line as the client's fault:
// the sealer counts such lines against the peer's limits on bad lines
// (PROTOCOL.md "Errors"), and the client must be fixed rather than retry.
func IsClientFault(code string) bool {
	switch code {
	case CodeBadJSON, CodeBadRequest, CodeFrameTooLarge, CodeInvalidEvent, CodeNotAuthorized:
		return true
	}
	return false
}

// Request is a request line. Fields an op does not use are left zero; the
// omitempty tags make encoding/json write only the fields that are set. The
// event and the query filter are kept as raw JSON: the sealer validates an
// event with package event, and decodes a filter into a Filter.
type Request struct {
	Op      string          `json:"op"`
	ID      *string         `json:"id,omitempty"`
	Durable bool            `json:"durable,omitempty"`
	Service string          `json:"service,omitempty"`
	Event   json.RawMessage `json:"event,omitempty"`
	Count   uint64          `json:"count,omitempty"` // report_dropped
	Reason  string          `json:"reason,omitempty"`
	Filter  json.RawMessage `json:"filter,omitempty"` // query, export: a Filter; report: its from and to
	Limit   int             `json:"limit,omitempty"`  // query
	// KeyLabel is rotate_key's new key: its label on the sealer's token.
	KeyLabel string `json:"key_label,omitempty"`
	// Follow: export goes on with each record sealed after the ones it
	// sent, until the connection closes.
	Follow bool `json:"follow,omitempty"`
	// Report is the kind of report asked for (soc2, pci, iso27001,
	// gdpr), Format its format (json, html), Customer the customer of a
	// gdpr report.
	Report   string `json:"report,omitempty"`
	Format   string `json:"format,omitempty"`
	Customer string `json:"customer,omitempty"`
}

// Filter is the "filter" object of a query request. The sealer also records
// it, encoded with these tags, in the audit.log_read event of the query.
type Filter struct {
	User     string    `json:"user,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	Service  string    `json:"service,omitempty"`
	Types    []string  `json:"types,omitempty"`
	Entity   string    `json:"entity,omitempty"`
	From     time.Time `json:"from,omitzero"`
	To       time.Time `json:"to,omitzero"`
	Critical bool      `json:"critical,omitempty"`
	Sealer   bool      `json:"sealer,omitempty"`
	After    uint64    `json:"after,omitempty"`
}

// Reply is a reply line. Encoded with encoding/json (or AppendReply), it
// carries only the fields that are set, in this order.
//
// Status and Matches hold values whose types belong to the sealer and to
// package query, which the client must not import: the sealer sets them to
// its status struct and to a non-empty slice of query matches, and a reader
// gets a map[string]any and a []any, or sets them to a pointer beforehand to
// decode into.
type Reply struct {
	ID             string       `json:"id,omitempty"`
	OK             bool         `json:"ok"`
	Accepted       bool         `json:"accepted,omitempty"`
	Seq            *uint64      `json:"seq,omitempty"`
	AuditID        string       `json:"audit_id,omitempty"`
	Durable        bool         `json:"durable,omitempty"`
	Sealed         bool         `json:"sealed,omitempty"`
	CheckpointSize *uint64      `json:"checkpoint_size,omitempty"` // flush
	Time           string       `json:"time,omitempty"`            // ping
	Status         any          `json:"status,omitempty"`          // status
	Matches        any          `json:"matches,omitempty"`         // query
	More           *bool        `json:"more,omitempty"`            // query
	Next           *uint64      `json:"next,omitempty"`            // query
	Hello          *Hello       `json:"hello,omitempty"`           // hello
	Key            *KeyRotation `json:"key,omitempty"`             // rotate_key
	Done           bool         `json:"done,omitempty"`            // export: the last reply of an export that does not follow
	Report         *Report      `json:"report,omitempty"`          // report
	Error          *Error       `json:"error,omitempty"`
}

// Report is the reply to a report request: the report the sealer built,
// and its signature (FORMAT.md §10), whose proof covers the audit.log_read
// record at Seq that holds the report's SHA-256.
type Report struct {
	Kind    string `json:"kind"`
	Format  string `json:"format"`
	Verdict string `json:"verdict"` // the log's verification verdict, as the report states it
	SHA256  string `json:"sha256"`  // lowercase hex of Body
	Seq     uint64 `json:"seq"`     // the audit.log_read record
	// Body is the report's bytes (base64 in JSON).
	Body []byte `json:"body"`
	// Signature is the report's signature file, to write beside it.
	Signature json.RawMessage `json:"signature"`
}

// KeyRotation is the reply to rotate_key: the key that now signs
// checkpoints, the key it replaced, and where the log hands over from
// one to the other (FORMAT.md §5.1).
type KeyRotation struct {
	KeyID         string `json:"key_id"`
	PreviousKeyID string `json:"previous_key_id"`
	// KeyLabel is the new key's label on the token ("" for a --dev key).
	KeyLabel string `json:"key_label,omitempty"`
	// IntroducedSeq is the audit.key_introduced record, which a checkpoint
	// by the previous key covers (the endorsement).
	IntroducedSeq uint64 `json:"introduced_seq"`
	// CheckpointSize is the tree size of the new key's first checkpoint.
	CheckpointSize uint64 `json:"checkpoint_size"`
	// Warning, when set, is something the operator must do or know: the
	// rotation is done and recorded all the same.
	Warning string `json:"warning,omitempty"`
}

// Hello is what the sealer says of itself in reply to a hello request:
// the protocol version it speaks, its build, the ops and event types it
// accepts, which of those types are critical, and the service identities
// the asking peer may emit as.
type Hello struct {
	Protocol      int      `json:"protocol"`
	Version       string   `json:"version"`
	Ops           []string `json:"ops"`
	Types         []string `json:"types"`
	CriticalTypes []string `json:"critical_types"`
	Services      []string `json:"services"`
}

// Ops lists every op of the protocol, in PROTOCOL.md's order.
func Ops() []string {
	return []string{OpHello, OpEmit, OpFlush, OpStatus, OpPing, OpReportDropped, OpQuery, OpExport, OpReport, OpRotateKey}
}

// Error is the error of a failed reply.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`  // invalid_event: the JSON path of the field
	Rule    string `json:"rule,omitempty"`   // invalid_event: the rule it breaks
	Reason  string `json:"reason,omitempty"` // tampered: the verifier's reason code
}
