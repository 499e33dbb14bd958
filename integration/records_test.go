package integration

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/storage"
)

type eventRecord struct {
	Seq     uint64
	AuditID string
	Service string
	Type    string
	Event   []byte
}

// readEvents returns every event record of the log in dataDir.
func readEvents(t *testing.T, dataDir string) []eventRecord {
	t.Helper()
	segs, err := storage.ListSegments(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []eventRecord
	for i, s := range segs {
		r, err := storage.OpenSegment(filepath.Join(dataDir, s.Name), i == len(segs)-1)
		if err != nil {
			t.Fatal(err)
		}
		for {
			p, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			rec, err := chain.Decode(p)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Kind == chain.KindEvent || rec.Kind == chain.KindSealerEvent {
				out = append(out, eventRecord{Seq: rec.Seq, AuditID: string(rec.AuditID), Service: string(rec.Service),
					Type: string(rec.Type), Event: append([]byte(nil), rec.Event...)})
			}
		}
		r.Close()
	}
	return out
}
