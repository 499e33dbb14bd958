package index

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// reference is the map-based reading of the identifiers that the fast
// path must equal: decode into a map[string]any and read the members.
func reference(eventJSON []byte) (users, entities []string, ok bool) {
	var fields map[string]any
	if json.Unmarshal(eventJSON, &fields) != nil || fields == nil {
		return nil, nil, false
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
