package sealer

import (
	"testing"
	"time"
)

// TestBadLineBudget: a uid may send a second's worth of refused lines at
// once and then one per interval; past that each line's wait grows by the
// interval; another uid is not affected; waiting restores the budget; a
// rate of 0 never waits.
func TestBadLineBudget(t *testing.T) {
	b := newBadLineBudget(10) // 100 ms per line, burst 10
	now := time.Unix(1000, 0)
	for i := range 10 {
		if wait, _ := b.charge(7, now); wait != 0 {
			t.Fatalf("line %d of the burst waits %v", i+1, wait)
		}
	}
	wait, first := b.charge(7, now)
	if wait != 100*time.Millisecond || !first {
		t.Fatalf("the 11th line at once: wait %v (first %v), want 100ms and a first wait to log", wait, first)
	}
	if wait, first = b.charge(7, now); wait != 200*time.Millisecond || first {
		t.Fatalf("the 12th line: wait %v (first %v), want 200ms, not logged again", wait, first)
	}
	if wait, _ := b.charge(8, now); wait != 0 {
		t.Fatalf("another uid's first line waits %v", wait)
	}
	// 1.2 s later the 12 lines are paid for; a full burst is available again.
	later := now.Add(1200 * time.Millisecond)
	for i := range 10 {
		if wait, _ := b.charge(7, later); wait != 0 {
			t.Fatalf("after the budget refilled, line %d waits %v", i+1, wait)
		}
	}
	if wait, _ := b.charge(7, later); wait <= 0 {
		t.Fatal("past the refilled burst, a line does not wait")
	}
	unbounded := newBadLineBudget(0)
	for range 100000 {
		if wait, _ := unbounded.charge(7, now); wait != 0 {
			t.Fatal("with no bound, a line waits")
		}
	}
}
