package sealer

import (
	"slices"
	"testing"
)

// TestEveryMetricRegistered: every metric the sealer documents is on its
// registry from the start (a vector appears once it has a child).
func TestEveryMetricRegistered(t *testing.T) {
	m := newMetrics(func() float64 { return 0 }, func() float64 { return 0 }, func() float64 { return 0 })
	m.rejected.WithLabelValues("shed")
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
		"indexes_written_total", "index_errors_total"} {
		if !slices.Contains(names, "audit_sealer_"+want) {
			t.Errorf("audit_sealer_%s is not registered", want)
		}
	}
	if !slices.Contains(names, "go_goroutines") || !slices.Contains(names, "process_resident_memory_bytes") {
		t.Error("the Go and process collectors are not registered")
	}
}
