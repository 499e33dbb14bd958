package sealer_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/internal/wire"
	"github.com/audit-sealer/audit-sealer/signer"
)

// TestEmitAcceptedAndDurable: a plain emit is acknowledged on acceptance; a
// durable emit carries seq and audit_id, and the record with that seq is in
// the log, under the identity the (empty) policy gives the peer.
func TestEmitAcceptedAndDurable(t *testing.T) {
	h := startSealer(t, testConfig(t))
	c := dial(t, h.cfg.Socket)

	r := mustOK(t, c.do(emitLine("a", false, sealVerified(1))))
	if !r.Accepted || r.ID != "a" || r.Seq != nil || r.Durable {
		t.Fatalf("non-durable emit: want {id:a, accepted:true} without seq, got %s", r.raw)
	}

	r = mustOK(t, c.do(emitLine("b", true, sealVerified(2))))
	if r.ID != "b" || r.Seq == nil || r.AuditID == "" || !r.Durable || r.Sealed {
		t.Fatalf("durable emit: want id, seq, audit_id, durable and not sealed, got %s", r.raw)
	}
	seq, auditID := *r.Seq, r.AuditID
	if want := "-" + strconv.FormatUint(seq, 10); !strings.HasSuffix(auditID, want) {
		t.Errorf("audit_id %q does not end in %q", auditID, want)
	}

	h.stopAndVerify()
	rec := provedRecord(t, h.cfg.DataDir, seq)
	if rec.Kind != chain.KindEvent || string(rec.Type) != event.TypeSealVerified {
		t.Fatalf("record %d: kind %v type %q", seq, rec.Kind, rec.Type)
	}
	if string(rec.AuditID) != auditID {
		t.Errorf("record %d: audit_id %q, reply said %q", seq, rec.AuditID, auditID)
	}
	if string(rec.Service) != myService() {
		t.Errorf("record %d: service %q, want %q", seq, rec.Service, myService())
	}
	if !strings.Contains(string(rec.Event), `"shard-2"`) {
		t.Errorf("record %d holds another event: %s", seq, rec.Event)
	}
	// The accepted-only event made it to the log too, before the durable one.
	var found bool
	for _, r := range readRecords(t, h.cfg.DataDir) {
		if r.Kind == chain.KindEvent && strings.Contains(string(r.Event), `"shard-1"`) {
			found = true
			if r.Seq >= seq {
				t.Errorf("accepted event has seq %d, after the durable one sent later (%d)", r.Seq, seq)
			}
		}
	}
	if !found {
		t.Error("the accepted event is not in the log")
	}
}

// TestPipelinedRepliesInOrder: many requests of every kind sent in one
// write are answered one reply per line, in request order.
func TestPipelinedRepliesInOrder(t *testing.T) {
	h := startSealer(t, testConfig(t))
	c := dial(t, h.cfg.Socket)

	const n = 120
	var b strings.Builder
	for i := range n {
		id := strconv.Itoa(i)
		switch i % 8 {
		case 0, 1:
			b.WriteString(emitLine(id, true, sealVerified(i)))
		case 2, 3:
			b.WriteString(emitLine(id, false, sealVerified(i)))
		case 4:
			b.WriteString(`{"op":"ping","id":"` + id + `"}`)
		case 5:
			b.WriteString(`{"op":"nope","id":"` + id + `"}`) // bad_request, still answered in order
		case 6:
			_, ev := testkit.EventJSON(i, nowUTC())
			b.WriteString(emitLine(id, i%3 == 0, string(ev)))
		case 7:
			if i%16 == 7 {
				b.WriteString(`{"op":"flush","id":"` + id + `"}`)
			} else {
				b.WriteString(`{"op":"status","id":"` + id + `"}`)
			}
		}
		b.WriteString("\n\n") // blank lines get no reply
	}
	c.send(b.String())
	var lastSeq uint64
	haveSeq := false
	for i := range n {
		r := c.recv()
		if r.ID != strconv.Itoa(i) {
			t.Fatalf("reply %d has id %q: %s", i, r.ID, r.raw)
		}
		if i%8 == 5 {
			if r.code() != "bad_request" {
				t.Fatalf("reply %d: want bad_request, got %s", i, r.raw)
			}
			continue
		}
		mustOK(t, r)
		if r.Seq != nil {
			if haveSeq && *r.Seq <= lastSeq {
				t.Fatalf("reply %d: seq %d not after %d", i, *r.Seq, lastSeq)
			}
			lastSeq, haveSeq = *r.Seq, true
		}
	}
	if !haveSeq {
		t.Fatal("no durable reply carried a seq")
	}
	// Nothing more: one reply per request line.
	c.send(`{"op":"ping","id":"end"}`)
	if r := mustOK(t, c.recv()); r.ID != "end" {
		t.Fatalf("extra reply: %s", r.raw)
	}
	h.stopAndVerify()
}

