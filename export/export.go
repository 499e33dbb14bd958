// Package export turns sealed audit records into what SIEMs ingest, and
// delivers them.
//
// # Formats
//
// One line per record, in four formats:
//
//   - jsonl: a JSON object per line: the record's place in the log (seq,
//     audit_id), the sealer's receive time, the service identity, the type,
//     and the event itself (query.Match as JSON);
//   - cef: ArcSight Common Event Format 0 (CEF:0|vendor|product|version|
//     class|name|severity|extension), with CEF's escaping rules and
//     dictionary keys only: the type as class, a human-readable name, the
//     acting user (suser), the user acted on (duser: auth.failure's
//     attempted user, a permission change's subject), the device host
//     (dvchost), outcome, the request path (request) and the build's
//     version in the header;
//   - ocsf: an Open Cybersecurity Schema Framework 1.3.0 event object per
//     line, of the class each type belongs to (mapping.go: Authentication,
//     Entity Management, User Access Management, API Activity, Web
//     Resources Activity, Application Lifecycle, Detection Finding) with
//     its activity, status, each class's required attributes,
//     metadata.event_code (the type), metadata.original_time (the
//     emitter's timestamp), http_request.url.path, and the original event
//     under unmapped;
//   - ecs: a JSON object per line with Elastic Common Schema 8.11 field
//     names (@timestamp, event.action, event.category, event.type,
//     event.outcome, user.name, source.ip, host.name, …) and the record
//     under audit_sealer.
//
// conformance_test.go checks CEF and OCSF against the rules of the
// specifications, ecs_test.go ECS; docs/export-mappings.md lists the
// mapping of every type. Formatters keep no state between records, so an
// export streams in flat memory whatever the log's size.
//
// # Delivery
//
// Run reads the log as query.Scan does (only sealed records, everything
// checked) and delivers the formatted records to a Sink in batches:
// standard output, RFC 5424 syslog over TLS (RFC 5425, octet counting)
// or an HTTP JSON batch endpoint shaped like the Splunk HTTP Event
// Collector. A slow sink slows the reading (a batch is sent before the
// next is read); a failed delivery is retried with exponential backoff
// and never skipped. With a cursor file (cursor.go) Run resumes where the
// last run's confirmed deliveries ended.
package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/query"
)

// Format names an export format.
type Format string

// The formats.
const (
	JSONL Format = "jsonl"
	CEF   Format = "cef"
	OCSF  Format = "ocsf"
	ECS   Format = "ecs"
)

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case JSONL, CEF, OCSF, ECS:
		return f, nil
	}
	return "", fmt.Errorf("export: unknown format %q (want jsonl, cef, ocsf or ecs)", s)
}

// IsJSON reports whether a line of format f is one JSON object.
func (f Format) IsJSON() bool { return f != CEF }

// Options say what the formats name besides the record itself.
type Options struct {
	// Version is the exporting build's version (buildinfo.Version()):
	// CEF's Device Version, OCSF's metadata.product.version, ECS's
	// observer.version.
	Version string
	// Host is the name of the host whose log is exported (CEF dvchost, ECS
	// host.name and observer.hostname); empty leaves those fields out.
	Host string
}

// Formatter formats records in one format. It is safe for concurrent use.
type Formatter struct {
	format Format
	opts   Options
}

// NewFormatter returns a Formatter of format f.
func NewFormatter(f Format, o Options) *Formatter {
	return &Formatter{format: f, opts: o}
}

// Format returns the record as one line of the formatter's format, without
// the line feed. The line never holds a raw line break.
func (x *Formatter) Format(m *query.Match) ([]byte, error) {
	if x.format == JSONL {
		return marshal(m)
	}
	return x.format1(m, fields(m))
}

// record returns the Record of m, formatted.
func (x *Formatter) record(m *query.Match) (Record, error) {
	f := fields(m)
	_, sev := severity(m, f)
	line, err := x.format1(m, f)
	return Record{Seq: m.Seq, AuditID: m.AuditID, Type: m.Type, Category: event.Category(m.Type), Service: m.Service,
		Received: m.Received, Severity: sev, Line: line}, err
}

// format1 formats m, whose fields f holds.
func (x *Formatter) format1(m *query.Match, f *eventFields) ([]byte, error) {
	switch x.format {
	case JSONL:
		return marshal(m)
	case CEF:
		return x.cef(m, f)
	case OCSF:
		return x.ocsf(m, f)
	case ECS:
		return x.ecs(m, f)
	}
	return nil, fmt.Errorf("export: unknown format %q", x.format)
}

// marshal returns v as JSON without the HTML escaping of encoding/json:
// the event's canonical bytes reach the SIEM unchanged (a json.RawMessage
// would otherwise get <, >, & and U+2028/U+2029 escaped), so that what was
// sealed can be compared with what was delivered byte for byte.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Writer writes records in one format, one line each.
type Writer struct {
	w io.Writer
	f *Formatter
}

// NewWriter returns a Writer of format f to w; version is the build's
// version (Options.Version), and no host is named.
func NewWriter(w io.Writer, f Format, version string) *Writer {
	return &Writer{w: w, f: NewFormatter(f, Options{Version: version})}
}

// Write writes one record as one line.
func (x *Writer) Write(m *query.Match) error {
	line, err := x.f.Format(m)
	if err != nil {
		return err
	}
	_, err = x.w.Write(append(line, '\n'))
	return err
}

