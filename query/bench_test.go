package query_test

import (
	"context"
	"testing"

	"github.com/audit-sealer/audit-sealer/query"
)

// BenchmarkQuery compares a query through the indexes with a full read of
// the shared log (100,000 events, about 18 segments of 2 MB; building it
// takes a few seconds and is not timed). records/op is the number of
// records read and matched; segments_indexed/op the segments read through
// their index.
//
//	go test -run '^$' -bench Query -benchtime 5x ./query
func BenchmarkQuery(b *testing.B) {
	plain, _ := largeLog(b, false)
	withIndex, _ := largeLog(b, true)
	for _, tc := range []struct {
		name string
		f    query.Filter
	}{
		{"user", query.Filter{UserID: "customer-5"}},
		{"entity", query.Filter{Entity: "pool-7"}},
		{"type", query.Filter{Types: []string{"vram.sealed"}}},
		{"critical_page", query.Filter{CriticalOnly: true, Limit: 100}},
	} {
		for _, dir := range []struct{ name, path string }{{"scan", plain}, {"indexed", withIndex}} {
			b.Run(tc.name+"/"+dir.name, func(b *testing.B) {
				var info *query.Info
				for b.Loop() {
					var err error
					info, err = query.Scan(context.Background(), dir.path, mainTrust, tc.f, func(*query.Match) error { return nil })
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(info.Scanned), "records/op")
				b.ReportMetric(float64(info.IndexedSegments), "segments_indexed/op")
				b.ReportMetric(float64(info.Matched), "matches/op")
			})
		}
	}
}
