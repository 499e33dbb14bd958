package sealer

import (
	"errors"

	"github.com/audit-sealer/audit-sealer/event"
)

// Errors that reach emitters through the protocol's error codes.
var (
	ErrShed        = errors.New("sealer: queue full, event shed (the drop is recorded in the chain)")
	ErrPeerShare   = errors.New("sealer: this peer's uid holds its share of the queue, event shed (the drop is recorded in the chain)")
	ErrQueueWait   = errors.New("sealer: critical event waited too long for queue space")
	ErrUnavailable = errors.New("sealer: not accepting events")
	ErrNotSealed   = errors.New("sealer: record is durable but could not be sealed now")
)

type reqKind uint8

const (
	reqEmit reqKind = iota + 1
	reqFlush
	reqDropped
	reqLogRead
	// reqRecord records the sealer's own event (sealerEvent), such as
	// audit.config_reloaded.
	reqRecord
	// reqRotateKey hands signing to the key of Sealer.rotating (rotate.go).
	reqRotateKey
	reqStop
)

// request travels from a connection to the writer. It is kept small (128
// bytes, one size class of Go's allocator): a full queue holds tens of
// thousands of them, and queueCost charges each one.
type request struct {
	kind     reqKind
	durable  bool
	critical bool
	// cost is what the request is charged against the queue's byte bound
	// while it is queued (queueCost), given back by the writer.
	cost     int32
	service  string
	typ      string
	body     []byte
	received int64 // Unix nanoseconds
	// sealerEvent is the sealer's own event that reqDropped, reqLogRead
	// and reqRecord record (audit.client_dropped, audit.log_read, ...).
	sealerEvent event.Event
	// queue is the emitting peer's share of the queue (reqEmit only).
	queue *peerQueue
	// done receives the outcome; nil for emits acknowledged on acceptance.
	done chan reply
	// Set by the writer once appended.
	seq     uint64
	auditID string
}

// requestOverhead is what a queued event costs in memory beyond its bytes:
// the request (128 bytes), its slot in the intake channel (8) and its
// entry in the connection's queue of owed replies (48), rounded up.
// replyChanOverhead is the done channel of an event whose reply waits for
// the writer (a 96-byte channel with one buffered reply: 160 bytes).
// TestQueueCostCoversRequest keeps them honest when the types change.
const (
	requestOverhead   = 192
	replyChanOverhead = 160
)

// queueCost is what r is charged against the queue's byte bound: the
// allocated size of its body plus the overheads above, so that the byte
// bound limits the memory a full queue holds, not only its payload.
func queueCost(r *request) int64 {
	c := int64(cap(r.body)) + requestOverhead
	if r.done != nil {
		c += replyChanOverhead
	}
	return c
}

type reply struct {
	seq            uint64
	auditID        string
	hasSeq         bool
	sealed         bool
	checkpointSize uint64
	err            error
}

func (r *request) finish(rep reply) {
	if r.done != nil {
		r.done <- rep
	}
}
