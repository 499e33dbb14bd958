package sealer_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/report/signature"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// exportReply is a reply of the export op.
type exportReply struct {
	ID      string `json:"id"`
	OK      bool   `json:"ok"`
	Matches []struct {
		Seq  uint64 `json:"seq"`
		Type string `json:"type"`
	} `json:"matches"`
	Next  *uint64    `json:"next"`
	Done  bool       `json:"done"`
	Error *wireError `json:"error"`
}

func (c *client) recvExport() exportReply {
	c.t.Helper()
	r := c.recv()
	var e exportReply
	if err := json.Unmarshal([]byte(r.raw), &e); err != nil {
		c.t.Fatalf("export reply %s: %v", r.raw, err)
	}
	return e
}

// TestExportThroughSealer: a reader's export streams every sealed match in
// batches, in order, then a reply with done; it is recorded once in the
// chain before anything is sent. With follow it goes on with what is
// sealed later, until the client leaves. A peer that is not a reader is
// refused, and so is a bad filter.
func TestExportThroughSealer(t *testing.T) {
	cfg := testConfig(t)
	cfg.Query.UIDs = []uint32{uint32(os.Getuid())}
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	const n = 600 // more than two batches
	var want []uint64
	for i := 0; i < n; i++ {
		want = append(want, c.emitDurable(sealVerified(i)))
	}
	mustOK(t, c.do(`{"op":"flush","id":"f"}`))

	x := dial(t, cfg.Socket)
	x.send(`{"op":"export","id":"x","filter":{"types":["seal.verified"]}}`)
	var got []uint64
	for {
		r := x.recvExport()
		if !r.OK || r.ID != "x" {
			t.Fatalf("export reply %+v", r)
		}
		if r.Done {
			if r.Next == nil || *r.Next != want[n-1] {
				t.Fatalf("done reply %+v", r)
			}
			break
		}
		if len(r.Matches) == 0 || r.Next == nil || *r.Next != r.Matches[len(r.Matches)-1].Seq {
			t.Fatalf("batch %+v", r)
		}
		for _, m := range r.Matches {
			got = append(got, m.Seq)
		}
	}
	if len(got) != n || got[0] != want[0] || got[n-1] != want[n-1] {
		t.Fatalf("exported %d records (%v…), want %d", len(got), got[:min(3, len(got))], n)
	}
	// The connection is usable again once the export is done.
	mustOK(t, x.do(`{"op":"ping","id":"p"}`))
	if r := x.do(`{"op":"export","id":"bad","filter":{"types":["no.such"]}}`); r.code() != "bad_request" {
		t.Fatalf("bad filter: %s", r.raw)
	}

	// Following: the records sealed so far, then each one sealed later.
	f := dial(t, cfg.Socket)
	f.send(`{"op":"export","id":"f","filter":{"types":["seal.verified"],"after":` + jsonUint(want[n-2]) + `},"follow":true}`)
	if r := f.recvExport(); !r.OK || len(r.Matches) != 1 || r.Matches[0].Seq != want[n-1] {
		t.Fatalf("follow, first batch %+v", r)
	}
	later := c.emitDurable(sealVerified(n))
	mustOK(t, c.do(`{"op":"flush","id":"f2"}`))
	if r := f.recvExport(); !r.OK || len(r.Matches) != 1 || r.Matches[0].Seq != later || r.Done {
		t.Fatalf("follow, the record sealed later %+v", r)
	}
	f.close()
	x.close()
	c.close()
	h.stopAndVerify()
	reads := sealerEvents(t, readRecords(t, cfg.DataDir), event.TypeLogRead)
	if len(reads) != 2 {
		t.Fatalf("%d audit.log_read records, want 2 (the bad filter is not a read)", len(reads))
	}
	for i, wantFollow := range []bool{false, true} {
		lr := reads[i].(*event.LogRead)
		if lr.Operation != event.OpExport || lr.UID != uint32(os.Getuid()) || bytes.Contains(lr.Filters, []byte(`"follow":true`)) != wantFollow {
			t.Fatalf("log read %d: %+v %s", i, lr, lr.Filters)
		}
	}

	cfg2 := testConfig(t)
	cfg2.Query.UIDs = []uint32{424242}
	h2 := startSealer(t, cfg2)
	c2 := dial(t, cfg2.Socket)
	for _, op := range []string{`{"op":"export","id":"x"}`, `{"op":"report","id":"r","report":"soc2"}`} {
		if r := c2.do(op); r.code() != "not_authorized" {
			t.Fatalf("%s by a peer that is not a reader: %s", op, r.raw)
		}
	}
	c2.close()
	h2.stopAndVerify()
}

