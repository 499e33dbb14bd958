package export_test

// Conformance of the CEF, OCSF and ECS output to the published formats.
// No machine-readable validator was available as a Go module (none for
// CEF, OCSF or ECS is served by the Go module proxy), so:
//
//   - CEF: the rules are transcribed from "Implementing ArcSight Common
//     Event Format (CEF)", version 25 (Micro Focus, 2017): the header
//     CEF:Version|Device Vendor|Device Product|Device Version|Device Event
//     Class ID|Name|Severity|Extension; in the header a pipe and a
//     backslash are escaped with a backslash; in extension values an
//     equals sign and a backslash are escaped, and a newline is written \n
//     (or \r); keys are the dictionary's names or the custom fields with
//     their Label keys; Severity is 0-10; src is an IPv4 address (an IPv6
//     source goes in c6a2, "Source IPv6 Address"); outcome is a string,
//     rt milliseconds since the epoch.
//   - OCSF: each line is validated against the OCSF 1.3.0 schema excerpt
//     of ocsf130_test.go by the validator of ocsfcheck_test.go (which says
//     what it checks).
//   - ECS: ecs_test.go.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/export"
	"github.com/audit-sealer/audit-sealer/query"
)

// cefRecord is a parsed CEF line.
type cefRecord struct {
	header [7]string // version, vendor, product, device version, class id, name, severity; unescaped
	ext    map[string]string
	keys   []string // in order
}

// cefKeys are the CEF dictionary keys the export may use (CEF v25, "ArcSight
// Extension Dictionary"), the custom fields with their labels.
var cefKeys = map[string]bool{
	"rt": true, "externalId": true, "cat": true, "suser": true, "duser": true, "src": true, "reason": true, "msg": true,
	"cn1": true, "cn1Label": true, "cs1": true, "cs1Label": true, "c6a2": true, "c6a2Label": true,
	"dvchost": true, "request": true, "act": true, "outcome": true,
}

var cefKeyRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// parseCEF parses one CEF line by the specification's rules and reports any
// violation.
func parseCEF(line string) (*cefRecord, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, fmt.Errorf("a raw line break inside the record")
	}
	rest, ok := strings.CutPrefix(line, "CEF:")
	if !ok {
		return nil, fmt.Errorf("no CEF: prefix")
	}
	r := &cefRecord{ext: map[string]string{}}
	// The header: seven fields, each ended by an unescaped pipe; inside
	// them only \\ and \| are escapes.
	for i := 0; i < 7; i++ {
		var b strings.Builder
		j := 0
		for ; j < len(rest); j++ {
			c := rest[j]
			if c == '\\' {
				if j+1 >= len(rest) || (rest[j+1] != '\\' && rest[j+1] != '|') {
					return nil, fmt.Errorf("header field %d: a backslash that escapes neither \\ nor |", i)
				}
				b.WriteByte(rest[j+1])
				j++
				continue
			}
			if c == '|' {
				break
			}
			b.WriteByte(c)
		}
		if j == len(rest) {
			return nil, fmt.Errorf("%d header fields, want 7", i)
		}
		r.header[i] = b.String()
		rest = rest[j+1:]
	}
	if r.header[0] != "0" {
		return nil, fmt.Errorf("version %q, want 0", r.header[0])
	}
	if sev, err := strconv.Atoi(r.header[6]); err != nil || sev < 0 || sev > 10 {
		return nil, fmt.Errorf("severity %q: want 0-10", r.header[6])
	}
	for i, h := range r.header[1:6] {
		if h == "" {
			return nil, fmt.Errorf("header field %d is empty", i+1)
		}
	}
	// The extension: key=value pairs separated by spaces; a value runs to
	// the space before the next unescaped "key=". In a value, = and \ are
	// escaped, and \n \r stand for line breaks.
	type pos struct{ keyStart, eq int }
	var eqs []pos
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '\\':
			j++ // whatever is escaped is not an equals sign
		case '=':
			k := strings.LastIndexByte(rest[:j], ' ') + 1
			if len(eqs) > 0 && k <= eqs[len(eqs)-1].eq {
				return nil, fmt.Errorf("an unescaped = inside the value of %s", rest[eqs[len(eqs)-1].keyStart:eqs[len(eqs)-1].eq])
			}
			eqs = append(eqs, pos{k, j})
		}
	}
	if len(eqs) == 0 || eqs[0].keyStart != 0 {
		return nil, fmt.Errorf("the extension does not start with key=value")
	}
	for n, e := range eqs {
		key := rest[e.keyStart:e.eq]
		end := len(rest)
		if n+1 < len(eqs) {
			end = eqs[n+1].keyStart - 1
		}
		if !cefKeyRE.MatchString(key) {
			return nil, fmt.Errorf("extension key %q", key)
		}
		raw := rest[e.eq+1 : end]
		var v strings.Builder
		for j := 0; j < len(raw); j++ {
			if raw[j] != '\\' {
				v.WriteByte(raw[j])
				continue
			}
			if j+1 == len(raw) {
				return nil, fmt.Errorf("%s: a trailing backslash", key)
			}
			switch raw[j+1] {
			case '\\', '=':
				v.WriteByte(raw[j+1])
			case 'n':
				v.WriteByte('\n')
			case 'r':
				v.WriteByte('\r')
			default:
				return nil, fmt.Errorf("%s: the escape \\%c is not CEF's", key, raw[j+1])
			}
			j++
		}
		if _, dup := r.ext[key]; dup {
			return nil, fmt.Errorf("key %s twice", key)
		}
		r.ext[key] = v.String()
		r.keys = append(r.keys, key)
	}
	return r, nil
}

