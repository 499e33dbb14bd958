package sealer_test

import (
	"context"
	"os"
	"testing"

	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/verify"
)

// TestIndexAfterRotation: the sealer writes the index of every segment it
// closes, in the background, and one it could not write before a restart
// (here: deleted) is written at the next start; queries use them.
func TestIndexAfterRotation(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentSize = 4096
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	for i := 0; i < 120; i++ {
		c.emitDurable(sealVerified(i))
	}
	c.close()
	var closed int
	eventually(t, "an index for every closed segment", func() bool {
		segs, err := index.Closed(cfg.DataDir)
		if err != nil || len(segs) < 3 {
			return false
		}
		for _, s := range segs {
			if _, err := index.Usable(cfg.DataDir, s); err != nil {
				return false
			}
		}
		closed = len(segs)
		return true
	})
	if err := h.stop(ioTimeout); err != nil {
		t.Fatal(err)
	}
	segs, _ := index.Closed(cfg.DataDir)
	os.Remove(index.Path(cfg.DataDir, segs[0].Name))
	h = startSealer(t, cfg)
	eventually(t, "the deleted index written again at start", func() bool {
		_, err := index.Usable(cfg.DataDir, segs[0])
		return err == nil
	})
	h.stop(ioTimeout)
	res, ok, err := index.CheckAll(context.Background(), cfg.DataDir)
	if err != nil || !ok {
		t.Fatalf("index check: %v %+v", err, res)
	}
	info, err := query.Scan(context.Background(), cfg.DataDir, verify.Trust{Keys: testkit.Keys("main")}, query.Filter{Entity: "shard-7"}, func(*query.Match) error { return nil })
	if err != nil || info.Matched != 1 || info.IndexedSegments < closed || info.UnindexedSegments != 0 {
		t.Fatalf("query: %v %+v (closed %d)", err, info, closed)
	}
}

// TestIndexOff: with [query] index = false the sealer writes no index, at
// rotation or at start, and queries still find every record.
func TestIndexOff(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentSize = 4096
	cfg.Query.Index = false
	for round := 0; round < 2; round++ { // the second start would catch up on missing indexes
		h := startSealer(t, cfg)
		c := dial(t, cfg.Socket)
		for i := 0; i < 60; i++ {
			c.emitDurable(sealVerified(round*60 + i))
		}
		c.close()
		if err := h.stop(ioTimeout); err != nil {
			t.Fatal(err)
		}
	}
	segs, err := index.Closed(cfg.DataDir)
	if err != nil || len(segs) < 3 {
		t.Fatalf("closed segments: %d, %v", len(segs), err)
	}
	for _, s := range segs {
		if _, err := os.Stat(index.Path(cfg.DataDir, s.Name)); !os.IsNotExist(err) {
			t.Fatalf("segment %s has an index file with indexing off: %v", s.Name, err)
		}
	}
	info, err := query.Scan(context.Background(), cfg.DataDir, verify.Trust{Keys: testkit.Keys("main")}, query.Filter{Entity: "shard-7"}, func(*query.Match) error { return nil })
	if err != nil || info.Matched != 1 || info.IndexedSegments != 0 {
		t.Fatalf("query: %v %+v", err, info)
	}
}
