package integration

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMetricsLabelValuesAtStart scrapes /metrics right after the sealer
// started, before any request: every counter with a label has its known
// label values exposed at 0 (requests_rejected_total for each error code
// of PROTOCOL.md, events_accepted_total for durable and not), so that
// rate() and alerts see them from the start.
func TestMetricsLabelValuesAtStart(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	addr := freeAddr(t)
	d := startDaemon(t, dataDir, socket, "--metrics-listen", addr)
	defer d.stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	for _, code := range []string{"bad_json", "bad_request", "frame_too_large", "invalid_event", "not_authorized", "shed",
		"timeout", "unavailable", "not_sealed", "tampered", "internal", "too_many_connections"} {
		if want := `audit_sealer_requests_rejected_total{code="` + code + `"} 0`; !strings.Contains(page, want+"\n") {
			t.Errorf("no %q at start", want)
		}
	}
	for _, want := range []string{`audit_sealer_events_accepted_total{durable="true"} 0`, `audit_sealer_events_accepted_total{durable="false"} 0`} {
		if !strings.Contains(page, want+"\n") {
			t.Errorf("no %q at start", want)
		}
	}
	// Every family with HELP has at least one sample.
	for _, m := range regexp.MustCompile(`(?m)^# HELP (audit_sealer_[a-z_]+) `).FindAllStringSubmatch(page, -1) {
		if !regexp.MustCompile(`(?m)^` + m[1] + `(_bucket|_sum|_count)?(\{| )`).MatchString(page) {
			t.Errorf("%s has no sample at start", m[1])
		}
	}
}
