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

// benchLog is a log built once per test binary for the benchmarks.
type benchLog struct {
	once     sync.Once
	root     string // removed by TestMain
	dir, key string
	err      error
}

// remove deletes the log, if it was built.
func (l *benchLog) remove() {
	if l.root != "" {
		os.RemoveAll(l.root)
	}
}

const largeEvents = 50_000

var (
	largeLogs  benchLog // 15 MB segments: 3 segments
	singleLogs benchLog // 100 MB segments: 1 segment
)

// largeLog builds (once per test binary) a log of 50,000 ~500-byte events in
// segments of segmentSize bytes.
func largeLog(b *testing.B, l *benchLog, segmentSize int64) (string, string) {
	l.once.Do(func() {
		root, err := os.MkdirTemp("", "audit-sealer-bench-")
		if err != nil {
			l.err = err
			return
		}
		l.root = root
		l.dir = filepath.Join(root, "data")
		l.key, l.err = testkit.BuildLargeLog(l.dir, largeEvents, segmentSize)
	})
	if l.err != nil {
		b.Fatal(l.err)
	}
	return l.dir, l.key
}

// BenchmarkVerify reports verification throughput in events/s (records/s)
// over a log of 50,000 ~500-byte events sealed every 100 records, in 15 MB
// segments (3 segments) and in one segment, with one worker (per core) and
// with all cores; and
// events per second of CPU time used (events/cpu-s), which a busy machine
// disturbs less than the wall-clock rate.
func BenchmarkVerify(b *testing.B) {
	dir, keyFile := largeLog(b, &largeLogs, 15_000_000)
	one, oneKey := largeLog(b, &singleLogs, 100_000_000)
	for _, bc := range []struct {
		name     string
		dir, key string
		workers  int
	}{
		{"1core", dir, keyFile, 1},
		{"allcores", dir, keyFile, 0},
		// The same records in one segment: only parallelism within a
		// segment can use more than one core.
		{"onesegment-1worker", one, oneKey, 1},
		{"onesegment-allcores", one, oneKey, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			keys := loadKey(b, bc.key)
			var records uint64
			var bytes int64
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				rep, err := verify.Dir(context.Background(), bc.dir, verify.Options{Keys: keys, Workers: bc.workers})
				if err != nil || rep.Verdict != verify.Intact {
					b.Fatalf("%v %+v", err, rep)
				}
				records, bytes = rep.Records, rep.Bytes
				b.ReportMetric(float64(rep.Segments), "segments")
			}
			cpu := cpuTime() - cpu0
			b.SetBytes(bytes)
			b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if cpu > 0 {
				// Records per second of CPU the process used: on a shared
				// machine, what one dedicated core would do, and (with all
				// cores) what the parallelism costs.
				b.ReportMetric(float64(records)*float64(b.N)/cpu.Seconds(), "events/cpu-s")
			}
		})
	}
}
