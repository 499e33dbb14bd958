package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestValidExamplesRoundTrip(t *testing.T) {
	for _, ex := range validExamples {
		t.Run(ex.name, func(t *testing.T) {
			in := []byte(ex.json)
			e, err := Decode(in, testOpts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			wantType, _, _ := strings.Cut(ex.name, "/")
			if e.EventType() != wantType {
				t.Fatalf("EventType = %q, want %q", e.EventType(), wantType)
			}
			if loc := e.EventTime().Location(); loc != time.UTC {
				t.Fatalf("EventTime location = %v, want UTC", loc)
			}
			out, err := Encode(e)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(out, in) {
				t.Fatalf("Encode mismatch\n got %s\nwant %s", out, in)
			}
			out2, err := AppendEncode([]byte("prefix"), e, testNow)
			if err != nil || string(out2) != "prefix"+ex.json {
				t.Fatalf("AppendEncode = %q, %v", out2, err)
			}
			if err := Validate(e, testNow); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			typ, err := CheckCanonical(in, testOpts)
			if err != nil || typ != wantType {
				t.Fatalf("CheckCanonical = %q, %v", typ, err)
			}
			clk := newClock(testNow)
			if checkCanonicalFast(in, &clk, true) == nil {
				t.Fatalf("fast canonical check refused a canonical event")
			}
			checkFieldMapping(t, e, in)

			// Any other spelling decodes to the same event but is not canonical.
			var indented bytes.Buffer
			if err := json.Indent(&indented, in, "", "  "); err != nil {
				t.Fatal(err)
			}
			indented.WriteString("\n")
			e2, err := Decode(indented.Bytes(), testOpts)
			if err != nil {
				t.Fatalf("Decode(indented): %v", err)
			}
			out3, err := Encode(e2)
			if err != nil || !bytes.Equal(out3, in) {
				t.Fatalf("Encode(Decode(indented)) = %s, %v", out3, err)
			}
			_, err = CheckCanonical(indented.Bytes(), testOpts)
			assertRule(t, err, "", RuleNotCanonical)
		})
	}
}

func TestEveryTypeHasAnExample(t *testing.T) {
	seen := map[string]bool{}
	for _, ex := range validExamples {
		name, _, _ := strings.Cut(ex.name, "/")
		seen[name] = true
	}
	for _, typ := range append(Types(), SealerTypes()...) {
		if !seen[typ] {
			t.Errorf("no valid example for %s", typ)
		}
	}
	if n := len(Types()); n != 35 {
		t.Errorf("len(Types()) = %d, want 35", n)
	}
	if n := len(SealerTypes()); n != 14 {
		t.Errorf("len(SealerTypes()) = %d, want 14", n)
	}
}

func TestTypesOrder(t *testing.T) {
	want := []string{
		"auth.success", "auth.failure", "token.created", "token.revoked",
		"authz.granted", "authz.denied", "authz.permission_changed",
		"pool.created", "pool.deleted", "pool.modified", "node.registered", "node.deregistered",
		"task.submitted", "task.completed", "task.canceled",
		"vram.sealed", "seal.verified", "seal.verification_failed", "vram.allocated",
		"vram.allocation_failed", "vram.deallocated",
		"security.rate_limit_exceeded", "security.path_traversal_attempt", "security.invalid_token_used",
		"security.policy_violation", "security.suspicious_activity", "security.integrity_violation",
		"security.malformed_model_rejected", "security.resource_limit_violation",
		"data.inference_executed", "data.model_accessed", "data.deleted",
		"compliance.gdpr_data_access_request", "compliance.gdpr_data_export", "compliance.gdpr_right_to_erasure",
	}
	if got := Types(); !slices.Equal(got, want) {
		t.Fatalf("Types() = %v", got)
	}
	Types()[0] = "mutated"
	if Types()[0] != "auth.success" {
		t.Fatal("Types() exposes internal state")
	}
	for _, s := range SealerTypes() {
		if !strings.HasPrefix(s, "audit.") {
			t.Errorf("sealer type %q lacks the audit. prefix", s)
		}
	}
}

func TestIsCritical(t *testing.T) {
	critical := map[string]bool{
		"auth.failure":                      true,
		"token.revoked":                     true,
		"seal.verification_failed":          true,
		"security.path_traversal_attempt":   true,
		"security.invalid_token_used":       true,
		"security.policy_violation":         true,
		"security.suspicious_activity":      true,
		"security.integrity_violation":      true,
		"security.malformed_model_rejected": true,
		"security.resource_limit_violation": true,
	}
	n := 0
	for _, typ := range Types() {
		if IsCritical(typ) != critical[typ] {
			t.Errorf("IsCritical(%q) = %v", typ, IsCritical(typ))
		}
		if IsCritical(typ) {
			n++
		}
	}
	if n != 10 {
		t.Errorf("%d critical client types, want 10", n)
	}
	for _, typ := range SealerTypes() {
		want := typ == "audit.events_shed" || typ == "audit.anchor_state" || typ == "audit.tail_discarded" || typ == "audit.tpm_identity" ||
			typ == "audit.witness_alarm" || typ == "audit.config_reloaded"
		if IsCritical(typ) != want {
			t.Errorf("IsCritical(%q) = %v", typ, IsCritical(typ))
		}
	}
	if IsCritical("auth.bogus") || IsCritical("") {
		t.Error("unknown types must not be critical")
	}
}

func TestCategory(t *testing.T) {
	want := map[string]string{
		"auth.success": "authentication", "token.revoked": "authentication",
		"authz.permission_changed": "authorization", "pool.modified": "resource",
		"task.canceled": "resource", "seal.verified": "vram", "vram.deallocated": "vram",
		"security.rate_limit_exceeded": "security", "security.resource_limit_violation": "security",
		"data.deleted": "data_access", "compliance.gdpr_data_export": "compliance",
		"audit.log_read": "sealer", "nope": "",
	}
	for typ, cat := range want {
		if got := Category(typ); got != cat {
			t.Errorf("Category(%q) = %q, want %q", typ, got, cat)
		}
	}
	counts := map[string]int{}
	for _, typ := range Types() {
		counts[Category(typ)]++
	}
	wantCounts := map[string]int{"authentication": 4, "authorization": 3, "resource": 8, "vram": 6, "security": 8, "data_access": 3, "compliance": 3}
	if !reflect.DeepEqual(counts, wantCounts) {
		t.Errorf("category counts = %v", counts)
	}
}

func TestSealerTypesRefusedFromClients(t *testing.T) {
	client := DecodeOptions{Now: testNow}
	for _, ex := range validExamples {
		if !strings.HasPrefix(ex.name, "audit.") {
			continue
		}
		_, err := Decode([]byte(ex.json), client)
		assertRule(t, err, "type", RuleSealerTypeNotAllowed)
		_, err = CheckCanonical([]byte(ex.json), client)
		assertRule(t, err, "type", RuleSealerTypeNotAllowed)
	}
	// A client type is accepted either way.
	if _, err := Decode([]byte(validExamples[0].json), client); err != nil {
		t.Fatal(err)
	}
}

func assertRule(t *testing.T, err error, field, rule string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want %s at %q", rule, field)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	if ve.Field != field || ve.Rule != rule {
		t.Fatalf("got field %q rule %q (%v), want field %q rule %q", ve.Field, ve.Rule, err, field, rule)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "event: ") {
		t.Fatalf("message %q lacks the event: prefix", msg)
	}
	if !strings.Contains(msg, rule) {
		t.Fatalf("message %q does not name the rule", msg)
	}
	if field != "" && !strings.Contains(msg, strconv.Quote(field)) {
		t.Fatalf("message %q does not name the field", msg)
	}
}

