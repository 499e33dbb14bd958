// Package export writes sealed audit records for SIEMs, one line per
// record, in three formats:
//
//   - jsonl: a JSON object per line (Elastic and Splunk ingest it as is):
//     the record's place in the log (seq, audit_id), the sealer's receive
//     time, the service identity, the type, and the event itself;
//   - cef: ArcSight Common Event Format 0 (CEF:0|vendor|product|version|
//     class|name|severity|extension), with CEF's escaping rules, dictionary
//     keys only (an IPv6 source in c6a2, as src is IPv4);
//   - ocsf: an Open Cybersecurity Schema Framework 1.1.0 event object per
//     line, classed by the event's category (Authentication 3002, Authorize
//     Session 3003, Detection Finding 2004, API Activity 6003) with each
//     class's required attributes, and the original event kept under
//     unmapped.
//
// conformance_test.go checks both against the rules of the specifications.
//
// Writers keep no state between records, so an export streams in flat
// memory whatever the log's size.
package export

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

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
)

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case JSONL, CEF, OCSF:
		return f, nil
	}
	return "", fmt.Errorf("export: unknown format %q (want jsonl, cef or ocsf)", s)
}

// Writer writes records in one format.
type Writer struct {
	w       io.Writer
	format  Format
	version string
}

// NewWriter returns a Writer of format f to w; version is the sealer's
// version, named in CEF and OCSF product fields.
func NewWriter(w io.Writer, f Format, version string) *Writer {
	return &Writer{w: w, format: f, version: version}
}

// Write writes one record as one line.
func (x *Writer) Write(m *query.Match) error {
	var line []byte
	var err error
	switch x.format {
	case JSONL:
		line, err = json.Marshal(m)
	case CEF:
		line, err = x.cef(m)
	case OCSF:
		line, err = x.ocsf(m)
	default:
		return fmt.Errorf("export: unknown format %q", x.format)
	}
	if err != nil {
		return err
	}
	_, err = x.w.Write(append(line, '\n'))
	return err
}

// eventFields are the event fields the CEF and OCSF mappings use. A field
// of another JSON type than declared stays empty (Unmarshal skips it).
type eventFields struct {
	Actor struct {
		UserID string `json:"user_id"`
		IP     string `json:"ip"`
	} `json:"actor"`
	AttemptedUser string `json:"attempted_user"`
	IP            string `json:"ip"`
	Reason        string `json:"reason"`
	Severity      string `json:"severity"`
	ServiceID     string `json:"service_id"`
	Action        string `json:"action"`
	Result        struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	} `json:"result"`
}

// fields decodes the fields the mappings use from the canonical event JSON
// (valid by construction: it is a sealed record), into a struct rather than
// a generic map: most of an export's time went into building that map.
func fields(m *query.Match) *eventFields {
	var f eventFields
	json.Unmarshal(m.Event, &f)
	return &f
}

// severity returns the CEF severity (0-10) and OCSF severity_id (1-6) of a
// record: critical events and security incidents high, denials medium.
func severity(m *query.Match, f *eventFields) (cef int, ocsf int) {
	switch sev := f.Severity; {
	case sev == "critical":
		return 10, 5
	case sev == "high":
		return 8, 4
	case m.Critical:
		return 9, 4
	case strings.HasPrefix(m.Type, "security."):
		return 7, 3
	case m.Type == "authz.denied" || m.Type == "vram.allocation_failed":
		return 5, 3
	}
	return 3, 1
}

