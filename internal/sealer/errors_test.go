package sealer_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/internal/wire"
	"github.com/audit-sealer/audit-sealer/signer"
)

// TestBadRequests: every client mistake gets its stable code, the id when
// it could be read, and never closes the connection.
func TestBadRequests(t *testing.T) {
	h := startSealer(t, testConfig(t))
	c := dial(t, h.cfg.Socket)
	long := strings.Repeat("x", 65)
	ts := nowUTC().Format(time.RFC3339Nano)
	tests := []struct {
		name, line string
		code, id   string
	}{
		{"garbage", `hello world`, "bad_json", ""},
		{"truncated object", `{"op":"ping"`, "bad_json", ""},
		{"invalid utf-8", "{\"op\":\"ping\",\"id\":\"\xff\xfe\"}", "bad_json", ""},
		{"invalid utf-8 in event", `{"op":"emit","event":{"type":"seal.verified","shard_id":"` + "\xc3\x28" + `"}}`, "bad_json", ""},
		{"two values", `{"op":"ping"} {"op":"ping"}`, "bad_json", ""},
		{"array", `[{"op":"ping"}]`, "bad_json", ""},
		{"string", `"ping"`, "bad_json", ""},
		{"null", `null`, "bad_json", ""},
		{"trailing CR", `{"op":"ping","id":"cr"}` + "\r", "bad_json", ""},
		{"unknown op", `{"op":"fly","id":"u"}`, "bad_request", "u"},
		{"no op", `{"id":"n"}`, "bad_request", "n"},
		{"unknown field", `{"op":"ping","id":"x","extra":1}`, "bad_request", "x"},
		{"wrong type", `{"op":"emit","id":"w","durable":"yes","event":` + sealVerified(1) + `}`, "bad_request", "w"},
		{"id not a string", `{"op":"ping","id":7}`, "bad_request", ""},
		{"missing event", `{"op":"emit","id":"m"}`, "bad_request", "m"},
		{"null event", `{"op":"emit","id":"m2","event":null}`, "bad_request", "m2"},
		{"id over 64 bytes", `{"op":"ping","id":"` + long + `"}`, "bad_request", ""},
		{"zero drop count", `{"op":"report_dropped","id":"z","count":0}`, "bad_request", "z"},
		{"event not an object", `{"op":"emit","id":"e","event":"x"}`, "invalid_event", "e"},
		{"sealer event type", `{"op":"emit","id":"s","event":{"type":"audit.sealer_stopped","timestamp":"` + ts + `","reason":"x","records":1}}`, "invalid_event", "s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.line)
			if r.OK || r.code() != tc.code {
				t.Fatalf("want %s, got %s", tc.code, r.raw)
			}
			if r.ID != tc.id {
				t.Errorf("reply id %q, want %q", r.ID, tc.id)
			}
			if r.Error.Message == "" {
				t.Error("error without message")
			}
			// The connection still works.
			if p := mustOK(t, c.do(`{"op":"ping","id":"after"}`)); p.ID != "after" || p.Time == "" {
				t.Fatalf("ping after the bad request: %s", p.raw)
			}
		})
	}
	// An id of exactly 64 bytes is fine.
	id64 := strings.Repeat("i", 64)
	if r := mustOK(t, c.do(`{"op":"ping","id":"`+id64+`"}`)); r.ID != id64 {
		t.Fatalf("64-byte id not echoed: %s", r.raw)
	}
	h.stopAndVerify()
}

