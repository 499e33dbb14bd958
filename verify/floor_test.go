package verify_test

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/storage"
)

// BenchmarkVerifyFloor measures, on BenchmarkVerify's 3-segment log and one
// core, the work every verifier of FORMAT.md must do per record, in
// cumulative steps: reading the frames (pread and CRC-32C), then also the
// record hash (SHA-256), then also the Merkle leaf and tree. "schema" adds
// decoding and the events' canonical check. Whatever verify.Dir does beyond
// a step is bookkeeping or checks that step leaves out; BENCHMARKS.md
// (Verification) uses these figures to show what bounds one core.
func BenchmarkVerifyFloor(b *testing.B) {
	dir, _ := largeLog(b, &largeLogs, 15_000_000)
	segs, err := storage.ListSegments(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, step := range []string{"read", "read+hash", "read+hash+merkle", "read+hash+merkle+schema"} {
		b.Run(step, func(b *testing.B) {
			h := chain.NewHasher()
			var records, bytes int64
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				records, bytes = 0, 0
				for j, s := range segs {
					r, err := storage.OpenSegment(filepath.Join(dir, s.Name), j == len(segs)-1)
					if err != nil {
						b.Fatal(err)
					}
					tree := chain.NewTree()
					for {
						p, _, err := r.Next()
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
						records++
						bytes += int64(len(p))
						if step == "read" {
							continue
						}
						if !h.Check(p) {
							b.Fatal("hash mismatch")
						}
						if step == "read+hash" {
							continue
						}
						rec, err := chain.Decode(p)
						if err != nil {
							b.Fatal(err)
						}
						tree.AppendLeaf(chain.LeafHash(rec.Hash))
						if step == "read+hash+merkle" || rec.Kind != chain.KindEvent && rec.Kind != chain.KindSealerEvent {
							continue
						}
						// As verify.Dir checks every event and sealer event.
						opts := event.DecodeOptions{Now: rec.Time(), AllowSealerEvents: rec.Kind == chain.KindSealerEvent}
						if _, err := event.CheckCanonical(rec.Event, opts); err != nil {
							b.Fatal(err)
						}
					}
					r.Close()
				}
			}
			cpu := cpuTime() - cpu0
			b.SetBytes(bytes)
			b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if cpu > 0 {
				b.ReportMetric(float64(records)*float64(b.N)/cpu.Seconds(), "events/cpu-s")
			}
		})
	}
}
