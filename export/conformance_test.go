package export_test

// Conformance of the CEF and OCSF output to the published formats. No
// machine-readable validator was available as a Go module (none for CEF or
// OCSF is served by the Go module proxy; github.com/Santiago-Labs/go-ocsf,
// OCSF structs without validation, is not served either), so the rules are
// transcribed here from the specifications:
//
//   - CEF: "Implementing ArcSight Common Event Format (CEF)", version 25
//     (Micro Focus, 2017): the header CEF:Version|Device Vendor|Device
//     Product|Device Version|Device Event Class ID|Name|Severity|Extension;
//     in the header a pipe and a backslash are escaped with a backslash; in
//     extension values an equals sign and a backslash are escaped, and a
//     newline is written \n (or \r); keys are the dictionary's names or the
//     custom fields with their Label keys; Severity is 0-10; src is an IPv4
//     address (an IPv6 source goes in c6a2, "Source IPv6 Address").
//   - OCSF: schema version 1.1.0 (schema.ocsf.io/1.1.0, the class files of
//     github.com/ocsf/ocsf-schema): the Base Event's required attributes
//     (activity_id, category_uid, class_uid, metadata, severity_id, time,
//     type_uid, with type_uid = class_uid*100 + activity_id), Metadata's
//     (product, version) and Product's (vendor_name); then per class:
//     Authentication [3002] user (and at least one of service,
//     dst_endpoint); Authorize Session [3003] user (and at least one of
//     privileges, group); Detection Finding [2004] finding_info with uid and
//     title; API Activity [6003] actor, api with operation, src_endpoint.
//     Enumerations: each class's activity_id, severity_id 0-6 or 99,
//     status_id 0-2 or 99.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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
	"rt": true, "externalId": true, "cat": true, "suser": true, "src": true, "reason": true, "msg": true,
	"cn1": true, "cn1Label": true, "cs1": true, "cs1Label": true, "c6a2": true, "c6a2Label": true,
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
	return nil
}

// ocsfClasses are the OCSF 1.1.0 classes the export uses: category, the
// activity_id enumeration, and the required attributes beyond the base
// event's.
var ocsfClasses = map[int]struct {
	category   int
	activities []int
	required   []string
	atLeastOne []string
}{
	3002: {3, []int{0, 1, 2, 3, 4, 5, 6, 99}, []string{"user"}, []string{"service", "dst_endpoint"}},
	3003: {3, []int{0, 1, 2, 99}, []string{"user"}, []string{"privileges", "group"}},
	2004: {2, []int{0, 1, 2, 3, 99}, []string{"finding_info"}, nil},
	6003: {6, []int{0, 1, 2, 3, 4, 99}, []string{"actor", "api", "src_endpoint"}, nil},
}