// TestCriticalEventSealed: a critical event is durable and sealed before its
// reply, even if sent without durable, and a checkpoint covers it.
func TestCriticalEventSealed(t *testing.T) {
	cfg := testConfig(t)
	cfg.Seal.Interval = config.Duration{Duration: 3600e9} // only the critical event may cause the seal
	cfg.Seal.Heartbeat = config.Duration{Duration: 3600e9}
	h := startSealer(t, cfg)
	c := dial(t, h.cfg.Socket)
	if !event.IsCritical(event.TypeAuthFailure) {
		t.Fatal("test assumes auth.failure is critical")
	}

	r := mustOK(t, c.do(emitLine("c", false, authFailure(1))))
	if r.Seq == nil || !r.Durable || !r.Sealed || r.AuditID == "" {
		t.Fatalf("critical emit: want seq, audit_id, durable and sealed, got %s", r.raw)
	}
	seq := *r.Seq
	// The log on disk already holds a checkpoint record, signed by our key,
	// that covers the record. (<dir>/checkpoint may lag by design.)
	var covered uint64
	for _, rec := range readRecords(t, h.cfg.DataDir) {
		if rec.Kind != chain.KindCheckpoint {
			continue
		}
		cp, err := chain.OpenCheckpoint(rec.Checkpoint, signer.Verifiers{testkit.Key("main").Public()})
		if err != nil {
			t.Fatalf("checkpoint record %d: %v", rec.Seq, err)
		}
		covered = max(covered, cp.Size)
	}
	if covered <= seq {
		t.Fatalf("the log's checkpoints cover %d records, not seq %d", covered, seq)
	}
	if st := c.status(); st.LastCheckpointSize <= seq {
		t.Fatalf("status last_checkpoint_size %d does not cover seq %d", st.LastCheckpointSize, seq)
	}
	h.stopAndVerify()
	if rec := provedRecord(t, h.cfg.DataDir, seq); string(rec.Type) != event.TypeAuthFailure {
		t.Fatalf("record %d is %q", seq, rec.Type)
	}
}

