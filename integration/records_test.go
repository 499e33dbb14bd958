package integration

import (
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
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
	var out []eventRecord
	err := testkit.Records(dataDir, func(rec chain.Record) bool {
		if rec.Kind == chain.KindEvent || rec.Kind == chain.KindSealerEvent {
			out = append(out, eventRecord{Seq: rec.Seq, AuditID: string(rec.AuditID), Service: string(rec.Service),
				Type: string(rec.Type), Event: rec.Event})
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