// checkOCSF checks one OCSF event object against the rules above and
// returns it decoded (numbers as json.Number).
func checkOCSF(line []byte) (map[string]any, error) {
	var o map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil {
		return nil, err
	}
	num := func(k string) (int64, error) {
		n, ok := o[k].(json.Number)
		if !ok {
			return 0, fmt.Errorf("%s: missing or not a number", k)
		}
		return n.Int64()
	}
	ints := map[string]int64{}
	for _, k := range []string{"activity_id", "category_uid", "class_uid", "severity_id", "time", "type_uid"} {
		v, err := num(k)
		if err != nil {
			return nil, err
		}
		ints[k] = v
	}
	cls, ok := ocsfClasses[int(ints["class_uid"])]
	if !ok {
		return nil, fmt.Errorf("class_uid %d: not a class the export documents", ints["class_uid"])
	}
	if ints["category_uid"] != int64(cls.category) {
		return nil, fmt.Errorf("class %d in category %d, want %d", ints["class_uid"], ints["category_uid"], cls.category)
	}
	okAct := false
	for _, a := range cls.activities {
		okAct = okAct || ints["activity_id"] == int64(a)
	}
	if !okAct {
		return nil, fmt.Errorf("class %d: activity_id %d is not in the enumeration", ints["class_uid"], ints["activity_id"])
	}
	if ints["type_uid"] != ints["class_uid"]*100+ints["activity_id"] {
		return nil, fmt.Errorf("type_uid %d, want class_uid*100+activity_id", ints["type_uid"])
	}
	if s := ints["severity_id"]; (s < 0 || s > 6) && s != 99 {
		return nil, fmt.Errorf("severity_id %d", s)
	}
	if _, present := o["status_id"]; present {
		s, err := num("status_id")
		if err != nil || ((s < 0 || s > 2) && s != 99) {
			return nil, fmt.Errorf("status_id %v", o["status_id"])
		}
	}
	if ints["time"] < 1e12 {
		return nil, fmt.Errorf("time %d: want milliseconds since the epoch", ints["time"])
	}
	md, _ := o["metadata"].(map[string]any)
	if md == nil || md["version"] != "1.1.0" {
		return nil, fmt.Errorf("metadata.version: %v", md)
	}
	if p, _ := md["product"].(map[string]any); p == nil || p["vendor_name"] == "" || p["vendor_name"] == nil {
		return nil, fmt.Errorf("metadata.product.vendor_name missing: %v", md["product"])
	}
	for _, k := range cls.required {
		v, _ := o[k].(map[string]any)
		if len(v) == 0 {
			return nil, fmt.Errorf("class %d: required %s missing or empty", ints["class_uid"], k)
		}
	}
	if len(cls.atLeastOne) > 0 {
		found := false
		for _, k := range cls.atLeastOne {
			_, has := o[k]
			found = found || has
		}
		if !found {
			return nil, fmt.Errorf("class %d: none of %v", ints["class_uid"], cls.atLeastOne)
		}
	}
	switch ints["class_uid"] {
	case 2004:
		fi := o["finding_info"].(map[string]any)
		if fi["uid"] == "" || fi["uid"] == nil || fi["title"] == "" || fi["title"] == nil {
			return nil, fmt.Errorf("finding_info needs uid and title: %v", fi)
		}
	case 6003:
		if api := o["api"].(map[string]any); api["operation"] == "" || api["operation"] == nil {
			return nil, fmt.Errorf("api.operation missing: %v", api)
		}
	case 3002, 3003:
		if u := o["user"].(map[string]any); u["uid"] == nil && u["name"] == nil {
			return nil, fmt.Errorf("user has neither uid nor name: %v", u)
		}
	}
	return o, nil
}