// TestFlushCoversEverythingBefore: flush replies with a checkpoint size that
// covers every record the connection sent before it.
func TestFlushCoversEverythingBefore(t *testing.T) {
	cfg := testConfig(t)
	cfg.Seal.Interval = config.Duration{Duration: 3600e9}
	cfg.Seal.Heartbeat = config.Duration{Duration: 3600e9}
	cfg.Seal.Records = 1 << 20
	h := startSealer(t, cfg)
	c := dial(t, h.cfg.Socket)

	var b strings.Builder
	const n = 30
	for i := range n {
		b.WriteString(emitLine(strconv.Itoa(i), i%2 == 0, sealVerified(i)) + "\n")
	}
	b.WriteString(`{"op":"flush","id":"f"}`)
	c.send(b.String())
	var maxSeq uint64
	for i := range n {
		r := mustOK(t, c.recv())
		if r.Seq != nil && *r.Seq > maxSeq {
			maxSeq = *r.Seq
		}
		if i%2 == 0 && r.Seq == nil {
			t.Fatalf("durable reply without seq: %s", r.raw)
		}
	}
	f := mustOK(t, c.recv())
	if f.ID != "f" || f.CheckpointSize == nil {
		t.Fatalf("flush reply: %s", f.raw)
	}
	size := *f.CheckpointSize
	if size <= maxSeq {
		t.Fatalf("checkpoint_size %d does not cover seq %d", size, maxSeq)
	}
	st := c.status()
	if st.LastCheckpointSize < size {
		t.Errorf("status last_checkpoint_size %d < flush checkpoint_size %d", st.LastCheckpointSize, size)
	}
	h.stopAndVerify()
	// Every event of the connection, durable or not, is below the size.
	seen := 0
	for _, r := range readRecords(t, h.cfg.DataDir) {
		if r.Kind == chain.KindEvent {
			seen++
			if r.Seq >= size {
				t.Errorf("event record %d is not covered by the flush's checkpoint of size %d", r.Seq, size)
			}
		}
	}
	if seen != n {
		t.Errorf("log holds %d events, sent %d", seen, n)
	}
}