// The CEF escapers, built once (a Replacer is safe for concurrent use):
// building them per field cost more than the rest of a CEF line.
var (
	cefHeaderEscaper = strings.NewReplacer(`\`, `\\`, `|`, `\|`)
	cefValueEscaper  = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r", `\r`, "\n", `\n`)
)

// cefHeader escapes a CEF header field: backslash and pipe.
func cefHeader(s string) string { return cefHeaderEscaper.Replace(s) }

// cefValue escapes a CEF extension value: backslash, equals sign, newlines.
func cefValue(s string) string { return cefValueEscaper.Replace(s) }

func (x *Writer) cef(m *query.Match) ([]byte, error) {
	f := fields(m)
	sev, _ := severity(m, f)
	var b strings.Builder
	fmt.Fprintf(&b, "CEF:0|audit-sealer|audit-sealer|%s|%s|%s|%d|", cefHeader(x.version), cefHeader(m.Type), cefHeader(m.Type), sev)
	ext := []struct{ k, v string }{
		{"rt", strconv.FormatInt(m.Received.UnixMilli(), 10)},
		{"externalId", m.AuditID},
		{"cn1Label", "seq"}, {"cn1", strconv.FormatUint(m.Seq, 10)},
		{"cs1Label", "service"}, {"cs1", m.Service},
		{"cat", event.Category(m.Type)},
	}
	if u := f.Actor.UserID; u != "" {
		ext = append(ext, struct{ k, v string }{"suser", u})
	}
	if ip, err := netip.ParseAddr(firstNonEmpty(f.Actor.IP, f.IP)); err == nil {
		// CEF's src is an IPv4 address; an IPv6 source goes in the
		// custom IPv6 field the spec names for it.
		if ip.Unmap().Is4() {
			ext = append(ext, struct{ k, v string }{"src", ip.Unmap().String()})
		} else {
			ext = append(ext, struct{ k, v string }{"c6a2Label", "Source IPv6 Address"}, struct{ k, v string }{"c6a2", ip.String()})
		}
	}
	if r := firstNonEmpty(f.Reason, f.Result.Reason); r != "" {
		ext = append(ext, struct{ k, v string }{"reason", r})
	}
	ext = append(ext, struct{ k, v string }{"msg", string(m.Event)})
	for i, e := range ext {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.k + "=" + cefValue(e.v))
	}
	return []byte(b.String()), nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// ocsfClass maps an event type to an OCSF class and activity.
func ocsfClass(typ string) (classUID, categoryUID, activityID int, className string) {
	switch {
	case typ == "auth.success" || typ == "auth.failure":
		return 3002, 3, 1, "Authentication" // Logon
	case typ == "authz.granted" || typ == "authz.denied":
		return 3003, 3, 1, "Authorize Session" // Assign Privileges
	case strings.HasPrefix(typ, "security.") || typ == "seal.verification_failed":
		return 2004, 2, 1, "Detection Finding" // Create
	}
	return 6003, 6, 99, "API Activity" // Other
}

// The OCSF 1.1.0 objects the export writes, as structs: marshalling maps
// cost most of an OCSF line.
type (
	ocsfEvent struct {
		ClassUID     int           `json:"class_uid"`
		ClassName    string        `json:"class_name"`
		CategoryUID  int           `json:"category_uid"`
		ActivityID   int           `json:"activity_id"`
		TypeUID      int           `json:"type_uid"`
		SeverityID   int           `json:"severity_id"`
		Time         int64         `json:"time"`
		Message      string        `json:"message"`
		Metadata     ocsfMetadata  `json:"metadata"`
		Actor        *ocsfActor    `json:"actor,omitempty"`
		User         *ocsfUser     `json:"user,omitempty"`
		Service      *ocsfName     `json:"service,omitempty"`
		Privileges   []string      `json:"privileges,omitempty"`
		API          *ocsfAPI      `json:"api,omitempty"`
		SrcEndpoint  *ocsfEndpoint `json:"src_endpoint,omitempty"`
		StatusID     int           `json:"status_id,omitempty"` // 0 (Unknown) is left out
		Status       string        `json:"status,omitempty"`
		StatusDetail string        `json:"status_detail,omitempty"`
		FindingInfo  *ocsfFinding  `json:"finding_info,omitempty"`
		Unmapped     ocsfUnmapped  `json:"unmapped"`
	}
	ocsfMetadata struct {
		Version    string      `json:"version"`
		UID        string      `json:"uid"`
		Product    ocsfProduct `json:"product"`
		LoggedTime int64       `json:"logged_time"`
		Sequence   uint64      `json:"sequence"`
		Labels     []string    `json:"labels"`
	}
	ocsfProduct struct {
		Name       string `json:"name"`
		VendorName string `json:"vendor_name"`
		Version    string `json:"version"`
	}
	ocsfUser struct {
		UID  string `json:"uid,omitempty"`
		Name string `json:"name,omitempty"`
	}
	ocsfActor struct {
		User    *ocsfUser `json:"user,omitempty"`
		AppName string    `json:"app_name,omitempty"`
	}
	ocsfName struct {
		Name string `json:"name"`
	}
	ocsfAPI struct {
		Operation string   `json:"operation"`
		Service   ocsfName `json:"service"`
	}
	ocsfEndpoint struct {
		IP   string `json:"ip,omitempty"`
		Name string `json:"name,omitempty"`
	}
	ocsfFinding struct {
		UID   string   `json:"uid"`
		Title string   `json:"title"`
		Types []string `json:"types"`
	}
	ocsfUnmapped struct {
		Event   json.RawMessage `json:"event"`
		Service string          `json:"service"`
		Type    string          `json:"type"`
	}
)

func (x *Writer) ocsf(m *query.Match) ([]byte, error) {
	f := fields(m)
	class, category, activity, className := ocsfClass(m.Type)
	_, sev := severity(m, f)
	ms := m.Received.UnixMilli()
	o := &ocsfEvent{ClassUID: class, ClassName: className, CategoryUID: category, ActivityID: activity,
		TypeUID: class*100 + activity, SeverityID: sev, Time: ms, Message: m.Type,
		Metadata: ocsfMetadata{Version: "1.1.0", UID: m.AuditID, LoggedTime: ms, Sequence: m.Seq,
			Product: ocsfProduct{Name: "audit-sealer", VendorName: "audit-sealer", Version: x.version},
			Labels:  []string{"service:" + m.Service}},
		Unmapped: ocsfUnmapped{Event: m.Event, Service: m.Service, Type: m.Type},
	}
	// The subject: the actor, or the user an authentication failure named
	// (auth.failure may name none).
	user := &ocsfUser{Name: "unknown"}
	if u := firstNonEmpty(f.Actor.UserID, f.AttemptedUser); u != "" {
		user = &ocsfUser{UID: u}
	}
	if u := f.Actor.UserID; u != "" {
		o.Actor = &ocsfActor{User: &ocsfUser{UID: u}}
	}
	if ip := firstNonEmpty(f.Actor.IP, f.IP); ip != "" {
		o.SrcEndpoint = &ocsfEndpoint{IP: ip}
	}
	// Each class's required attributes (OCSF 1.1.0), with the constraints
	// that go with them.
	switch class {
	case 3002: // Authentication: user; at least one of service, dst_endpoint
		o.User = user
		o.Service = &ocsfName{Name: firstNonEmpty(f.ServiceID, m.Service)}
	case 3003: // Authorize Session: user; at least one of privileges, group
		o.User = user
		o.Privileges = []string{firstNonEmpty(f.Action, m.Type)}
	case 6003: // API Activity: actor, api, src_endpoint
		if o.Actor == nil {
			o.Actor = &ocsfActor{AppName: m.Service}
		}
		o.API = &ocsfAPI{Operation: m.Type, Service: ocsfName{Name: m.Service}}
		if o.SrcEndpoint == nil {
			o.SrcEndpoint = &ocsfEndpoint{Name: m.Service}
		}
	}
	switch {
	case m.Type == "auth.failure" || m.Type == "authz.denied" || f.Result.Status == "failure":
		o.StatusID, o.Status = 2, "Failure"
		o.StatusDetail = firstNonEmpty(f.Reason, f.Result.Reason)
	case m.Type == "auth.success" || m.Type == "authz.granted" || f.Result.Status == "success":
		o.StatusID, o.Status = 1, "Success"
	}
	if class == 2004 {
		o.FindingInfo = &ocsfFinding{UID: m.AuditID, Title: m.Type, Types: []string{m.Type}}
	}
	return json.Marshal(o)
}
