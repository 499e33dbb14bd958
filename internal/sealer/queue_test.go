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
)

// sameSizeEvent returns a canonical seal.verified event whose length does
// not depend on i (0..9) or on the clock: the timestamp always has nine
// fractional digits.
func sameSizeEvent(t *testing.T, i int) string {
	t.Helper()
	ts := time.Now().UTC().Truncate(time.Second).Add(123456789 * time.Nanosecond)
	ev := fmt.Sprintf(`{"type":"seal.verified","timestamp":%q,"shard_id":"shard-%d","worker_id":"worker-gpu-0"}`,
		ts.Format(time.RFC3339Nano), i%10)
	if _, err := event.CheckCanonical([]byte(ev), event.DecodeOptions{Now: time.Now()}); err != nil {
		t.Fatalf("test event is not canonical (the sealer would re-encode it): %v", err)
	}
	return ev
}

// TestQueueByteBound: the queue is bounded by what its events cost in
// memory (their bytes plus a per-event overhead), not only by their count.
// With room for two events' cost and the writer held, a third non-critical
// event is shed although the count bound is far away; a critical event
// waits for room, sheds non-critical events meanwhile, and is accepted,
// made durable and sealed once the writer frees room.
func TestQueueByteBound(t *testing.T) {
	first := sameSizeEvent(t, 1)
	cost := sealer.QueueCost([]byte(first), false)
	cfg := testConfig(t)
	cfg.Queue.Events = 1000
	cfg.Queue.Bytes = 2*cost + cost/2
	h := newSealer(t, cfg)
	g := gateWriter(h)
	h.run()
	t.Cleanup(g.open)
	c := dial(t, h.cfg.Socket)

	g.hold(t)
	mustOK(t, c.do(emitLine("a", false, first)))
	mustOK(t, c.do(emitLine("b", false, sameSizeEvent(t, 2))))
	if st := c.status(); st.QueueDepth != 2 || st.QueueBytes != 2*cost {
		t.Fatalf("queue_depth %d queue_bytes %d; want 2, %d (two events of cost %d)", st.QueueDepth, st.QueueBytes, 2*cost, cost)
	}
	if r := c.do(emitLine("c", false, sameSizeEvent(t, 3))); r.OK || r.code() != "shed" {
		t.Fatalf("emit beyond the byte bound: want shed, got %s", r.raw)
	}

	crit := dial(t, h.cfg.Socket)
	crit.send(emitLine("x", false, authFailure(4)))
	eventually(t, "the critical event waits for room", func() bool { return sealer.CriticalWaiting(h.sl) == 1 })
	if r := c.do(emitLine("d", false, sameSizeEvent(t, 5))); r.OK || r.code() != "shed" {
		t.Fatalf("non-critical emit while a critical event waits: want shed, got %s", r.raw)
	}
	if st := c.status(); st.ShedTotal != 2 || st.QueueDepth != 2 {
		t.Fatalf("while the critical event waits: shed_total %d queue_depth %d; want 2, 2", st.ShedTotal, st.QueueDepth)
	}

	g.open()
	r := mustOK(t, crit.recv())
	if r.ID != "x" || r.Seq == nil || !r.Durable || !r.Sealed {
		t.Fatalf("critical event after room was freed: want durable and sealed, got %s", r.raw)
	}
	mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	if st := c.status(); st.QueueDepth != 0 || st.QueueBytes != 0 || st.ShedTotal != 2 {
		t.Fatalf("after the writer ran: queue_depth %d queue_bytes %d shed_total %d; want 0, 0, 2", st.QueueDepth, st.QueueBytes, st.ShedTotal)
	}
	h.stopAndVerify()
	shed := sealerEvents(t, readRecords(t, h.cfg.DataDir), event.TypeEventsShed)
	var n uint64
	for _, ev := range shed {
		n += ev.(*event.EventsShed).Count
	}
	if n != 2 {
		t.Errorf("audit.events_shed records count %d drops, want 2", n)
	}
}

// TestQueueOversizedEvent: an event that costs more than the whole byte
// bound is accepted into an empty queue (a small bound never refuses an
// event forever), and only then: the next one is shed.
func TestQueueOversizedEvent(t *testing.T) {
	cfg := testConfig(t)
	cfg.Queue.Bytes = 1
	cfg.Queue.CriticalWait = config.Duration{Duration: 100 * time.Millisecond}
	h := newSealer(t, cfg)
	g := gateWriter(h)
	h.run()
	t.Cleanup(g.open)
	c := dial(t, h.cfg.Socket)

	g.hold(t)
	mustOK(t, c.do(emitLine("a", false, sealVerified(1))))
	if r := c.do(emitLine("b", false, sealVerified(2))); r.OK || r.code() != "shed" {
		t.Fatalf("second emit into a queue over its byte bound: want shed, got %s", r.raw)
	}
	g.open()
	mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	c.emitDurable(sealVerified(3)) // the empty queue takes one again
	h.stopAndVerify()
}

