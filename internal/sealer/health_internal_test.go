package sealer

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// get fetches path from the metrics listener's handler with the health
// endpoints added.
func get(t *testing.T, s *Sealer, path string) (int, string) {
	t.Helper()
	mux := metricsMux(prometheus.NewRegistry(), false)
	s.addHealth(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHealthAndReadiness: /healthz is 200 whenever the process serves;
// /readyz is 200 with every check ok (anchor "off" without a TPM) and 503
// naming the failing check when the log cannot be written, the signer
// fails, anchoring fails, or the sealer is stopping.
func TestHealthAndReadiness(t *testing.T) {
	s := &Sealer{started: time.Now()}
	if code, body := get(t, s, "/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, s, "/readyz"); code != 200 || body != "log: ok\nsigner: ok\nanchor: off\n" {
		t.Fatalf("/readyz healthy: %d %q", code, body)
	}
	for _, c := range []struct {
		name string
		set  func(s *Sealer)
		want string
	}{
		{"storage", func(s *Sealer) { s.status.StorageError = "ledger: disk full" }, "log: ledger: disk full"},
		{"signer", func(s *Sealer) { s.status.SignerError = "hsm: token gone" }, "signer: hsm: token gone"},
		{"anchor", func(s *Sealer) { s.status.Anchoring, s.status.AnchorError = true, "tpm: gone" }, "anchor: tpm: gone"},
		{"stopping", func(s *Sealer) { s.stopping.Store(true) }, "log: stopping"},
		{"writer gone", func(s *Sealer) { s.writerGone.Store(true) }, "log: the writer stopped"},
	} {
		s := &Sealer{started: time.Now()}
		c.set(s)
		code, body := get(t, s, "/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, c.want) {
			t.Errorf("%s: /readyz %d %q, want 503 with %q", c.name, code, body, c.want)
		}
		if code, _ := get(t, s, "/healthz"); code != 200 {
			t.Errorf("%s: /healthz %d, want 200", c.name, code)
		}
	}
	s = &Sealer{started: time.Now()}
	s.status.Anchoring = true
	if code, body := get(t, s, "/readyz"); code != 200 || !strings.Contains(body, "anchor: ok") {
		t.Fatalf("/readyz anchoring: %d %q", code, body)
	}
}
