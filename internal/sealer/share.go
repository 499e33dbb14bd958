package sealer

import (
	"sync"
	"sync/atomic"
)

// The peers (uids) that have events queued share part of the queue's bounds
// equally; the rest stays free for peers with nothing queued. Without this,
// one busy or hostile peer could keep the queue full, and every other
// service's events would be shed while it did.
const (
	sharedNum, sharedDen = 7, 8 // the part of each bound the queued peers share
)

// peerQueue is what one peer uid has in the queue.
type peerQueue struct {
	uid    uint32
	events atomic.Int64
	bytes  atomic.Int64 // what its events cost (queueCost)
	// criticalWaiting counts the uid's critical events waiting for its
	// share to drain; meanwhile its non-critical events are shed.
	criticalWaiting atomic.Int32
}

// peerQueues keeps one peerQueue per uid, for as long as the process runs
// (there are at most as many as uids that ever connected), and counts the
// uids that have events queued.
type peerQueues struct {
	mu     sync.Mutex
	byUID  map[uint32]*peerQueue
	active atomic.Int64
}

// of returns uid's peerQueue, creating it on first use.
func (p *peerQueues) of(uid uint32) *peerQueue {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byUID == nil {
		p.byUID = make(map[uint32]*peerQueue)
	}
	q := p.byUID[uid]
	if q == nil {
		q = &peerQueue{uid: uid}
		p.byUID[uid] = q
	}
	return q
}

// take charges one event that costs size bytes to q if q stays within its
// share: with n peers holding events (q included), each may hold 7/8 of
// maxEvents and of maxBytes divided by n. The last eighth is what a peer
// with nothing queued finds free however full the others keep the queue,
// and a peer with nothing queued is never refused by its share (only the
// queue's own bounds apply to its first event). The counts are read without
// a lock, so the share is approximate while peers come and go; the queue's
// own bounds are exact.
func (p *peerQueues) take(q *peerQueue, size int64, maxEvents int, maxBytes int64) bool {
	n := q.events.Add(1)
	if n == 1 {
		p.active.Add(1)
	}
	b := q.bytes.Add(size)
	if n == 1 {
		return true
	}
	peers := float64(max(p.active.Load(), 1))
	over := func(held, bound float64) bool { return held*sharedDen*peers > bound*sharedNum }
	if over(float64(n), float64(maxEvents)) || over(float64(b), float64(maxBytes)) {
		p.give(q, size)
		return false
	}
	return true
}

// give returns what take charged.
func (p *peerQueues) give(q *peerQueue, size int64) {
	q.bytes.Add(-size)
	if q.events.Add(-1) == 0 {
		p.active.Add(-1)
	}
}
