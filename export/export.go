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

// fields decodes the canonical event JSON (valid by construction: it is a
// sealed record) into a generic map.
func fields(m *query.Match) map[string]any {
	var f map[string]any
	json.Unmarshal(m.Event, &f)
	return f
}

func str(f map[string]any, path ...string) string {
	var v any = f
	for _, p := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = obj[p]
	}
	s, _ := v.(string)
	return s
}

// severity returns the CEF severity (0-10) and OCSF severity_id (1-6) of a
// record: critical events and security incidents high, denials medium.
func severity(m *query.Match, f map[string]any) (cef int, ocsf int) {
	switch sev := str(f, "severity"); {
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
	if u := str(f, "actor", "user_id"); u != "" {
		ext = append(ext, struct{ k, v string }{"suser", u})
	}
	if ip, err := netip.ParseAddr(firstNonEmpty(str(f, "actor", "ip"), str(f, "ip"))); err == nil {
		// CEF's src is an IPv4 address; an IPv6 source goes in the
		// custom IPv6 field the spec names for it.
		if ip.Unmap().Is4() {
			ext = append(ext, struct{ k, v string }{"src", ip.Unmap().String()})
		} else {
			ext = append(ext, struct{ k, v string }{"c6a2Label", "Source IPv6 Address"}, struct{ k, v string }{"c6a2", ip.String()})
		}
	}
	if r := firstNonEmpty(str(f, "reason"), str(f, "result", "reason")); r != "" {
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

func (x *Writer) ocsf(m *query.Match) ([]byte, error) {
	f := fields(m)
	class, category, activity, className := ocsfClass(m.Type)
	_, sev := severity(m, f)
	o := map[string]any{
		"class_uid":    class,
		"class_name":   className,
		"category_uid": category,
		"activity_id":  activity,
		"type_uid":     class*100 + activity,
		"severity_id":  sev,
		"time":         m.Received.UnixMilli(),
		"message":      m.Type,
		"metadata": map[string]any{
			"version":     "1.1.0",
			"uid":         m.AuditID,
			"product":     map[string]any{"name": "audit-sealer", "vendor_name": "audit-sealer", "version": x.version},
			"logged_time": m.Received.UnixMilli(),
			"sequence":    m.Seq,
			"labels":      []string{"service:" + m.Service},
		},
		"unmapped": map[string]any{"event": m.Event, "service": m.Service, "type": m.Type},
	}
	// The subject: the actor, or the user an authentication failure named
	// (auth.failure may name none).
	user := map[string]any{"name": "unknown"}
	if u := firstNonEmpty(str(f, "actor", "user_id"), str(f, "attempted_user")); u != "" {
		user = map[string]any{"uid": u}
	}
	if u := str(f, "actor", "user_id"); u != "" {
		o["actor"] = map[string]any{"user": map[string]any{"uid": u}}
	}
	if ip := firstNonEmpty(str(f, "actor", "ip"), str(f, "ip")); ip != "" {
		o["src_endpoint"] = map[string]any{"ip": ip}
	}
	// Each class's required attributes (OCSF 1.1.0), with the constraints
	// that go with them.
	service := firstNonEmpty(str(f, "service_id"), m.Service)
	switch class {
	case 3002: // Authentication: user; at least one of service, dst_endpoint
		o["user"] = user
		o["service"] = map[string]any{"name": service}
	case 3003: // Authorize Session: user; at least one of privileges, group
		o["user"] = user
		o["privileges"] = []string{firstNonEmpty(str(f, "action"), m.Type)}
	case 6003: // API Activity: actor, api, src_endpoint
		if _, ok := o["actor"]; !ok {
			o["actor"] = map[string]any{"app_name": m.Service}
		}
		o["api"] = map[string]any{"operation": m.Type, "service": map[string]any{"name": m.Service}}
		if _, ok := o["src_endpoint"]; !ok {
			o["src_endpoint"] = map[string]any{"name": m.Service}
		}
	}
	switch {
	case m.Type == "auth.failure" || m.Type == "authz.denied" || str(f, "result", "status") == "failure":
		o["status_id"], o["status"] = 2, "Failure"
		if r := firstNonEmpty(str(f, "reason"), str(f, "result", "reason")); r != "" {
			o["status_detail"] = r
		}
	case m.Type == "auth.success" || m.Type == "authz.granted" || str(f, "result", "status") == "success":
		o["status_id"], o["status"] = 1, "Success"
	}
	if class == 2004 {
		o["finding_info"] = map[string]any{"uid": m.AuditID, "title": m.Type, "types": []string{m.Type}}
	}
	return json.Marshal(o)
}