func TestErrorMessage(t *testing.T) {
	err := error(&ValidationError{Field: "actor.user_id", Rule: RuleTooLong, Detail: "at most 256 bytes"})
	if got, want := err.Error(), `event: field "actor.user_id": too_long (at most 256 bytes)`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if got := (&ValidationError{Rule: RuleTrailingData}).Error(); got != "event: trailing_data" {
		t.Fatalf("Error() = %q", got)
	}
	wrapped := errors.Join(errors.New("context"), err)
	if !errors.Is(wrapped, ErrInvalid) {
		t.Fatal("wrapped error lost ErrInvalid")
	}
}

func TestEncodeNilEvent(t *testing.T) {
	_, err := Encode(nil)
	assertRule(t, err, "", RuleNilEvent)
	_, err = Encode((*AuthSuccess)(nil))
	assertRule(t, err, "", RuleNilEvent)
	assertRule(t, Validate((*LogRead)(nil), testNow), "", RuleNilEvent)
}

// wireName maps a Go field name to its snake_case JSON name.
func wireName(goName string) string {
	switch goName {
	case "TotalVRAMGB":
		return "total_vram_gb"
	case "HSMFIPS":
		return "hsm_fips"
	}
	var b strings.Builder
	rs := []rune(goName)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prevLower := unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if prevLower || unicode.IsUpper(rs[i-1]) && nextLower {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// checkFieldMapping checks, independently of the package's own field
// tables, that every Go field of e holds the value of the JSON member of
// the same (snake_case) name, and that every member was used.
func checkFieldMapping(t *testing.T, e Event, in []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m["type"] != e.EventType() {
		t.Fatalf("type %v vs %s", m["type"], e.EventType())
	}
	delete(m, "type")
	compareStruct(t, reflect.ValueOf(e).Elem(), m, "")
}

var (
	timeType = reflect.TypeOf(time.Time{})
	addrType = reflect.TypeOf(netip.Addr{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

func compareStruct(t *testing.T, v reflect.Value, m map[string]any, path string) {
	t.Helper()
	used := 0
	for i := 0; i < v.NumField(); i++ {
		name := wireName(v.Type().Field(i).Name)
		fpath := path + name
		jv, ok := m[name]
		if ok && jv != nil {
			used++
		}
		f := v.Field(i)
		absent := !ok || jv == nil
		switch {
		case f.Type() == timeType:
			tm := f.Interface().(time.Time)
			if tm.IsZero() != absent {
				t.Fatalf("%s: presence mismatch", fpath)
			}
			if !absent {
				want, err := time.Parse(time.RFC3339Nano, jv.(string))
				if err != nil || !want.Equal(tm) {
					t.Fatalf("%s = %v, JSON %v", fpath, tm, jv)
				}
			}
		case f.Type() == addrType:
			a := f.Interface().(netip.Addr)
			if a.IsValid() == absent || !absent && a != netip.MustParseAddr(jv.(string)) {
				t.Fatalf("%s = %v, JSON %v", fpath, a, jv)
			}
		case f.Type() == rawType:
			var want, got any
			_ = json.Unmarshal([]byte(mustMarshal(jv)), &want)
			if err := json.Unmarshal(f.Bytes(), &got); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s = %s, JSON %v", fpath, f.Bytes(), jv)
			}
		case f.Kind() == reflect.String:
			if (f.String() == "") != absent || !absent && f.String() != jv.(string) {
				t.Fatalf("%s = %q, JSON %v", fpath, f.String(), jv)
			}
		case f.Kind() == reflect.Uint32 || f.Kind() == reflect.Uint64:
			if absent || jv.(json.Number).String() != strconv.FormatUint(f.Uint(), 10) {
				t.Fatalf("%s = %d, JSON %v", fpath, f.Uint(), jv)
			}
		case f.Kind() == reflect.Pointer:
			if f.IsNil() != absent {
				t.Fatalf("%s: presence mismatch", fpath)
			}
			if absent {
				continue
			}
			switch f.Elem().Kind() {
			case reflect.Uint64:
				if jv.(json.Number).String() != strconv.FormatUint(f.Elem().Uint(), 10) {
					t.Fatalf("%s = %d, JSON %v", fpath, f.Elem().Uint(), jv)
				}
			case reflect.Struct:
				compareStruct(t, f.Elem(), jv.(map[string]any), fpath+".")
			default:
				t.Fatalf("%s: unexpected pointer type", fpath)
			}
		case f.Kind() == reflect.Struct:
			compareStruct(t, f, jv.(map[string]any), fpath+".")
		case f.Kind() == reflect.Slice:
			arr := jv.([]any)
			if f.Len() != len(arr) {
				t.Fatalf("%s: %d elements, JSON %d", fpath, f.Len(), len(arr))
			}
			for k := range arr {
				el := f.Index(k)
				var s string
				if el.Kind() == reflect.String {
					s = el.String()
				} else {
					s = strconv.FormatUint(el.Uint(), 10)
				}
				if s != strings.Trim(mustMarshal(arr[k]), `"`) {
					t.Fatalf("%s[%d] = %s, JSON %v", fpath, k, s, arr[k])
				}
			}
		case f.Kind() == reflect.Map:
			got := map[string]any{}
			for _, k := range f.MapKeys() {
				got[k.String()] = f.MapIndex(k).String()
			}
			if !reflect.DeepEqual(got, jv) {
				t.Fatalf("%s = %v, JSON %v", fpath, got, jv)
			}
		default:
			t.Fatalf("%s: unhandled kind %v", fpath, f.Kind())
		}
	}
	nonNull := 0
	for _, jv := range m {
		if jv != nil {
			nonNull++
		}
	}
	if used != nonNull {
		t.Fatalf("%s: %d JSON members, %d matched Go fields", path, nonNull, used)
	}
}

func mustMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
