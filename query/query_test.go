package query_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

var vectors map[string]testkit.Vector

// mainTrust trusts the key that signs the vectors and the test logs.
var mainTrust = verify.Trust{Keys: signer.Verifiers{testkit.Key("main").Public()}}

func TestMain(m *testing.M) {
	root, _ := os.MkdirTemp("", "query-vectors-")
	vs, err := testkit.Generate(root)
	if err != nil {
		panic(err)
	}
	vectors = map[string]testkit.Vector{}
	for _, v := range vs {
		vectors[v.Name] = v
	}
	code := m.Run()
	os.RemoveAll(root)
	removeLarge()
	os.Exit(code)
}

// all runs the query and returns every match with the scan's Info.
func all(t testing.TB, dir string, f query.Filter) ([]*query.Match, *query.Info) {
	t.Helper()
	var out []*query.Match
	info, err := query.Scan(context.Background(), dir, mainTrust, f, func(m *query.Match) error {
		out = append(out, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, info
}

func TestFilters(t *testing.T) {
	dir := vectors["intact_multi"].Dir
	everything, info := all(t, dir, query.Filter{})
	if len(everything) != 80 || info.Matched != 80 {
		t.Fatalf("%d client events, want the 80 the vector holds", len(everything))
	}
	count := func(f query.Filter, want func(*query.Match) bool) {
		t.Helper()
		got, _ := all(t, dir, f)
		n := 0
		for _, m := range everything {
			if want(m) {
				n++
			}
		}
		if len(got) != n || n == 0 {
			t.Fatalf("filter %+v: %d matches, want %d (and more than 0)", f, len(got), n)
		}
	}
	field := func(m *query.Match, path ...string) any {
		var v any
		json.Unmarshal(m.Event, &v)
		for _, p := range path {
			obj, _ := v.(map[string]any)
			v = obj[p]
		}
		return v
	}
	count(query.Filter{Service: "worker-gpu-0"}, func(m *query.Match) bool { return m.Service == "worker-gpu-0" })
	count(query.Filter{Types: []string{"vram.sealed"}}, func(m *query.Match) bool { return m.Type == "vram.sealed" })
	count(query.Filter{Types: []string{"auth.*"}}, func(m *query.Match) bool { return m.Type == "auth.success" || m.Type == "auth.failure" })
	count(query.Filter{CriticalOnly: true}, func(m *query.Match) bool { return m.Type == "auth.failure" })
	count(query.Filter{UserID: "admin@example.com"}, func(m *query.Match) bool { return field(m, "actor", "user_id") == "admin@example.com" })
	count(query.Filter{Entity: "pool-7"}, func(m *query.Match) bool { return field(m, "resource", "resource_id") == "pool-7" })
	mid := everything[40].Received
	count(query.Filter{From: mid}, func(m *query.Match) bool { return !m.Received.Before(mid) })
	count(query.Filter{To: mid}, func(m *query.Match) bool { return !m.Received.After(mid) })
	// Sealer events only on request.
	withSealer, _ := all(t, dir, query.Filter{Sealer: true, Types: []string{"audit.*"}})
	if len(withSealer) == 0 {
		t.Log("no sealer events in this vector")
	}
	if _, err := query.Scan(context.Background(), dir, mainTrust, query.Filter{Types: []string{"no.such"}}, func(*query.Match) error { return nil }); err == nil {
		t.Fatal("an unknown type was accepted")
	}
	if _, err := query.Scan(context.Background(), dir, mainTrust, query.Filter{From: mid, To: mid.Add(-time.Second)}, func(*query.Match) error { return nil }); err == nil {
		t.Fatal("an empty time range was accepted")
	}
}

func TestPagination(t *testing.T) {
	dir := vectors["intact_multi"].Dir
	everything, _ := all(t, dir, query.Filter{})
	var paged []*query.Match
	f := query.Filter{Limit: 7}
	for pages := 0; ; pages++ {
		got, info := all(t, dir, f)
		paged = append(paged, got...)
		if !info.More {
			break
		}
		if pages > 20 {
			t.Fatal("pagination does not end")
		}
		f.After = info.Next
	}
	if got, _ := all(t, dir, query.Filter{After: math.MaxUint64}); len(got) != 0 {
		t.Fatalf("%d matches after the largest cursor", len(got))
	}
	if len(paged) != len(everything) {
		t.Fatalf("pages hold %d matches, one scan %d", len(paged), len(everything))
	}
	for i := range paged {
		if paged[i].Seq != everything[i].Seq {
			t.Fatalf("page result %d is seq %d, want %d", i, paged[i].Seq, everything[i].Seq)
		}
	}
}

// TestOnlySealedAndProvable: records after the last checkpoint are not
// returned, and every result can be proved against the checkpoint.
func TestOnlySealedAndProvable(t *testing.T) {
	v := vectors["unsealed_tail"]
	got, info := all(t, v.Dir, query.Filter{})
	// Read the log here, independently of package query: the last
	// checkpoint's size, and the client events before and after it.
	var lastCheckpoint uint64
	var events []uint64
	// The log ends in an unsealed tail, not a torn one: every record reads.
	err := testkit.Records(v.Dir, func(rec chain.Record) bool {
		switch rec.Kind {
		case chain.KindCheckpoint:
			lastCheckpoint = rec.Seq
		case chain.KindEvent:
			events = append(events, rec.Seq)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	var sealed, unsealed int
	for _, seq := range events {
		if seq < lastCheckpoint {
			sealed++
		} else {
			unsealed++
		}
	}
	if unsealed == 0 || len(got) != sealed || info.SealedSize != lastCheckpoint {
		t.Fatalf("%d results, sealed size %d; the log has %d sealed and %d unsealed events, last checkpoint %d",
			len(got), info.SealedSize, sealed, unsealed, lastCheckpoint)
	}
	for _, m := range got {
		if m.Seq >= lastCheckpoint {
			t.Fatalf("record %d returned, beyond the last checkpoint %d", m.Seq, lastCheckpoint)
		}
	}
	key, _ := os.ReadFile(v.KeyFile)
	pub, _ := signer.ParsePublicKey(key)
	for _, m := range got[:5] {
		b, err := verify.Prove(v.Dir, m.Seq)
		if err != nil {
			t.Fatal(err)
		}
		d, err := verify.CheckInclusion(b, verify.Options{Keys: signer.Verifiers{pub}})
		if err != nil || string(d.Record.AuditID) != m.AuditID {
			t.Fatalf("result %d: %v", m.Seq, err)
		}
	}
}