// conformanceCases are events of each class the export maps to, with the
// characters CEF must escape in header and extension.
func conformanceCases() []*query.Match {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	mk := func(seq uint64, typ string, critical bool, ev string) *query.Match {
		return &query.Match{Seq: seq, AuditID: fmt.Sprintf("3f9a1c0d5e6b7a81-%d", seq), Service: "queen-rbee", Type: typ,
			Received: at, Critical: critical, Event: json.RawMessage(ev)}
	}
	return []*query.Match{
		mk(1, "auth.success", false, `{"type":"auth.success","timestamp":"2026-11-27T10:00:00Z","actor":{"user_id":"a|b\\c=d","ip":"192.168.1.100","auth_method":"bearer_token"},"method":"bearer_token","path":"/v2/tasks","service_id":"queen-rbee"}`),
		mk(2, "auth.failure", true, `{"type":"auth.failure","timestamp":"2026-11-27T10:00:00Z","attempted_user":"token:a3f2c1","reason":"line one\nline two\r\nback\\slash = equals | pipe","ip":"2001:db8::1","path":"/v2/tasks","service_id":"queen-rbee"}`),
		mk(3, "auth.failure", true, `{"type":"auth.failure","timestamp":"2026-11-27T10:00:00Z","reason":"invalid_token","ip":"::ffff:203.0.113.9","path":"/v2/tasks","service_id":"queen-rbee"}`),
		mk(4, "authz.granted", false, `{"type":"authz.granted","timestamp":"2026-11-27T10:00:00Z","actor":{"user_id":"customer-1","auth_method":"api_key"},"resource":{"resource_type":"pool","resource_id":"pool-7"},"action":"write:tasks"}`),
		mk(5, "authz.denied", false, `{"type":"authz.denied","timestamp":"2026-11-27T10:00:00Z","actor":{"user_id":"customer-1","auth_method":"api_key"},"resource":{"resource_type":"pool","resource_id":"pool-7"},"action":"delete","reason":"insufficient_permissions"}`),
		mk(6, "security.rate_limit_exceeded", false, `{"type":"security.rate_limit_exceeded","timestamp":"2026-11-27T10:00:00Z","ip":"203.0.113.9","endpoint":"/v2/tasks","limit":100,"actual":250,"window_seconds":60}`),
		mk(7, "seal.verification_failed", true, `{"type":"seal.verification_failed","timestamp":"2026-11-27T10:00:00Z","shard_id":"shard-abc123","reason":"digest_mismatch","worker_id":"worker-gpu-0","severity":"critical"}`),
		mk(8, "data.inference_executed", false, `{"type":"data.inference_executed","timestamp":"2026-11-27T10:00:00Z","customer_id":"customer-1","job_id":"job-9","model_ref":"llama-3-8b","tokens_processed":1024,"result":{"status":"success"}}`),
		mk(9, "vram.sealed", false, `{"type":"vram.sealed","timestamp":"2026-11-27T10:00:00Z","shard_id":"shard-1","gpu_device":0,"vram_bytes":1,"digest":"00","worker_id":"worker-gpu-0"}`),
	}
}

