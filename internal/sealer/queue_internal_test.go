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
