//go:build cgo

package hsm

// LoginCalls returns how many times the process has called C_Login through
// this package.
func LoginCalls() int64 { return loginCalls.Load() }

// OpenSessions returns how many sessions s has open now (idle or in use).
func OpenSessions(s *Signer) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return 0
	}
	return s.conn.open
}