// TestInvalidEvent: an event that breaks a rule names field and rule, and
// the message never holds the refused value.
func TestInvalidEvent(t *testing.T) {
	h := startSealer(t, testConfig(t))
	c := dial(t, h.cfg.Socket)
	ts := nowUTC().Format(time.RFC3339Nano)
	future := nowUTC().Add(48 * time.Hour).Format(time.RFC3339Nano)
	const secret = "SECRET-7f3a9"
	tests := []struct {
		name, event string
		field, rule string
	}{
		{"too long", fmt.Sprintf(`{"type":"auth.success","timestamp":%q,"actor":{"user_id":"%s","auth_method":"bearer_token"},"method":"bearer_token","path":"/v2","service_id":"q"}`,
			ts, strings.Repeat(secret, 40)), "actor.user_id", event.RuleTooLong},
		{"control character", fmt.Sprintf(`{"type":"seal.verified","timestamp":%q,"shard_id":"a\u0001%s","worker_id":"w"}`, ts, secret),
			"shard_id", event.RuleControlCharacter},
		{"unknown type", fmt.Sprintf(`{"type":"%s.made_up","timestamp":%q}`, secret, ts), "type", event.RuleUnknownType},
		{"unknown field", fmt.Sprintf(`{"type":"seal.verified","timestamp":%q,"shard_id":"s","worker_id":"w","%s":1}`, ts, secret), "", event.RuleUnknownField},
		{"missing field", fmt.Sprintf(`{"type":"seal.verified","timestamp":%q,"worker_id":"%s"}`, ts, secret), "shard_id", event.RuleRequired},
		{"future timestamp", fmt.Sprintf(`{"type":"seal.verified","timestamp":%q,"shard_id":"%s","worker_id":"w"}`, future, secret), "timestamp", event.RuleTimestampInFuture},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(emitLine("v", true, tc.event))
			if r.OK || r.code() != "invalid_event" || r.ID != "v" {
				t.Fatalf("want invalid_event, got %s", r.raw)
			}
			if r.Error.Rule != tc.rule || (tc.field != "" && r.Error.Field != tc.field) {
				t.Errorf("field %q rule %q, want field %q rule %q", r.Error.Field, r.Error.Rule, tc.field, tc.rule)
			}
			if strings.Contains(r.raw, secret) {
				t.Errorf("reply echoes the refused value: %s", r.raw)
			}
		})
	}
	h.stopAndVerify()
	for _, rec := range readRecords(t, h.cfg.DataDir) {
		if rec.Kind == chain.KindEvent {
			t.Errorf("a refused event was recorded at %d: %s", rec.Seq, rec.Event)
		}
	}
}

// TestFrameTooLarge: an over-long line is skipped with frame_too_large, the
// connection stays usable; a line of exactly the limit is accepted.
func TestFrameTooLarge(t *testing.T) {
	h := startSealer(t, testConfig(t))
	c := dial(t, h.cfg.Socket)
	pad := func(total int) string { // a valid ping line of total bytes including its newline
		head, tail := `{"op":"ping","id":"pad"`, `}`
		return head + strings.Repeat(" ", total-1-len(head)-len(tail)) + tail
	}
	tests := []struct {
		name, line string
		code       string
	}{
		{"200 KiB", `{"op":"emit","id":"big","event":"` + strings.Repeat("A", 200<<10) + `"}`, "frame_too_large"},
		{"1 MiB", strings.Repeat("B", 1<<20), "frame_too_large"},
		{"limit plus one", pad(wire.MaxLine + 1), "frame_too_large"},
		{"exactly the limit", pad(wire.MaxLine), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.line)
			if tc.code == "" {
				mustOK(t, r)
			} else if r.OK || r.code() != tc.code {
				t.Fatalf("want %s, got %.200s", tc.code, r.raw)
			}
			if p := mustOK(t, c.do(`{"op":"ping","id":"next"}`)); p.ID != "next" {
				t.Fatalf("next request on the connection: %s", p.raw)
			}
			c.emitDurable(sealVerified(1))
		})
	}
	h.stopAndVerify()
}

// TestDeeplyNestedEvent: absurd nesting is refused as invalid_event, without
// harm to the sealer.
func TestDeeplyNestedEvent(t *testing.T) {
	h := startSealer(t, testConfig(t))
	c := dial(t, h.cfg.Socket)
	ts := nowUTC().Format(time.RFC3339Nano)
	for _, depth := range []int{20, 1000, 9999, 10001, 60000} {
		t.Run(fmt.Sprint(depth), func(t *testing.T) {
			nest := strings.Repeat("[", depth) + strings.Repeat("]", depth)
			for name, ev := range map[string]string{
				"bare":     nest,
				"in field": fmt.Sprintf(`{"type":"pool.modified","timestamp":%q,"changes":{"a":%s}}`, ts, nest),
			} {
				r := c.do(emitLine("n", true, ev))
				// Beyond encoding/json's nesting limit the request cannot be
				// decoded, so its id is unknown.
				if r.OK || r.code() != "invalid_event" || (r.ID != "n" && r.ID != "") {
					t.Fatalf("%s: want invalid_event, got %.300s", name, r.raw)
				}
				if depth >= 1000 && name == "in field" && r.Error.Rule != event.RuleTooDeep {
					t.Errorf("%s: rule %q, want %s", name, r.Error.Rule, event.RuleTooDeep)
				}
			}
			c.emitDurable(sealVerified(depth))
		})
	}
	h.stopAndVerify()
}

// writerGate holds the writer of a sealer at the start of a round.
// gateWriter installs it on a sealer that does not run yet.
type writerGate struct {
	held    atomic.Bool
	waiting chan struct{}
	release chan struct{}
	once    sync.Once
}

func gateWriter(h *harness) *writerGate {
	g := &writerGate{waiting: make(chan struct{}, 1), release: make(chan struct{})}
	sealer.SetWriterHook(h.sl, func() {
		if g.held.Load() {
			select {
			case g.waiting <- struct{}{}:
			default:
			}
			<-g.release
		}
	})
	return g
}

