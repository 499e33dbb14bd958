package sealer

import (
	"sync"
	"time"
)

// badLineBudget bounds how fast the sealer handles the lines each peer uid
// sends that it refuses as the client's fault (wire.IsClientFault), over all of
// the uid's connections: a generic cell rate algorithm with a burst of one
// second's worth. A line over the budget is still answered, but its
// connection then waits before the sealer reads from it again; the waits of
// a uid's connections add up, so a uid flooding garbage on many
// connections is held to the rate in total, and its writes block once the
// socket buffers fill. Lines that are not refused cost nothing here, so a
// good client never waits, whoever shares its uid.
type badLineBudget struct {
	mu       sync.Mutex
	interval time.Duration // between two lines at the rate; 0: no bound
	burst    time.Duration // one second's worth of lines

	next map[uint32]time.Time // per uid: when its budget is back to full
	// warned is when each uid was last logged as throttled.
	warned map[uint32]time.Time
}

func newBadLineBudget(perSecond int) *badLineBudget {
	b := &badLineBudget{next: map[uint32]time.Time{}, warned: map[uint32]time.Time{}}
	b.setRate(perSecond)
	return b
}

// setRate sets the rate (a reload may change it); 0 removes the bound.
func (b *badLineBudget) setRate(perSecond int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.interval, b.burst = 0, 0
	if perSecond > 0 {
		b.interval, b.burst = time.Second/time.Duration(perSecond), time.Second
	}
}

// charge counts one refused line from uid at now and returns how long its
// connection must wait before the next read (0 within the budget), and
// whether this is the first wait of the uid in a minute (to be logged).
func (b *badLineBudget) charge(uid uint32, now time.Time) (wait time.Duration, first bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.interval == 0 {
		return 0, false
	}
	next := b.next[uid]
	if next.Before(now) {
		next = now
	}
	next = next.Add(b.interval)
	b.next[uid] = next
	if len(b.next) > 4096 {
		b.forgetIdle(now)
	}
	wait = next.Sub(now) - b.burst
	if wait <= 0 {
		return 0, false
	}
	if now.Sub(b.warned[uid]) >= time.Minute {
		b.warned[uid] = now
		first = true
	}
	return wait, first
}

// forgetIdle drops the uids whose budget is full again, so that the maps
// stay small whatever uids connect.
func (b *badLineBudget) forgetIdle(now time.Time) {
	for uid, next := range b.next {
		if !next.After(now) {
			delete(b.next, uid)
		}
	}
	for uid, at := range b.warned {
		if now.Sub(at) >= time.Minute {
			delete(b.warned, uid)
		}
	}
}
