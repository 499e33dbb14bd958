package index_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
)

// BenchmarkBuild measures Build on one closed segment of a realistic log
// per sub-benchmark: "query" holds the template mix of small events whose
// identifiers repeat, "large" ~500-byte events with unique identifiers.
// Besides ns/op it reports ns/record and allocs/record (of every record,
// seals and checkpoints included), the figures the sealer's budget is
// stated in.
func BenchmarkBuild(b *testing.B) {
	for _, bc := range []struct {
		name  string
		build func(dir string, n int, segmentSize int64) (string, error)
	}{
		{"query", testkit.BuildQueryLog},
		{"large", testkit.BuildLargeLog},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "data")
			// 20000 events and their seals in one segment; the log closes
			// it, so it is a complete segment file.
			if _, err := bc.build(dir, 20000, 1<<30); err != nil {
				b.Fatal(err)
			}
			segs, err := storage.ListSegments(dir)
			if err != nil || len(segs) != 1 {
				b.Fatalf("segments %v, %v: want one", segs, err)
			}
			path := filepath.Join(dir, segs[0].Name)
			x, err := index.Build(context.Background(), path)
			if err != nil {
				b.Fatal(err)
			}
			records := float64(x.Records)
			b.SetBytes(segs[0].Size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := index.Build(context.Background(), path); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/records, "ns/record")
			b.ReportMetric(float64(testing.AllocsPerRun(1, func() { index.Build(context.Background(), path) }))/records, "allocs/record")
		})
	}
}
