package sealer

import (
	"bytes"

	"github.com/audit-sealer/audit-sealer/chain"
)

// SetWriterHook makes the writer call f at the start of every round, before
// it takes anything off the queue; f may block to hold the writer. Call it
// before Run.
func SetWriterHook(s *Sealer, f func()) { s.testHookRound = f }

// SetPeerUIDHook makes each new connection's peer uid f(the real uid).
// Call it before Run.
func SetPeerUIDHook(s *Sealer, f func(uid uint32) uint32) { s.testHookPeerUID = f }

// MetricValue returns the value of the counter or gauge name whose labels
// include the given name/value pairs, and whether there is one.
func MetricValue(s *Sealer, name string, labels ...string) (float64, bool) {
	mfs, err := s.m.reg.Gather()
	if err != nil {
		return 0, false
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue(), true
			}
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// AddCriticalWaiter stands in for a critical event waiting for queue room
// (delta +1) or ends the wait (-1), so tests can observe the gate that
// sheds non-critical events meanwhile without racing the writer.
func AddCriticalWaiter(s *Sealer, delta int32) { s.criticalWaiting.Add(delta) }

// CriticalWaiting returns how many critical events wait for queue room.
func CriticalWaiting(s *Sealer) int32 { return s.criticalWaiting.Load() }

// QueueCost returns what an event whose stored bytes are body costs against
// the queue's byte bound; waits says whether its reply waits for the writer
// (durable or critical).
func QueueCost(body []byte, waits bool) int64 {
	r := &request{body: bytes.Clone(body)}
	if waits {
		r.done = make(chan reply, 1)
	}
	return queueCost(r)
}

// SetCriticalRoomHook makes submit call f once a critical event has its
// queue room, before the event is queued. Call it before Run.
func SetCriticalRoomHook(s *Sealer, f func()) { s.testHookCriticalRoom = f }

// IntakeLen returns how many requests wait in the writer's intake channel
// (queue_depth counts an event from its reservation, a moment earlier).
func IntakeLen(s *Sealer) int { return len(s.intake) }

// SetWitnessProofHook makes the witness client send f(proof) instead of each
// consistency proof it computed. Call it before Run, with witnesses
// configured.
func SetWitnessProofHook(s *Sealer, f func([]chain.Hash) []chain.Hash) {
	s.witnessing.testHookProof = f
}
