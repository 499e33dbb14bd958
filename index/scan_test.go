package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// reference is the map-based reading of the identifiers that the fast
// path must equal: decode into a map[string]any and read the members.
// Numbers are read as json.Number, by their syntax alone: an event is
// indexed whatever its numbers' values (a free-form member holding 1e400,
// which a float64 cannot, must not hide the event from entity queries).
func reference(eventJSON []byte) (users, entities []string, ok bool) {
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(eventJSON))
	dec.UseNumber()
	if dec.Decode(&fields) != nil || fields == nil {
		return nil, nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, false // trailing data: not one JSON value
	}
	if a, ok := fields["actor"].(map[string]any); ok {
		if s, ok := a["user_id"].(string); ok {
			users = append(users, s)
		}
	}
	for _, k := range []string{"attempted_user", "subject", "requester"} {
		if s, ok := fields[k].(string); ok {
			users = append(users, s)
		}
	}
	for k, v := range fields {
		if s, ok := v.(string); ok && strings.HasSuffix(k, "_id") {
			entities = append(entities, s)
		}
	}
	if r, ok := fields["resource"].(map[string]any); ok {
		for _, k := range []string{"resource_id", "parent_id"} {
			if s, ok := r[k].(string); ok {
				entities = append(entities, s)
			}
		}
	}
	return users, entities, true
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// identifierSeeds are events of every shape the fast path must follow.
var identifierSeeds = []string{
	`{"type":"auth.success","timestamp":"2026-11-02T09:00:00.001Z","actor":{"user_id":"admin@example.com","ip":"10.0.0.7","auth_method":"bearer_token","session_id":"sess-0"},"method":"bearer_token","path":"/v2/tasks","service_id":"queen-rbee"}`,
	`{"type":"authz.denied","actor":{"user_id":"customer-1","auth_method":"api_key"},"resource":{"resource_type":"pool","resource_id":"pool-7","parent_id":"p"},"action":"delete"}`,
	`{"actor":{"user_id":7},"subject":"s","requester":"r","resource":{"resource_id":"a\u00e9","parent_id":null},"x_id":"x","y_id":3,"nested":{"z_id":"no"},"list":[{"a_id":"no"},"]"]}`,
	`{"actor":{"user_id":"a"},"actor":5,"x_id":"1","x_id":null,"resource":{"resource_id":"r"},"resource":{}}`,
	`{"actor":{"user_id":"a","user_id":"b"},"subject":"s","subject":{"x":1},"\u0061ctor":{"user_id":"c"}}`,
	` { "k_id" : "v\"w\\" , "e" : -1.5e3 , "t" : true , "n" : null } `,
	"{\"bad_id\":\"\xff\xfe\",\"ok_id\":\"\\ud800\"}",
	`[]`, `null`, `{`, `{}`, `"s"`, ``,
	// The scanner checks the grammar itself: each of these is invalid.
	`{"a_id":"x",}`, `{"a_id":"x"`, `{"a_id":"x"} {}`, `{"a_id":01}`, `{"a_id":-}`, `{"a_id":1.}`, `{"a_id":1e}`,
	`{"a_id":"x","n":[1,]}`, `{"a_id":"x","n":tru}`, `{"a_id":"\x"}`, `{"a_id":"\u12"}`, "{\"a_id\":\"\t\"}",
	`{"a_id" "x"}`, `{a_id:"x"}`, `{"a_id":"x",,"b_id":"y"}`, `{"a_id":"x"]`, `{"n":{"a":1]}`,
	// Names and values that decode to something else than their text.
	`{"x\u005fid":"a","x_id":"b","s\u0075bject":"\ud83d\ude00","requester":"\ud800\u0041\udc00"}`,
	"{\"\xff_id\":\"a\",\"\xfe_id\":\"b\",\"c_id\":\"\xed\xa0\x80\"}",
	`{"a_id":"1","b_id":"2","c_id":"3","d_id":"4","e_id":"5","f_id":"6","g_id":"7","h_id":"8","i_id":"9",` +
		`"j_id":"10","k_id":"11","l_id":"12","m_id":"13","n_id":"14","o_id":"15","p_id":"16","q_id":"17",` +
		`"a_id":null,"c_id":"3b","q_id":"1","z_id":"1"}`,
	`{"actor":{"user_id":"a"},"actor":{"user_id":"b","user_id":[1]},"resource":{"parent_id":"p"},"resource":null}`,
	` {"_id":"e" , "n" : [ { } , [ ] , "" , -0.0e+0 , 1E-7 ] }` + "\n",
}

// nested returns the event {"a_id":"x","n":<depth-1 nested arrays>}:
// depth containers in all.
func nested(depth int) []byte {
	return []byte(`{"a_id":"x","n":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`)
}

// TestIdentifiersDepth: the scanner accepts the nesting encoding/json
// accepts, and refuses one level more.
func TestIdentifiersDepth(t *testing.T) {
	for _, depth := range []int{9999, 10000, 10001} {
		in := nested(depth)
		_, e, ok := identifiers(in)
		_, re, rok := reference(in)
		if ok != rok || !sameSet(e, re) {
			t.Errorf("depth %d: entities %q ok %v, map-based %q %v", depth, e, ok, re, rok)
		}
	}
}

// TestIdentifiersFast: the fast path finds exactly what the map-based
// Identifiers finds.
func TestIdentifiersFast(t *testing.T) {
	for _, in := range identifierSeeds {
		u, e, ok := identifiers([]byte(in))
		ru, re, rok := reference([]byte(in))
		if ok != rok || !sameSet(u, ru) || !sameSet(e, re) {
			t.Errorf("%s: users %q entities %q ok %v, map-based %q %q %v", in, u, e, ok, ru, re, rok)
		}
	}
}

// FuzzIdentifiers: the fast path agrees with the map-based reference on
// any input, and never panics.
func FuzzIdentifiers(f *testing.F) {
	for _, s := range identifierSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		u, e, ok := identifiers(in)
		ru, re, rok := reference(in)
		if ok != rok || !sameSet(u, ru) || !sameSet(e, re) {
			t.Fatal(fmt.Sprintf("users %q entities %q ok %v, map-based %q %q %v", u, e, ok, ru, re, rok))
		}
	})
}

// TestHugeNumbersKeepIdentifiers: a number no float64 holds does not hide
// the event's identifiers (json.Unmarshal into float64s would fail on it).
func TestHugeNumbersKeepIdentifiers(t *testing.T) {
	for _, n := range []string{"1e400", "-1E+309", strings.Repeat("9", 400)} {
		_, entities, ok := Identifiers([]byte(`{"type":"pool.modified","pool_id":"pool-7","changes":{"x":` + n + `}}`))
		if !ok || len(entities) != 1 || entities[0] != "pool-7" {
			t.Fatalf("number %.10s: entities %v, ok %v", n, entities, ok)
		}
	}
}