// hold returns once the writer waits in the hook (it wakes at least every
// 250 ms, at its ticker), so that nothing is taken off the queue until open.
func (g *writerGate) hold(t *testing.T) {
	t.Helper()
	g.held.Store(true)
	select {
	case <-g.waiting:
	case <-time.After(ioTimeout):
		t.Fatal("the writer never reached its hook")
	}
}

func (g *writerGate) open() {
	g.once.Do(func() {
		g.held.Store(false)
		close(g.release)
	})
}

// TestCriticalWaiterHasPriority: while a critical event waits for queue
// room, a non-critical event is shed even though room exists, so under
// sustained overload critical events are not starved by the steady stream
// of non-critical ones taking the room the writer frees. Once no critical
// event waits, the same room is taken again.
func TestCriticalWaiterHasPriority(t *testing.T) {
	cfg := testConfig(t)
	cfg.Queue.Events = 4
	h := newSealer(t, cfg)
	g := gateWriter(h)
	h.run()
	t.Cleanup(g.open)
	c := dial(t, h.cfg.Socket)

	g.hold(t)
	mustOK(t, c.do(emitLine("a", false, sealVerified(1)))) // one of four places taken
	sealer.AddCriticalWaiter(h.sl, 1)
	if r := c.do(emitLine("b", false, sealVerified(2))); r.OK || r.code() != "shed" {
		t.Fatalf("non-critical emit while a critical event waits: want shed, got %s", r.raw)
	}
	sealer.AddCriticalWaiter(h.sl, -1)
	mustOK(t, c.do(emitLine("c", false, sealVerified(3))))
	if st := c.status(); st.ShedTotal != 1 || st.QueueDepth != 2 {
		t.Fatalf("shed_total %d queue_depth %d; want 1, 2", st.ShedTotal, st.QueueDepth)
	}
	g.open()
	mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	h.stopAndVerify()
}

// TestShedAndTimeout: with the writer held and a queue of one event, more
// events are shed, a critical event times out, and once the writer runs the
// drops are recorded in the chain as audit.events_shed with their count.
func TestShedAndTimeout(t *testing.T) {
	cfg := testConfig(t)
	cfg.Queue.Events = 1
	cfg.Queue.CriticalWait = config.Duration{Duration: 300 * time.Millisecond}
	h := newSealer(t, cfg)
	g := gateWriter(h)
	h.run()
	t.Cleanup(g.open)
	c := dial(t, h.cfg.Socket)

	g.hold(t)
	mustOK(t, c.do(emitLine("a", false, sealVerified(1)))) // fills the queue
	for i, line := range []string{
		emitLine("b", false, sealVerified(2)),
		emitLine("c", true, sealVerified(3)), // durable does not make it critical
		emitLine("d", false, sealVerified(4)),
	} {
		if r := c.do(line); r.OK || r.code() != "shed" {
			t.Fatalf("emit %d into a full queue: want shed, got %s", i, r.raw)
		}
	}
	if r := c.do(emitLine("e", false, authFailure(5))); r.OK || r.code() != "timeout" || r.ID != "e" {
		t.Fatalf("critical emit into a full queue: want timeout, got %s", r.raw)
	}
	st := c.status()
	if st.ShedTotal != 4 || st.QueueDepth != 1 || st.QueueBytes <= 0 {
		t.Fatalf("while held: shed_total %d queue_depth %d queue_bytes %d; want 4, 1, >0", st.ShedTotal, st.QueueDepth, st.QueueBytes)
	}
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"audit_sealer_queue_depth", nil, 1},
		{"audit_sealer_queue_bytes", nil, float64(st.QueueBytes)},
		{"audit_sealer_events_shed_total", nil, 4},
		{"audit_sealer_requests_rejected_total", []string{"code", "shed"}, 3},
		{"audit_sealer_requests_rejected_total", []string{"code", "timeout"}, 1},
	} {
		if v, ok := sealer.MetricValue(h.sl, m.name, m.labels...); !ok || v != m.want {
			t.Errorf("metric %s%v = %v (present %t), want %v", m.name, m.labels, v, ok, m.want)
		}
	}

	g.open()
	f := mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	st = c.status()
	if st.QueueDepth != 0 || st.QueueBytes != 0 || st.ShedTotal != 4 {
		t.Fatalf("after the writer ran: queue_depth %d queue_bytes %d shed_total %d; want 0, 0, 4", st.QueueDepth, st.QueueBytes, st.ShedTotal)
	}
	if v, _ := sealer.MetricValue(h.sl, "audit_sealer_queue_depth"); v != 0 {
		t.Errorf("metric queue_depth %v after the writer ran", v)
	}
	// The queue works again.
	c.emitDurable(sealVerified(6))
	h.stopAndVerify()

	recs := readRecords(t, h.cfg.DataDir)
	shed := sealerEvents(t, recs, event.TypeEventsShed)
	if len(shed) != 1 {
		t.Fatalf("%d audit.events_shed records, want 1", len(shed))
	}
	ev := shed[0].(*event.EventsShed)
	if ev.Count != 4 || ev.CriticalCount != 1 || ev.Reason != "queue_full" || ev.LastAt.Before(ev.FirstAt) {
		t.Errorf("audit.events_shed: %+v; want count 4, critical_count 1, reason queue_full", ev)
	}
	var sealedShed bool
	for _, r := range recs {
		if string(r.Type) == event.TypeEventsShed && r.Seq < *f.CheckpointSize {
			sealedShed = true
		}
		if r.Kind != chain.KindEvent {
			continue
		}
		for _, gone := range []string{`"shard-2"`, `"shard-3"`, `"shard-4"`, `"203.0.113.5"`} {
			if strings.Contains(string(r.Event), gone) {
				t.Errorf("an event that was refused is in the log: %s", r.Event)
			}
		}
	}
	if !sealedShed {
		t.Error("audit.events_shed is not covered by the flush's checkpoint")
	}
}

