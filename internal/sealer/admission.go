package sealer

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
)

// shedState counts events dropped under load until the writer records them.
type shedState struct {
	total           uint64
	pending         uint64
	pendingCritical uint64
	// pendingShare counts the pending drops of events whose uid held its
	// share of the queue (the rest met a full queue); shareUIDs names up
	// to maxShedUIDs of those uids, for the record.
	pendingShare uint64
	shareUIDs    []uint32
	first, last  time.Time
}

// maxShedUIDs bounds the uids one audit.events_shed record names.
const maxShedUIDs = 8

// reason is audit.events_shed's reason for the pending drops: queue_full,
// peer_share with the uids that held their share, or both.
func (st *shedState) reason() string {
	if st.pendingShare == 0 {
		return "queue_full"
	}
	var b strings.Builder
	if st.pendingShare < st.pending {
		b.WriteString("queue_full; ")
	}
	b.WriteString("peer_share: uid")
	for i, uid := range st.shareUIDs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(uint64(uid), 10))
	}
	if len(st.shareUIDs) == maxShedUIDs {
		b.WriteString(" and maybe more")
	}
	return b.String()
}

// submit queues r for the writer. Non-critical events beyond the queue's
// bounds, or beyond their peer's share of it, are shed at once; critical
// events wait for room up to the configured deadline. Control requests are
// never shed.
func (s *Sealer) submit(r *request) error {
	// A stop still takes what its connections read before their reads
	// were interrupted: the writer takes the stop request only after every
	// connection has submitted its last request, so refusing them would
	// refuse events for nothing. Only a writer that is gone takes none.
	if s.writerGone.Load() {
		return ErrUnavailable
	}
	if r.kind == reqEmit {
		size := queueCost(r)
		r.cost = int32(size)
		if r.critical {
			if err := s.reserve(size, r.queue); err != nil {
				if err := s.waitForRoom(size, r.queue, err); err != nil {
					return err
				}
			}
		} else {
			var err error
			switch {
			case s.criticalWaiting.Load() > 0: // a critical event waits for room
				err = ErrShed
			case r.queue != nil && r.queue.criticalWaiting.Load() > 0: // one of this uid's waits for its share
				err = ErrPeerShare
			default:
				err = s.reserve(size, r.queue)
			}
			if err != nil {
				s.noteShed(false, r.queue, errors.Is(err, ErrPeerShare))
				return err
			}
		}
		if r.critical && s.testHookCriticalRoom != nil {
			s.testHookCriticalRoom()
		}
	}
	s.intake <- r
	return nil
}

// waitForRoom waits, up to the configured deadline, until reserve finds
// room for a critical event that it first refused with err. Critical
// events go first: while one waits for a full queue, every non-critical
// event is shed, and while one waits for its own uid's share to drain, that
// uid's non-critical events are (the counter it is counted in, s's or q's,
// follows the reason it waits). Only a critical event that was refused
// counts as waiting, so that non-critical events are never shed while the
// queue has room; and a wait for a uid's share sheds only that uid's
// events, never another peer's.
func (s *Sealer) waitForRoom(size int64, q *peerQueue, err error) error {
	deadline := time.NewTimer(s.settings().cfg.Queue.CriticalWait.Duration)
	defer deadline.Stop()
	var counted *atomic.Int32
	defer func() {
		if counted != nil {
			counted.Add(-1)
		}
	}()
	for ; err != nil; err = s.reserve(size, q) {
		want := &s.criticalWaiting
		if errors.Is(err, ErrPeerShare) {
			want = &q.criticalWaiting
		}
		if want != counted {
			if counted != nil {
				counted.Add(-1)
			}
			counted = want
			counted.Add(1)
		}
		select {
		case <-s.space:
			s.signalSpace() // pass the wake-up on to other waiters
		case <-deadline.C:
			s.noteShed(true, q, errors.Is(err, ErrPeerShare))
			return ErrQueueWait
		}
		if s.stopping.Load() {
			return ErrUnavailable
		}
	}
	return nil
}

