package index_test

import (
	"slices"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/index"
)

// TestIdentifiers: users and entities are the string values of the
// documented members only.
func TestIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		in              string
		users, entities []string
		ok              bool
	}{
		{`{"actor":{"user_id":"u"},"subject":"s","requester":"r","attempted_user":"a"}`, []string{"u", "a", "s", "r"}, nil, true},
		{`{"actor":{"user_id":7},"resource":{"resource_id":"r\u00e9","parent_id":null},"x_id":"x","y_id":3,"nested":{"z_id":"no"}}`, nil, []string{"x", "ré"}, true},
		{`{"actor":"admin","resource":[1],"pool_id":"p","node_id":"n"}`, nil, []string{"n", "p"}, true},
		{`[]`, nil, nil, false},
		{`{`, nil, nil, false},
		{`null`, nil, nil, false},
	} {
		u, e, ok := index.Identifiers([]byte(tc.in))
		slices.Sort(e)
		want := slices.Sorted(slices.Values(tc.entities))
		if ok != tc.ok || !slices.Equal(u, tc.users) || !slices.Equal(e, want) {
			t.Errorf("%s: users %q entities %q ok %v, want %q %q %v", tc.in, u, e, ok, tc.users, want, tc.ok)
		}
	}
	rec := chain.Record{Kind: chain.KindEvent, Service: []byte("svc"), Type: []byte("pool.created"),
		Event: []byte(`{"actor":{"user_id":"u"},"pool_id":"p","service_id":"p"}`)}
	if got, want := index.Keys(&rec), []string{"entity:p", "service:svc", "type:pool.created", "user:u"}; !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
	if got := index.Keys(&chain.Record{Kind: chain.KindCheckpoint}); got != nil {
		t.Errorf("a checkpoint has keys %q", got)
	}
}
