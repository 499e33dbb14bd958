package report_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/report"
	"github.com/audit-sealer/audit-sealer/signer"
)

// TestCriticalListIsBounded: a period with more critical events than
// report.MaxListed lists the first MaxListed, counts them all, and says in
// the HTML how many there are and how to list the rest.
func TestCriticalListIsBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	key := testkit.Key("main")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: key, Dev: true, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	const n = report.MaxListed + 57
	for i := 0; i < n; i++ {
		now := clock.Now()
		raw := fmt.Sprintf(`{"type":"auth.failure","timestamp":"%s","attempted_user":"user-%d","reason":"invalid_token","ip":"203.0.113.7","path":"/v2/tasks","service_id":"queen-rbee"}`,
			now.Add(-time.Millisecond).Format(time.RFC3339Nano), i)
		ev, err := event.Decode([]byte(raw), event.DecodeOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		body, err := event.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Append(chain.KindEvent, "queen-rbee", ev.EventType(), body, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := report.SOC2(context.Background(), report.Options{Dir: dir, Keys: signer.Verifiers{key.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	c := r.CriticalEvents
	if c.Total < n || len(c.Entries) != report.MaxListed || !c.Truncated {
		t.Fatalf("critical events: total %d, listed %d, truncated %v; want at least %d, %d listed, truncated", c.Total, len(c.Entries), c.Truncated, n, report.MaxListed)
	}
	for i := 1; i < len(c.Entries); i++ {
		if c.Entries[i].Seq <= c.Entries[i-1].Seq {
			t.Fatalf("entries out of sequence order at %d", i)
		}
	}
	if got := r.AuthFailures["queen-rbee"]; got != n {
		t.Fatalf("auth failures %d, want %d (counts are not bounded)", got, n)
	}
	var b bytes.Buffer
	if err := r.HTML(&b); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d in the period; the first %d are listed", c.Total, report.MaxListed); !strings.Contains(b.String(), want) {
		t.Fatalf("HTML lacks %q", want)
	}
}