// TestCriticalWithRoomShedsNothing: a critical event that finds room in the
// queue does not count as waiting for room, so a non-critical event sent
// meanwhile is accepted. (When every critical event counted as waiting
// while it was submitted, non-critical events sent at that moment were shed
// with the queue nearly empty: ~60 per million events in the benchmark.)
func TestCriticalWithRoomShedsNothing(t *testing.T) {
	h := newSealer(t, testConfig(t))
	inside, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	sealer.SetCriticalRoomHook(h.sl, func() {
		once.Do(func() {
			close(inside)
			<-release
		})
	})
	h.run()
	crit, other := dial(t, h.cfg.Socket), dial(t, h.cfg.Socket)
	crit.send(emitLine("x", false, authFailure(1)))
	select {
	case <-inside: // the critical event has its room and is not queued yet
	case <-time.After(ioTimeout):
		t.Fatal("the critical event never got queue room")
	}
	r := other.do(emitLine("a", false, sealVerified(2)))
	close(release)
	if !r.OK {
		t.Fatalf("non-critical emit while a critical event with room was being queued: %s", r.raw)
	}
	mustOK(t, crit.recv())
	if st := other.status(); st.ShedTotal != 0 {
		t.Fatalf("shed_total %d with a queue that never filled", st.ShedTotal)
	}
	h.stopAndVerify()
}

// TestQueueSharedByPeers: one peer uid that keeps the queue full cannot get
// another peer's events shed. With the writer held and a 16-event queue, a
// lone peer fills 7/8 of it (14 events) and is then shed with a message
// that names its share. Its critical event waits for its share to drain,
// and that wait, unlike a wait for a full queue, sheds nobody else: a
// second peer still finds the last eighth free (2 events) and is shed only
// by the queue's own bound. Every accepted event is then written, the
// critical one sealed, and every drop recorded.
func TestQueueSharedByPeers(t *testing.T) {
	cfg := testConfig(t)
	cfg.Queue.Events = 16
	h := newSealer(t, cfg)
	var nextUID atomic.Uint32
	sealer.SetPeerUIDHook(h.sl, func(uint32) uint32 { return nextUID.Load() })
	g := gateWriter(h)
	h.run()
	t.Cleanup(g.open)
	connect := func(uid uint32) *client {
		nextUID.Store(uid)
		c := dial(t, h.cfg.Socket)
		mustOK(t, c.do(`{"op":"ping","id":"p"}`)) // served: its uid is taken
		return c
	}
	busy, crit, quiet := connect(1001), connect(1001), connect(1002)

	g.hold(t)
	accepted := map[string]int{}
	emit := func(c *client, name string, i int) wireReply {
		r := c.do(emitLine(fmt.Sprint(name, i), false, sealVerified(i)))
		if r.OK {
			accepted[name]++
		}
		return r
	}
	for i := range 14 {
		if r := emit(busy, "busy", i); !r.OK {
			t.Fatalf("busy peer's event %d with the queue at %d of 16: %s", i+1, i, r.raw)
		}
	}
	r := emit(busy, "busy", 14)
	if r.OK || r.code() != "shed" || !strings.Contains(r.Error.Message, "share") {
		t.Fatalf("busy peer's 15th event, beyond 7/8 of the queue: want shed for its share, got %s", r.raw)
	}
	crit.send(emitLine("crit", false, authFailure(50)))
	time.Sleep(200 * time.Millisecond) // it reaches its wait
	for i := range 2 {
		if r := emit(quiet, "quiet", i); !r.OK {
			t.Fatalf("quiet peer's event %d while the busy one holds 14 of 16 and its critical event waits for its share: %s", i+1, r.raw)
		}
	}
	if r := emit(quiet, "quiet", 2); r.OK || r.code() != "shed" || strings.Contains(r.Error.Message, "share") {
		t.Fatalf("quiet peer's 3rd event into a full queue: want shed because the queue is full, got %s", r.raw)
	}
	if r := emit(busy, "busy", 15); r.OK || r.code() != "shed" {
		t.Fatalf("busy peer's event into the full queue: want shed, got %s", r.raw)
	}
	if st := busy.status(); st.QueueDepth != 16 || st.ShedTotal != 3 || st.QueueUIDs != 2 {
		t.Fatalf("queue_depth %d shed_total %d queue_uids %d; want 16, 3, 2", st.QueueDepth, st.ShedTotal, st.QueueUIDs)
	}
	crit.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if line, err := crit.r.ReadString('\n'); err == nil {
		t.Fatalf("the busy peer's critical event was answered over its share, with the writer held: %s", line)
	}

	g.open()
	if r := mustOK(t, crit.recv()); r.ID != "crit" || !r.Durable || !r.Sealed {
		t.Fatalf("the critical event, once its share drained: want durable and sealed, got %s", r.raw)
	}
	h.stopAndVerify()

	recs := readRecords(t, h.cfg.DataDir)
	got := map[string]int{}
	for _, rec := range recs {
		if rec.Kind == chain.KindEvent {
			got[string(rec.Service)]++
		}
	}
	if got["uid-1001"] != 15 || got["uid-1002"] != 2 || accepted["busy"] != 14 || accepted["quiet"] != 2 {
		t.Errorf("events in the log by service %v, accepted busy %d quiet %d; want uid-1001: 15 (one critical), uid-1002: 2", got, accepted["busy"], accepted["quiet"])
	}
	var shed uint64
	var reasons []string
	for _, ev := range sealerEvents(t, recs, event.TypeEventsShed) {
		shed += ev.(*event.EventsShed).Count
		reasons = append(reasons, ev.(*event.EventsShed).Reason)
	}
	// The drops are recorded in the writer's first round after them, all
	// three in one record: the busy uid's share, then the full queue.
	if shed != 3 || len(reasons) != 1 || reasons[0] != "queue_full; peer_share: uid 1001" {
		t.Errorf("audit.events_shed records %d drops with reasons %q; want 3 in one record, reason %q", shed, reasons, "queue_full; peer_share: uid 1001")
	}
}