func jsonUint(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// TestReportThroughSealer: the sealer builds a report for a reader, records
// its SHA-256 in the chain with the read, seals it and sends the report
// with a signature that checks with the log's public key alone; a changed
// report fails the check. Bad requests (an unknown kind or format, gdpr
// without a customer, a filter with more than from and to) are refused
// and not recorded.
func TestReportThroughSealer(t *testing.T) {
	cfg := testConfig(t)
	cfg.Query.UIDs = []uint32{uint32(os.Getuid())}
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	for i := 0; i < 20; i++ {
		c.emitDurable(authFailure(i))
	}
	mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	for _, bad := range []string{
		`{"op":"report","id":"b","report":"hipaa"}`,
		`{"op":"report","id":"b","report":"soc2","format":"pdf"}`,
		`{"op":"report","id":"b","report":"gdpr"}`,
		`{"op":"report","id":"b","report":"soc2","filter":{"user":"x"}}`,
	} {
		if r := c.do(bad); r.code() != "bad_request" {
			t.Fatalf("%s: %s", bad, r.raw)
		}
	}
	from := nowUTC().Add(-time.Hour).Format(time.RFC3339)
	c.send(`{"op":"report","id":"r","report":"pci","format":"html","filter":{"from":"` + from + `"}}`)
	r := c.recv()
	var rep struct {
		OK     bool `json:"ok"`
		Report struct {
			Kind, Format, Verdict, SHA256 string
			Seq                           uint64
			Body                          []byte
			Signature                     json.RawMessage
		} `json:"report"`
	}
	if err := json.Unmarshal([]byte(r.raw), &rep); err != nil || !rep.OK {
		t.Fatalf("report reply: %v %.500s", err, r.raw)
	}
	sum := sha256.Sum256(rep.Report.Body)
	if rep.Report.Kind != "pci" || rep.Report.Format != "html" || rep.Report.Verdict != "intact" || rep.Report.SHA256 != hex.EncodeToString(sum[:]) ||
		!bytes.Contains(rep.Report.Body, []byte("PCI DSS")) || !bytes.Contains(rep.Report.Body, []byte("tamper-evidence")) {
		t.Fatalf("report %+v", rep.Report.Kind)
	}
	// The signature checks with the public key alone, and only for the
	// report unchanged.
	f, b, err := signature.Parse(rep.Report.Signature)
	if err != nil {
		t.Fatal(err)
	}
	pub := testkit.Key("main").Public()
	ring := verify.NewKeyRing(signer.Verifiers{pub})
	res, err := signature.Check(rep.Report.Body, f, b, ring)
	if err != nil || res.Seq != rep.Report.Seq || res.UID != uint32(os.Getuid()) || res.Report != "pci" || res.Records == 0 {
		t.Fatalf("signature: %+v, %v", res, err)
	}
	changed := bytes.Replace(rep.Report.Body, []byte("intact"), []byte("INTACT"), 1)
	if _, err := signature.Check(changed, f, b, ring); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("a changed report: %v", err)
	}
	other := testkit.Key("attacker").Public()
	if _, err := signature.Check(rep.Report.Body, f, b, verify.NewKeyRing(signer.Verifiers{other})); err == nil {
		t.Fatal("the signature checked with another key")
	}
	htmlSHA := rep.Report.SHA256
	// The JSON report of a real sealer's log: its settings (retention,
	// readers) are evidence.
	c.send(`{"op":"report","id":"j","report":"pci"}`)
	if err := json.Unmarshal([]byte(c.recv().raw), &rep); err != nil || !rep.OK {
		t.Fatalf("json report: %v", err)
	}
	var pci struct {
		Criteria []struct {
			ID       string   `json:"id"`
			Status   string   `json:"status"`
			Evidence []string `json:"evidence"`
		} `json:"criteria"`
	}
	if err := json.Unmarshal(rep.Report.Body, &pci); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, c := range pci.Criteria {
		ev := strings.Join(c.Evidence, " ")
		switch {
		case c.ID == "10.5.1" && c.Status == "evidenced" && strings.Contains(ev, "retention configured: 2555 days"),
			c.ID == "10.3.1" && c.Status == "evidenced" && strings.Contains(ev, "uids ["+strconv.Itoa(os.Getuid())+"]"),
			c.ID == "10.2.1.3" && c.Status == "evidenced" && strings.Contains(ev, "report read(s) through the sealer"):
			seen++
		}
	}
	if seen != 3 {
		t.Fatalf("the PCI criteria of a real sealer's log: %+v", pci.Criteria)
	}
	c.close()
	h.stopAndVerify()
	reads := sealerEvents(t, readRecords(t, cfg.DataDir), event.TypeLogRead)
	if len(reads) != 2 {
		t.Fatalf("%d audit.log_read records, want 2", len(reads))
	}
	lr := reads[0].(*event.LogRead)
	if lr.Operation != event.OpReport || lr.ReportSHA256 != htmlSHA || !bytes.Contains(lr.Filters, []byte(`"report":"pci"`)) {
		t.Fatalf("log read %+v %s", lr, lr.Filters)
	}
}

