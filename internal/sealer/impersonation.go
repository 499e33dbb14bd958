package sealer

import (
	"sync"
	"time"
)

// identityLogEvery is how often at most a refused service identity is
// logged; the ones in between are counted and reported with the next.
const identityLogEvery = time.Second

// identityLog rate-limits the log lines of refused service identities, so
// that a peer hammering the socket with a service it may not use cannot
// flood the journal (each refusal is still counted in the metric).
type identityLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// chooseService returns the service identity to record for a request from
// peer that asked for requested. A refusal (ErrNotAuthorized: the peer
// asked for a service the policy does not give its uid, or its uid has
// none) is counted in audit_sealer_identity_refused_total and logged as a
// warning with uid, pid and the service asked for, at most once a second:
// an operator should see who tries to speak for another service.
func (s *Sealer) chooseService(peer *Peer, requested string) (string, error) {
	service, err := peer.choose(requested)
	if err == nil {
		return service, nil
	}
	s.m.identityRefused.Inc()
	s.idLog.mu.Lock()
	now := time.Now()
	if now.Sub(s.idLog.last) < identityLogEvery {
		s.idLog.suppressed++
		s.idLog.mu.Unlock()
		return "", err
	}
	suppressed := s.idLog.suppressed
	s.idLog.last, s.idLog.suppressed = now, 0
	s.idLog.mu.Unlock()
	s.log.Warn("refused a service identity the policy does not give this peer (not_authorized)",
		"uid", peer.UID, "pid", peer.PID, "service", requested, "allowed", peer.Services, "refusals_not_logged", suppressed)
	return "", err
}
