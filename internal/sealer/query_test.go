package sealer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/user"
	"slices"
	"strconv"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
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

// TestQueryThroughSealerRefusesTamperedLog: a record of a closed segment
// changed on disk while the sealer was stopped (the sealer checks only the
// end of the log when it starts) makes a query through the socket fail
// with the code tampered and the verifier's reason, through the index and
// without it, and sends no record.
func TestQueryThroughSealerRefusesTamperedLog(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentSize = 4096
	cfg.Query.UIDs = []uint32{uint32(os.Getuid())}
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	var seqs []uint64
	for i := 0; i < 60; i++ {
		seqs = append(seqs, c.emitDurable(sealVerified(i)))
	}
	c.close()
	if err := h.stop(ioTimeout); err != nil {
		t.Fatal(err)
	}
	if _, err := index.Update(context.Background(), cfg.DataDir, false); err != nil {
		t.Fatal(err)
	}
	closed, _ := index.Closed(cfg.DataDir)
	if len(closed) < 2 {
		t.Fatalf("%d closed segments", len(closed))
	}
	// An event of the second closed segment, changed; its stored hash kept.
	target := seqs[slices.IndexFunc(seqs, func(s uint64) bool { return s > closed[1].FirstSeq })]
	if err := testkit.EditRecord(cfg.DataDir, target, false, func(rec *chain.Record) {
		rec.Event = bytes.Replace(rec.Event, []byte(`"shard-`), []byte(`"shard_`), 1)
	}); err != nil {
		t.Fatal(err)
	}
	h = startSealer(t, cfg)
	c = dial(t, cfg.Socket)
	for _, filter := range []string{`{"types":["seal.verified"]}`, `{}`} {
		r := c.do(`{"op":"query","id":"q","filter":` + filter + `}`)
		var rep struct {
			OK      bool              `json:"ok"`
			Matches []json.RawMessage `json:"matches"`
			Error   struct{ Code, Reason string }
		}
		if err := json.Unmarshal([]byte(r.raw), &rep); err != nil || rep.OK || rep.Error.Code != "tampered" || rep.Error.Reason != "modified" || len(rep.Matches) != 0 {
			t.Fatalf("query %s of a tampered log: %v %s", filter, err, r.raw)
		}
	}
	c.close()
	h.stop(ioTimeout)
}

// TestQueryByReaderGroup: [query] groups names a reader group; a peer in
// it (here by its primary group) may read the log though its uid is not
// listed, and its read is recorded; a reload that empties the group list
// refuses it from the next request.
func TestQueryByReaderGroup(t *testing.T) {
	grp, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Skipf("the test's group has no name: %v", err)
	}
	cfg := testConfig(t)
	cfg.Query.UIDs = []uint32{424242}
	cfg.Query.Groups = []string{grp.Name}
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	c.emitDurable(sealVerified(1))
	mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	if r := c.do(`{"op":"query","id":"q","filter":{"subject":"nobody"}}`); !r.OK {
		t.Fatalf("a member of the reader group was refused: %s", r.raw)
	}
	c.close()
	h.stopAndVerify()
	reads := sealerEvents(t, readRecords(t, cfg.DataDir), event.TypeLogRead)
	if len(reads) != 1 || !bytes.Contains(reads[0].(*event.LogRead).Filters, []byte(`"subject":"nobody"`)) {
		t.Fatalf("log reads %+v", reads)
	}
	cfg.Query.Groups = nil
	h = startSealer(t, cfg)
	c = dial(t, cfg.Socket)
	if r := c.do(`{"op":"query","id":"q"}`); r.OK || r.code() != "not_authorized" {
		t.Fatalf("without the reader group: %s", r.raw)
	}
	c.close()
	h.stopAndVerify()
}