// reserve takes queue room for one event that costs size bytes, if there
// is room (ErrShed otherwise) and the peer q stays within its share
// (peerQueues.take; ErrPeerShare otherwise). The queue's own bounds come
// first, so that ErrShed always means the queue is full: only a critical
// event that meets a full queue sheds the others while it waits. An event
// costlier than the whole byte bound is let into an empty queue, so that a
// small bound never refuses an event forever.
func (s *Sealer) reserve(size int64, q *peerQueue) error {
	bounds := &s.settings().cfg.Queue
	if s.queued.Add(1) > int64(bounds.Events) {
		s.queued.Add(-1)
		return ErrShed
	}
	// Only undo the bytes that were added: with || the byte count was
	// skipped for a full queue and then subtracted anyway, driving
	// queue_bytes below zero and loosening the byte bound with every shed.
	if b := s.queuedB.Add(size); b > bounds.Bytes && b != size {
		s.queuedB.Add(-size)
		s.queued.Add(-1)
		return ErrShed
	}
	if q != nil && !s.peers.take(q, size, bounds.Events, bounds.Bytes) {
		s.queuedB.Add(-size)
		s.queued.Add(-1)
		return ErrPeerShare
	}
	return nil
}

// release gives back the room reserve took for r, once the writer has it.
func (s *Sealer) release(r *request) {
	s.queued.Add(-1)
	s.queuedB.Add(-int64(r.cost))
	if r.queue != nil {
		s.peers.give(r.queue, int64(r.cost))
	}
}

func (s *Sealer) signalSpace() {
	select {
	case s.space <- struct{}{}:
	default:
	}
}

// noteShed counts one dropped event of the peer q; share says its uid held
// its share of the queue (otherwise the queue was full).
func (s *Sealer) noteShed(critical bool, q *peerQueue, share bool) {
	now := time.Now().UTC()
	s.shedMu.Lock()
	defer s.shedMu.Unlock()
	st := &s.shed
	st.total++
	st.pending++
	if critical {
		st.pendingCritical++
	}
	if share {
		st.pendingShare++
		if len(st.shareUIDs) < maxShedUIDs && !slices.Contains(st.shareUIDs, q.uid) {
			st.shareUIDs = append(st.shareUIDs, q.uid)
		}
	}
	if st.pending == 1 {
		st.first = now
		bounds := &s.settings().cfg.Queue
		args := []any{"queue_events", bounds.Events, "queue_bytes", bounds.Bytes}
		if q != nil {
			args = append(args, "uid", q.uid, "uid_queued_events", q.events.Load(), "uids_with_events_queued", s.peers.active.Load())
		}
		msg := "queue full: shedding events; the count is recorded in the chain"
		if share {
			msg = "a peer holds its share of the queue: shedding its events; the count is recorded in the chain"
		}
		s.log.Warn(msg, args...)
	}
	st.last = now
	s.m.shed.Inc()
}

// recordShed writes audit.events_shed for the drops since the last one.
func (s *Sealer) recordShed() (int, error) {
	s.shedMu.Lock()
	st := s.shed
	s.shed.pending, s.shed.pendingCritical, s.shed.pendingShare, s.shed.shareUIDs = 0, 0, 0, nil
	s.shedMu.Unlock()
	if st.pending == 0 {
		return 0, nil
	}
	_, err := s.ledger.AppendSealerEvent(&event.EventsShed{Timestamp: time.Now().UTC(), Count: st.pending, Reason: st.reason(),
		CriticalCount: st.pendingCritical, FirstAt: st.first, LastAt: st.last})
	if err != nil {
		return 0, err
	}
	s.log.Warn("recorded shed events in the chain", "count", st.pending, "critical_timeouts", st.pendingCritical, "reason", st.reason())
	return 1, nil
}
