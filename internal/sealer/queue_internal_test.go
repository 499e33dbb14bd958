package sealer

import (
	"testing"
	"unsafe"
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
