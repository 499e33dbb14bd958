package sealer

import (
	"fmt"
	"io"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
	"github.com/audit-sealer/audit-sealer/internal/wire"
)

// TestEveryMetricRegistered: every metric the sealer documents is on its
// registry from the start (a vector appears once it has a child).
func TestEveryMetricRegistered(t *testing.T) {
	m := newMetrics(func() float64 { return 0 }, func() float64 { return 0 }, func() float64 { return 0 })
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	for _, want := range []string{"events_accepted_total", "requests_rejected_total", "events_shed_total", "records_written_total",
		"checkpoints_total", "seal_errors_total", "queue_depth", "queue_bytes", "queue_uids", "bad_line_waits_total", "unsealed_records", "connections",
		"last_checkpoint_timestamp_seconds", "fsync_seconds", "seal_seconds", "batch_records", "anchors_total",
		"anchor_errors_total", "last_anchor_timestamp_seconds", "last_anchor_counter", "nv_writes_per_year_estimate",
		"indexes_written_total", "index_errors_total", "build_info"} {
		if !slices.Contains(names, "audit_sealer_"+want) {
			t.Errorf("audit_sealer_%s is not registered", want)
		}
	}
	if !slices.Contains(names, "go_goroutines") || !slices.Contains(names, "process_resident_memory_bytes") {
		t.Error("the Go and process collectors are not registered")
	}
}

// TestLabelValuesPreinitialised: every metric on the sealer's registry is
// exposed from the start, a vector with a zero series for each label value
// it can take, so that rate() and alerts see it before the first event:
// a collector that describes a metric the first gather does not return is
// a vector nobody initialised.
func TestLabelValuesPreinitialised(t *testing.T) {
	m := newMetrics(func() float64 { return 0 }, func() float64 { return 0 }, func() float64 { return 0 })
	described := map[string]bool{}
	ch := make(chan *prometheus.Desc, 256)
	go func() { m.reg.Describe(ch); close(ch) }()
	re := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		if mm := re.FindStringSubmatch(d.String()); mm != nil && strings.HasPrefix(mm[1], "audit_sealer_") {
			described[mm[1]] = true
		}
	}
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	gathered := map[string]bool{}
	codes := map[string]bool{} // requests_rejected_total's codes, true when at 0
	for _, f := range families {
		gathered[f.GetName()] = true
		if f.GetName() != "audit_sealer_requests_rejected_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				codes[l.GetValue()] = mt.GetCounter().GetValue() == 0
			}
		}
	}
	if len(described) < 25 {
		t.Fatalf("only %d metrics described", len(described))
	}
	for name := range described {
		if !gathered[name] {
			t.Errorf("%s is described but not exposed: a vector without its label values", name)
		}
	}
	for _, code := range append(wire.Codes(), codeTooManyConnections) {
		if !codes[code] {
			t.Errorf("requests_rejected_total{code=%q} is not exposed at 0", code)
		}
	}
}

// TestBuildInfoMetric: a scrape of the sealer's registry has
// audit_sealer_build_info = 1, labelled with this build's version, revision
// and Go version (under go test: devel, unknown and the running toolchain),
// and the Go Cryptographic Module's mode and version.
func TestBuildInfoMetric(t *testing.T) {
	m := newMetrics(func() float64 { return 0 }, func() float64 { return 0 }, func() float64 { return 0 })
	srv := httptest.NewServer(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b := buildinfo.Read()
	want := fmt.Sprintf("audit_sealer_build_info{fips140=%q,fips140_module=%q,goversion=%q,revision=%q,version=%q} 1\n",
		buildinfo.FIPSMode(), b.FIPS140Module, b.GoVersion, b.RevisionText(), b.Version)
	if !strings.Contains(string(body), want) {
		t.Errorf("the scrape has no %q:\n%s", want, body)
	}
	if b.Version != buildinfo.Devel || b.RevisionText() != "unknown" {
		t.Errorf("under go test the build is %q at %q, want devel at unknown", b.Version, b.RevisionText())
	}
}

// TestPprofOnlyWhenAsked: /debug/pprof/ is served on the metrics listener
// only with [metrics] pprof; /metrics always.
func TestPprofOnlyWhenAsked(t *testing.T) {
	m := newMetrics(func() float64 { return 0 }, func() float64 { return 0 }, func() float64 { return 0 })
	for _, on := range []bool{false, true} {
		srv := httptest.NewServer(metricsMux(m.reg, on))
		for path, want := range map[string]int{"/metrics": 200, "/debug/pprof/": map[bool]int{false: 404, true: 200}[on]} {
			resp, err := srv.Client().Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("pprof %v: GET %s = %d, want %d", on, path, resp.StatusCode, want)
			}
		}
		srv.Close()
	}
}
