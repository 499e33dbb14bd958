package sealer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/sealer"
)

// TestDegradedOrder: Degraded is empty while everything works, and lists
// the failing dependencies most serious first, each with how long it has
// been failing, how many errors and the error.
func TestDegradedOrder(t *testing.T) {
	now := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	var ok sealer.Status
	ok.Anchoring = true
	if d := ok.Degraded(now); len(d) != 0 {
		t.Fatalf("healthy: %q", d)
	}
	st := sealer.Status{Anchoring: true, AnchorError: "tpm: connection refused", AnchorErrors: 12, AnchorFailingSince: ago(3 * time.Minute)}
	if d := st.Degraded(now); len(d) != 1 || d[0] != "tpm anchoring failing for 3m0s (12 errors): tpm: connection refused" {
		t.Fatalf("tpm: %q", d)
	}
	st.SignerError, st.SealErrors, st.SignerFailingSince = "hsm: token removed", 4, ago(90*time.Second)
	st.Witnesses = []sealer.WitnessStatus{{Name: "w1", Error: "timeout"}, {Name: "w2", SplitView: true, Error: "inconsistent"}}
	st.WitnessQuorum = 1
	d := st.Degraded(now)
	want := []string{"signing failing for 1m30s (4 failed seals): hsm: token removed", "SPLIT VIEW reported by witness w2: inconsistent",
		"tpm anchoring failing for 3m0s (12 errors): tpm: connection refused",
		"witnessing below its quorum (0 of 2 witnesses cosign, quorum 1): w1: timeout"}
	if strings.Join(d, "\n") != strings.Join(want, "\n") {
		t.Fatalf("degraded:\n%s\nwant:\n%s", strings.Join(d, "\n"), strings.Join(want, "\n"))
	}
	st.StorageError, st.StorageErrors = "no space left on device", 1
	if d := st.Degraded(now); !strings.HasPrefix(d[0], "storage failing (1 errors): no space") {
		t.Fatalf("storage first: %q", d[0])
	}
	// One witness failing of two, quorum 1: still witnessed.
	q := sealer.Status{WitnessQuorum: 1, Witnesses: []sealer.WitnessStatus{{Name: "w1", Error: "timeout"}, {Name: "w2"}}}
	if d := q.Degraded(now); len(d) != 0 {
		t.Fatalf("quorum met: %q", d)
	}
}
