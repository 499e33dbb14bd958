package sealer_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/audit-sealer/audit-sealer/event"
)

// TestQueryThroughSealer: an allowed peer reads sealed records through the
// socket, and the read is recorded in the chain (who, what filters, how
// many results) before the reply; a peer the configuration does not list is
// refused.
func TestQueryThroughSealer(t *testing.T) {
	cfg := testConfig(t)
	cfg.Query.UIDs = []uint32{uint32(os.Getuid())}
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	for i := 0; i < 5; i++ {
		c.emitDurable(sealVerified(i))
	}
	mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	c.send(`{"op":"query","id":"q","filter":{"types":["seal.verified"]},"limit":3}`)
	raw := []byte(c.recv().raw)
	var rep struct {
		ID      string            `json:"id"`
		OK      bool              `json:"ok"`
		Matches []json.RawMessage `json:"matches"`
		More    bool              `json:"more"`
		Next    uint64            `json:"next"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil || !rep.OK || len(rep.Matches) != 3 || !rep.More {
		t.Fatalf("query reply: %v %s", err, raw)
	}
	if r := c.do(`{"op":"query","id":"bad","filter":{"types":["no.such"]}}`); r.OK || r.code() != "bad_request" {
		t.Fatalf("bad filter: %s", r.raw)
	}
	c.close()
	h.stopAndVerify()
	reads := sealerEvents(t, readRecords(t, cfg.DataDir), event.TypeLogRead)
	if len(reads) != 1 {
		t.Fatalf("%d audit.log_read records, want 1", len(reads))
	}
	lr := reads[0].(*event.LogRead)
	if lr.UID != uint32(os.Getuid()) || lr.Operation != event.OpQuery || lr.Results != 3 || !json.Valid(lr.Filters) {
		t.Fatalf("log_read: %+v", lr)
	}

	// A peer the configuration does not list.
	cfg2 := testConfig(t)
	cfg2.Query.UIDs = []uint32{424242}
	h2 := startSealer(t, cfg2)
	c2 := dial(t, cfg2.Socket)
	if r := c2.do(`{"op":"query","id":"q"}`); r.OK || r.code() != "not_authorized" {
		t.Fatalf("unlisted peer: %s", r.raw)
	}
	c2.close()
	h2.stopAndVerify()
}
