package sealer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TestRefusedIdentityLoggedAndCounted: a peer asking to emit as a service
// its uid may not use is refused (ErrNotAuthorized), every refusal is
// counted in identity_refused_total, and the warning naming uid, pid and
// the service asked for is logged at most once a second, the next one
// saying how many were not logged. An allowed identity is neither.
func TestRefusedIdentityLoggedAndCounted(t *testing.T) {
	var out strings.Builder
	zero := func() float64 { return 0 }
	s := &Sealer{log: hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info}), m: newMetrics(zero, zero, zero)}
	peer := &Peer{UID: 1234, PID: 42, Services: []string{"svc-a"}}
	if svc, err := s.chooseService(peer, "svc-a"); err != nil || svc != "svc-a" {
		t.Fatalf("allowed identity: %q %v", svc, err)
	}
	for range 5 {
		if _, err := s.chooseService(peer, "svc-b"); !errors.Is(err, ErrNotAuthorized) {
			t.Fatalf("want ErrNotAuthorized, got %v", err)
		}
	}
	if n, _ := MetricValue(s, "audit_sealer_identity_refused_total"); n != 5 {
		t.Fatalf("identity_refused_total = %v, want 5", n)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one rate-limited line, got %q", lines)
	}
	for _, want := range []string{"[WARN]", "not_authorized", "uid=1234", "pid=42", "service=svc-b", "refusals_not_logged=0"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("log line %q lacks %q", lines[0], want)
		}
	}
	s.idLog.last = time.Now().Add(-identityLogEvery)
	s.chooseService(peer, "svc-c")
	if !strings.Contains(out.String(), "refusals_not_logged=4") {
		t.Fatalf("the next line does not count the 4 refusals not logged:\n%s", out.String())
	}
}