// checkCEF checks a parsed record against the keys the export may use and
// their formats.
func checkCEF(r *cefRecord) error {
	for _, k := range r.keys {
		if !cefKeys[k] {
			return fmt.Errorf("key %q is not in the CEF dictionary (or not one the export documents)", k)
		}
	}
	for _, c := range []string{"cn1", "cs1", "c6a2"} {
		if _, ok := r.ext[c]; ok {
			if r.ext[c+"Label"] == "" {
				return fmt.Errorf("%s without %sLabel", c, c)
			}
		}
	}
	if v, ok := r.ext["rt"]; ok {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("rt %q: want milliseconds since the epoch", v)
		}
	}
	if v, ok := r.ext["cn1"]; ok {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("cn1 %q: not a number", v)
		}
	}
	if v, ok := r.ext["src"]; ok {
		if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
			return fmt.Errorf("src %q: want an IPv4 address", v)
		}
	}
	if v, ok := r.ext["c6a2"]; ok {
		if a, err := netip.ParseAddr(v); err != nil || !a.Is6() {
			return fmt.Errorf("c6a2 %q: want an IPv6 address", v)
		}
	}
	if v, ok := r.ext["outcome"]; ok && v != "success" && v != "failure" && v != "partial_success" {
		return fmt.Errorf("outcome %q", v)
	}
	return nil
}

// examples returns, as sealed records, one or more events of every type
// (testdata/events.jsonl: the examples of package event's tests), each
// canonical as the sealer stores it, with the characters CEF must escape
// in header and extension among them.
func examples(t testing.TB) []*query.Match {
	t.Helper()
	data, err := os.ReadFile("testdata/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 10, 0, 0, 250_000_000, time.UTC)
	var out []*query.Match
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var ex struct {
			Name  string          `json:"name"`
			Event json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(line, &ex); err != nil {
			t.Fatalf("testdata line %d: %v", i+1, err)
		}
		ev, err := event.Decode(ex.Event, event.DecodeOptions{Now: at, AllowSealerEvents: true})
		if err != nil {
			t.Fatalf("testdata %s: %v", ex.Name, err)
		}
		canonical, err := event.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		service := "queen-rbee"
		if strings.HasPrefix(ev.EventType(), "audit.") {
			service = "audit-sealer"
		}
		seq := uint64(100 + i)
		out = append(out, &query.Match{Seq: seq, AuditID: fmt.Sprintf("3f9a1c0d5e6b7a81-%d", seq), Service: service, Type: ev.EventType(),
			Received: at, Critical: event.IsCritical(ev.EventType()), Event: canonical})
	}
	// Values with every character CEF escapes.
	mk := func(seq uint64, typ, ev string) *query.Match {
		return &query.Match{Seq: seq, AuditID: fmt.Sprintf("3f9a1c0d5e6b7a81-%d", seq), Service: "queen|rbee=x\\y", Type: typ,
			Received: at, Critical: event.IsCritical(typ), Event: json.RawMessage(ev)}
	}
	out = append(out,
		mk(1, "auth.success", `{"type":"auth.success","timestamp":"2026-11-27T10:00:00Z","actor":{"user_id":"a|b\\c=d","ip":"192.168.1.100","auth_method":"bearer_token"},"method":"bearer_token","path":"/v2/tasks?a=b|c","service_id":"queen-rbee"}`),
		mk(2, "auth.failure", `{"type":"auth.failure","timestamp":"2026-11-27T10:00:00Z","attempted_user":"eve=admin|x\\y","reason":"line one\nline two\r\nback\\slash = equals | pipe","ip":"2001:db8::1","path":"/v2/tasks","service_id":"queen-rbee"}`),
		mk(3, "auth.failure", `{"type":"auth.failure","timestamp":"2026-11-27T10:00:00Z","reason":"invalid_token","ip":"::ffff:203.0.113.9","path":"/v2/tasks","service_id":"queen-rbee"}`),
	)
	return out
}

// typesCovered checks that the cases hold every event type.
func typesCovered(t *testing.T, ms []*query.Match) {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.Type] = true
	}
	for _, typ := range append(event.Types(), event.SealerTypes()...) {
		if !seen[typ] {
			t.Errorf("no example of %s in testdata/events.jsonl", typ)
		}
	}
}