// TestCEFConformance: every CEF line parses by the specification's rules,
// uses only dictionary keys in their formats, and gives back exactly the
// values that went in, whatever characters they hold.
func TestCEFConformance(t *testing.T) {
	for _, version := range []string{"1.0", `1.0|pipe\back`} {
		for _, m := range conformanceCases() {
			var b bytes.Buffer
			if err := export.NewWriter(&b, export.CEF, version).Write(m); err != nil {
				t.Fatal(err)
			}
			line, ok := strings.CutSuffix(b.String(), "\n")
			if !ok || strings.Count(b.String(), "\n") != 1 {
				t.Fatalf("%s: not one line: %q", m.Type, b.String())
			}
			r, err := parseCEF(line)
			if err != nil {
				t.Fatalf("%s: %v\n%s", m.Type, err, line)
			}
			if err := checkCEF(r); err != nil {
				t.Fatalf("%s: %v\n%s", m.Type, err, line)
			}
			if r.header[3] != version || r.header[4] != m.Type || r.header[5] != m.Type {
				t.Errorf("%s: header %q", m.Type, r.header)
			}
			if r.ext["msg"] != string(m.Event) || r.ext["externalId"] != m.AuditID || r.ext["cn1"] != strconv.FormatUint(m.Seq, 10) {
				t.Errorf("%s: values changed on the way: %q", m.Type, r.ext)
			}
			var ev map[string]any
			json.Unmarshal(m.Event, &ev)
			if reason, _ := ev["reason"].(string); reason != "" && r.ext["reason"] != reason {
				t.Errorf("%s: reason %q, want %q", m.Type, r.ext["reason"], reason)
			}
			if a, _ := ev["actor"].(map[string]any); a != nil && r.ext["suser"] != a["user_id"] {
				t.Errorf("%s: suser %q, want %q", m.Type, r.ext["suser"], a["user_id"])
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

// TestOCSFConformance: every OCSF object has the OCSF 1.1.0 base event's and
// its class's required attributes, values of their enumerations, and the
// user, IP and status of the event.
func TestOCSFConformance(t *testing.T) {
	classes := map[float64]bool{}
	for _, m := range conformanceCases() {
		var b bytes.Buffer
		if err := export.NewWriter(&b, export.OCSF, "1.0").Write(m); err != nil {
			t.Fatal(err)
		}
		if _, err := checkOCSF(b.Bytes()); err != nil {
			t.Fatalf("%s: %v\n%s", m.Type, err, b.Bytes())
		}
		var o map[string]any
		json.Unmarshal(b.Bytes(), &o)
		classes[o["class_uid"].(float64)] = true
		switch m.Type {
		case "auth.failure", "authz.denied":
			if o["status_id"] != 2.0 {
				t.Errorf("%s: status_id %v, want 2 (Failure)", m.Type, o["status_id"])
			}
		case "auth.success", "authz.granted":
			if o["status_id"] != 1.0 {
				t.Errorf("%s: status_id %v, want 1 (Success)", m.Type, o["status_id"])
			}
		}
		if m.Seq == 2 {
			if u := o["user"].(map[string]any); u["uid"] != "token:a3f2c1" {
				t.Errorf("auth.failure: user %v, want the attempted user", u)
			}
			if ip := o["src_endpoint"].(map[string]any)["ip"]; ip != "2001:db8::1" {
				t.Errorf("auth.failure: src_endpoint.ip %v", ip)
			}
		}
	}
	if len(classes) != len(ocsfClasses) {
		t.Fatalf("the cases cover classes %v, want all of %d", classes, len(ocsfClasses))
	}
	// The checker refuses what the schema forbids.
	for name, bad := range map[string]string{
		"no user":         `{"class_uid":3002,"category_uid":3,"activity_id":1,"type_uid":300201,"severity_id":1,"time":1795773600000,"metadata":{"version":"1.1.0","product":{"vendor_name":"x"}},"service":{"name":"s"}}`,
		"bad type_uid":    `{"class_uid":3002,"category_uid":3,"activity_id":1,"type_uid":300202,"severity_id":1,"time":1795773600000,"metadata":{"version":"1.1.0","product":{"vendor_name":"x"}},"user":{"uid":"u"},"service":{"name":"s"}}`,
		"bad activity":    `{"class_uid":6003,"category_uid":6,"activity_id":7,"type_uid":600307,"severity_id":1,"time":1795773600000,"metadata":{"version":"1.1.0","product":{"vendor_name":"x"}},"actor":{"app_name":"a"},"api":{"operation":"o"},"src_endpoint":{"name":"s"}}`,
		"no api":          `{"class_uid":6003,"category_uid":6,"activity_id":99,"type_uid":600399,"severity_id":1,"time":1795773600000,"metadata":{"version":"1.1.0","product":{"vendor_name":"x"}},"actor":{"app_name":"a"},"src_endpoint":{"name":"s"}}`,
		"no vendor_name":  `{"class_uid":2004,"category_uid":2,"activity_id":1,"type_uid":200401,"severity_id":1,"time":1795773600000,"metadata":{"version":"1.1.0","product":{"name":"x"}},"finding_info":{"uid":"u","title":"t"}}`,
		"no privileges":   `{"class_uid":3003,"category_uid":3,"activity_id":1,"type_uid":300301,"severity_id":1,"time":1795773600000,"metadata":{"version":"1.1.0","product":{"vendor_name":"x"}},"user":{"uid":"u"}}`,
		"severity_id 7":   `{"class_uid":2004,"category_uid":2,"activity_id":1,"type_uid":200401,"severity_id":7,"time":1795773600000,"metadata":{"version":"1.1.0","product":{"vendor_name":"x"}},"finding_info":{"uid":"u","title":"t"}}`,
		"seconds as time": `{"class_uid":2004,"category_uid":2,"activity_id":1,"type_uid":200401,"severity_id":1,"time":1795773600,"metadata":{"version":"1.1.0","product":{"vendor_name":"x"}},"finding_info":{"uid":"u","title":"t"}}`,
	} {
		if _, err := checkOCSF([]byte(bad)); err == nil {
			t.Errorf("the checker accepted an object with %s", name)
		}
	}
}
