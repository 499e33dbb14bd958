package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
)

// TestSubjectSearchesEveryIdentityField: --subject finds a person in every
// identity field of the catalogue (actor.user_id, attempted_user,
// subject, requester, customer_id), and nowhere else: the same id as a
// pool, a node or a resource is not the person.
func TestSubjectSearchesEveryIdentityField(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: testkit.Key("main"), Dev: true, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	const who = "u-7f3a"
	events := []struct {
		json string
		hit  bool
	}{
		{`{"type":"auth.success","timestamp":"%s","actor":{"user_id":"u-7f3a","auth_method":"api_key"},"method":"api_key","path":"/v2/tasks","service_id":"queen-rbee"}`, true},
		{`{"type":"auth.failure","timestamp":"%s","attempted_user":"u-7f3a","reason":"invalid_token","ip":"203.0.113.7","path":"/v2/tasks","service_id":"queen-rbee"}`, true},
		{`{"type":"authz.permission_changed","timestamp":"%s","actor":{"user_id":"admin","auth_method":"mtls"},"subject":"u-7f3a","old_permissions":["read"],"new_permissions":["read","write"]}`, true},
		{`{"type":"compliance.gdpr_data_access_request","timestamp":"%s","customer_id":"c-1","requester":"u-7f3a","scope":["audit_logs"]}`, true},
		{`{"type":"data.inference_executed","timestamp":"%s","customer_id":"u-7f3a","job_id":"job-1","model_ref":"llama-3-8b","tokens_processed":10,"result":{"status":"success"}}`, true},
		{`{"type":"pool.created","timestamp":"%s","actor":{"user_id":"admin","auth_method":"mtls"},"pool_id":"u-7f3a","model_ref":"llama-3-8b","node_id":"u-7f3a","replicas":1,"gpu_devices":[0]}`, false},
		{`{"type":"authz.denied","timestamp":"%s","actor":{"user_id":"someone-else","auth_method":"api_key"},"resource":{"resource_type":"user","resource_id":"u-7f3a"},"action":"read","reason":"no"}`, false},
		{`{"type":"auth.success","timestamp":"%s","actor":{"user_id":"u-7f3a-2","auth_method":"api_key"},"method":"api_key","path":"/v2/tasks","service_id":"queen-rbee"}`, false},
	}
	var want []uint64
	for _, e := range events {
		now := clock.Now()
		ev, err := event.Decode([]byte(fmt.Sprintf(e.json, now.Add(-time.Millisecond).Format(time.RFC3339Nano))), event.DecodeOptions{Now: now})
		if err != nil {
			t.Fatalf("%s: %v", e.json, err)
		}
		body, err := event.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		seq, _, err := l.Append(chain.KindEvent, "queen-rbee", ev.EventType(), body, now)
		if err != nil {
			t.Fatal(err)
		}
		if e.hit {
			want = append(want, seq)
		}
	}
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := all(t, dir, query.Filter{Subject: who})
	var seqs []uint64
	for _, m := range got {
		seqs = append(seqs, m.Seq)
	}
	if !slices.Equal(seqs, want) {
		t.Fatalf("--subject %s found records %v, want %v", who, seqs, want)
	}
	// --user finds the user identifiers only, not customer_id.
	users, _ := all(t, dir, query.Filter{UserID: who})
	if len(users) != len(want)-1 {
		t.Fatalf("--user %s found %d records, want %d", who, len(users), len(want)-1)
	}
}

// TestSubjectFieldsFollowTheCatalogue: every field the event catalogue
// types as a user reference (user_ref: an id or a token fingerprint),
// and the actor's user_id, is among query.SubjectFields, and every field
// named there exists in some event type.
func TestSubjectFieldsFollowTheCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, typ := range event.Types() {
		raw, err := event.JSONSchema(typ)
		if err != nil {
			t.Fatal(err)
		}
		var sch struct {
			Properties map[string]struct {
				Ref string `json:"$ref"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(raw, &sch); err != nil {
			t.Fatal(err)
		}
		for name, p := range sch.Properties {
			field := name
			switch p.Ref {
			case "#/$defs/actor":
				field = "actor.user_id"
			case "#/$defs/user_ref":
			default:
				seen[name] = true
				continue
			}
			seen[field] = true
			if !slices.Contains(query.SubjectFields, field) {
				t.Errorf("%s: %s names a user, but --subject does not search it", typ, field)
			}
		}
	}
	for _, f := range query.SubjectFields {
		if !seen[f] {
			t.Errorf("SubjectFields names %s, which no event type has", f)
		}
	}
}
