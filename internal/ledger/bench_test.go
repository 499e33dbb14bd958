package ledger_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// BenchmarkAppend reports the ledger's append throughput for ~500-byte
// events: encode, hash, chain, Merkle update and buffered write, with one
// fdatasync per 100 events and a checkpoint per 1000 (the daemon's group
// commit and sealing cadence under load).
func BenchmarkAppend(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "log")
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: testkit.Key("main"), Dev: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	now := time.Now()
	ev, err := event.Decode(testkit.LargeEvent(1, now), event.DecodeOptions{Now: now})
	if err != nil {
		b.Fatal(err)
	}
	body, _ := event.Encode(ev)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := l.Append(chain.KindEvent, "queen-rbee", ev.EventType(), body, now); err != nil {
			b.Fatal(err)
		}
		if i%100 == 99 {
			if err := l.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		if i%1000 == 999 {
			if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