// TestStatusFields: the status op carries every field PROTOCOL.md lists, with
// values consistent with what was sent.
func TestStatusFields(t *testing.T) {
	cfg := testConfig(t)
	cfg.Seal.Interval = config.Duration{Duration: 3600e9}
	cfg.Seal.Heartbeat = config.Duration{Duration: 3600e9}
	cfg.Seal.Records = 1 << 20
	h := startSealer(t, cfg)
	c := dial(t, h.cfg.Socket)

	var seq uint64
	for i := range 5 {
		seq = c.emitDurable(sealVerified(i))
	}
	r := mustOK(t, c.do(`{"op":"status","id":"s1"}`))
	var raw struct {
		Status map[string]json.RawMessage `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.raw), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"last_seq", "records", "unsealed", "last_checkpoint_size", "last_checkpoint_time",
		"queue_depth", "queue_bytes", "shed_total", "key_id", "key_kind", "algorithm", "dev", "signer_error", "uptime_seconds"} {
		if _, ok := raw.Status[k]; !ok {
			t.Errorf("status lacks %q: %s", k, r.raw)
		}
	}
	st := *r.Status
	pub := testkit.Key("main").Public()
	// Each durable event was followed by the commit record that
	// authenticated its group (FORMAT.md §3.6).
	if st.LastSeq != seq+1 || st.Records != seq+2 {
		t.Errorf("after durable seq %d: last_seq %d records %d; want the event and its commit", seq, st.LastSeq, st.Records)
	}
	// Nothing has sealed since the start: sealer_started is covered, the
	// five events and their five commits (and nothing else) are not.
	if st.Unsealed != 10 || st.LastCheckpointSize+1+10 != st.Records {
		t.Errorf("unsealed %d, last_checkpoint_size %d, records %d; want 10 unsealed after the start's checkpoint",
			st.Unsealed, st.LastCheckpointSize, st.Records)
	}
	if st.KeyID != pub.ID() || st.KeyKind != string(signer.Software) || st.Algorithm != string(pub.Algorithm) || !st.Dev {
		t.Errorf("key fields: %+v", st)
	}
	if st.SignerError != "" || st.ShedTotal != 0 || st.QueueDepth != 0 || st.QueueBytes != 0 || st.UptimeSeconds <= 0 {
		t.Errorf("health fields: %+v", st)
	}
	if st.LastCheckpointTime.IsZero() {
		t.Error("last_checkpoint_time is zero though the start was sealed")
	}

	f := mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	st = c.status()
	if st.LastCheckpointSize != *f.CheckpointSize || st.Unsealed != 0 || st.Records != *f.CheckpointSize+1 {
		t.Errorf("after flush (size %d): %+v", *f.CheckpointSize, st)
	}
	h.stopAndVerify()
}

// TestStatusNotBehindReplies: a status asked right after a reply already
// shows what that reply reported (the writer must publish its state before
// acknowledging, not after sealing).
func TestStatusNotBehindReplies(t *testing.T) {
	cfg := testConfig(t)
	cfg.Seal.Records = 1 // every round seals, after the durable acks
	h := startSealer(t, cfg)
	c := dial(t, h.cfg.Socket)
	for i := range 40 {
		seq := c.emitDurable(sealVerified(i))
		if st := c.status(); st.LastSeq < seq || st.Records <= seq {
			t.Fatalf("round %d: durable seq %d acknowledged, then status says last_seq %d, records %d", i, seq, st.LastSeq, st.Records)
		}
		f := mustOK(t, c.do(`{"op":"flush","id":"f"}`))
		if st := c.status(); st.LastCheckpointSize < *f.CheckpointSize {
			t.Fatalf("round %d: flush sealed %d, then status says last_checkpoint_size %d", i, *f.CheckpointSize, st.LastCheckpointSize)
		}
	}
	h.stopAndVerify()
}

// TestReportDropped records audit.client_dropped with the peer's identity.
func TestReportDropped(t *testing.T) {
	uid := uint32(os.Getuid())
	tests := []struct {
		name     string
		policy   []config.Policy
		service  string // requested
		recorded string
	}{
		{name: "no policy", recorded: myService()},
		{name: "policy first identity", policy: []config.Policy{{UID: &uid, Services: []string{"svc-a", "svc-b"}}}, recorded: "svc-a"},
		{name: "policy chosen identity", policy: []config.Policy{{UID: &uid, Services: []string{"svc-a", "svc-b"}}}, service: "svc-b", recorded: "svc-b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Policy = tc.policy
			h := startSealer(t, cfg)
			c := dial(t, h.cfg.Socket)
			svc := ""
			if tc.service != "" {
				svc = fmt.Sprintf(`,"service":%q`, tc.service)
			}
			r := mustOK(t, c.do(`{"op":"report_dropped","id":"d","count":17,"reason":"buffer_full"`+svc+`}`))
			if r.ID != "d" || r.Seq == nil {
				t.Fatalf("report_dropped reply: %s", r.raw)
			}
			seq := *r.Seq
			// PROTOCOL.md: the reply names the record like a durable emit's.
			logID := c.status().LogID
			want := fmt.Sprintf(`{"id":"d","ok":true,"seq":%d,"audit_id":"%s-%d","durable":true}`+"\n", seq, logID[:16], seq)
			if r.raw != want {
				t.Fatalf("report_dropped reply %q, want %q", r.raw, want)
			}
			h.stopAndVerify()
			recs := readRecords(t, h.cfg.DataDir)
			evs := sealerEvents(t, recs, event.TypeClientDropped)
			if len(evs) != 1 {
				t.Fatalf("%d audit.client_dropped records, want 1", len(evs))
			}
			ev := evs[0].(*event.ClientDropped)
			if ev.ServiceID != tc.recorded || ev.Count != 17 || ev.Reason != "buffer_full" {
				t.Errorf("audit.client_dropped: %+v, want service %q count 17 reason buffer_full", ev, tc.recorded)
			}
			if rec := recs[seq]; rec.Seq != seq || string(rec.Type) != event.TypeClientDropped || string(rec.Service) != chain.SealerService {
				t.Errorf("record %d: seq %d type %q service %q", seq, rec.Seq, rec.Type, rec.Service)
			} else if string(rec.AuditID) != r.AuditID {
				t.Errorf("report_dropped reply names audit_id %q, the record has %q", r.AuditID, rec.AuditID)
			}
		})
	}
}

// TestReportDroppedBadReason: a reason that no sealer event may hold is
// refused at the request and does not harm the sealer (its stop stays clean).
func TestReportDroppedBadReason(t *testing.T) {
	h := startSealer(t, testConfig(t))
	c := dial(t, h.cfg.Socket)
	for _, reason := range []string{"bad\u0001SECRET-VALUE", strings.Repeat("SECRET-VALUE", 200)} {
		js, _ := json.Marshal(reason)
		r := c.do(`{"op":"report_dropped","id":"d","count":3,"reason":` + string(js) + `}`)
		if r.OK || r.code() != "invalid_event" || r.Error.Field != "reason" || r.Error.Rule == "" {
			t.Errorf("reason %.20q: want invalid_event on field reason, got %s", reason, r.raw)
		}
		if strings.Contains(r.raw, "SECRET") {
			t.Errorf("reply echoes the refused value: %s", r.raw)
		}
	}
	// Still healthy.
	c.emitDurable(sealVerified(1))
	if st := c.status(); st.StorageError != "" {
		t.Errorf("storage_error after a bad report: %q", st.StorageError)
	}
	h.stopAndVerify()
	recs := readRecords(t, h.cfg.DataDir)
	if n := len(sealerEvents(t, recs, event.TypeSealerStopped)); n != 1 {
		t.Errorf("%d audit.sealer_stopped records, want 1", n)
	}
}

// TestPolicy: the policy decides which identities a peer may use.
func TestPolicy(t *testing.T) {
	uid := uint32(os.Getuid())
	other := uid + 4242
	tests := []struct {
		name    string
		policy  []config.Policy
		service string
		code    string // "" = accepted
		want    string // recorded identity
	}{
		{name: "default identity", want: myService()},
		{name: "default identity requested", service: myService(), want: myService()},
		{name: "other uid identity refused", service: "uid-" + strconv.FormatUint(uint64(other), 10), code: "not_authorized"},
		{name: "policy first", policy: []config.Policy{{UID: &uid, Services: []string{"svc-a"}}}, want: "svc-a"},
		{name: "policy named", policy: []config.Policy{{UID: &uid, Services: []string{"svc-a"}}}, service: "svc-a", want: "svc-a"},
		{name: "policy other service", policy: []config.Policy{{UID: &uid, Services: []string{"svc-a"}}}, service: "svc-b", code: "not_authorized"},
		{name: "uid default refused under policy", policy: []config.Policy{{UID: &uid, Services: []string{"svc-a"}}}, service: myService(), code: "not_authorized"},
		{name: "policy for another uid only", policy: []config.Policy{{UID: &other, Services: []string{"svc-a"}}}, code: "not_authorized"},
		{name: "policy for another uid only, named", policy: []config.Policy{{UID: &other, Services: []string{"svc-a"}}}, service: "svc-a", code: "not_authorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Policy = tc.policy
			h := startSealer(t, cfg)
			c := dial(t, h.cfg.Socket)
			svc := ""
			if tc.service != "" {
				svc = fmt.Sprintf(`,"service":%q`, tc.service)
			}
			r := c.do(`{"op":"emit","id":"p","durable":true` + svc + `,"event":` + sealVerified(1) + `}`)
			if tc.code != "" {
				if r.OK || r.code() != tc.code || r.ID != "p" {
					t.Fatalf("want %s, got %s", tc.code, r.raw)
				}
				// Nor may a critical event or a drop report get through.
				if r := c.do(`{"op":"emit","id":"p2"` + svc + `,"event":` + authFailure(1) + `}`); r.code() != tc.code {
					t.Fatalf("critical emit: want %s, got %s", tc.code, r.raw)
				}
				if r := c.do(`{"op":"report_dropped","id":"p3","count":1` + svc + `}`); r.code() != tc.code {
					t.Fatalf("report_dropped: want %s, got %s", tc.code, r.raw)
				}
				h.stopAndVerify()
				for _, rec := range readRecords(t, h.cfg.DataDir) {
					if rec.Kind == chain.KindEvent || string(rec.Type) == event.TypeClientDropped {
						t.Errorf("refused request left record %d (%s)", rec.Seq, rec.Type)
					}
				}
				return
			}
			mustOK(t, r)
			seq := *r.Seq
			h.stopAndVerify()
			if rec := provedRecord(t, h.cfg.DataDir, seq); string(rec.Service) != tc.want {
				t.Fatalf("recorded service %q, want %q", rec.Service, tc.want)
			}
		})
	}
}

// TestProtocolExample: PROTOCOL.md's socat example — three requests, then
// the client shuts its sending side and still gets all three replies, then
// the end of the connection.
func TestProtocolExample(t *testing.T) {
	h := startSealer(t, testConfig(t))
	c := dial(t, h.cfg.Socket)
	c.send(`{"op":"ping","id":"1"}` + "\n" +
		`{"op":"emit","id":"2","durable":true,"event":{"type":"seal.verified","timestamp":"` + nowUTC().Format(time.RFC3339) + `","shard_id":"shard-1","worker_id":"worker-gpu-0"}}` + "\n" +
		`{"op":"flush","id":"3"}`)
	if err := c.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got := c.waitClosed(ioTimeout)
	if len(got) != 3 {
		t.Fatalf("%d replies, want 3", len(got))
	}
	for i, r := range got {
		mustOK(t, r)
		if r.ID != strconv.Itoa(i+1) {
			t.Fatalf("reply %d: %s", i, r.raw)
		}
	}
	if got[0].Time == "" || got[1].Seq == nil || !got[1].Durable || got[2].CheckpointSize == nil || *got[2].CheckpointSize <= *got[1].Seq {
		t.Fatalf("replies: %s %s %s", got[0].raw, got[1].raw, got[2].raw)
	}
	if _, err := time.Parse(time.RFC3339Nano, got[0].Time); err != nil {
		t.Errorf("ping time: %v", err)
	}
	h.stopAndVerify()
}

// TestHello: the hello reply names the protocol version, the sealer's
// build, every op, every client event type and exactly the critical ones,
// and the services the asking peer may emit as under the policy.
func TestHello(t *testing.T) {
	uid := uint32(os.Getuid())
	cfg := testConfig(t)
	cfg.Policy = []config.Policy{{UID: &uid, Services: []string{"svc-a", "svc-b"}}}
	h := startSealer(t, cfg)
	c := dial(t, h.cfg.Socket)
	r := mustOK(t, c.do(`{"op":"hello","id":"h"}`))
	var rep struct {
		ID    string     `json:"id"`
		Hello wire.Hello `json:"hello"`
	}
	if err := json.Unmarshal([]byte(r.raw), &rep); err != nil {
		t.Fatal(err)
	}
	hl := rep.Hello
	if rep.ID != "h" || hl.Protocol != wire.ProtocolVersion || hl.Version == "" {
		t.Fatalf("hello: %s", r.raw)
	}
	if !slices.Equal(hl.Ops, wire.Ops()) || !slices.Equal(hl.Types, event.Types()) {
		t.Errorf("hello ops %v, types %v", hl.Ops, hl.Types)
	}
	for _, typ := range event.Types() {
		if event.IsCritical(typ) != slices.Contains(hl.CriticalTypes, typ) {
			t.Errorf("hello lists %s as critical: %v; the event package says %v", typ, slices.Contains(hl.CriticalTypes, typ), event.IsCritical(typ))
		}
	}
	if len(hl.CriticalTypes) == 0 {
		t.Error("hello names no critical type")
	}
	if !slices.Equal(hl.Services, []string{"svc-a", "svc-b"}) {
		t.Errorf("hello services %v, want the policy's svc-a, svc-b", hl.Services)
	}
	// Every type hello names is accepted (one of them, as a spot check,
	// goes through emit).
	mustOK(t, c.do(`{"op":"emit","id":"e","durable":true,"service":"svc-b","event":`+sealVerified(1)+`}`))
}