// TestReadyRepliesNotHeldBack: replies that are ready are delivered even
// while a later request waits for the writer.
func TestReadyRepliesNotHeldBack(t *testing.T) {
	h := newSealer(t, testConfig(t))
	g := gateWriter(h)
	h.run()
	t.Cleanup(g.open)
	c := dial(t, h.cfg.Socket)

	g.hold(t)
	var b strings.Builder
	const n = 200
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&b, `{"op":"ping","id":"%d"}`+"\n", i)
		} else {
			b.WriteString(emitLine(fmt.Sprint(i), false, sealVerified(i)) + "\n")
		}
	}
	b.WriteString(emitLine("durable", true, sealVerified(n)))
	c.send(b.String())
	for i := range n {
		r, err := c.tryRecv(5 * time.Second)
		if err != nil {
			t.Fatalf("reply %d of %d ready replies not delivered while the writer is busy: %v", i, n, err)
		}
		if mustOK(t, r).ID != fmt.Sprint(i) {
			t.Fatalf("reply %d: %s", i, r.raw)
		}
	}
	g.open()
	if r := mustOK(t, c.recv()); r.ID != "durable" || r.Seq == nil {
		t.Fatalf("durable reply: %s", r.raw)
	}
	h.stopAndVerify()
}

// flakySigner is the test key with a switch that makes signing fail, as an
// unreachable HSM does.
type flakySigner struct {
	signer.Signer
	fail atomic.Bool
}

func (f *flakySigner) Sign(msg []byte) ([]byte, error) {
	if f.fail.Load() {
		return nil, fmt.Errorf("%w: test switch", signer.ErrUnavailable)
	}
	return f.Signer.Sign(msg)
}

// TestNotSealed: while signing fails, a critical event is durable (its seq
// is in the reply) but answered not_sealed, and so is a flush; once signing
// works again everything is sealed.
func TestNotSealed(t *testing.T) {
	fs := &flakySigner{Signer: testkit.Key("main")}
	h := newSealerWith(t, testConfig(t), fs)
	h.run()
	c := dial(t, h.cfg.Socket)

	fs.fail.Store(true)
	r := c.do(emitLine("c", false, authFailure(1)))
	if r.OK || r.code() != "not_sealed" || r.Seq == nil || !r.Durable || r.ID != "c" {
		t.Fatalf("critical emit while signing fails: want not_sealed with seq, got %s", r.raw)
	}
	seq := *r.Seq
	if f := c.do(`{"op":"flush","id":"f"}`); f.OK || f.code() != "not_sealed" {
		t.Fatalf("flush while signing fails: want not_sealed, got %s", f.raw)
	}
	st := c.status()
	if st.SignerError == "" || st.Unsealed == 0 || st.LastCheckpointSize > seq || st.LastSeq < seq {
		t.Fatalf("status while signing fails: %+v", st)
	}
	// Durable emits still work.
	c.emitDurable(sealVerified(2))

	fs.fail.Store(false)
	f := mustOK(t, c.do(`{"op":"flush","id":"f2"}`))
	if *f.CheckpointSize <= seq {
		t.Fatalf("flush after signing recovered: size %d does not cover %d", *f.CheckpointSize, seq)
	}
	if st := c.status(); st.SignerError != "" || st.Unsealed != 0 {
		t.Fatalf("status after signing recovered: %+v", st)
	}
	h.stopAndVerify()
	if rec := provedRecord(t, h.cfg.DataDir, seq); string(rec.Type) != event.TypeAuthFailure {
		t.Fatalf("record %d is %q", seq, rec.Type)
	}
}
