package verify_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/verify"
)

var (
	largeOnce sync.Once
	largeDir  string
	largeKey  string
	largeErr  error
)

const largeEvents = 50_000

// largeLog builds (once per test binary) a log of 200,000 ~500-byte events in
// 8 segments.
func largeLog(b *testing.B) (string, string) {
	largeOnce.Do(func() {
		root, err := os.MkdirTemp("", "audit-sealer-bench-")
		if err != nil {
			largeErr = err
			return
		}
		largeDir = filepath.Join(root, "data")
		largeKey, largeErr = testkit.BuildLargeLog(largeDir, largeEvents, 15_000_000)
	})
	if largeErr != nil {
		b.Fatal(largeErr)
	}
	return largeDir, largeKey
}

// BenchmarkVerify reports verification throughput in events/s (records/s)
// over a log of 200,000 ~500-byte events, with one worker (per core) and with
// all cores.
func BenchmarkVerify(b *testing.B) {
	dir, keyFile := largeLog(b)
	keys := loadKey(b, keyFile)
	for _, bc := range []struct {
		name    string
		workers int
	}{{"1core", 1}, {"allcores", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			var records uint64
			var bytes int64
			for i := 0; i < b.N; i++ {
				rep, err := verify.Dir(context.Background(), dir, verify.Options{Keys: keys, Workers: bc.workers})
				if err != nil || rep.Verdict != verify.Intact {
					b.Fatalf("%v %+v", err, rep)
				}
				records, bytes = rep.Records, rep.Bytes
			}
			b.SetBytes(bytes)
			b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
