package sealer

import (
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/internal/config"
)

// TestQueueCostCoversRequest: the overheads queueCost charges cover the
// memory a queued event really holds besides its bytes, so that a change
// to the types cannot silently loosen the byte bound again.
func TestQueueCostCoversRequest(t *testing.T) {
	// An intake slot is one pointer; hchanSize is the runtime's channel
	// header on 64-bit platforms.
	const slot, hchanSize = 8, 96
	if n := unsafe.Sizeof(request{}); n > 128 {
		t.Errorf("request is %d bytes; requestOverhead assumes 128 (one allocator size class)", n)
	}
	if n := 128 + slot + unsafe.Sizeof(pending{}); n > requestOverhead {
		t.Errorf("request, intake slot and reply entry take %d bytes; requestOverhead is %d", n, requestOverhead)
	}
	if n := hchanSize + unsafe.Sizeof(reply{}); n > replyChanOverhead {
		t.Errorf("a done channel with one reply takes %d bytes; replyChanOverhead is %d", n, replyChanOverhead)
	}
	body := make([]byte, 10, 512)
	if got, want := queueCost(&request{body: body}), int64(512+requestOverhead); got != want {
		t.Errorf("queueCost of a 512-byte buffer: %d, want %d (the buffer's capacity is what it holds)", got, want)
	}
	if got, want := queueCost(&request{body: body, done: make(chan reply, 1)}), int64(512+requestOverhead+replyChanOverhead); got != want {
		t.Errorf("queueCost with a done channel: %d, want %d", got, want)
	}
}

// TestPeerShares: the peers with events queued share 7/8 of each bound
// equally, a peer's first event is never refused by its share, and giving
// back a peer's last event stops counting it.
func TestPeerShares(t *testing.T) {
	var p peerQueues
	a, b, c := p.of(1), p.of(2), p.of(3)
	if p.of(1) != a {
		t.Fatal("a uid got two peerQueues")
	}
	take := func(q *peerQueue, n int, size int64, maxEvents int, maxBytes int64) int {
		got := 0
		for range n {
			if p.take(q, size, maxEvents, maxBytes) {
				got++
			}
		}
		return got
	}
	// Events: alone, 7/8 of 80 = 70; with a second peer, 35 each.
	if got := take(a, 100, 1, 80, 1<<40); got != 70 {
		t.Fatalf("a lone peer took %d of a queue of 80 events, want 70", got)
	}
	if got := take(b, 100, 1, 80, 1<<40); got != 35 {
		t.Fatalf("a second peer took %d, want 35 (7/8 of 80, halved)", got)
	}
	if take(a, 1, 1, 80, 1<<40) != 0 {
		t.Fatal("a peer over its share took another event")
	}
	// A third peer's first event is never refused, even over its share.
	if take(c, 1, 1_000_000, 80, 1000) != 1 {
		t.Fatal("a peer's first event was refused by its share")
	}
	if take(c, 1, 1, 80, 1000) != 0 || p.active.Load() != 3 {
		t.Fatalf("three peers: c over its byte share took an event, or %d peers counted", p.active.Load())
	}
	p.give(c, 1_000_000)
	if p.active.Load() != 2 || c.events.Load() != 0 || c.bytes.Load() != 0 {
		t.Fatalf("after c gave back its event: %d peers active, c holds %d events %d bytes", p.active.Load(), c.events.Load(), c.bytes.Load())
	}
	for range 70 {
		p.give(a, 1)
	}
	for range 35 {
		p.give(b, 1)
	}
	// Bytes: alone, 7/8 of 8000 = 7000 bytes of 100-byte events.
	if got := take(a, 100, 100, 1_000_000, 8000); got != 70 || p.active.Load() != 1 {
		t.Fatalf("a lone peer took %d events of 100 bytes under a byte bound of 8000 (%d active), want 70", got, p.active.Load())
	}
}

// TestShedReason: audit.events_shed says why its drops happened: a full
// queue, uids over their share (named, up to maxShedUIDs), or both.
func TestShedReason(t *testing.T) {
	uids := func(n int) []uint32 {
		var out []uint32
		for i := range n {
			out = append(out, uint32(1000+i))
		}
		return out
	}
	for _, c := range []struct {
		st   shedState
		want string
	}{
		{shedState{pending: 5}, "queue_full"},
		{shedState{pending: 2, pendingShare: 2, shareUIDs: uids(1)}, "peer_share: uid 1000"},
		{shedState{pending: 5, pendingShare: 2, shareUIDs: uids(2)}, "queue_full; peer_share: uid 1000, 1001"},
		{shedState{pending: 9, pendingShare: 9, shareUIDs: uids(maxShedUIDs)}, "peer_share: uid 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007 and maybe more"},
	} {
		if got := c.st.reason(); got != c.want {
			t.Errorf("%+v: reason %q, want %q", c.st, got, c.want)
		}
	}
}

// TestCriticalWaitForShareShedsItsUID: a critical event that waits for its
// uid's share to drain goes before that uid's non-critical events (they are
// shed meanwhile), so a busy uid's own critical events are not starved by
// its flood, but other uids are not shed for it.
func TestCriticalWaitForShareShedsItsUID(t *testing.T) {
	s := &Sealer{log: hclog.NewNullLogger(), intake: make(chan *request, 64), space: make(chan struct{}, 1)}
	s.cfg.Queue = config.Queue{Events: 8, Bytes: 1 << 30, CriticalWait: config.Duration{Duration: 10 * time.Second}}
	s.live.Store(&liveSettings{cfg: s.cfg})
	s.m = newMetrics(func() float64 { return 0 }, func() float64 { return 0 }, func() float64 { return 0 })
	busy, other := s.peers.of(1), s.peers.of(2)
	event := func(q *peerQueue, critical bool) *request {
		return &request{kind: reqEmit, critical: critical, body: make([]byte, 100), queue: q}
	}
	for i := range 7 { // a lone uid's share: 7/8 of 8 events
		if err := s.submit(event(busy, false)); err != nil {
			t.Fatalf("busy uid's event %d: %v", i+1, err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.submit(event(busy, true)) }()
	for deadline := time.Now().Add(10 * time.Second); busy.criticalWaiting.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the busy uid's critical event never waited for its share")
		}
	}
	if n := s.criticalWaiting.Load(); n != 0 {
		t.Fatalf("a wait for a uid's share counts as a wait for the full queue (%d)", n)
	}
	// The writer takes one event of the busy uid: there is room in its
	// share, and it is the critical event's, not the next non-critical one's.
	s.release(<-s.intake)
	if err := s.submit(event(busy, false)); !errors.Is(err, ErrPeerShare) {
		t.Fatalf("busy uid's non-critical event while its critical event waits for its share: %v, want ErrPeerShare", err)
	}
	s.signalSpace()
	if err := <-done; err != nil {
		t.Fatalf("the critical event, once its uid had room: %v", err)
	}
	if busy.criticalWaiting.Load() != 0 {
		t.Fatal("the critical event still counts as waiting")
	}
	if err := s.submit(event(other, false)); err != nil {
		t.Fatalf("another uid's event: %v", err)
	}
}