// eventFields are the event fields the mappings use. A field of another
// JSON type than declared stays empty (Unmarshal skips it).
type eventFields struct {
	Timestamp string `json:"timestamp"`
	Actor     struct {
		UserID     string `json:"user_id"`
		IP         string `json:"ip"`
		AuthMethod string `json:"auth_method"`
		SessionID  string `json:"session_id"`
	} `json:"actor"`
	AttemptedUser string `json:"attempted_user"`
	IP            string `json:"ip"`
	Reason        string `json:"reason"`
	Severity      string `json:"severity"`
	ServiceID     string `json:"service_id"`
	Method        string `json:"method"`
	Path          string `json:"path"`
	Endpoint      string `json:"endpoint"`
	AttemptedPath string `json:"attempted_path"`
	Action        string `json:"action"`
	ActionTaken   string `json:"action_taken"`
	Resource      struct {
		Type     string `json:"resource_type"`
		ID       string `json:"resource_id"`
		ParentID string `json:"parent_id"`
	} `json:"resource"`
	ResourceType string `json:"resource_type"`
	ResourceID   string `json:"resource_id"`
	Result       struct {
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Details string `json:"details"`
	} `json:"result"`
	Subject          string   `json:"subject"`
	OldPermissions   []string `json:"old_permissions"`
	NewPermissions   []string `json:"new_permissions"`
	TokenFingerprint string   `json:"token_fingerprint"`
	PoolID           string   `json:"pool_id"`
	NodeID           string   `json:"node_id"`
	TaskID           string   `json:"task_id"`
	ShardID          string   `json:"shard_id"`
	WorkerID         string   `json:"worker_id"`
	CustomerID       string   `json:"customer_id"`
	JobID            string   `json:"job_id"`
	ModelRef         string   `json:"model_ref"`
	Requester        string   `json:"requester"`
	Details          string   `json:"details"`
	Violation        string   `json:"violation"`
	ValidationError  string   `json:"validation_error"`
	ActivityType     string   `json:"activity_type"`
	Status           string   `json:"status"` // audit.anchor_state
	Version          string   `json:"version"`
	KeyID            string   `json:"key_id"`
	KeyName          string   `json:"key_name"`
	Operation        string   `json:"operation"`
	UID              *uint64  `json:"uid"`
	Witness          string   `json:"witness"`
	Error            string   `json:"error"`
	AKName           string   `json:"ak_name"`
	Segments         []string `json:"segments"`
}

// fields decodes the fields the mappings use from the canonical event JSON
// (valid by construction: it is a sealed record), into a struct rather than
// a generic map: most of an export's time went into building that map.
func fields(m *query.Match) *eventFields {
	var f eventFields
	json.Unmarshal(m.Event, &f)
	return &f
}

// eventTime returns the emitter's timestamp, or the sealer's receive time
// if it does not parse (it always does in a sealed record).
func eventTime(m *query.Match, f *eventFields) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, f.Timestamp); err == nil {
		return t.UTC()
	}
	return m.Received.UTC()
}

// sourceIP returns the IP address the action came from: the actor's, or
// the event's own ip field.
func (f *eventFields) sourceIP() string { return firstNonEmpty(f.Actor.IP, f.IP) }

// reason returns the event's reason: its own, or its result's.
func (f *eventFields) reason() string { return firstNonEmpty(f.Reason, f.Result.Reason) }

// requestPath returns the path of the request the event is about.
func (f *eventFields) requestPath() string { return firstNonEmpty(f.Path, f.Endpoint) }

// outcome is what came of the action a record describes.
type outcome int

const (
	outcomeUnknown outcome = iota
	outcomeSuccess
	outcomeFailure
	outcomePartial
)

// outcomeOf returns the outcome of a record: by its type (auth.failure,
// authz.denied, vram.allocation_failed fail; auth.success and
// authz.granted succeed) or by its result.status.
func outcomeOf(m *query.Match, f *eventFields) outcome {
	switch m.Type {
	case "auth.failure", "authz.denied", "vram.allocation_failed", "seal.verification_failed":
		return outcomeFailure
	case "auth.success", "authz.granted":
		return outcomeSuccess
	}
	switch f.Result.Status {
	case "success":
		return outcomeSuccess
	case "failure":
		return outcomeFailure
	case "partial_success":
		return outcomePartial
	}
	return outcomeUnknown
}

// severity returns the CEF severity (0-10) and OCSF severity_id (1-6) of a
// record: an event's own severity first, then critical events and security
// incidents high, denials medium.
func severity(m *query.Match, f *eventFields) (cef int, ocsf int) {
	switch sev := f.Severity; {
	case sev == "critical":
		return 10, 5
	case sev == "high":
		return 8, 4
	case sev == "medium":
		return 6, 3
	case sev == "low":
		return 4, 2
	case m.Type == "audit.anchor_state" && (f.Status == "rollback_override" || f.Status == "anchor_reset" || f.Status == "disabled"):
		return 8, 4
	case m.Type == "audit.witness_alarm":
		return 10, 5
	case m.Critical:
		return 9, 4
	case strings.HasPrefix(m.Type, "security."):
		return 7, 3
	case m.Type == "authz.denied" || m.Type == "vram.allocation_failed":
		return 5, 3
	}
	return 3, 1
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