// TestCEFConformance: every CEF line parses by the specification's rules,
// uses only dictionary keys in their formats, gives back exactly the
// values that went in whatever characters they hold, and names the
// build's version, a human-readable name, the host, the users, the
// outcome and the request.
func TestCEFConformance(t *testing.T) {
	cases := examples(t)
	typesCovered(t, cases)
	for _, version := range []string{"1.0", `1.0|pipe\back`} {
		for _, m := range cases {
			line, err := export.NewFormatter(export.CEF, export.Options{Version: version, Host: "sealer-1.example"}).Format(m)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsAny(line, "\r\n") {
				t.Fatalf("%s: a raw line break: %q", m.Type, line)
			}
			r, err := parseCEF(string(line))
			if err != nil {
				t.Fatalf("%s: %v\n%s", m.Type, err, line)
			}
			if err := checkCEF(r); err != nil {
				t.Fatalf("%s: %v\n%s", m.Type, err, line)
			}
			if r.header[3] != version || r.header[4] != m.Type || r.header[5] == m.Type || r.header[5] == "" {
				t.Errorf("%s: header %q: want the version, the type and a human-readable name", m.Type, r.header)
			}
			if r.ext["msg"] != string(m.Event) || r.ext["externalId"] != m.AuditID || r.ext["cn1"] != strconv.FormatUint(m.Seq, 10) || r.ext["cs1"] != m.Service {
				t.Errorf("%s: values changed on the way: %q", m.Type, r.ext)
			}
			if r.ext["dvchost"] != "sealer-1.example" {
				t.Errorf("%s: dvchost %q", m.Type, r.ext["dvchost"])
			}
			var ev struct {
				Reason        string `json:"reason"`
				AttemptedUser string `json:"attempted_user"`
				Subject       string `json:"subject"`
				Path          string `json:"path"`
				Endpoint      string `json:"endpoint"`
				Actor         struct {
					UserID string `json:"user_id"`
				} `json:"actor"`
				Result struct {
					Status string `json:"status"`
				} `json:"result"`
			}
			json.Unmarshal(m.Event, &ev)
			if ev.Reason != "" && r.ext["reason"] != ev.Reason {
				t.Errorf("%s: reason %q, want %q", m.Type, r.ext["reason"], ev.Reason)
			}
			if r.ext["suser"] != ev.Actor.UserID {
				t.Errorf("%s: suser %q, want %q", m.Type, r.ext["suser"], ev.Actor.UserID)
			}
			if want := ev.AttemptedUser + ev.Subject; r.ext["duser"] != want {
				t.Errorf("%s: duser %q, want %q", m.Type, r.ext["duser"], want)
			}
			if want := ev.Path + ev.Endpoint; r.ext["request"] != want {
				t.Errorf("%s: request %q, want %q", m.Type, r.ext["request"], want)
			}
			want := map[string]string{"auth.success": "success", "authz.granted": "success", "auth.failure": "failure", "authz.denied": "failure", "vram.allocation_failed": "failure"}[m.Type]
			if want == "" && ev.Result.Status != "" {
				want = ev.Result.Status
			}
			if m.Type == "seal.verification_failed" {
				want = "failure"
			}
			if r.ext["outcome"] != want {
				t.Errorf("%s: outcome %q, want %q", m.Type, r.ext["outcome"], want)
			}
		}
	}
	// The parser itself refuses what the specification forbids.
	for _, bad := range []string{
		`CEF:0|v|p|1|c|n|5|msg=a=b`,         // an unescaped = inside a value
		`CEF:0|v|p|1|c|n|11|msg=x`,          // severity out of range
		`CEF:0|v|p|1\x|c|n|5|msg=x`,         // a header escape that is not \\ or \|
		`CEF:0|v|p|1|c|n|5|msg=x\ty`,        // an extension escape CEF does not have
		`CEF:0|v|p|1|c|n|5|src=2001:db8::1`, // src is IPv4
		`CEF:0|v|p|1|c|n`,                   // a short header
		`CEF:0|v|p|1|c|n|5|outcome=maybe`,   // outcome is success or failure
		`CEF:0|v|p|1|c|n|5|attemptedUser=x`, // not a dictionary key
	} {
		r, err := parseCEF(bad)
		if err == nil {
			err = checkCEF(r)
		}
		if err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestOCSFConformance: every OCSF object of every event type validates
// against the OCSF 1.3.0 schema (ocsfcheck_test.go), is of the class and
// activity the type calls for, and carries the event's code, original
// time, request path, user, address and outcome.
func TestOCSFConformance(t *testing.T) {
	cases := examples(t)
	typesCovered(t, cases)
	classes := map[int]bool{}
	for _, m := range cases {
		line, err := export.NewFormatter(export.OCSF, export.Options{Version: "1.2.3-test"}).Format(m)
		if err != nil {
			t.Fatal(err)
		}
		o, err := validateOCSF(line)
		if err != nil {
			t.Fatalf("%s: %v\n%s", m.Type, err, line)
		}
		var ev struct {
			Timestamp     string `json:"timestamp"`
			AttemptedUser string `json:"attempted_user"`
			Path          string `json:"path"`
			IP            string `json:"ip"`
			Actor         struct {
				UserID string `json:"user_id"`
				IP     string `json:"ip"`
			} `json:"actor"`
			Action string `json:"action"`
		}
		json.Unmarshal(m.Event, &ev)
		class, _ := intOf(o["class_uid"])
		activity, _ := intOf(o["activity_id"])
		classes[class] = true
		md := o["metadata"].(map[string]any)
		if md["event_code"] != m.Type || md["original_time"] != ev.Timestamp || md["uid"] != m.AuditID {
			t.Errorf("%s: metadata %v", m.Type, md)
		}
		if v := md["product"].(map[string]any)["version"]; v != "1.2.3-test" {
			t.Errorf("%s: metadata.product.version %v, want the build's", m.Type, v)
		}
		if seq, _ := intOf(md["sequence"]); uint64(seq) != m.Seq {
			t.Errorf("%s: metadata.sequence %v", m.Type, md["sequence"])
		}
		ts, _ := time.Parse(time.RFC3339Nano, ev.Timestamp)
		if tm, _ := intOf(o["time"]); int64(tm) != ts.UnixMilli() {
			t.Errorf("%s: time %v, want the emitter's %s", m.Type, o["time"], ev.Timestamp)
		}
		if ev.Path != "" {
			hr, _ := o["http_request"].(map[string]any)
			if u, _ := hr["url"].(map[string]any); u == nil || u["path"] != ev.Path {
				t.Errorf("%s: http_request %v, want url.path %q", m.Type, o["http_request"], ev.Path)
			}
		}
		if ip := ev.Actor.IP + ev.IP; ip != "" {
			src, _ := o["src_endpoint"].(map[string]any)
			if evs, _ := o["evidences"].([]any); len(evs) > 0 {
				src, _ = evs[0].(map[string]any)["src_endpoint"].(map[string]any)
			}
			if src == nil || src["ip"] != ip {
				t.Errorf("%s: src_endpoint %v, want ip %s", m.Type, src, ip)
			}
		}
		want := map[string][2]int{ // class, activity
			"auth.success": {3002, 1}, "auth.failure": {3002, 1},
			"token.created": {3004, 1}, "token.revoked": {3004, 9},
			"authz.permission_changed": {3005, 1},
			"pool.created":             {3004, 1}, "pool.deleted": {3004, 4}, "pool.modified": {3004, 3},
			"node.registered": {3004, 6}, "node.deregistered": {3004, 7},
			"task.submitted": {6003, 1}, "task.completed": {6003, 3}, "task.canceled": {6003, 4},
			"data.model_accessed": {6003, 2}, "data.deleted": {6003, 4},
			"compliance.gdpr_data_access_request": {6001, 2}, "compliance.gdpr_data_export": {6001, 7}, "compliance.gdpr_right_to_erasure": {6001, 4},
			"audit.sealer_started": {6002, 3}, "audit.sealer_stopped": {6002, 4}, "audit.log_read": {6003, 2},
			"audit.key_introduced": {3004, 1}, "audit.retention_pruned": {3004, 4},
		}
		if strings.HasPrefix(m.Type, "security.") || m.Type == "seal.verification_failed" || m.Type == "audit.witness_alarm" || m.Type == "audit.events_shed" {
			want[m.Type] = [2]int{2004, 1}
		}
		switch m.Type {
		case "authz.granted", "authz.denied":
			// API Activity by the action's verb, with the decision as
			// status.
			act := map[string]int{"read": 2, "write": 3, "delete": 4}[ev.Action]
			want[m.Type] = [2]int{6003, act}
			if st, _ := intOf(o["status_id"]); (m.Type == "authz.granted") != (st == 1) || (m.Type == "authz.denied") != (st == 2) {
				t.Errorf("%s: status_id %v", m.Type, o["status_id"])
			}
			if rs := o["resources"].([]any)[0].(map[string]any); rs["type"] != "pool" || rs["uid"] != "pool-7" {
				t.Errorf("%s: resources %v", m.Type, o["resources"])
			}
		case "auth.success", "auth.failure":
			st, _ := intOf(o["status_id"])
			if (m.Type == "auth.success") != (st == 1) || (m.Type == "auth.failure") != (st == 2) {
				t.Errorf("%s: status_id %v", m.Type, o["status_id"])
			}
			u := o["user"].(map[string]any)
			if wantUser := ev.Actor.UserID + ev.AttemptedUser; wantUser != "" && u["uid"] != wantUser || wantUser == "" && u["uid"] != nil {
				t.Errorf("%s: user %v, want uid %q", m.Type, u, wantUser)
			}
		}
		if w, ok := want[m.Type]; ok && (class != w[0] || activity != w[1]) {
			t.Errorf("%s: class %d activity %d, want %d/%d", m.Type, class, activity, w[0], w[1])
		}
	}
	if len(classes) != 7 {
		t.Errorf("the cases cover classes %v, want the 7 the export uses", classes)
	}
}

// TestOCSFValidatorRefuses: the validator refuses what the OCSF 1.3.0
// schema forbids, in the event and in nested objects.
func TestOCSFValidatorRefuses(t *testing.T) {
	m := examples(t)[0] // auth.success
	good, err := export.NewFormatter(export.OCSF, export.Options{Version: "1"}).Format(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validateOCSF(good); err != nil {
		t.Fatalf("the example does not validate: %v", err)
	}
	for name, edit := range map[string]func(o map[string]any){
		"no user":                 func(o map[string]any) { delete(o, "user") },
		"no metadata":             func(o map[string]any) { delete(o, "metadata") },
		"neither service nor dst": func(o map[string]any) { delete(o, "service") },
		"unknown attribute":       func(o map[string]any) { o["api"] = map[string]any{"operation": "x"} },
		"invented attribute":      func(o map[string]any) { o["attempted_user"] = "x" },
		"activity out of enum":    func(o map[string]any) { o["activity_id"], o["type_uid"] = 7, 300207 },
		"type_uid":                func(o map[string]any) { o["type_uid"] = 300202 },
		"category":                func(o map[string]any) { o["category_uid"] = 6 },
		"severity_id 7":           func(o map[string]any) { o["severity_id"] = 7 },
		"status_id 3":             func(o map[string]any) { o["status_id"] = 3 },
		"time as a string":        func(o map[string]any) { o["time"] = "2026-11-27T10:00:00Z" },
		"metadata.version 1.1.0":  func(o map[string]any) { o["metadata"].(map[string]any)["version"] = "1.1.0" },
		"no product vendor_name": func(o map[string]any) {
			delete(o["metadata"].(map[string]any)["product"].(map[string]any), "vendor_name")
		},
		"user without uid or name": func(o map[string]any) { o["user"] = map[string]any{"type_id": 1} },
		"user nickname":            func(o map[string]any) { o["user"].(map[string]any)["nickname"] = "x" },
		"ip not an address":        func(o map[string]any) { o["src_endpoint"] = map[string]any{"ip": "host.example"} },
		"labels not an array":      func(o map[string]any) { o["metadata"].(map[string]any)["labels"] = "x" },
		"activity 99 unnamed":      func(o map[string]any) { o["activity_id"], o["type_uid"], o["activity_name"] = 99, 300299, "" },
		"unknown class":            func(o map[string]any) { o["class_uid"], o["type_uid"] = 3003, 300301 },
	} {
		var o map[string]any
		json.Unmarshal(good, &o)
		edit(o)
		bad, _ := json.Marshal(o)
		if _, err := validateOCSF(bad); err == nil {
			t.Errorf("the validator accepted an object with %s", name)
		}
	}
}