// TestReportAfterRotation: after an online key rotation the sealer's
// report verifies its log from the root of the key history when
// WithReportKeys lists the first key (as the keys on its token do), and
// is unverifiable, listing nothing, when nothing gives it that key (the
// log does not hold its first key).
func TestReportAfterRotation(t *testing.T) {
	for _, withRoot := range []bool{true, false} {
		cfg := testConfig(t)
		cfg.Query.UIDs = []uint32{uint32(os.Getuid())}
		var commits atomic.Int32
		opts := []sealer.Option{sealer.WithKeyRotation(nextKeyOpener(&commits))}
		if withRoot {
			opts = append(opts, sealer.WithReportKeys(func() (signer.Verifiers, error) {
				return signer.Verifiers{testkit.Key("main").Public()}, nil
			}))
		}
		startLogged(t, cfg, opts...)
		c := dial(t, cfg.Socket)
		for i := 0; i < 5; i++ {
			c.emitDurable(authFailure(i))
		}
		mustOK(t, c.do(`{"op":"rotate_key","id":"k","reason":"scheduled"}`))
		c.emitDurable(authFailure(5))
		c.send(`{"op":"report","id":"r","report":"soc2"}`)
		var rep struct {
			OK     bool `json:"ok"`
			Report struct {
				Verdict string
				Body    []byte
			} `json:"report"`
		}
		if err := json.Unmarshal([]byte(c.recv().raw), &rep); err != nil || !rep.OK {
			t.Fatalf("report: %v", err)
		}
		var body struct {
			Coverage struct {
				Verdict string `json:"verdict"`
				Records uint64 `json:"records_in_range"`
			} `json:"coverage"`
			Failures map[string]int `json:"authentication_failures_by_service"`
		}
		if err := json.Unmarshal(rep.Report.Body, &body); err != nil {
			t.Fatal(err)
		}
		switch {
		case withRoot && (rep.Report.Verdict != "intact" || body.Coverage.Verdict != "intact" || body.Failures[myService()] != 6):
			t.Fatalf("with the first key: %s %+v", rep.Report.Verdict, body)
		case !withRoot && (rep.Report.Verdict != "unverifiable" || body.Coverage.Records != 0):
			t.Fatalf("without the first key: %s %+v", rep.Report.Verdict, body)
		}
		c.close()
	}
}
